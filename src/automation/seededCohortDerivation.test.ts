/**
 * The demo's first-start derivation on the embedded store: every seeded patient gets a twin, findings and (where the
 * record points to a protocol) a proposal waiting for review, never an approved plan; a second run (a restart) writes
 * nothing; a shutdown stops it between patients.
 */
import type { CarePlan, Observation, Task } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCohort } from '../cohort/generateCohort';
import { openEvidenceEngine, type EvidenceEngine } from '../evidence/evidenceEngine';
import { TWIN_RESOURCE_SYSTEM } from '../fhir/codes/twinCodes';
import { LocalFhirClient } from '../fhir/localFhirClient';
import { openSqliteStore, type SqliteStore } from '../store/sqliteStore';
import { createEmbeddedRouter } from '../store/transactionBundle';
import { deriveSeededCohort, type SeededCohortWorld } from './seededCohortDerivation';

jest.setTimeout(180_000);

const TODAY = '2026-03-01';

let dir: string;
let store: SqliteStore;
let client: LocalFhirClient;
let evidence: EvidenceEngine;

beforeAll(async () => {
  evidence = await openEvidenceEngine({ env: {}, log: () => undefined });
  dir = mkdtempSync(join(tmpdir(), 'twin-seeded-derivation-'));
  store = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal' });
  client = new LocalFhirClient(store.repo, createEmbeddedRouter());
  for (const patient of generateCohort({ patients: 4, days: 60, seed: 2026, startDate: '2026-01-01' })) {
    await client.transaction(patient.bundle);
  }
});
afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function world(signal: AbortSignal = new AbortController().signal): SeededCohortWorld {
  return { client, evidence, today: () => TODAY, now: () => `${TODAY}T08:00:00Z`, signal, log: () => undefined };
}

async function versions(): Promise<string[]> {
  const out: string[] = [];
  for (const type of ['Observation', 'RiskAssessment', 'Task', 'CarePlan', 'Provenance', 'Device'] as const) {
    out.push(...(await client.searchAll(type, {})).map((r) => `${type}/${r.id}/${r.meta?.versionId}`));
  }
  return out.sort();
}

test('a shutdown before the first patient derives nothing and says it stopped', async () => {
  const stop = new AbortController();
  stop.abort();
  const summary = await deriveSeededCohort(world(stop.signal));
  expect(summary).toMatchObject({ patients: 4, derived: 0, stopped: true });
  expect(await client.searchAll<Observation>('Observation', { identifier: `${TWIN_RESOURCE_SYSTEM}|` })).toHaveLength(
    0
  );
});

test('twins, findings and proposals for review; a restart writes nothing', async () => {
  const first = await deriveSeededCohort(world());
  expect(first).toMatchObject({ patients: 4, failed: 0, stopped: false });
  expect(first.derived).toBe(4);
  expect(first.proposals).toBeGreaterThan(0);

  for (const patient of await client.searchAll('Patient', {})) {
    const twin = await client.searchAll<Observation>('Observation', {
      subject: `Patient/${patient.id}`,
      identifier: `${TWIN_RESOURCE_SYSTEM}|`,
    });
    expect(twin.length).toBeGreaterThan(0);
  }
  // Proposals only: each CarePlan a draft with its review Task; nothing became active without a clinician.
  const plans = await client.searchAll<CarePlan>('CarePlan', {});
  expect(plans).toHaveLength(first.proposals);
  expect(plans.every((p) => p.status === 'draft' && p.intent === 'proposal')).toBe(true);
  const reviews = await client.searchAll<Task>('Task', { focus: plans.map((p) => `CarePlan/${p.id}`).join(',') });
  expect(reviews).toHaveLength(plans.length);

  const before = await versions();
  const second = await deriveSeededCohort(world());
  expect(second).toMatchObject({ derived: 0, alreadyDerived: 4, proposals: 0 });
  expect(await versions()).toEqual(before);
});
