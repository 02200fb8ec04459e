import {
  fromModelScale,
  HISTOGRAM_BINS,
  INDEX_RANGE,
  type KernelResult,
  type PersonalPosterior,
} from './recoveryModel';

/** Daily quantile bands of one simulated series (10th, 50th, 90th percentile per day; day 1 = tomorrow). */
export interface QuantileBands {
  readonly series: string;
  readonly q10: readonly number[];
  readonly q50: readonly number[];
  readonly q90: readonly number[];
}

/** What one scenario's Monte Carlo says, in the figures the RiskAssessment and the Parameters carry. */
export interface ScenarioSummary {
  readonly trajectories: number;
  readonly horizon: number;
  /** Days from today to return to baseline: 10th, 50th, 90th percentile; undefined = beyond the horizon. */
  readonly daysToBaseline: { readonly p10?: number; readonly median?: number; readonly p90?: number };
  /** Share of trajectories back at baseline within the target (days from today, capped at the horizon). */
  readonly probabilityWithinTarget: number;
  readonly targetDaysFromToday: number;
  /** True when the target lies beyond the horizon (the probability is then a lower bound). */
  readonly targetBeyondHorizon: boolean;
  readonly probabilityWithinHorizon: number;
  readonly probabilitySetback: number;
  readonly bands: readonly QuantileBands[];
}

/** Summarises one scenario's kernel output. */
export function summarise(
  result: KernelResult,
  posterior: PersonalPosterior,
  targetDaysFromToday: number
): ScenarioSummary {
  const n = result.trajectories;
  const H = result.horizon;
  const quantileDay = (p: number): number | undefined => {
    const needed = p * n;
    let acc = 0;
    for (let day = 0; day <= H; day++) {
      acc += result.returnCounts[day];
      if (acc >= needed) {
        return day;
      }
    }
    return undefined;
  };
  const target = Math.min(targetDaysFromToday, H);
  let within = 0;
  for (let day = 0; day <= target; day++) {
    within += result.returnCounts[day];
  }
  const bands: QuantileBands[] = [
    histogramBands('recovery-index', result.indexHistogram, H, INDEX_RANGE.lo, INDEX_RANGE.hi),
    ...posterior.metrics.map((m, i) =>
      histogramBands(m.metric, result.metricHistograms[i], H, m.lo, m.hi, (x) => fromModelScale(m.metric, x))
    ),
  ];
  return {
    trajectories: n,
    horizon: H,
    daysToBaseline: { p10: quantileDay(0.1), median: quantileDay(0.5), p90: quantileDay(0.9) },
    probabilityWithinTarget: within / n,
    targetDaysFromToday: target,
    targetBeyondHorizon: targetDaysFromToday > H,
    probabilityWithinHorizon: (n - result.returnCounts[H + 1]) / n,
    probabilitySetback: result.setbacks / n,
    bands,
  };
}

/** Quantiles of a per-day histogram, linear within the bin. */
export function histogramBands(
  series: string,
  hist: Int32Array,
  days: number,
  lo: number,
  hi: number,
  toUnit: (x: number) => number = (x) => x
): QuantileBands {
  const width = (hi - lo) / HISTOGRAM_BINS;
  const q10: number[] = [];
  const q50: number[] = [];
  const q90: number[] = [];
  for (let t = 0; t < days; t++) {
    const row = t * HISTOGRAM_BINS;
    let total = 0;
    for (let b = 0; b < HISTOGRAM_BINS; b++) {
      total += hist[row + b];
    }
    const at = (p: number): number => {
      const needed = p * total;
      let acc = 0;
      for (let b = 0; b < HISTOGRAM_BINS; b++) {
        const count = hist[row + b];
        if (acc + count >= needed && count > 0) {
          return lo + width * (b + (needed - acc) / count);
        }
        acc += count;
      }
      return hi;
    };
    q10.push(toUnit(at(0.1)));
    q50.push(toUnit(at(0.5)));
    q90.push(toUnit(at(0.9)));
  }
  return { series, q10, q50, q90 };
}

/**
 * Order of scenarios, best first: higher probability of return within the target, then earlier median return
 * (beyond the horizon counts as last), then lower probability of a setback. Ties keep the request order.
 */
export function rankScenarios(summaries: readonly ScenarioSummary[]): number[] {
  const order = summaries.map((_, i) => i);
  const median = (s: ScenarioSummary): number => s.daysToBaseline.median ?? Number.POSITIVE_INFINITY;
  order.sort((a, b) => {
    const x = summaries[a];
    const y = summaries[b];
    const dp = round3(y.probabilityWithinTarget) - round3(x.probabilityWithinTarget);
    if (dp !== 0) {
      return dp;
    }
    if (median(x) !== median(y)) {
      return median(x) - median(y);
    }
    const ds = round3(x.probabilitySetback) - round3(y.probabilitySetback);
    return ds !== 0 ? ds : a - b;
  });
  return order;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
