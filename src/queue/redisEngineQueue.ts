import { DelayedError, Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import Redis from 'ioredis';
import type { ScheduledJob } from '../automation/cronScheduler';
import type { EngineJob, EngineJobProcessor, EngineQueue } from './engineJob';
import { PatientLock } from './patientLock';

export interface RedisQueueOptions {
  readonly redisUrl: string;
  readonly process: EngineJobProcessor;
  /** Jobs this instance runs at once (of different patients). */
  readonly concurrency?: number;
  /** Scheduled work: one BullMQ job scheduler per job, shared by every instance, so each tick runs once. */
  readonly schedules?: readonly ScheduledJob[];
  readonly timezone?: string;
  /** Queue name prefix (several deployments, or tests, on one Redis). */
  readonly prefix?: string;
  /**
   * How long a job (and its patient's lock) stays owned without a heartbeat before another instance takes it over:
   * a crashed worker's job is retried after this (BullMQ stalled-job check).
   */
  readonly lockMs?: number;
  /** Whether this instance runs workers (false: only enqueues). */
  readonly work?: boolean;
  readonly log?: (line: string) => void;
}

const QUEUE = 'engine';

/** `redis://host:port/db` -> the connection options BullMQ passes to ioredis (workers need maxRetriesPerRequest null). */
export function redisConnection(url: string): ConnectionOptions {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    maxRetriesPerRequest: null,
  };
}

/**
 * The queue on Redis (BullMQ): N stateless engine instances share it.
 * - Events are jobs with id = eventId (BullMQ ignores an add whose id exists: a duplicate delivery is one job).
 * - One patient's jobs never run concurrently: a worker takes the patient's lease (patientLock.ts) or puts the job
 *   back, delayed, for whoever holds it to finish (BullMQ DelayedError).
 * - A scheduled job is a BullMQ job scheduler, upserted under the same id by every instance: one job per tick, taken
 *   by one worker, whatever the number of instances.
 * - A worker that crashes stops renewing its job lock; after `lockMs` another worker's stalled check puts the job back
 *   and it is retried (up to 5 attempts with backoff). Writes are idempotent, so a retried job does no harm.
 */
export async function createRedisEngineQueue(
  options: RedisQueueOptions
): Promise<EngineQueue & { readonly worker?: Worker }> {
  const prefix = options.prefix ?? 'recovery-twin';
  const connection = redisConnection(options.redisUrl);
  const lockMs = options.lockMs ?? 30_000;
  const queue = new Queue(QUEUE, { connection, prefix });
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const lock = new PatientLock(redis, prefix, lockMs);
  for (const s of options.schedules ?? []) {
    await queue.upsertJobScheduler(
      `scheduled:${s.name}`,
      { pattern: s.cron, tz: options.timezone ?? 'UTC' },
      { name: 'scheduled', data: { kind: 'scheduled', name: s.name } satisfies EngineJob }
    );
  }
  const scheduled = new Map((options.schedules ?? []).map((s) => [s.name, s]));
  let worker: Worker | undefined;
  if (options.work !== false) {
    worker = new Worker(
      QUEUE,
      async (job: Job<EngineJob>, token?: string) => {
        const data = job.data;
        if (data.kind === 'scheduled') {
          const s = scheduled.get(data.name);
          return s ? s.run() : options.process(data);
        }
        const holder = token ?? job.id ?? '';
        if (!(await lock.acquire(data.patientId, holder))) {
          // Another instance is working on this patient: come back shortly, without using up an attempt.
          await job.moveToDelayed(Date.now() + 20, token);
          throw new DelayedError();
        }
        try {
          return await options.process(data);
        } finally {
          await lock.release(data.patientId, holder);
        }
      },
      {
        connection,
        prefix,
        concurrency: options.concurrency ?? 4,
        lockDuration: lockMs,
        stalledInterval: Math.max(200, Math.floor(lockMs / 2)),
        maxStalledCount: 3,
      }
    );
    worker.on('failed', () => options.log?.('queue: a job attempt failed'));
  }
  return {
    mode: 'redis',
    worker,
    enqueue: async (job) => {
      await queue.add('event', job, {
        jobId: job.eventId.replaceAll(':', '_'),
        attempts: 5,
        backoff: { type: 'exponential', delay: 200 },
        removeOnComplete: { age: 3600, count: 100_000 },
        removeOnFail: { age: 24 * 3600 },
      });
    },
    depth: async () => {
      const counts = await queue.getJobCounts('wait', 'active', 'prioritized');
      return Object.values(counts).reduce((a, b) => a + b, 0);
    },
    drain: async () => {
      // The job schedulers always hold their next tick as a delayed job: only events count here.
      for (;;) {
        const counts = await queue.getJobCounts('wait', 'active', 'prioritized', 'waiting-children');
        if (Object.values(counts).every((n) => n === 0)) {
          const delayed = await queue.getJobs(['delayed']);
          if (!delayed.some((j) => j.name === 'event')) {
            return;
          }
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: async () => {
      await worker?.close();
      await queue.close();
      redis.disconnect();
    },
  };
}
