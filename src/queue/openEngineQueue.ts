import type { ScheduledJob } from '../automation/cronScheduler';
import type { EngineJobProcessor, EngineQueue } from './engineJob';
import { createLocalEngineQueue } from './localEngineQueue';
import { createRedisEngineQueue } from './redisEngineQueue';

/**
 * The engine's queue from the environment: BullMQ on `REDIS_URL` when it is set (several instances share the work),
 * otherwise the same jobs in this process. The processor and schedules are the same code either way.
 */
export async function openEngineQueue(options: {
  readonly env: NodeJS.ProcessEnv;
  readonly process: EngineJobProcessor;
  readonly schedules?: readonly ScheduledJob[];
  readonly timezone?: string;
  readonly concurrency?: number;
  /** BullMQ only: key prefix, job lock, and whether this instance runs workers (src/queue/redisEngineQueue.ts). */
  readonly prefix?: string;
  readonly lockMs?: number;
  readonly work?: boolean;
  readonly log?: (line: string) => void;
}): Promise<EngineQueue> {
  const url = options.env.REDIS_URL;
  if (url) {
    options.log?.('queue: BullMQ on Redis (REDIS_URL)');
    return createRedisEngineQueue({ ...options, redisUrl: url });
  }
  options.log?.('queue: in-process (no REDIS_URL)');
  return createLocalEngineQueue(options);
}
