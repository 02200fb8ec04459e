// Medplum bot: keeps the recovery twin current as Observations arrive.
//
// Deploy it with the Medplum CLI and trigger it with a Subscription on `Observation` (create and update); the bot
// runs the engine's event door (src/twin/refresh/eventDoor.ts) against the project's own FHIR API, so the twin
// lives beside the data and nothing leaves the Medplum project. The twin's own writes come back through the same
// Subscription and are ignored by the door, so there is no loop.
import type { BotEvent, MedplumClient } from '@medplum/core';
import type { Observation } from '@medplum/fhirtypes';
import { MedplumFhirClient } from '../src/fhir/medplumFhirClient';
import { validatingClient } from '../src/fhir/validatingClient';
import { createValidator, type ResourceValidator } from '../src/fhir/validation';
import { handleObservationEvent, type EventResult } from '../src/twin/refresh/eventDoor';
import { observationPatientId } from '../src/calendar/observationDay';
import { withdrawPatient } from '../src/withdrawal/withdrawPatient';

let validator: ResourceValidator | undefined;

export async function handler(medplum: MedplumClient, event: BotEvent<Observation>): Promise<EventResult> {
  if (event.input?.resourceType !== 'Observation') {
    return { status: 'ignored', reason: 'not an Observation' };
  }
  // Medplum does not know the project's profiles: check every twin resource against them before it is sent.
  validator ??= createValidator();
  const v = validator;
  const client = validatingClient(new MedplumFhirClient(medplum), (r) => v.validate(r));
  const today = (): string => new Date().toISOString().slice(0, 10);
  const result = await handleObservationEvent(event.input, { client, today });
  const patientId = observationPatientId(event.input);
  if (result.status === 'applied' && result.summary.status === 'skipped-consent' && patientId) {
    // The Consent denies processing: withdraw what the engine derived for the patient (issue 17), idempotent.
    await withdrawPatient(patientId, { client, today, now: () => new Date().toISOString() });
  }
  return result;
}
