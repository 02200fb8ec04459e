/**
 * `twin erase`: on the patient's request, what the twin derived from their data is removed from the embedded store
 * with its history; source data and approved clinical decisions stay; site policy gates it; a rerun removes nothing.
 */
import type { CarePlan, Observation, Resource, RiskAssessment, Task } from '@medplum/fhirtypes';
import { Command } from 'commander';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerCommands } from '../src/cli/commands';
import { ProtocolMatcher } from '../src/evidence/match/protocolMatcher';
import { TWIN_RESOURCE_SYSTEM } from '../src/fhir/codes/twinCodes';
import { LocalFhirClient } from '../src/fhir/localFhirClient';
import { loadProtocolLibrary } from '../src/protocols/protocolLibrary';
import { applyReviewDecision } from '../src/review/reviewDecision';
import { openSqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';
import { seedClinicianScenario, type ClinicianScenario } from './support/clinicianScenario';
import { randomBytes } from 'node:crypto';
import { buildMetricObservation } from '../src/ingest/importers/metricObservation';
import { refreshPatientTwin } from '../src/twin/refresh/refreshPatientTwin';

const NOW = new Date('2026-03-02T10:00:00Z');
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'twin-erase-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function withStore<T>(
  fn: (client: LocalFhirClient, store: Awaited<ReturnType<typeof openSqliteStore>>) => Promise<T>
): Promise<T> {
  const store = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal' });
  try {
    return await fn(new LocalFhirClient(store.repo, createEmbeddedRouter()), store);
  } finally {
    store.close();
  }
}

async function erase(args: string[], env: NodeJS.ProcessEnv): Promise<{ lines: string[]; error?: string }> {
  const lines: string[] = [];
  const root = new Command('twin').exitOverride().configureOutput({ writeErr: () => undefined });
  registerCommands(root, {
    openRepository: () => Promise.reject(new Error('not used')),
    version: '0.0.0',
    env,
    log: (line) => lines.push(line),
  });
  try {
    await root.parseAsync(['node', 'twin', 'erase', ...args, '--data-dir', dir]);
    return { lines };
  } catch (err) {
    return { lines, error: String(err) };
  }
}

interface Twin {
  observations: Observation[];
  findings: RiskAssessment[];
  carePlans: CarePlan[];
  tasks: Task[];
}

async function twinOf(client: LocalFhirClient, patient: string): Promise<Twin> {
  const twin = { identifier: `${TWIN_RESOURCE_SYSTEM}|` };
  const subject = `Patient/${patient}`;
  return {
    observations: await client.searchAll<Observation>('Observation', { ...twin, subject }),
    findings: await client.searchAll<RiskAssessment>('RiskAssessment', { ...twin, subject }),
    carePlans: await client.searchAll<CarePlan>('CarePlan', { ...twin, subject }),
    tasks: await client.searchAll<Task>('Task', { ...twin, patient: subject }),
  };
}

test('twin erase removes the twin of one patient with its history, keeps source data and the approved plan, and is gated and idempotent', async () => {
  let scenario: ClinicianScenario | undefined;
  let before: Twin | undefined;
  let beforeOther: Twin | undefined;
  let sourceCount = 0;
  await withStore(async (client, store) => {
    const router = createEmbeddedRouter();
    const library = loadProtocolLibrary();
    const matcher = await ProtocolMatcher.create(library);
    scenario = await seedClinicianScenario(store.repo, router, { library, matcher }, NOW);
    // A clinician approves the proposal: a clinical decision erasure must keep.
    const review = (decision: 'accept' | 'approve'): ReturnType<typeof applyReviewDecision> =>
      applyReviewDecision(
        client,
        { taskId: scenario?.taskId ?? '', decision, practitioner: scenario?.practitioner ?? '', phase: '1' },
        NOW.toISOString()
      );
    await review('accept');
    expect((await review('approve')).carePlanStatus).toBe('active');
    before = await twinOf(client, scenario.patientId);
    beforeOther = await twinOf(client, scenario.otherPatientId);
    sourceCount =
      (await client.searchAll<Observation>('Observation', { subject: `Patient/${scenario.patientId}` })).length -
      before.observations.length;
  });
  if (!scenario || !before || !beforeOther) {
    throw new Error('no scenario');
  }
  const patientId = scenario.patientId;
  expect(before.observations.length).toBeGreaterThan(0);
  expect(before.findings.length).toBeGreaterThan(0);
  expect(before.tasks.length).toBeGreaterThan(1);
  expect(sourceCount).toBeGreaterThan(0);

  // Site policy off: refused, nothing changes.
  const refused = await erase(['--patient', patientId, '--yes'], {});
  expect(refused.error).toContain('not allowed');
  // Without --yes: the plan only.
  const allow = { TWIN_ALLOW_ERASE: 'true' };
  const plan = await erase(['--patient', patientId], allow);
  expect(plan.error).toBeUndefined();
  expect(plan.lines[0]).toContain('nothing changed');
  expect(plan.lines).toContain(`  erase Observation: ${before.observations.length}`);
  await withStore(async (client) => {
    expect((await twinOf(client, patientId)).observations.length).toBe(before?.observations.length);
  });

  const done = await erase(['--patient', patientId, '--yes'], allow);
  expect(done.error).toBeUndefined();
  expect(done.lines.join('\n')).toMatch(/^Erased \d+ resource/);
  expect(done.lines).toContain(`  erase Observation: ${before.observations.length}`);
  expect(done.lines).toContain(`  erase RiskAssessment: ${before.findings.length}`);
  expect(done.lines.some((l) => l.startsWith('  erase Task:'))).toBe(true);
  expect(done.lines.some((l) => l.startsWith('  erase Provenance:'))).toBe(false);
  expect(done.lines.some((l) => l.startsWith('  keep CarePlan: 1 (approved by a clinician'))).toBe(true);
  expect(done.lines.some((l) => l.startsWith('  keep Task: 1 (the review that approved'))).toBe(true);
  expect(done.lines.some((l) => l.includes(`Observation ${sourceCount}`) && l.includes('Patient 1'))).toBe(true);

  await withStore(async (client, store) => {
    const after = await twinOf(client, patientId);
    expect(after.observations).toEqual([]);
    expect(after.findings).toEqual([]);
    expect(after.carePlans.map((c) => c.status)).toEqual(['active']);
    expect(after.tasks.map((t) => t.status)).toEqual(['completed']);
    // Gone with their history: no current version, no old one (not a FHIR delete, which would answer 410).
    const gone: Resource = before?.observations[0] as Observation;
    await expect(store.repo.readResource('Observation', gone.id ?? '')).rejects.toThrow();
    await expect(store.repo.readVersion('Observation', gone.id ?? '', '1')).rejects.toThrow();
    const finding = before?.findings[0] as RiskAssessment;
    await expect(store.repo.readHistory('RiskAssessment', finding.id ?? '')).rejects.toThrow();
    // Source data and the patient stay; the other patient's twin is untouched.
    const all = await client.searchAll<Observation>('Observation', { subject: `Patient/${patientId}` });
    expect(all.length).toBe(sourceCount);
    await client.read('Patient', patientId);
    const other = await twinOf(client, scenario?.otherPatientId ?? '');
    expect(other.observations.length).toBe(beforeOther?.observations.length);
    expect(other.findings.length).toBe(beforeOther?.findings.length);
  });

  // Idempotent: a rerun removes nothing.
  const again = await erase(['--patient', patientId, '--yes'], allow);
  expect(again.lines[0]).toContain('Nothing to erase');
}, 120_000);

test('on an encrypted store (ids stored as keyed hashes) twin erase finds and removes the twin, with the key from the environment', async () => {
  const env = { TWIN_ALLOW_ERASE: 'true', TWIN_STORE_KEY: randomBytes(32).toString('base64') };
  const key = Buffer.from(env.TWIN_STORE_KEY, 'base64');
  const open = (): ReturnType<typeof openSqliteStore> =>
    openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal', key });
  let patientId = '';
  {
    const store = await open();
    try {
      const client = new LocalFhirClient(store.repo, createEmbeddedRouter());
      const patient = await store.repo.createResource({ resourceType: 'Patient' });
      patientId = patient.id;
      const recorded = await client.read('Patient', patientId);
      expect(recorded.id).toBe(patientId);
      const day = '2026-03-01';
      const source = buildMetricObservation({
        source: 'test',
        subjectKey: 'p',
        subject: { reference: `Patient/${patientId}` },
        metric: 'resting-heart-rate',
        day,
        value: 58,
      });
      await store.repo.createResource(source);
      await refreshPatientTwin(patientId, { client, today: () => day });
      expect((await twinOf(client, patientId)).observations.length).toBeGreaterThan(0);
    } finally {
      store.close();
    }
  }
  // Without the key the command cannot open the store: refused, nothing erased.
  expect((await erase(['--patient', patientId, '--yes'], { TWIN_ALLOW_ERASE: 'true' })).error).toBeDefined();
  const done = await erase(['--patient', patientId, '--yes'], env);
  expect(done.error).toBeUndefined();
  const store = await open();
  try {
    const client = new LocalFhirClient(store.repo, createEmbeddedRouter());
    expect((await twinOf(client, patientId)).observations).toHaveLength(0);
    // The source measurement stays.
    expect(await client.searchAll<Observation>('Observation', { subject: `Patient/${patientId}` })).toHaveLength(1);
  } finally {
    store.close();
  }
});

test('twin erase refuses a data directory without a store, and an id that is not in the store, instead of reporting nothing erased', async () => {
  const allow = { TWIN_ALLOW_ERASE: 'true' };
  const missing = await erase(['--patient', 'some-patient', '--yes'], allow);
  expect(missing.error).toContain('no store in');
  // Nothing was created in the mistyped folder.
  expect(existsSync(join(dir, 'fhir.sqlite'))).toBe(false);
  await withStore(async (_client, store) => {
    await store.repo.createResource({ resourceType: 'Patient' });
  });
  const unknown = await erase(['--patient', 'not-a-patient-here', '--yes'], allow);
  expect(unknown.error).toContain('no Patient with this id');
  expect(unknown.error).not.toContain('not-a-patient-here');
});
