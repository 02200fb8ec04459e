/**
 * The bundled Medplum bots (one esbuild file each, profiles embedded, @medplum/core external) deployed into
 * @medplum/mock's MockClient, triggered through the deployable Subscriptions as Medplum evaluates them: LOINC-coded
 * and project-coded Observations update the twin and produce findings; a missed event is caught by the sweep; a
 * duplicated event changes nothing; the engine service is called with retries and the bot degrades when it is down;
 * a Condition produces a proposal, and a clinician's status changes go through the review state machine.
 */
import type { MedplumClient } from '@medplum/core';
import type { Bundle, CarePlan, Observation, Patient, Procedure, Resource, Task } from '@medplum/fhirtypes';
import { MedplumClient as RealMedplumClient } from '@medplum/core';
import { MockClient } from '@medplum/mock';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer } from '../src/cli/serveCommand';
import { startEmbeddedTestServer } from './support/embeddedTestServer';
import { openSqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';
import type { Config } from '@jest/types';
type FakeableAPI = Config.FakeableAPI;
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resourceMatchesSubscriptionCriteria } from '@medplum/core';
import { generateCohort, type GeneratedPatient } from '../src/cohort/generateCohort';
import { TWIN_RESOURCE_SYSTEM } from '../src/fhir/codes/twinCodes';
import { bundleEntry, EMBEDDED_ROOT } from '../scripts/bots/buildBots';
import { botEvent, dispatch, loadBundledBots, type BundledBots } from './support/botHarness';
import { join, resolve } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';

jest.setTimeout(240_000);

let bots: BundledBots;
beforeAll(async () => {
  bots = await loadBundledBots('mock');
});

/**
 * A cohort patient, 60 days, with the wearable metrics only (two LOINC codes, four project codes): MockClient's
 * in-memory repository scans every resource on each conditional write, so the series is kept small.
 */
function cohortPatient(index: number, days = 60): GeneratedPatient {
  const generated = [...generateCohort({ patients: index + 1, days, seed: 21, startDate: '2026-01-01' })][index];
  const keep = new Set(['8867-4', '9279-1', 'resting-heart-rate', 'hrv-rmssd', 'sleep-duration', 'steps']);
  const entry = (generated.bundle.entry ?? []).filter(
    (e) => e.resource?.resourceType !== 'Observation' || keep.has(e.resource.code.coding?.[0]?.code ?? '')
  );
  return { ...generated, bundle: { ...generated.bundle, entry } };
}

function day(o: Observation): string {
  return (o.effectiveDateTime ?? o.effectivePeriod?.start ?? '').slice(0, 10);
}

/** The cohort Bundle minus what `hold` keeps back, loaded in one transaction; returns the Patient id and what was held. */
async function load<T extends Resource>(
  medplum: MedplumClient,
  generated: GeneratedPatient,
  hold: (r: Resource) => r is T
): Promise<{ patientId: string; held: T[] }> {
  const held: T[] = [];
  const entry = (generated.bundle.entry ?? []).filter((e) => {
    if (e.resource && hold(e.resource)) {
      held.push(e.resource);
      return false;
    }
    return true;
  });
  // The history was written days ago (its meta.lastUpdated says so): only Date is faked, timers run as usual.
  jest.useFakeTimers({ now: Date.now() - 5 * 86_400_000, doNotFake: NOT_DATE });
  let response: Bundle;
  try {
    response = await medplum.executeBatch({ ...generated.bundle, entry });
  } finally {
    jest.useRealTimers();
  }
  const patientIndex = entry.findIndex((e) => e.resource?.resourceType === 'Patient');
  const patientId = response.entry?.[patientIndex]?.response?.location?.split('/')[1] ?? '';
  const patientRef = entry[patientIndex].fullUrl ?? '';
  // Held resources name the patient by the transaction's urn:uuid; point them at the stored Patient.
  const fix = <R extends Resource>(r: R): R =>
    JSON.parse(JSON.stringify(r).replaceAll(patientRef, `Patient/${patientId}`)) as R;
  return { patientId, held: held.map(fix) };
}

const NOT_DATE: FakeableAPI[] = [
  'hrtime',
  'nextTick',
  'performance',
  'queueMicrotask',
  'requestAnimationFrame',
  'cancelAnimationFrame',
  'requestIdleCallback',
  'cancelIdleCallback',
  'setImmediate',
  'clearImmediate',
  'setInterval',
  'clearInterval',
  'setTimeout',
  'clearTimeout',
];

async function snapshot(medplum: MedplumClient, patientId: string): Promise<string[]> {
  const out: string[] = [];
  for (const type of ['Observation', 'RiskAssessment', 'Task', 'CarePlan'] as const) {
    const found = await medplum.searchResources(type, {
      _count: '5000',
      ...(type === 'Observation' ? { subject: `Patient/${patientId}` } : {}),
    });
    out.push(...found.map((r) => `${type}/${r.id}/${r.meta?.versionId}`));
  }
  out.push(
    ...(await medplum.searchResources('Device', { _count: '100' })).map((r) => `Device/${r.id}/${r.meta?.versionId}`)
  );
  return out.sort();
}

const twinState = (patientId: string, d: string): string => `${TWIN_RESOURCE_SYSTEM}|state/${patientId}/${d}`;

describe('bundled bots in MockClient', () => {
  test('the bundle carries the project profiles: the embedded validator knows the twin profiles', async () => {
    const dir = resolve(__dirname, '..', '.tmp', `bots-probe-${process.pid}`);
    const entry = join(dir, 'probe.ts');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      entry,
      `import { createValidator } from '${resolve(__dirname, '..', 'src', 'fhir', 'validation')}';\n` +
        `import { packageRoot } from '${resolve(__dirname, '..', 'src', 'fhir', 'packageRoot')}';\n` +
        `export const known = createValidator().knownProfiles();\nexport const root = packageRoot();\n`
    );
    await bundleEntry(entry, join(dir, 'probe.js'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const probe = require(join(dir, 'probe.js')) as { known: string[]; root: string };
    expect(probe.root).toBe(EMBEDDED_ROOT);
    expect(probe.known).toEqual(
      expect.arrayContaining([
        'https://recovery-twin.dev/fhir/StructureDefinition/twin-baseline',
        'https://recovery-twin.dev/fhir/StructureDefinition/review-task',
      ])
    );
    for (const bytes of Object.values(bots.bytes)) {
      expect(bytes).toBeGreaterThan(100_000);
    }
  });

  test('LOINC- and project-coded Observations -> twin and findings; a missed event is swept; a duplicate changes nothing', async () => {
    const medplum = new MockClient();
    const generated = cohortPatient(8); // an illness episode on day 24 of 60
    const observations = (generated.bundle.entry ?? []).flatMap((e) =>
      e.resource?.resourceType === 'Observation' ? [e.resource] : []
    );
    const days = [...new Set(observations.map(day))].sort();
    const lastDay = days[days.length - 1];
    // The last day before the end with a LOINC-coded measurement (heart rate is not measured every day).
    const eventDay = observations
      .filter((o) => o.code.coding?.[0]?.system === 'http://loinc.org' && day(o) < lastDay)
      .map(day)
      .sort()
      .at(-1) as string;
    const { patientId, held } = await load(
      medplum,
      generated,
      (r): r is Observation => r.resourceType === 'Observation' && day(r) >= eventDay
    );
    const onEventDay = held.filter((o) => day(o) === eventDay);
    const loinc = onEventDay.find((o) => o.code.coding?.[0]?.system === 'http://loinc.org');
    const project = onEventDay.find((o) => o.code.coding?.[0]?.system?.endsWith('/CodeSystem/recovery-metric'));
    expect(loinc && project).toBeTruthy();
    // Two Observations arrive through the Subscriptions: one LOINC code, one project code.
    const deliveries = [];
    for (const o of [loinc as Observation, project as Observation]) {
      const stored = await medplum.createResource(o);
      deliveries.push(...(await dispatch(bots, medplum, stored, 'create')));
    }
    expect(deliveries.map((d) => d.bot)).toEqual(['onObservation', 'onObservation']);
    const first = deliveries[0].result as {
      twin: { status: string };
      detection: { mode: string; degraded: string; summary: { episodes: number } };
    };
    expect(first.twin.status).toBe('applied');
    expect(first.detection.mode).toBe('statistical');
    expect(first.detection.degraded).toMatch(/no engine service configured/);
    const states = await medplum.searchResources('Observation', { identifier: twinState(patientId, eventDay) });
    expect(states).toHaveLength(1);
    const findings = await medplum.searchResources('RiskAssessment', { subject: `Patient/${patientId}` });
    expect(findings.length).toBeGreaterThan(0);
    expect(first.detection.summary.episodes).toBeGreaterThan(0);

    // The twin's own writes come back through the same Subscription and are ignored.
    const echo = await dispatch(bots, medplum, states[0], 'create');
    expect(echo.every((d) => (d.result as { twin: { status: string } }).twin.status === 'ignored')).toBe(true);
    // A duplicated delivery of the same event changes nothing.
    const before = await snapshot(medplum, patientId);
    const again = await dispatch(
      bots,
      medplum,
      (await medplum.searchResources('Observation', { _id: deliveriesIds(deliveries, loinc) }))[0] ?? loinc!,
      'create'
    );
    expect(again).toHaveLength(1);
    expect(await snapshot(medplum, patientId)).toEqual(before);
    // Missed events: the rest of the data is written but no bot hears of it; the sweep catches up.
    for (const o of held.filter((x) => x !== loinc && x !== project)) {
      await medplum.createResource(o);
    }
    expect(await medplum.searchResources('Observation', { identifier: twinState(patientId, lastDay) })).toHaveLength(0);
    const sweep = (await bots.handlers.dailySweep(medplum, botEvent('dailySweep', undefined))) as {
      twin: { patientsRefreshed: number };
      degraded: string[];
      failedPatients: number;
    };
    expect(sweep.twin.patientsRefreshed).toBe(1);
    expect(sweep.failedPatients).toBe(0);
    expect(sweep.degraded[0]).toMatch(/learned detector did not run/);
    expect(await medplum.searchResources('Observation', { identifier: twinState(patientId, lastDay) })).toHaveLength(1);
    // A second sweep over the same data writes nothing.
    const afterSweep = await snapshot(medplum, patientId);
    await bots.handlers.dailySweep(medplum, botEvent('dailySweep', undefined));
    expect(await snapshot(medplum, patientId)).toEqual(afterSweep);
  });

  test('the learned detector runs on the engine service when reachable, with retries; unreachable -> statistical, said so', async () => {
    const medplum = new MockClient();
    const { patientId, held } = await load(
      medplum,
      cohortPatient(3, 20),
      (r): r is Observation => r.resourceType === 'Observation' && r.code.coding?.[0]?.code === '8867-4'
    );
    const stored = await medplum.createResource(held[held.length - 1]);
    let calls = 0;
    const paths: string[] = [];
    const engine: Server = createServer((req, res) => {
      calls++;
      paths.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      // The first attempt fails as a restarting service would (503); the retry succeeds.
      res.writeHead(calls === 1 ? 503 : 200, { 'content-type': 'application/fhir+json' });
      res.end(JSON.stringify({ resourceType: 'Parameters' }));
    });
    await new Promise<void>((r) => engine.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(engine.address() as AddressInfo).port}/fhir/R4`;
    try {
      const [up] = await dispatch(bots, medplum, stored, 'update', {
        secrets: { ENGINE_URL: url, ENGINE_TOKEN: 'engine-token', ENGINE_ATTEMPTS: '3', ENGINE_TIMEOUT_MS: '2000' },
      });
      expect((up.result as { detection: unknown }).detection).toEqual({ mode: 'engine-service', attempts: 2 });
      expect(paths).toEqual([
        `POST /fhir/R4/Patient/${patientId}/$twin-findings Bearer engine-token`,
        `POST /fhir/R4/Patient/${patientId}/$twin-findings Bearer engine-token`,
      ]);
    } finally {
      await new Promise<void>((r) => engine.close(() => r()));
    }
    // The same port, now closed: every attempt fails, the bot runs the statistical detectors and says why.
    const [down] = await dispatch(bots, medplum, stored, 'update', {
      secrets: { ENGINE_URL: url, ENGINE_ATTEMPTS: '2', ENGINE_TIMEOUT_MS: '500' },
    });
    const detection = (down.result as { detection: { mode: string; degraded: string } }).detection;
    expect(detection.mode).toBe('statistical');
    expect(detection.degraded).toBe('engine service unreachable (2 attempts): the learned detector did not run');
  });

  test('a Procedure -> a proposal once; status changes go through the review state machine; invalid ones are refused', async () => {
    const medplum = new MockClient();
    const patientId = (
      await medplum.createResource<Patient>({ resourceType: 'Patient', name: [{ family: 'Proposal' }] })
    ).id;
    const practitioner = await medplum.createResource({ resourceType: 'Practitioner', name: [{ family: 'Reviewer' }] });
    // A procedure as a clinician records it, by its text (no code is invented here).
    const condition = await medplum.createResource<Procedure>({
      resourceType: 'Procedure',
      status: 'completed',
      subject: { reference: `Patient/${patientId}` },
      code: { text: 'Anterior cruciate ligament reconstruction' },
      performedDateTime: '2026-02-20',
    });
    const [proposed] = await dispatch(bots, medplum, condition, 'create');
    expect(proposed.bot).toBe('onConditionOrProcedure');
    const result = proposed.result as { status: string; carePlan: string; task: string; ranking: string };
    expect(result.status).toBe('created');
    expect(result.ranking).toMatch(/no sentence-embedding model/);
    const [again] = await dispatch(bots, medplum, condition, 'update', { previous: condition });
    expect((again.result as { status: string }).status).toBe('exists');
    expect(await medplum.searchResources('CarePlan', { subject: `Patient/${patientId}` })).toHaveLength(1);

    const taskId = result.task.split('/')[1];
    const change = async (
      status: Task['status'],
      extra: Partial<Task> = {}
    ): Promise<{ status: string; reason?: string }> => {
      const previous = await medplum.readResource('Task', taskId);
      const updated = await medplum.updateResource<Task>({ ...previous, ...extra, status });
      const d = await dispatch(bots, medplum, updated, 'update', { previous });
      expect(d.map((x) => x.bot)).toEqual(['onReviewDecision']);
      return d[0].result as { status: string; reason?: string };
    };
    // Approving a proposal nobody accepted: refused, and the Task goes back to requested.
    const refused = await change('completed');
    expect(refused.status).toBe('refused');
    expect((await medplum.readResource('Task', taskId)).status).toBe('requested');
    expect((await medplum.readResource('CarePlan', result.carePlan.split('/')[1])).status).toBe('draft');
    // Accept, then approve: the CarePlan becomes active.
    expect((await change('accepted', { owner: { reference: `Patient/${patientId}` } })).status).toBe('refused'); // owner must be a clinician
    expect((await change('accepted', { owner: { reference: `Practitioner/${practitioner.id}` } })).status).toBe(
      'applied'
    );
    const previous = await medplum.readResource('Task', taskId);
    const completed = await medplum.updateResource<Task>({ ...previous, status: 'completed' });
    const [approved] = await dispatch(bots, medplum, completed, 'update', { previous });
    expect(approved.result).toMatchObject({
      status: 'applied',
      decision: 'approve',
      result: { carePlanStatus: 'active' },
    });
    const carePlan = await medplum.readResource('CarePlan', result.carePlan.split('/')[1]);
    expect(carePlan.status).toBe('active');
    // The bot's own write of the Task keeps its status: the FHIRPath criterion does not fire on it.
    const written = await medplum.readResource('Task', taskId);
    expect(
      await resourceMatchesSubscriptionCriteria({
        resource: written,
        subscription: bots.subscriptions.find((s) => s.channel.endpoint === 'Bot/onReviewDecision')!,
        context: { interaction: 'update' },
        getPreviousResource: async () => completed,
      })
    ).toBe(false);
    // A duplicated delivery of the approval changes nothing.
    const before = await snapshot(medplum, patientId);
    const [dup] = await dispatch(bots, medplum, completed, 'update', { previous });
    expect(dup.result).toMatchObject({ status: 'ignored' });
    expect(await snapshot(medplum, patientId)).toEqual(before);
    void (carePlan as CarePlan);
  });
});

function deliveriesIds(_d: unknown[], o: Observation | undefined): string {
  return o?.id ?? '';
}

describe('the same bundled bots against the embedded server through a real MedplumClient', () => {
  test('an Observation event -> twin and findings over HTTP; a duplicated delivery changes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twin-bots-embedded-'));
    const running = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: dir,
      seed: false,
      log: () => undefined,
      openRepository: async (dataDir, { baseUrl }) => {
        const store = await openSqliteStore(dataDir, { baseUrl, durability: 'normal' });
        return {
          repo: store.repo,
          close: () => store.close(),
          supports: store.supports,
          router: createEmbeddedRouter(),
          systemInteractions: ['transaction', 'batch'],
        };
      },
    });
    try {
      // MedplumClient speaks to `<baseUrl>fhir/R4/`: the embedded server's FHIR base.
      const medplum = new RealMedplumClient({ baseUrl: `${running.origin}/`, cacheTime: 0 });
      const generated = cohortPatient(8);
      const { patientId, held } = await load(
        medplum,
        generated,
        (r): r is Observation => r.resourceType === 'Observation' && day(r) >= '2026-02-27'
      );
      const stored = await medplum.createResource(
        held.find((o) => o.code.coding?.[0]?.system === 'http://loinc.org') ?? held[0]
      );
      const [delivery] = await dispatch(bots, medplum, stored, 'create');
      const result = delivery.result as {
        twin: { status: string };
        detection: { mode: string; summary: { findingsWritten: number } };
      };
      expect(result.twin.status).toBe('applied');
      expect(result.detection.mode).toBe('statistical');
      expect(
        await medplum.searchResources('Observation', { identifier: twinState(patientId, day(stored)) })
      ).toHaveLength(1);
      expect(
        (await medplum.searchResources('RiskAssessment', { subject: `Patient/${patientId}` })).length
      ).toBeGreaterThan(0);
      const before = await snapshot(medplum, patientId);
      await dispatch(bots, medplum, stored, 'create');
      expect(await snapshot(medplum, patientId)).toEqual(before);
    } finally {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the engine service is the real one: the bot calls its $twin-findings (learned detector included) and says so', async () => {
    // The engine service's operation as `twin serve` mounts it; the learned model ships in models/lstm-detector.
    const running = await startEmbeddedTestServer({ twinFindings: { today: () => '2026-03-01' }, bulkExport: false });
    try {
      const medplum = new RealMedplumClient({ baseUrl: `${running.origin}/`, cacheTime: 0 });
      const { patientId, held } = await load(
        medplum,
        cohortPatient(9),
        (r): r is Observation => r.resourceType === 'Observation' && day(r) >= '2026-02-28'
      );
      const stored = await medplum.createResource(held[0]);
      // The bot and the engine service share the FHIR server here (one process); ENGINE_URL is its FHIR base.
      const secrets = { ENGINE_URL: running.baseUrl, ENGINE_ATTEMPTS: '1', ENGINE_TIMEOUT_MS: '60000' };
      const [delivery] = await dispatch(bots, medplum, stored, 'create', { secrets });
      expect((delivery.result as { detection: unknown }).detection).toEqual({ mode: 'engine-service', attempts: 1 });
      const findings = await medplum.searchResources('RiskAssessment', {
        subject: `Patient/${patientId}`,
        _count: '500',
      });
      // The service ran its detectors, the learned one among them: each has its model Device in the record.
      const devices = await medplum.searchResources('Device', { _count: '100' });
      const names = devices.flatMap((d) => (d.deviceName ?? []).map((n) => n.name));
      expect(names).toEqual(
        expect.arrayContaining([
          'recovery-twin statistical detector: ensemble',
          'recovery-twin LSTM autoencoder early-warning detector',
        ])
      );
      // Whatever the detectors found is in the record under the service's detectors (none, for a quiet patient).
      expect(findings.every((f) => /ensemble|lstm/.test(f.method?.text ?? ''))).toBe(true);
      const before = await snapshot(medplum, patientId);
      await dispatch(bots, medplum, stored, 'create', { secrets });
      expect(await snapshot(medplum, patientId)).toEqual(before);
    } finally {
      await running.close();
    }
  });
});
