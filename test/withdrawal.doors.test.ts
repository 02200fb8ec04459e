import type { Bundle, Consent, Observation, Parameters, Patient, Provenance, Resource } from '@medplum/fhirtypes';
import { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addDays } from '../src/calendar/calendarDay';
import { registerCommands } from '../src/cli/commands';
import { TWIN_RESOURCE_SYSTEM } from '../src/fhir/codes/twinCodes';
import { LocalFhirClient } from '../src/fhir/localFhirClient';
import { buildMetricObservation } from '../src/ingest/importers/metricObservation';
import { registerTwinRefreshOperation } from '../src/server/twinRefreshOperation';
import { openSqliteStore, type SqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';
import { refreshPatientTwin } from '../src/twin/refresh/refreshPatientTwin';

// The doors that call the withdrawal (issue 17): `$twin-refresh` when the refresh finds a denying Consent, and
// `twin withdraw --all` (the sweep) on the embedded store.
const TODAY = '2026-06-01';
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'twin-withdrawal-doors-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function create<T extends Resource>(client: LocalFhirClient, resource: T): Promise<string> {
  const created = await client.transaction({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [{ resource, request: { method: 'POST', url: resource.resourceType } }],
  });
  return new RegExp(`${resource.resourceType}/([^/]+)`).exec(created.entry?.[0]?.response?.location ?? '')?.[1] ?? '';
}

/** A patient with a refreshed twin and an active Consent that denies processing. */
async function deniedPatientWithTwin(client: LocalFhirClient): Promise<string> {
  const patientId = await create<Patient>(client, { resourceType: 'Patient' });
  const subject = { reference: `Patient/${patientId}` };
  const entry: Bundle['entry'] = [];
  for (let d = 0; d < 30; d++) {
    const o = buildMetricObservation({
      source: 'test',
      subjectKey: patientId,
      subject,
      metric: 'resting-heart-rate',
      day: addDays('2026-01-01', d),
      value: 60 + (d % 3),
    });
    entry.push({ resource: o, request: { method: 'POST', url: 'Observation' } });
  }
  await client.transaction({ resourceType: 'Bundle', type: 'transaction', entry });
  expect((await refreshPatientTwin(patientId, { client, today: () => TODAY })).status).toBe('refreshed');
  await create<Consent>(client, {
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
  return patientId;
}

async function twinStatuses(client: LocalFhirClient, patientId: string): Promise<Set<string>> {
  const twin = await client.searchAll<Observation>('Observation', {
    subject: `Patient/${patientId}`,
    identifier: `${TWIN_RESOURCE_SYSTEM}|`,
  });
  expect(twin.length).toBeGreaterThan(0);
  return new Set(twin.map((o) => o.status));
}

test('$twin-refresh on a patient whose Consent denies answers skipped-consent and withdraws the twin', async () => {
  const store: SqliteStore = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal' });
  try {
    const router = createEmbeddedRouter();
    registerTwinRefreshOperation(router, { today: () => TODAY, now: () => `${TODAY}T10:00:00Z` });
    const client = new LocalFhirClient(store.repo, router);
    const patientId = await deniedPatientWithTwin(client);
    expect(await twinStatuses(client, patientId)).toEqual(new Set(['final']));
    const call = async (): Promise<Parameters> => {
      const [outcome, body] = await router.handleRequest(
        {
          method: 'POST',
          url: `/Patient/${patientId}/$twin-refresh`,
          pathname: '',
          params: {},
          query: {},
          body: { resourceType: 'Parameters' },
        },
        store.repo
      );
      expect(outcome.issue?.[0]?.severity).not.toBe('error');
      return body as Parameters;
    };
    const first = await call();
    expect(first.parameter?.find((p) => p.name === 'status')?.valueCode).toBe('skipped-consent');
    expect(await twinStatuses(client, patientId)).toEqual(new Set(['entered-in-error']));
    const provenances = (await client.searchAll<Provenance>('Provenance', {})).length;
    expect(provenances).toBe(1);
    await call();
    expect((await client.searchAll<Provenance>('Provenance', {})).length).toBe(provenances);
  } finally {
    store.close();
  }
});

test('twin withdraw --all sweeps every patient whose Consent denies (one writer at a time on the store)', async () => {
  let store = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal' });
  const patientId = await deniedPatientWithTwin(new LocalFhirClient(store.repo, createEmbeddedRouter()));
  store.close();
  const lines: string[] = [];
  const run = async (): Promise<void> => {
    const root = new Command('twin').exitOverride();
    registerCommands(root, {
      openRepository: () => Promise.reject(new Error('not used')),
      version: '0.0.0',
      env: {},
      log: (line) => lines.push(line),
    });
    await root.parseAsync(['node', 'twin', 'withdraw', '--all', '--data-dir', dir]);
  };
  await run();
  await run();
  expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
    { patients: 1, withdrawn: 1, failed: 0 },
    { patients: 1, withdrawn: 0, failed: 0 },
  ]);
  store = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal' });
  try {
    expect(await twinStatuses(new LocalFhirClient(store.repo, createEmbeddedRouter()), patientId)).toEqual(
      new Set(['entered-in-error'])
    );
  } finally {
    store.close();
  }
});
