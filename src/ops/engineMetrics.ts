/**
 * What the engine service counts, as the doors that process events see it. The doors record into this interface;
 * only the server door turns it into Prometheus metrics (src/server/prometheusMetrics.ts), so nothing below a door
 * depends on a metrics library. Labels are bounded names (an operation, a job, an outcome, a detector), never a
 * patient id or anything taken from health data.
 */
export interface EngineMetrics {
  /** One unit of engine work done: `kind` says which door and job, `outcome` how it ended (a status or 'error'). */
  eventProcessed(kind: EngineEventKind, outcome: string): void;
  /** One failure of engine work (also counted as an event with outcome 'error'). */
  error(kind: EngineEventKind): void;
  /** An Observation reached processing: `lastUpdated` is its meta.lastUpdated (the lag is measured to now). */
  observationSeen(lastUpdated: string | undefined): void;
  /** Starts timing one detector run; the returned function ends it. */
  detectorTimer(detector: string): () => void;
}

/** The doors that process engine events. */
export type EngineEventKind =
  | 'twin-refresh'
  | 'twin-findings'
  | 'queue-event'
  | 'automation-refresh'
  | 'automation-stale-data'
  | 'automation-plateau';

/** Counts nothing: the default when no metrics are wanted (a CLI run, a test that does not look). */
export const NO_METRICS: EngineMetrics = Object.freeze({
  eventProcessed: (): void => undefined,
  error: (): void => undefined,
  observationSeen: (): void => undefined,
  detectorTimer: () => (): void => undefined,
});

/** Runs one unit of engine work, counting it as processed (with the outcome `outcomeOf` names) or as an error. */
export async function counted<T>(
  metrics: EngineMetrics,
  kind: EngineEventKind,
  work: () => Promise<T>,
  outcomeOf: (result: T) => string = (): string => 'ok'
): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (err) {
    metrics.error(kind);
    metrics.eventProcessed(kind, 'error');
    throw err;
  }
  metrics.eventProcessed(kind, outcomeOf(result));
  return result;
}
