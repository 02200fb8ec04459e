import type { Observation, Patient } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_AUTOMATION_CONFIG } from '../src/automation/automationConfig';
import { automationJobs } from '../src/automation/automationJobs';
import { generateCohort } from '../src/cohort/generateCohort';
import { WatermarkStore } from '../src/ingest/watermarkStore';
import { HttpFhirClient } from '../src/fhir/httpFhirClient';
import { createValidator } from '../src/fhir/validation';
import { engineProcessor } from '../src/queue/engineProcessor';
import { createLocalEngineQueue } from '../src/queue/localEngineQueue';
import { startServer, type RunningServer } from '../src/server/embeddedServer';
import { twinFindingsOperation } from '../src/server/operations/twinFindingsOperation';
import { twinRefreshOperation } from '../src/server/operations/twinRefreshOperation';
import { createPrometheusMetrics } from '../src/server/prometheusMetrics';
import { openSqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';
import { LocalFhirClient } from '../src/fhir/localFhirClient';
import { learnedDetectorCheck } from '../src/server/readinessChecks';

const validator = createValidator();
const [patient] = [...generateCohort({ patients: 1, days: 40, seed: 7, startDate: '2026-01-01' })];
const dirs: string[] = [];
const running: RunningServer[] = [];

afterAll(async () => {
  await Promise.all(running.map((r) => r.close()));
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** An embedded server on the SQLite store, with `$twin-refresh` counting into its own registry. */
async function server(): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), 'twin-metrics-'));
  dirs.push(dir);
  const prometheus = createPrometheusMetrics();
  const r = await startServer({
    port: 0,
    host: '127.0.0.1',
    dataDir: dir,
    seed: false,
    log: () => undefined,
    metrics: prometheus,
    operations: [
      twinRefreshOperation({
        validate: (res) => validator.validate(res),
        today: () => '2026-03-01',
        metrics: prometheus.metrics,
      }),
      // Statistical detectors only: no learned model in this folder.
      twinFindingsOperation({
        today: () => '2026-03-01',
        modelDir: join(dir, 'no-model'),
        metrics: prometheus.metrics,
      }),
    ],
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
  running.push(r);
  return r;
}

async function scrape(r: RunningServer): Promise<{ type: string | null; text: string }> {
  const res = await fetch(`${r.origin}/metrics`);
  expect(res.status).toBe(200);
  return { type: res.headers.get('content-type'), text: await res.text() };
}

/** The value of one sample line, e.g. `twin_engine_events_processed_total{kind="twin-refresh",outcome="refreshed"}`. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('/metrics', () => {
  test('two servers in one process each have their own registry; $twin-refresh moves its counter', async () => {
    const a = await server();
    const b = await server();
    const client = new HttpFhirClient({ baseUrl: a.baseUrl });
    await client.transaction(patient.bundle);
    const [p] = await client.searchAll<Patient>('Patient', {});
    const id = p.id as string;

    const before = await scrape(a);
    expect(before.type).toMatch(/^text\/plain; version=0\.0\.4/);
    // prom-client's process metrics, on this server's registry.
    expect(before.text).toContain('process_cpu_user_seconds_total');
    expect(before.text).toContain('# TYPE twin_engine_events_processed_total counter');
    expect(before.text).toContain('# TYPE twin_engine_event_lag_seconds histogram');
    expect(before.text).toContain('# TYPE twin_detector_latency_seconds histogram');
    expect(sample(before.text, 'twin_queue_depth')).toBe(0);
    const refreshed = 'twin_engine_events_processed_total{kind="twin-refresh",outcome="refreshed"}';
    expect(sample(before.text, refreshed)).toBe(0);

    const post = (target: RunningServer, patientId: string): Promise<Response> =>
      fetch(`${target.baseUrl}/Patient/${patientId}/$twin-refresh`, {
        method: 'POST',
        headers: { accept: 'application/fhir+json' },
      });
    expect((await post(a, id)).status).toBe(200);
    expect((await post(a, id)).status).toBe(200);
    expect((await post(a, 'no-such-patient')).status).toBe(404);

    const after = (await scrape(a)).text;
    expect(sample(after, refreshed)).toBe(2);
    expect(sample(after, 'twin_engine_events_processed_total{kind="twin-refresh",outcome="rejected"}')).toBe(1);
    expect(sample(after, 'twin_engine_errors_total{kind="twin-refresh"}')).toBe(0);
    // $twin-findings: counted, and each detector's run timed under the detector's name.
    const findings = await fetch(`${a.baseUrl}/Patient/${id}/$twin-findings`, {
      method: 'POST',
      headers: { accept: 'application/fhir+json' },
    });
    expect(findings.status).toBe(200);
    const withFindings = (await scrape(a)).text;
    expect(sample(withFindings, 'twin_engine_events_processed_total{kind="twin-findings",outcome="ok"}')).toBe(1);
    expect(withFindings).toMatch(/^twin_detector_latency_seconds_count\{detector="[a-z0-9-]+"\} 1$/m);
    // Labels are bounded names: never the patient's id.
    expect(withFindings).not.toContain(id);
    // The other server counted nothing.
    expect(sample((await scrape(b)).text, refreshed)).toBe(0);
  });
});

describe('metrics from the queue', () => {
  test('an event job counts its outcome and its lag from lastUpdated; the gauge reads the queue depth; the scheduled refresh counts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twin-metrics-q-'));
    dirs.push(dir);
    const store = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal' });
    try {
      const client = new LocalFhirClient(store.repo, createEmbeddedRouter());
      await client.transaction(patient.bundle);
      const [obs] = await client.searchAll<Observation>('Observation', { _count: '1' });
      const lastUpdated = obs.meta?.lastUpdated as string;
      // A clock 90 s after the Observation was stored: the lag is 90 s whatever the machine's speed.
      const prometheus = createPrometheusMetrics({
        now: () => new Date(Date.parse(lastUpdated) + 90_000),
        processMetrics: false,
      });
      const processEvent = engineProcessor({ client, today: () => '2026-03-01', metrics: prometheus.metrics });
      // The job waits for the gate, so the depth is read while it is surely still queued.
      let open: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const queue = createLocalEngineQueue({ process: (job) => gate.then(() => processEvent(job)) });
      prometheus.setQueueDepth(() => queue.depth());
      await queue.enqueue({ kind: 'event', patientId: 'p', eventId: `Observation/${obs.id}`, payload: obs });
      expect(await queue.depth()).toBe(1);
      expect(sample(await prometheus.registry.metrics(), 'twin_queue_depth')).toBe(1);
      open();
      await queue.drain();
      await queue.close();
      const text = await prometheus.registry.metrics();
      expect(sample(text, 'twin_queue_depth')).toBe(0);
      expect(sample(text, 'twin_engine_event_lag_seconds_count')).toBe(1);
      expect(sample(text, 'twin_engine_event_lag_seconds_sum')).toBe(90);
      expect(sample(text, 'twin_engine_event_lag_seconds_bucket{le="60"}')).toBe(0);
      expect(sample(text, 'twin_engine_event_lag_seconds_bucket{le="300"}')).toBe(1);
      expect(text).toMatch(/twin_engine_events_processed_total\{kind="queue-event",outcome="[a-z-]+"\} 1/);
      expect(text).not.toContain('process_cpu');

      // The scheduled refresh: counted as a run, and the lag of every Observation it picks up.
      const [refresh] = automationJobs(
        {
          client,
          now: () => '2026-03-01T08:00:00Z',
          today: () => '2026-03-01',
          watermarks: new WatermarkStore(join(dir, 'state')),
          metrics: prometheus.metrics,
        },
        DEFAULT_AUTOMATION_CONFIG
      );
      expect(refresh.name).toBe('refresh');
      await refresh.run();
      const afterJob = await prometheus.registry.metrics();
      expect(sample(afterJob, 'twin_engine_events_processed_total{kind="automation-refresh",outcome="ok"}')).toBe(1);
      expect(sample(afterJob, 'twin_engine_event_lag_seconds_count')).toBeGreaterThan(1);
    } finally {
      store.close();
    }
  });
});

describe('readiness of the learned detector', () => {
  test('loaded with its name and version when the start-up check verified it', async () => {
    const check = learnedDetectorCheck({
      installed: true,
      card: { name: 'lstm-detector', version: '1.2.3' } as never,
    });
    expect(await check.check()).toEqual({ ok: true, status: 'loaded (lstm-detector 1.2.3)' });
    const gone = learnedDetectorCheck(
      { installed: true, card: { name: 'lstm-detector', version: '1.2.3' } as never },
      join(tmpdir(), 'twin-no-such-model-folder')
    );
    expect(await gone.check()).toEqual({ ok: false, status: 'learned detector folder is gone since start' });
  });
});
