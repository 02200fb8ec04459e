/**
 * A unit of engine work, as the queue carries it. Events are about one patient and never run concurrently with
 * another job of the same patient; scheduled work runs once per tick across all instances.
 */
export type EngineJob =
  | {
      readonly kind: 'event';
      /** The patient the event is about (the unit of serialisation). */
      readonly patientId: string;
      /** What happened, e.g. `Observation/123/_history/2`: the id the job is deduplicated on. */
      readonly eventId: string;
      /** What the processor needs (e.g. the Observation); kept small, never logged. */
      readonly payload?: unknown;
    }
  | { readonly kind: 'scheduled'; readonly name: string };

export type EngineJobProcessor = (job: EngineJob) => Promise<unknown>;

/** Where jobs go: BullMQ on Redis when REDIS_URL is set (redisEngineQueue.ts), else this process (localEngineQueue.ts). */
export interface EngineQueue {
  readonly mode: 'redis' | 'in-process';
  /** Queues one event; the same eventId queued twice is processed once (while the first is still known to the queue). */
  enqueue(job: Extract<EngineJob, { kind: 'event' }>): Promise<void>;
  /** Jobs waiting or running now (BullMQ waiting + active; the in-process queue's queued events), for the metrics. */
  depth(): Promise<number>;
  /** Resolves when every job queued so far has been processed (tests and graceful shutdown). */
  drain(): Promise<void>;
  close(): Promise<void>;
}
