/**
 * Bulk Data $export end to end: the real embedded server (SQLite store, transaction bundles, express app) on port 0,
 * driven over HTTP by hand and by the project's own client.
 */
import type { Bundle, BundleEntry, Observation, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBulkExport } from '../src/ingest/bulk/bulkExportClient';
import type { BulkExportManifest } from '../src/fhir/bulk/bulkManifest';
import { ExportJobStore } from '../src/server/bulk/exportJobStore';
import type { OpenRepository, RunningServer } from '../src/cli/serveCommand';
import { startServer } from '../src/cli/serveCommand';
import { openSqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';

const fastSleep = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

/**
 * The store as `twin serve` opens it (src/cli/main.ts), except that bulk-export searches can be held at a gate,
 * so a test can see an export while it is still running. Only the bulk runner searches in these tests.
 */
class SearchGate {
  private gate: Promise<void> | undefined;
  private release: () => void = () => undefined;
  hold(): void {
    this.gate = new Promise((resolve) => {
      this.release = resolve;
    });
  }
  open(): void {
    this.gate = undefined;
    this.release();
  }
  async pass(): Promise<void> {
    await this.gate;
  }
}

function gatedSqliteStore(gate: SearchGate): OpenRepository {
  return async (dataDir, { baseUrl }) => {
    const store = await openSqliteStore(dataDir, { baseUrl });
    const target = store.repo;
    const repo = new Proxy(target, {
      get(t, property): unknown {
        if (property === 'search') {
          return async (...args: Parameters<typeof t.search>) => {
            await gate.pass();
            return t.search(...args);
          };
        }
        const value: unknown = Reflect.get(t, property, t);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
      },
    });
    return {
      repo,
      close: () => store.close(),
      supports: store.supports,
      router: createEmbeddedRouter(),
      systemInteractions: ['transaction', 'batch'],
    };
  };
}

interface Harness {
  server: RunningServer;
  gate: SearchGate;
  lines: string[];
}

async function start(dataDir: string, maxConcurrentJobs = 4): Promise<Harness> {
  const gate = new SearchGate();
  const lines: string[] = [];
  const server = await startServer({
    port: 0,
    host: '127.0.0.1',
    dataDir,
    seed: false,
    openRepository: gatedSqliteStore(gate),
    log: (line) => lines.push(line),
    bulkExport: { maxConcurrentJobs, busyRetryAfterSeconds: 7 },
  });
  return { server, gate, lines };
}

function observation(patientRef: string, k: number): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
    subject: { reference: patientRef },
    effectiveDateTime: new Date(Date.UTC(2026, 0, 1) + k * 3_600_000).toISOString(),
    valueQuantity: { value: 60 + k, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  };
}

/** One patient and `n` Observations in one transaction; returns the new Patient id. */
async function postPatient(baseUrl: string, n: number): Promise<string> {
  const patientUrl = `urn:uuid:${crypto.randomUUID()}`;
  const entry: BundleEntry[] = [
    {
      fullUrl: patientUrl,
      resource: { resourceType: 'Patient', active: true },
      request: { method: 'POST', url: 'Patient' },
    },
  ];
  for (let k = 0; k < n; k++) {
    entry.push({ resource: observation(patientUrl, k), request: { method: 'POST', url: 'Observation' } });
  }
  const response = await postJson(baseUrl, { resourceType: 'Bundle', type: 'transaction', entry });
  expect(response.status).toBe(200);
  const bundle = (await response.json()) as Bundle;
  return /^Patient\/([^/]+)/.exec(bundle.entry?.[0]?.response?.location ?? '')?.[1] ?? '';
}

async function postJson(url: string, body: Resource): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/fhir+json' },
    body: JSON.stringify(body),
  });
}

async function kickOff(url: string, headers: Record<string, string> = { Prefer: 'respond-async' }): Promise<Response> {
  return fetch(url, { headers: { Accept: 'application/fhir+json', ...headers } });
}

async function pollUntilDone(statusUrl: string): Promise<BulkExportManifest> {
  for (;;) {
    const response = await fetch(statusUrl);
    if (response.status === 200) {
      return (await response.json()) as BulkExportManifest;
    }
    expect(response.status).toBe(202);
    await fastSleep();
  }
}

async function collect(iterable: AsyncIterable<Resource>): Promise<Resource[]> {
  const out: Resource[] = [];
  for await (const r of iterable) {
    out.push(r);
  }
  return out;
}

function byType(resources: Resource[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of resources) {
    counts[r.resourceType] = (counts[r.resourceType] ?? 0) + 1;
  }
  return counts;
}

describe('Bulk Data $export on the embedded server', () => {
  let dataDir: string;
  let h: Harness;
  let base: string;
  let p1: string;
  let p2: string;
  let p3: string;
  let groupId: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'twin-bulk-'));
    h = await start(dataDir);
    base = h.server.baseUrl;
    p1 = await postPatient(base, 3);
    p2 = await postPatient(base, 2);
    p3 = await postPatient(base, 1);
    const group = await postJson(`${base}/Group`, {
      resourceType: 'Group',
      type: 'person',
      actual: true,
      member: [{ entity: { reference: `Patient/${p1}` } }, { entity: { reference: `Patient/${p3}` }, inactive: true }],
    });
    expect(group.status).toBe(201);
    groupId = ((await group.json()) as Resource).id ?? '';
  });

  afterAll(async () => {
    await h.server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('Patient/$export: 202 while running, then a 200 manifest whose files hold every patient resource', async () => {
    h.gate.hold();
    const kick = await kickOff(`${base}/Patient/$export`);
    expect(kick.status).toBe(202);
    const statusUrl = kick.headers.get('Content-Location') ?? '';
    expect(statusUrl).toMatch(new RegExp(`^${base.replace(/[.$]/g, '\\$&')}/\\$export-status/[0-9a-f-]{36}$`));

    const running = await fetch(statusUrl);
    expect(running.status).toBe(202);
    expect(running.headers.get('Retry-After')).toBe('1');
    expect(running.headers.get('X-Progress')).toBeTruthy();
    h.gate.open();

    const manifest = await pollUntilDone(statusUrl);
    expect(manifest.request).toBe(`${base}/Patient/$export`);
    expect(manifest.requiresAccessToken).toBe(false);
    expect(manifest.error).toEqual([]);
    expect(Number.isNaN(Date.parse(manifest.transactionTime))).toBe(false);
    expect(manifest.output.map((o) => [o.type, o.count])).toEqual([
      ['Patient', 3],
      ['Observation', 6],
    ]);

    const file = await fetch(manifest.output[1].url);
    expect(file.status).toBe(200);
    expect(file.headers.get('Content-Type')).toBe('application/fhir+ndjson');
    const observations = (await file.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Observation);
    expect(observations).toHaveLength(6);
    const perPatient = (id: string): number =>
      observations.filter((o) => o.subject?.reference === `Patient/${id}`).length;
    expect([perPatient(p1), perPatient(p2), perPatient(p3)]).toEqual([3, 2, 1]);
  });

  test('Group/$export exports only the active members, with the client', async () => {
    const run = await runBulkExport({ baseUrl: base, path: `Group/${groupId}/$export`, sleep: fastSleep });
    const resources = await collect(run.resources());
    expect(byType(resources)).toEqual({ Patient: 1, Observation: 3 });
    expect(resources.find((r) => r.resourceType === 'Patient')?.id).toBe(p1);
    const manifest = await run.manifest();
    expect(manifest.output.map((o) => o.count)).toEqual([1, 3]);
  });

  test('_type limits the export to the types asked for', async () => {
    const run = await runBulkExport({
      baseUrl: base,
      path: 'Patient/$export',
      types: ['Observation'],
      sleep: fastSleep,
    });
    const resources = await collect(run.resources());
    expect(byType(resources)).toEqual({ Observation: 6 });
    expect((await run.manifest()).request).toContain('_type=Observation');
  });

  test('_since = the previous transactionTime returns only what changed since', async () => {
    const first = await runBulkExport({ baseUrl: base, path: 'Patient/$export', sleep: fastSleep });
    const { transactionTime } = await first.manifest();

    const p4 = await postPatient(base, 2);
    const obs = await postJson(`${base}/Observation`, observation(`Patient/${p2}`, 9));
    expect(obs.status).toBe(201);
    const newObservation = ((await obs.json()) as Observation).id;

    const second = await runBulkExport({
      baseUrl: base,
      path: 'Patient/$export',
      since: transactionTime,
      sleep: fastSleep,
    });
    const resources = await collect(second.resources());
    expect(byType(resources)).toEqual({ Patient: 1, Observation: 3 });
    expect(resources.find((r) => r.resourceType === 'Patient')?.id).toBe(p4);
    expect(resources.map((r) => r.id)).toContain(newObservation);
    const next = await second.manifest();
    expect(Date.parse(next.transactionTime)).toBeGreaterThan(Date.parse(transactionTime));

    // And nothing changed since the second export: an empty manifest.
    const third = await runBulkExport({
      baseUrl: base,
      path: 'Patient/$export',
      since: next.transactionTime,
      sleep: fastSleep,
    });
    expect((await third.manifest()).output).toEqual([]);
  });

  test('POST kick-off with a Parameters resource', async () => {
    const response = await fetch(`${base}/Patient/$export`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/fhir+json', Prefer: 'respond-async' },
      body: JSON.stringify({
        resourceType: 'Parameters',
        parameter: [
          { name: '_type', valueString: 'Patient' },
          { name: '_outputFormat', valueString: 'application/ndjson' },
        ],
      }),
    });
    expect(response.status).toBe(202);
    const manifest = await pollUntilDone(response.headers.get('Content-Location') ?? '');
    expect(manifest.request).toBe(`${base}/Patient/$export`);
    expect(manifest.output.map((o) => o.type)).toEqual(['Patient']);
  });

  test('DELETE cancels a running export; its status is then 404 and its folder is gone', async () => {
    h.gate.hold();
    const kick = await kickOff(`${base}/Patient/$export`);
    const statusUrl = kick.headers.get('Content-Location') ?? '';
    const jobId = statusUrl.slice(statusUrl.lastIndexOf('/') + 1);
    const deleted = await fetch(statusUrl, { method: 'DELETE' });
    expect(deleted.status).toBe(202);
    expect((await fetch(statusUrl)).status).toBe(404);
    h.gate.open();
    expect((await fetch(statusUrl)).status).toBe(404);
    expect((await fetch(statusUrl, { method: 'DELETE' })).status).toBe(404);
    expect(existsSync(join(dataDir, 'bulk', jobId))).toBe(false);
  });

  test('DELETE of a completed export removes its files (client cancel)', async () => {
    const run = await runBulkExport({ baseUrl: base, path: 'Patient/$export', types: ['Patient'], sleep: fastSleep });
    const manifest = await run.manifest();
    expect((await fetch(manifest.output[0].url)).status).toBe(200);
    await run.cancel();
    expect((await fetch(run.statusUrl)).status).toBe(404);
    expect((await fetch(manifest.output[0].url)).status).toBe(404);
  });

  test.each([
    ['no Prefer header', '/Patient/$export', {}, 400, 'Prefer'],
    ['an unsupported _outputFormat', '/Patient/$export?_outputFormat=text/csv', undefined, 400, '_outputFormat'],
    ['_typeFilter', '/Patient/$export?_typeFilter=Observation%3Fstatus%3Dfinal', undefined, 400, '_typeFilter'],
    ['_elements', '/Patient/$export?_elements=id', undefined, 400, '_elements'],
    [
      'a type outside the Patient compartment',
      '/Patient/$export?_type=Observation,Medication',
      undefined,
      400,
      '_type',
    ],
    ['a _since that is not an instant', '/Patient/$export?_since=yesterday', undefined, 400, '_since'],
    ['an unknown Group', '/Group/no-such-group/$export', undefined, 404, undefined],
  ])('kick-off with %s is refused with an OperationOutcome', async (_name, path, headers, status, expression) => {
    const response = await kickOff(`${base}${path}`, headers);
    expect(response.status).toBe(status);
    expect(response.headers.get('Content-Type')).toContain('application/fhir+json');
    const outcome = (await response.json()) as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    if (expression) {
      expect(outcome.issue?.[0]?.expression).toEqual([expression]);
    }
  });

  test('all problems of a kick-off are reported at once', async () => {
    const response = await kickOff(`${base}/Patient/$export?_outputFormat=csv&_since=x&_elements=id`);
    expect(response.status).toBe(400);
    const outcome = (await response.json()) as OperationOutcome;
    expect(outcome.issue?.flatMap((i) => i.expression)).toEqual(['_outputFormat', '_since', '_elements']);
  });

  test('unknown jobs and files are 404', async () => {
    expect((await fetch(`${base}/$export-status/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
    expect((await fetch(`${base}/$export-status/..%2F..%2Fetc`)).status).toBe(404);
    expect((await fetch(`${base}/$export-file/00000000-0000-4000-8000-000000000000/Patient.ndjson`)).status).toBe(404);
  });
});

describe('Bulk Data $export limits and restarts', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'twin-bulk-'));
  });
  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('more concurrent kick-offs than allowed get 429 with Retry-After', async () => {
    const h = await start(dataDir, 1);
    try {
      await postPatient(h.server.baseUrl, 1);
      h.gate.hold();
      const first = await kickOff(`${h.server.baseUrl}/Patient/$export`);
      expect(first.status).toBe(202);
      const second = await kickOff(`${h.server.baseUrl}/Patient/$export`);
      expect(second.status).toBe(429);
      expect(second.headers.get('Retry-After')).toBe('7');
      expect(((await second.json()) as OperationOutcome).issue?.[0]?.code).toBe('throttled');
      h.gate.open();
      await pollUntilDone(first.headers.get('Content-Location') ?? '');
      expect((await kickOff(`${h.server.baseUrl}/Patient/$export`)).status).toBe(202);
    } finally {
      h.gate.open();
      await h.server.close();
    }
  });

  test('a completed export survives a restart; one that was running is reported failed', async () => {
    let h = await start(dataDir);
    let statusPath: string;
    let stoppedPath: string;
    try {
      await postPatient(h.server.baseUrl, 2);
      const done = await kickOff(`${h.server.baseUrl}/Patient/$export`);
      const statusUrl = done.headers.get('Content-Location') ?? '';
      await pollUntilDone(statusUrl);
      statusPath = statusUrl.slice(h.server.baseUrl.length);
      // A job still running when the server stops is recorded as failed.
      h.gate.hold();
      const stopped = await kickOff(`${h.server.baseUrl}/Patient/$export`);
      stoppedPath = (stopped.headers.get('Content-Location') ?? '').slice(h.server.baseUrl.length);
    } finally {
      const closing = h.server.close();
      h.gate.open();
      await closing;
    }
    // A job left "in progress" by a crash (no orderly close) is marked failed at the next start.
    const crashedId = '11111111-1111-4111-8111-111111111111';
    await new ExportJobStore(join(dataDir, 'bulk')).save({
      id: crashedId,
      status: 'in-progress',
      request: 'http://127.0.0.1:1/fhir/R4/Patient/$export',
      transactionTime: new Date().toISOString(),
      spec: { level: 'patient', outputFormat: 'application/fhir+ndjson' },
      createdAt: new Date().toISOString(),
      output: [],
    });

    h = await start(dataDir);
    try {
      const base = h.server.baseUrl;
      const manifest = await pollUntilDone(`${base}${statusPath}`);
      // File URLs follow the server to its new port.
      expect(manifest.output.every((o) => o.url.startsWith(`${base}/`))).toBe(true);
      const patients = await fetch(manifest.output[0].url);
      expect(patients.status).toBe(200);
      expect(JSON.parse((await patients.text()).trim()) as Patient).toMatchObject({ resourceType: 'Patient' });

      for (const path of [stoppedPath, `/$export-status/${crashedId}`]) {
        const failed = await fetch(`${base}${path}`);
        expect(failed.status).toBe(500);
        const outcome = (await failed.json()) as OperationOutcome;
        expect(outcome.issue?.[0]?.details?.text).toMatch(/kick it off again/);
      }
      expect(h.lines).toContain('bulk export: 1 interrupted job(s) marked failed');
    } finally {
      await h.server.close();
    }
  });
});
