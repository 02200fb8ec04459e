import type { RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineEventKind, EngineMetrics } from '../ops/engineMetrics';

/** How many jobs wait or run in the engine queue (BullMQ waiting + active, or the in-process queue's length). */
export type QueueDepth = () => Promise<number>;

export interface PrometheusMetrics {
  /** What the doors record into. */
  readonly metrics: EngineMetrics;
  /** This server's own registry (never prom-client's global one: several servers live in one test process). */
  readonly registry: Registry;
  /** The queue whose depth the gauge reports; none: the gauge says 0. */
  setQueueDepth(depth: QueueDepth | undefined): void;
  /** GET /metrics: the Prometheus text exposition format. */
  readonly handler: RequestHandler;
}

export interface PrometheusMetricsWorld {
  /** The wall clock event lag is measured against. */
  readonly now?: () => Date;
  /** prom-client's process metrics (CPU, memory, event loop lag, handles); on unless false. */
  readonly processMetrics?: boolean;
}

/** Lag buckets, seconds: from "just arrived" to "a week late" (a wearable synced after a trip). */
const LAG_BUCKETS = [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 86_400, 7 * 86_400];
/** Detector latency buckets, seconds: the statistical ensemble takes milliseconds, the LSTM up to seconds. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The engine's metrics as Prometheus collects them. Every label is a bounded name (operation, job, outcome,
 * detector); a patient id or any value read from health data is never a label: it would be exposed to whoever can
 * scrape, and each new value would be a new time series.
 */
export function createPrometheusMetrics(world: PrometheusMetricsWorld = {}): PrometheusMetrics {
  const now = world.now ?? ((): Date => new Date());
  const registry = new Registry();
  if (world.processMetrics !== false) {
    collectDefaultMetrics({ register: registry });
  }
  const processed = new Counter({
    name: 'twin_engine_events_processed_total',
    help: 'Engine work done, by door/job (kind) and how it ended (outcome: a status, rejected, or error)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'twin_engine_errors_total',
    help: 'Engine work that failed on the engine side (not a rejected request), by door/job',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const lag = new Histogram({
    name: 'twin_engine_event_lag_seconds',
    help: "Time from an Observation's meta.lastUpdated to the engine processing it",
    buckets: LAG_BUCKETS,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'twin_detector_latency_seconds',
    help: 'Time one detector takes for one patient, by detector',
    labelNames: ['detector'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  let depth: QueueDepth | undefined;
  new Gauge({
    name: 'twin_queue_depth',
    help: 'Engine jobs waiting or running (BullMQ waiting + active with REDIS_URL, else the in-process queue); 0 without a queue',
    registers: [registry],
    async collect(): Promise<void> {
      this.set(depth ? await depth().catch(() => Number.NaN) : 0);
    },
  });
  const metrics: EngineMetrics = {
    eventProcessed: (kind: EngineEventKind, outcome: string) => processed.inc({ kind, outcome }),
    error: (kind: EngineEventKind) => errors.inc({ kind }),
    observationSeen: (lastUpdated) => {
      const t = lastUpdated ? Date.parse(lastUpdated) : Number.NaN;
      if (Number.isFinite(t)) {
        lag.observe(Math.max(0, (now().getTime() - t) / 1000));
      }
    },
    detectorTimer: (detector) => {
      const end = latency.startTimer({ detector });
      return (): void => {
        end();
      };
    },
  };
  return {
    metrics,
    registry,
    setQueueDepth: (d) => {
      depth = d;
    },
    handler: (_req, res, next): void => {
      registry
        .metrics()
        .then((text) => {
          res.set('Content-Type', registry.contentType);
          res.set('Cache-Control', 'no-store');
          res.send(text);
        })
        .catch(next);
    },
  };
}
