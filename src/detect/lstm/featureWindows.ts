import type { MetricName } from '../../fhir/metricCatalogue';
import { SortedWindow } from '../../twin/baseline';
import { METRIC_RULES } from '../../twin/metricRules';
import type { SubjectSeries } from '../detectionInput';

/**
 * The per-day feature vector of the learned (LSTM autoencoder) detector (models/lstm-detector/MODEL_CARD.md).
 *
 * Each feature is one catalogue metric (HRV takes RMSSD, else SDNN: devices report one or the other). Its value on a
 * day is a robust z against that person's own trailing baseline: (value - median) / max(spreadFloor, 1.4826 x MAD)
 * over the values of the prior `baselineDays` days (the same causal baseline as src/detect/causalScorer.ts; the day
 * itself is compared first, then joins the window). A feature is "present" on a day when it has a value and at least
 * `minBaselineDays` prior values; otherwise its z is 0 and its mask is 0. The model input for day d is the window of
 * the `window` calendar days ending at d: per day, the F z values then the F masks, so [window, 2F].
 *
 * This file is the single definition of the features: the training script (models/lstm-detector/train.py) reads
 * windows written by models/lstm-detector/exportWindows.mjs, which calls these functions, so training and serving
 * cannot drift apart. The model card lists the features in this order and the engine checks it. The scoring workers
 * load this same file (lstmWorkerThread.ts -> subjectErrors.ts), so serving has no second copy either.
 */
export interface LstmFeature {
  readonly name: string;
  /** Metrics that feed the feature, first present wins. */
  readonly metrics: readonly MetricName[];
  /** +1 higher is better, -1 higher is worse, 0 neither (from METRIC_RULES of the first metric). */
  readonly goodDirection: 1 | -1 | 0;
}

function feature(name: string, metrics: readonly MetricName[]): LstmFeature {
  return Object.freeze({
    name,
    metrics: Object.freeze([...metrics]),
    goodDirection: METRIC_RULES[metrics[0]].goodDirection,
  });
}

export const LSTM_FEATURES: readonly LstmFeature[] = Object.freeze([
  feature('resting-heart-rate', ['resting-heart-rate']),
  feature('hrv', ['hrv-rmssd', 'hrv-sdnn']),
  feature('respiratory-rate', ['respiratory-rate']),
  feature('sleep-duration', ['sleep-duration']),
  feature('steps', ['steps']),
  feature('training-load', ['training-load']),
  feature('readiness', ['readiness']),
  feature('fatigue', ['fatigue']),
  feature('soreness', ['soreness']),
  feature('stress', ['stress']),
  feature('mood', ['mood']),
  feature('sleep-quality', ['sleep-quality']),
]);

export interface FeatureOptions {
  readonly baselineDays: number;
  readonly minBaselineDays: number;
  /** |z| is clipped here: one absurd reading must not dominate a squared reconstruction error. */
  readonly clip: number;
}

export const DEFAULT_FEATURE_OPTIONS: Readonly<FeatureOptions> = Object.freeze({
  baselineDays: 28,
  minBaselineDays: 7,
  clip: 6,
});

/** One subject's features on every calendar day from its first to its last day with data. */
export interface SubjectFeatures {
  readonly firstDay: number;
  /** Calendar days covered (last - first + 1). */
  readonly length: number;
  /** Days with any value, ascending: the days that get a score. */
  readonly scoredDays: number[];
  /** z[t * F + f] for calendar index t = day - firstDay. */
  readonly z: Float32Array;
  /** mask[t * F + f] = 1 when z is a real comparison, 0 when missing or no baseline yet. */
  readonly mask: Float32Array;
}

/**
 * The metrics the features read, each once, in feature order (HRV: RMSSD then SDNN). A packed series holds one value
 * per day and packed metric.
 */
export const PACKED_METRICS: readonly MetricName[] = Object.freeze([
  ...new Set(LSTM_FEATURES.flatMap((f) => f.metrics)),
]);

/** For feature f, the indexes into PACKED_METRICS of its metrics, first present wins. */
const FEATURE_METRIC_INDEXES: readonly (readonly number[])[] = LSTM_FEATURES.map((f) =>
  f.metrics.map((m) => PACKED_METRICS.indexOf(m))
);

/**
 * One subject's series as flat typed arrays, the form the scoring workers receive (docs/ARCHITECTURE.md, performance goals: features are
 * built in the workers; typed arrays cross the thread boundary as one copy, Maps would be cloned entry by entry).
 */
export interface PackedSeries {
  /** Every day with data, ascending (days with only non-feature metrics included: they are scored too). */
  readonly days: Int32Array;
  /** values[i * PACKED_METRICS.length + m]: metric m on days[i]; NaN when missing. */
  readonly values: Float64Array;
}

/** Packs a series for the features. A non-finite value counts as missing. */
export function packSeries(series: SubjectSeries): PackedSeries {
  const M = PACKED_METRICS.length;
  const days = Int32Array.from(series.values.keys()).sort();
  const values = new Float64Array(days.length * M).fill(Number.NaN);
  for (let i = 0; i < days.length; i++) {
    const dayValues = series.values.get(days[i]);
    if (!dayValues) {
      continue;
    }
    for (let m = 0; m < M; m++) {
      const v = dayValues.get(PACKED_METRICS[m]);
      if (v !== undefined && Number.isFinite(v)) {
        values[i * M + m] = v;
      }
    }
  }
  return { days, values };
}

/** Builds the causal per-day features of one subject. Pure; the result depends only on the series. */
export function subjectFeatures(
  series: SubjectSeries,
  options: FeatureOptions = DEFAULT_FEATURE_OPTIONS
): SubjectFeatures {
  return packedFeatures(packSeries(series), options);
}

/** subjectFeatures of a packed series: the one definition of the features, in the workers and in training export. */
export function packedFeatures(
  packed: PackedSeries,
  options: FeatureOptions = DEFAULT_FEATURE_OPTIONS
): SubjectFeatures {
  const F = LSTM_FEATURES.length;
  const M = PACKED_METRICS.length;
  const scoredDays = Array.from(packed.days);
  if (scoredDays.length === 0) {
    return { firstDay: 0, length: 0, scoredDays, z: new Float32Array(0), mask: new Float32Array(0) };
  }
  const firstDay = scoredDays[0];
  const length = scoredDays[scoredDays.length - 1] - firstDay + 1;
  const z = new Float32Array(length * F);
  const mask = new Float32Array(length * F);
  // Baseline entries as parallel arrays with a moving head, not one object per value (fewer short-lived objects,
  // shorter garbage-collection pauses in the scoring workers).
  const entryDays: number[] = [];
  const entryValues: number[] = [];
  for (let f = 0; f < F; f++) {
    const metricIndexes = FEATURE_METRIC_INDEXES[f];
    const window = new SortedWindow();
    entryDays.length = 0;
    entryValues.length = 0;
    let head = 0;
    for (let i = 0; i < scoredDays.length; i++) {
      const day = scoredDays[i];
      let metric = -1;
      let value = Number.NaN;
      for (const m of metricIndexes) {
        value = packed.values[i * M + m];
        if (!Number.isNaN(value)) {
          metric = m;
          break;
        }
      }
      if (metric < 0) {
        continue;
      }
      while (head < entryDays.length && entryDays[head] < day - options.baselineDays) {
        window.remove(entryValues[head]);
        head++;
      }
      const robust = window.size >= options.minBaselineDays ? window.robust() : undefined;
      if (robust) {
        const spread = Math.max(METRIC_RULES[PACKED_METRICS[metric]].spreadFloor, robust.sd);
        const zz = (value - robust.median) / spread;
        const t = day - firstDay;
        z[t * F + f] = Math.max(-options.clip, Math.min(options.clip, zz));
        mask[t * F + f] = 1;
      }
      window.insert(value);
      entryDays.push(day);
      entryValues.push(value);
    }
  }
  return { firstDay, length, scoredDays, z, mask };
}

/** Values per window: window x 2F. */
export function windowSize(window: number): number {
  return window * 2 * LSTM_FEATURES.length;
}

/**
 * Writes the model input of the window ending at `endDay` into `out` at `offset` (window x 2F floats). Days before
 * the subject's first day are all-missing (zeros, mask 0).
 */
export function writeWindow(
  features: SubjectFeatures,
  endDay: number,
  window: number,
  out: Float32Array,
  offset: number
): void {
  const F = LSTM_FEATURES.length;
  for (let k = 0; k < window; k++) {
    const t = endDay - features.firstDay - window + 1 + k;
    const base = offset + k * 2 * F;
    if (t < 0 || t >= features.length) {
      out.fill(0, base, base + 2 * F);
      continue;
    }
    for (let f = 0; f < F; f++) {
      out[base + f] = features.z[t * F + f];
      out[base + F + f] = features.mask[t * F + f];
    }
  }
}

/** Number of present (mask = 1) entries in the window ending at `endDay`. */
export function presentCount(features: SubjectFeatures, endDay: number, window: number): number {
  const F = LSTM_FEATURES.length;
  let n = 0;
  for (let k = 0; k < window; k++) {
    const t = endDay - features.firstDay - window + 1 + k;
    if (t < 0 || t >= features.length) {
      continue;
    }
    for (let f = 0; f < F; f++) {
      n += features.mask[t * F + f];
    }
  }
  return n;
}
