// `npm run bench -- queue [--events N]`: events per second through the BullMQ queue with 1, 2 and 4 worker
// processes (engine instances, one job at a time each) on one Redis, and the ratio to 1 worker, measured in the same
// run. Needs redis-server (Debian's redis-server; started here on a free loopback port and stopped after).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { addDays } from '../src/calendar/observationDay';
import { generateCohort } from '../src/cohort/generateCohort';
import { createRedisEngineQueue, redisConnection } from '../src/queue/redisEngineQueue';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function startRedis(): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    }
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (
      spawnSync('redis-cli', ['-p', String(port), 'ping'])
        .stdout?.toString()
        .trim() === 'PONG'
    ) {
      return { url, stop: () => child.kill('SIGTERM') };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGTERM');
  throw new Error('redis-server did not start');
}

function startWorker(url: string, prefix: string): Promise<ChildProcess> {
  const tsx = join(__dirname, '..', 'node_modules', '.bin', 'tsx');
  // Its own process group (tsx runs node as a child): stopping the group stops both.
  const child = spawn(tsx, [join(__dirname, 'queueWorker.ts'), url, prefix], {
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
}

/** SIGTERM to the worker's process group, SIGKILL after 3 s; resolves when it has exited. */
function stopWorker(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || !child.pid) return resolve();
    const group = -child.pid;
    const timer = setTimeout(() => {
      try {
        process.kill(group, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      process.kill(group, 'SIGTERM');
    } catch {
      resolve();
    }
  });
}

async function runOnce(url: string, workers: number, events: number, patients: string[]): Promise<number> {
  const prefix = `bench-${workers}-${Date.now()}`;
  const children = await Promise.all(Array.from({ length: workers }, () => startWorker(url, prefix)));
  const producer = await createRedisEngineQueue({ redisUrl: url, prefix, work: false, process: async () => undefined });
  const counter = new Queue('engine', { connection: redisConnection(url), prefix });
  // The queue is paused while it fills, so the clock measures processing, not the producer.
  await counter.pause();
  for (let i = 0; i < events; i++) {
    await producer.enqueue({
      kind: 'event',
      patientId: patients[i % patients.length],
      eventId: `e${i}`,
      payload: addDays('2026-02-01', i % 50),
    });
  }
  const started = performance.now();
  await counter.resume();
  // Failed jobs count as done (and are reported): a bench must end, and say what did not work.
  let failed = 0;
  let completed = 0;
  for (;;) {
    const counts = await counter.getJobCounts('completed', 'failed');
    failed = counts.failed ?? 0;
    completed = counts.completed ?? 0;
    if (completed + failed >= events || performance.now() - started > 180_000) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  if (failed > 0 || completed < events) {
    console.log(`  (${workers} workers: ${completed} of ${events} completed, ${failed} failed)`);
  }
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(children.map(stopWorker));
  await counter.close();
  await producer.close();
  return completed / seconds;
}

export async function runQueueBench(args: string[]): Promise<void> {
  const i = args.indexOf('--events');
  const events = i >= 0 ? Number(args[i + 1]) : 2000;
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    console.error('queue bench: redis-server is not installed (apt-get install redis-server)');
    process.exitCode = 2;
    return;
  }
  const patients = [...generateCohort({ patients: 25, days: 90, seed: 7, startDate: '2026-01-01' })].map(
    (p) => p.subjectKey
  );
  const redis = await startRedis();
  try {
    console.log(
      `queue: ${events} Observation events over ${patients.length} patients, each the event door's twin computation (in memory)`
    );
    const rates: Record<number, number> = {};
    for (const w of [1, 2, 4]) {
      rates[w] = await runOnce(redis.url, w, events, patients);
      console.log(
        `  ${w} worker${w > 1 ? 's' : ' '}: ${rates[w].toFixed(0)} events/s` +
          (w > 1 ? `  (x${(rates[w] / rates[1]).toFixed(2)} vs 1 worker)` : '')
      );
    }
  } finally {
    redis.stop();
  }
}
