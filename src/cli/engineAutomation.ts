import { join } from 'node:path';
import type { FhirClient } from '../fhir/fhirClient';
import type { EngineMetrics } from '../ops/engineMetrics';
import type { EngineSettings } from './engineSettings';

/** The scheduled automation and the queue, running in this process. */
export interface RunningAutomation {
  readonly mode: 'redis' | 'in-process';
  /** The jobs it schedules, e.g. `refresh "*\/15 * * * *"`, for the start-up log. */
  readonly jobs: readonly string[];
  /** Jobs waiting or running in the queue (the metrics' gauge). */
  depth(): Promise<number>;
  /** Stops the schedules, lets running jobs finish, closes the queue. */
  stop(): Promise<void>;
}

/**
 * Starts the automation's schedules (src/automation) on the engine queue (src/queue): BullMQ job schedulers and
 * workers on the shared Redis when REDIS_URL is set, so N instances run each tick once; otherwise node-cron here,
 * never overlapping. Used by `twin automate`, and by `twin serve` when the configuration enables it.
 */
export async function startEngineAutomation(world: {
  readonly client: FhirClient;
  readonly settings: EngineSettings;
  readonly env: NodeJS.ProcessEnv;
  /** Folder of the durable watermark. */
  readonly stateDir: string;
  readonly metrics: EngineMetrics;
  readonly log: (line: string) => void;
}): Promise<RunningAutomation> {
  const { automationJobs, todayIn } = await import('../automation/automationJobs');
  const { WatermarkStore } = await import('../ingest/watermarkStore');
  const { openEngineQueue } = await import('../queue/openEngineQueue');
  const { engineProcessor } = await import('../queue/engineProcessor');
  const config = world.settings.automation;
  const jobWorld = {
    client: world.client,
    now: (): string => new Date().toISOString(),
    today: (): string => todayIn(config.timezone),
    watermarks: new WatermarkStore(world.stateDir),
    metrics: world.metrics,
  };
  const jobs = automationJobs(jobWorld, config);
  const queue = await openEngineQueue({
    env: world.env,
    process: engineProcessor(jobWorld),
    schedules: jobs,
    timezone: config.timezone,
    concurrency: world.settings.queue.concurrency,
    prefix: world.settings.queue.prefix,
    lockMs: world.settings.queue.lockMs,
    work: world.settings.queue.workers,
    log: world.log,
  });
  return {
    mode: queue.mode,
    jobs: jobs.map((j) => `${j.name} "${j.cron}"`),
    depth: () => queue.depth(),
    stop: () => queue.close(),
  };
}

/** Where the automation keeps its watermark: `<dataDir>/state` unless told otherwise. */
export function defaultStateDir(dataDir: string): string {
  return join(dataDir, 'state');
}
