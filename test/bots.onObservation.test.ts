/**
 * The on-observation bot (unbundled source; test/bots.bundled.test.ts runs the bundles), run as Medplum runs it: a
 * MedplumClient (here @medplum/mock's MockClient, which routes requests through the real FhirRouter) and a BotEvent
 * carrying the Observation. This file covers the Consent path: a denying Consent withdraws what the engine derived.
 */
import type { BotEvent } from '@medplum/core';
import type { Consent, Observation, Patient } from '@medplum/fhirtypes';
import { MockClient } from '@medplum/mock';
import { handler } from '../bots/onObservation';
import { generateCohort } from '../src/cohort/generateCohort';
import { TWIN_RESOURCE_SYSTEM } from '../src/fhir/codes/twinCodes';

function event(input: Observation): BotEvent<Observation> {
  return {
    bot: { reference: 'Bot/test' },
    contentType: 'application/fhir+json',
    input,
    secrets: {},
  };
}

test('an event for a patient whose Consent denies processing withdraws the twin, once', async () => {
  const medplum = new MockClient();
  const [generated] = [...generateCohort({ patients: 1, days: 20, seed: 22, startDate: '2026-01-01' })];
  const patient = await medplum.createResource<Patient>({ resourceType: 'Patient', name: [{ family: 'Bot' }] });
  const subject = { reference: `Patient/${patient.id}` };
  const stored: Observation[] = [];
  for (const e of generated.bundle.entry ?? []) {
    if (e.resource?.resourceType === 'Observation') {
      stored.push(await medplum.createResource<Observation>({ ...e.resource, subject }));
    }
  }
  expect((await handler(medplum, event(stored[stored.length - 1]))).twin.status).toBe('applied');
  const twinOf = (): Promise<Observation[]> =>
    medplum.searchResources('Observation', { identifier: `${TWIN_RESOURCE_SYSTEM}|`, _count: '1000' });
  expect((await twinOf()).every((o) => o.status === 'final')).toBe(true);
  await medplum.createResource<Consent>({
    resourceType: 'Consent',
    status: 'active',
    scope: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/consentscope',
          code: 'patient-privacy',
          display: 'Privacy Consent',
        },
      ],
    },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] }],
    patient: subject,
    policy: [{ uri: 'https://recovery-twin.dev/policy/wearable-data-processing' }],
    provision: { type: 'deny' },
  });
  const result = await handler(medplum, event(stored[0]));
  expect(result).toMatchObject({
    twin: { status: 'applied', summary: { status: 'skipped-consent' } },
    withdrawal: { status: 'withdrawn' },
  });
  expect(result.detection).toBeUndefined();
  const withdrawn = await twinOf();
  expect(withdrawn.length).toBeGreaterThan(0);
  expect(withdrawn.every((o) => o.status === 'entered-in-error')).toBe(true);
  const provenances = await medplum.searchResources('Provenance', { _count: '1000' });
  await handler(medplum, event(stored[1]));
  expect((await medplum.searchResources('Provenance', { _count: '1000' })).length).toBe(provenances.length);
});
