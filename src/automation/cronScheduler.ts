import { schedule, type RunCoordinator, type ScheduledTask } from 'node-cron';
import { notFoundError } from '../fhir/outcomes';

export interface ScheduledJob {
  readonly name: string;
  readonly cron: string;
  readonly run: () => Promise<unknown>;
}

export interface SchedulerOptions {
  readonly timezone: string;
  /**
   * Elects one instance per tick when several run (src/queue/redisRunCoordinator.ts); none = this process alone.
   * node-cron asks it before each run with a key of the job and the tick.
   */
  readonly coordinator?: RunCoordinator;
  /** Counts only: a job's name, start, end, failure. */
  readonly log?: (line: string) => void;
}

export interface Scheduler {
  /** Runs a job now, as a tick would (no overlap with a running tick of the same job). */
  runNow(name: string): Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * Starts the jobs with node-cron, in the configured time zone. A job never overlaps itself: a tick that comes while
 * the previous run is still going is skipped (node-cron `noOverlap`), and `runNow` waits for a running tick instead
 * of starting a second one. Each job must be idempotent (they are: conditional writes on deterministic keys), so a
 * run cut short by a restart is simply done again.
 */
export function startScheduler(jobs: readonly ScheduledJob[], options: SchedulerOptions): Scheduler {
  const log = options.log ?? ((): void => undefined);
  const running = new Map<string, Promise<unknown>>();
  const once = (job: ScheduledJob): Promise<unknown> => {
    const current = running.get(job.name);
    if (current) {
      return current;
    }
    const started = Date.now();
    log(`automation: ${job.name} started`);
    const p = job
      .run()
      .then(
        (result) => {
          log(`automation: ${job.name} finished in ${Date.now() - started} ms`);
          return result;
        },
        (err: unknown) => {
          log(`automation: ${job.name} failed: ${err instanceof Error ? err.constructor.name : 'error'}`);
          throw err;
        }
      )
      .finally(() => running.delete(job.name));
    running.set(job.name, p);
    return p;
  };
  const tasks: ScheduledTask[] = jobs.map((job) =>
    schedule(job.cron, () => once(job).catch(() => undefined), {
      name: `recovery-twin:${job.name}`,
      timezone: options.timezone,
      noOverlap: true,
      ...(options.coordinator ? { distributed: true, runCoordinator: options.coordinator } : {}),
    })
  );
  return {
    runNow: (name) => {
      const job = jobs.find((j) => j.name === name);
      if (!job) {
        return Promise.reject(notFoundError(`No scheduled job named ${name}`));
      }
      return once(job);
    },
    stop: async () => {
      for (const t of tasks) {
        await t.destroy();
      }
      await Promise.allSettled(running.values());
    },
  };
}
