import type { EngineJob, EngineJobProcessor, EngineQueue } from './engineJob';
import { startScheduler, type ScheduledJob, type Scheduler } from '../automation/cronScheduler';

export interface LocalQueueOptions {
  readonly process: EngineJobProcessor;
  /** Jobs of different patients run at most this many at once. */
  readonly concurrency?: number;
  readonly schedules?: readonly ScheduledJob[];
  readonly timezone?: string;
  readonly log?: (line: string) => void;
}

/**
 * The queue without Redis: the same jobs and guarantees in one process. A patient's events run one after another
 * (a promise chain per patient); at most `concurrency` patients at once; a failed job is retried (3 attempts) and
 * then counted; scheduled work runs on node-cron with no overlap (src/automation/cronScheduler.ts).
 */
export function createLocalEngineQueue(
  options: LocalQueueOptions
): EngineQueue & { readonly failed: number; scheduler?: Scheduler } {
  const limit = Math.max(1, options.concurrency ?? 4);
  const chains = new Map<string, Promise<void>>();
  const seen = new Set<string>();
  const pending = new Set<Promise<void>>();
  let active = 0;
  const waiting: (() => void)[] = [];
  let failed = 0;
  /** Events enqueued and not yet done (waiting for their patient, for a slot, or running). */
  let queued = 0;
  const slot = async (): Promise<void> => {
    if (active < limit) {
      active++;
      return;
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
  };
  const release = (): void => {
    active--;
    waiting.shift()?.();
  };
  const run = async (job: EngineJob): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await options.process(job);
        return;
      } catch {
        if (attempt >= 3) {
          failed++;
          options.log?.('queue: a job failed after 3 attempts');
          return;
        }
      }
    }
  };
  const scheduler = options.schedules?.length
    ? startScheduler(options.schedules, { timezone: options.timezone ?? 'UTC', log: options.log })
    : undefined;
  return {
    mode: 'in-process',
    get failed() {
      return failed;
    },
    scheduler,
    enqueue: (job) => {
      if (seen.has(job.eventId)) {
        return Promise.resolve();
      }
      seen.add(job.eventId);
      queued++;
      const previous = chains.get(job.patientId) ?? Promise.resolve();
      const next = previous.then(async () => {
        await slot();
        try {
          await run(job);
        } finally {
          release();
          queued--;
        }
      });
      chains.set(job.patientId, next);
      pending.add(next);
      void next.finally(() => {
        pending.delete(next);
        if (chains.get(job.patientId) === next) {
          chains.delete(job.patientId);
        }
      });
      return Promise.resolve();
    },
    depth: () => Promise.resolve(queued),
    drain: async () => {
      while (pending.size > 0) {
        await Promise.allSettled([...pending]);
      }
    },
    close: async () => {
      await scheduler?.stop();
      await Promise.allSettled([...pending]);
    },
  };
}
