/**
 * The scale-out queue on a real Redis (Debian's redis-server, started here on a free loopback port; .ci/run installs
 * it). Two engine instances share one Redis: a cron job runs once per tick across both; 1,000 queued events (and
 * duplicated deliveries) are processed once each, one patient never by two workers at once; a crashed worker's job
 * is retried by the other instance. Without redis-server the Redis tests are skipped, loudly; the in-process queue is
 * always tested.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import Redis from 'ioredis';
import type { Basic } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBack } from '../deliver/writeBack';
import { append } from '../deliver/writePlan';
import { LocalFhirClient } from '../fhir/localFhirClient';
import { openSqliteStore } from '../store/sqliteStore';
import { createEmbeddedRouter } from '../store/transactionBundle';
import type { EngineJob } from './engineJob';
import { createLocalEngineQueue } from './localEngineQueue';
import { createRedisEngineQueue } from './redisEngineQueue';

jest.setTimeout(120_000);

const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
if (!hasRedis) {
  console.warn(
    'SKIPPED: redis-server is not installed (apt-get install redis-server); the Redis queue tests did not run'
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A processor that records what it did and fails the test on two jobs of one patient at once. */
function recorder(
  delayMs = 1,
  write?: (job: Extract<EngineJob, { kind: 'event' }>) => Promise<unknown>
): {
  process: (job: EngineJob) => Promise<void>;
  writes: Map<string, number>;
  overlaps: string[];
} {
  const writes = new Map<string, number>();
  const active = new Set<string>();
  const overlaps: string[] = [];
  return {
    writes,
    overlaps,
    process: async (job) => {
      if (job.kind !== 'event') return;
      if (active.has(job.patientId)) overlaps.push(job.patientId);
      active.add(job.patientId);
      await new Promise((r) => setTimeout(r, delayMs));
      await write?.(job);
      writes.set(job.eventId, (writes.get(job.eventId) ?? 0) + 1);
      active.delete(job.patientId);
    },
  };
}

const events = (n: number, patients: number): Extract<EngineJob, { kind: 'event' }>[] =>
  Array.from({ length: n }, (_, i) => ({
    kind: 'event',
    patientId: `p${i % patients}`,
    eventId: `Observation/o${i}/_history/1`,
  }));

test('in-process (no REDIS_URL): the same guarantees in one process', async () => {
  const r = recorder(0);
  const queue = createLocalEngineQueue({ process: r.process, concurrency: 4 });
  for (const e of [...events(300, 7), ...events(30, 7)]) await queue.enqueue(e);
  await queue.drain();
  await queue.close();
  expect(r.writes.size).toBe(300);
  expect([...r.writes.values()].every((n) => n === 1)).toBe(true);
  expect(r.overlaps).toEqual([]);
});

(hasRedis ? describe : describe.skip)('on Redis', () => {
  let redis: ChildProcess;
  let url: string;
  beforeAll(async () => {
    const port = await freePort();
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    url = `redis://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') {
          probe.disconnect();
          break;
        }
      } catch {
        probe.disconnect();
        if (i > 100) throw new Error('redis-server did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
  afterAll(() => {
    redis.kill('SIGTERM');
  });

  test('two instances: 1,000 events once each, no patient in two workers at once; a cron job once per tick', async () => {
    // Each processed event appends one resource to the embedded store (an unconditional create, through the deliver
    // stage): a job processed twice would leave two.
    const dir = mkdtempSync(join(tmpdir(), 'twin-queue-'));
    const store = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal' });
    const client = new LocalFhirClient(store.repo, createEmbeddedRouter());
    const r = recorder(1, (job) =>
      writeBack(client, {
        writes: [
          append({
            resourceType: 'Basic',
            code: { text: 'queue test event' },
            identifier: [{ system: 'urn:recovery-twin:test:event', value: job.eventId }],
          } satisfies Basic),
        ],
      })
    );
    const runs: string[] = [];
    const tick = (instance: string) => [
      { name: 'tick', cron: '* * * * * *', run: async () => void runs.push(instance) },
    ];
    const prefix = `t1-${process.pid}`;
    const a = await createRedisEngineQueue({
      redisUrl: url,
      prefix,
      process: r.process,
      concurrency: 4,
      schedules: tick('a'),
    });
    const b = await createRedisEngineQueue({
      redisUrl: url,
      prefix,
      process: r.process,
      concurrency: 4,
      schedules: tick('b'),
    });
    const started = Date.now();
    const all = events(1000, 25);
    // Both instances enqueue; every 10th event is delivered twice (once through each instance).
    await Promise.all(all.map((e, i) => (i % 2 === 0 ? a : b).enqueue(e)));
    await Promise.all(all.filter((_, i) => i % 10 === 0).map((e, i) => (i % 2 === 0 ? b : a).enqueue(e)));
    await a.drain();
    await new Promise((res) => setTimeout(res, Math.max(0, 3500 - (Date.now() - started))));
    const seconds = (Date.now() - started) / 1000;
    await a.close();
    await b.close();
    expect(r.writes.size).toBe(1000);
    expect([...r.writes.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(r.overlaps).toEqual([]);
    const stored = await client.searchAll<Basic>('Basic', {});
    store.close();
    rmSync(dir, { recursive: true, force: true });
    expect(stored).toHaveLength(1000);
    expect(new Set(stored.map((b) => b.identifier?.[0]?.value)).size).toBe(1000);
    // One run per tick across both instances (two would mean both ran it).
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.length).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
  });

  test("a crashed worker's job is retried by the other instance", async () => {
    const prefix = `t2-${process.pid}`;
    const done: string[] = [];
    let hung = false;
    const crashing = await createRedisEngineQueue({
      redisUrl: url,
      prefix,
      lockMs: 1000,
      process: async () => {
        hung = true;
        await new Promise(() => undefined); // the process dies mid-job: never finishes
      },
    });
    await crashing.enqueue({ kind: 'event', patientId: 'p1', eventId: 'Observation/x/_history/1' });
    while (!hung) await new Promise((r) => setTimeout(r, 20));
    // Kill it: the worker stops without finishing or releasing anything.
    await crashing.worker?.close(true);
    const survivor = await createRedisEngineQueue({
      redisUrl: url,
      prefix,
      lockMs: 1000,
      process: async (job) => void done.push(job.kind === 'event' ? job.eventId : job.name),
    });
    const deadline = Date.now() + 20_000;
    while (done.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await survivor.close();
    await crashing.close();
    expect(done).toEqual(['Observation/x/_history/1']);
  });
});
