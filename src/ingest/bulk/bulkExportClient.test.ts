import { OperationOutcomeError } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { NdjsonLineError, runBulkExport, type BulkExportProgress } from './bulkExportClient';
import { ndjsonLines } from '../../fhir/bulk/ndjsonLines';
import { retryAfterMs } from '../../fhir/bulk/retryAfter';

const BASE = 'https://ehr.example/fhir/R4';
const STATUS = 'https://ehr.example/bulk/status/42';
const FILE = 'https://files.example/42/Observation.ndjson';

interface Call {
  method: string;
  url: string;
  headers: Record<string, string>;
}

/** A scripted server: each call takes the next response for its URL; the clock moves only when the client sleeps. */
function fakeWorld(script: Record<string, (() => Response)[]>) {
  const calls: Call[] = [];
  const sleeps: number[] = [];
  let clock = Date.parse('2026-02-01T10:00:00Z');
  const fetchFn = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : input.toString();
    const key = `${init?.method ?? 'GET'} ${url.split('?')[0]}`;
    calls.push({ method: init?.method ?? 'GET', url, headers: { ...(init?.headers as Record<string, string>) } });
    const next = script[key]?.shift();
    if (!next) {
      throw new Error(`unexpected request ${key}`);
    }
    return next();
  };
  return {
    calls,
    sleeps,
    fetch: fetchFn,
    sleep: async (ms: number): Promise<void> => {
      sleeps.push(ms);
      clock += ms;
    },
    now: (): Date => new Date(clock),
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
const empty = (status: number, headers: Record<string, string> = {}): Response =>
  new Response(null, { status, headers });
const accepted = (): Response => empty(202, { 'Content-Location': STATUS });
const outcome = (code: string): object => ({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code, details: { text: `${code} happened` } }],
});
const manifest = (requiresAccessToken = false): Response =>
  json(200, {
    transactionTime: '2026-02-01T09:59:59.123Z',
    request: `${BASE}/Patient/$export`,
    requiresAccessToken,
    output: [{ type: 'Observation', url: FILE, count: 3 }],
    error: [],
  });
const obs = (id: string): string => JSON.stringify({ resourceType: 'Observation', id, status: 'final' });

async function collect(iterable: AsyncIterable<Resource>): Promise<string[]> {
  const ids: string[] = [];
  for await (const r of iterable) {
    ids.push(r.id ?? '');
  }
  return ids;
}

describe('runBulkExport (client) against a scripted server', () => {
  test('honours 429 and Retry-After (seconds and HTTP date), reports X-Progress, reports a malformed line by file and line', async () => {
    const world = fakeWorld({
      [`GET ${BASE}/Patient/$export`]: [() => json(429, outcome('throttled'), { 'Retry-After': '30' }), accepted],
      [`GET ${STATUS}`]: [
        () => empty(202, { 'X-Progress': 'Observation 40%', 'Retry-After': 'Sun, 01 Feb 2026 10:02:30 GMT' }),
        () => json(429, outcome('throttled'), { 'Retry-After': '3' }),
        () => empty(202),
        () => manifest(),
      ],
      [`GET ${FILE}`]: [
        () =>
          new Response(
            `${obs('a')}\n{"resourceType":"Observation", oops\n\n${obs('c')}\n{"resourceType":"Patient"}\n`,
            { status: 200 }
          ),
      ],
    });
    const progress: BulkExportProgress[] = [];
    const lineErrors: NdjsonLineError[] = [];
    const run = await runBulkExport({
      baseUrl: BASE,
      path: 'Patient/$export',
      types: ['Observation'],
      since: '2026-01-01T00:00:00+01:00',
      fetch: world.fetch,
      sleep: world.sleep,
      now: world.now,
      initialPollMs: 500,
      headers: { Authorization: 'Bearer t' },
      onProgress: (p) => progress.push(p),
      onLineError: (e) => lineErrors.push(e),
    });

    expect(await collect(run.resources())).toEqual(['a', 'c']);
    // 30 s (kick-off 429), until the HTTP date (10:02:30 - 10:00:30 = 120 s), 3 s (status 429), then backoff 500 ms.
    expect(world.sleeps).toEqual([30_000, 120_000, 3_000, 500]);
    expect(progress.map((p) => p.progress)).toEqual(['Observation 40%', undefined]);
    expect(lineErrors.map((e) => [e.file, e.line, e.reason])).toEqual([
      [FILE, 2, 'not valid JSON'],
      [FILE, 5, 'not a Observation resource'],
    ]);
    expect(lineErrors[0].message).not.toContain('oops');
    expect((await run.manifest()).transactionTime).toBe('2026-02-01T09:59:59.123Z');

    const kick = world.calls[0];
    expect(kick.headers).toMatchObject({ Prefer: 'respond-async', Accept: 'application/fhir+json' });
    const query = new URL(kick.url).searchParams;
    expect(query.get('_type')).toBe('Observation');
    expect(query.get('_since')).toBe('2026-01-01T00:00:00+01:00');
    // requiresAccessToken=false: the token is not sent to the file server.
    expect(world.calls.find((c) => c.url === FILE)?.headers.Authorization).toBeUndefined();
    expect(world.calls.find((c) => c.url === STATUS)?.headers.Authorization).toBe('Bearer t');
  });

  test('without onLineError a malformed line throws, naming file and line', async () => {
    const world = fakeWorld({
      [`GET ${BASE}/Group/g1/$export`]: [accepted],
      [`GET ${STATUS}`]: [() => manifest(true)],
      [`GET ${FILE}`]: [() => new Response(`${obs('a')}\nnot json\n`, { status: 200 })],
    });
    const run = await runBulkExport({
      baseUrl: BASE,
      path: 'Group/g1/$export',
      ...world,
      headers: { Authorization: 'Bearer t' },
    });
    await expect(collect(run.resources())).rejects.toMatchObject({ name: 'NdjsonLineError', file: FILE, line: 2 });
    expect(world.calls.find((c) => c.url === FILE)?.headers.Authorization).toBe('Bearer t');
  });

  test('transient 5xx are retried a bounded number of times; a failed export throws its OperationOutcome', async () => {
    const world = fakeWorld({
      [`GET ${BASE}/Patient/$export`]: [() => empty(503), accepted],
      [`GET ${STATUS}`]: [() => json(500, outcome('transient')), () => json(500, outcome('processing'))],
    });
    const run = await runBulkExport({ baseUrl: BASE, path: 'Patient/$export', ...world, initialPollMs: 100 });
    const error = await run.manifest().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationOutcomeError);
    expect((error as OperationOutcomeError).outcome.issue?.[0]?.code).toBe('processing');
    expect(world.sleeps).toEqual([100, 100]);

    const flaky = fakeWorld({
      [`GET ${BASE}/Patient/$export`]: [() => empty(502), () => empty(502), () => empty(502)],
    });
    const failed = await runBulkExport({
      baseUrl: BASE,
      path: 'Patient/$export',
      ...flaky,
      maxTransientRetries: 2,
    }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(OperationOutcomeError);
    expect(flaky.calls).toHaveLength(3);
  });

  test('gives up after maxWaitMs, and cancel() sends DELETE to the status URL', async () => {
    const world = fakeWorld({
      [`GET ${BASE}/Patient/$export`]: [accepted],
      [`GET ${STATUS}`]: [() => empty(202, { 'Retry-After': '60' }), () => empty(202, { 'Retry-After': '60' })],
      [`DELETE ${STATUS}`]: [() => json(202, outcome('informational'))],
    });
    const run = await runBulkExport({ baseUrl: BASE, path: 'Patient/$export', ...world, maxWaitMs: 90_000 });
    const error = (await run.manifest().catch((e: unknown) => e)) as OperationOutcomeError;
    expect(error.outcome.issue?.[0]?.code).toBe('timeout');
    expect(world.sleeps).toEqual([60_000]);
    await run.cancel();
    expect(world.calls.at(-1)?.method).toBe('DELETE');
  });

  test('a refused kick-off throws the server OperationOutcome; a bad path is refused before any request', async () => {
    const world = fakeWorld({ [`GET ${BASE}/Patient/$export`]: [() => json(400, outcome('invalid'))] });
    await expect(runBulkExport({ baseUrl: BASE, path: 'Patient/$export', ...world })).rejects.toMatchObject({
      outcome: { issue: [{ code: 'invalid' }] },
    });
    await expect(runBulkExport({ baseUrl: BASE, path: 'Observation/$export', ...world })).rejects.toThrow(/path/);
    expect(world.calls).toHaveLength(1);
  });
});

describe('NDJSON lines and Retry-After', () => {
  async function* chunks(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
    yield* parts;
  }

  test('lines split across chunks, CRLF, a character split across chunks, no final newline', async () => {
    const bytes = new TextEncoder().encode('{"a":1}\r\n\n{"b":"é"}\n{"c":3}');
    const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of "é"
    const lines = [];
    for await (const l of ndjsonLines(chunks(bytes.slice(0, 4), bytes.slice(4, cut), bytes.slice(cut)))) {
      lines.push(l);
    }
    expect(lines).toEqual([
      { line: 1, text: '{"a":1}' },
      { line: 3, text: '{"b":"é"}' },
      { line: 4, text: '{"c":3}' },
    ]);
  });

  test('Retry-After as seconds, as an HTTP date, in the past, and unreadable', () => {
    const now = new Date('2026-02-01T10:00:00Z');
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs('Sun, 01 Feb 2026 10:00:05 GMT', now)).toBe(5_000);
    expect(retryAfterMs('Sun, 01 Feb 2026 09:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });
});
