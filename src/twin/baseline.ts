import type { PopulationPrior } from './populationPriors';
import { internalFault } from '../fhir/outcomes';

/**
 * Personal baseline of one metric as of one day: a robust centre and spread of the daily values in the trailing
 * window [d - W, d - 1] (excluded days left out), blended with the population prior while the person has fewer than
 * `minPersonalDays` values in the window.
 */
export interface Baseline {
  readonly centre: number;
  /** Robust SD (catalogue unit), widened for uncertainty while data are few, never below the metric's floor. */
  readonly spread: number;
  /** Daily values in the window. */
  readonly n: number;
  /** Weight of the population prior in [0, 1]. */
  readonly priorWeight: number;
}

export interface BaselineParameters {
  /** N_min: from this many personal days on the prior has no weight. */
  readonly minPersonalDays: number;
  /** k: prior strength, in days of personal data the prior is worth. */
  readonly priorStrength: number;
}

/** 1.4826 x MAD estimates the SD of normally distributed data (1 / Phi^-1(3/4)). */
export const MAD_TO_SD = 1.4826;

/** Asymptotic standard error of a sample median is sqrt(pi/2) x SD / sqrt(n) for normal data. */
const MEDIAN_SE_FACTOR = Math.sqrt(Math.PI / 2);

/**
 * The values of a trailing window kept sorted, so median and MAD cost O(W) and a day's arrival or departure costs a
 * binary search plus a shift of at most W elements: the work per day is bounded by W, never by the history length.
 */
export class SortedWindow {
  private readonly values: number[] = [];

  get size(): number {
    return this.values.length;
  }

  clear(): void {
    this.values.length = 0;
  }

  insert(value: number): void {
    this.values.splice(this.lowerBound(value), 0, value);
  }

  /** Removes one copy of `value` (which must be present). */
  remove(value: number): void {
    const index = this.lowerBound(value);
    if (this.values[index] !== value) {
      throw internalFault('SortedWindow.remove: value not in window');
    }
    this.values.splice(index, 1);
  }

  /** Median and 1.4826 x MAD of the window; undefined when empty. */
  robust(): { median: number; sd: number } | undefined {
    const a = this.values;
    const n = a.length;
    if (n === 0) {
      return undefined;
    }
    const half = n >> 1;
    const median = n % 2 === 1 ? a[half] : (a[half - 1] + a[half]) / 2;
    return { median, sd: MAD_TO_SD * medianAbsoluteDeviation(a, median) };
  }

  private lowerBound(value: number): number {
    let lo = 0;
    let hi = this.values.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.values[mid] < value) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }
}

/**
 * Median of |a_i - m| for a sorted array: the deviations left of m (read leftwards) and right of m (read rightwards)
 * are two ascending sequences, so merging them up to the middle rank gives the answer in O(n) without a sort.
 */
export function medianAbsoluteDeviation(sorted: readonly number[], m: number): number {
  const n = sorted.length;
  let right = 0;
  while (right < n && sorted[right] < m) {
    right++;
  }
  let left = right - 1;
  const lowRank = (n - 1) >> 1;
  const highRank = n >> 1;
  let low = 0;
  let high = 0;
  for (let rank = 0; rank <= highRank; rank++) {
    let d: number;
    if (left >= 0 && (right >= n || m - sorted[left] <= sorted[right] - m)) {
      d = m - sorted[left];
      left--;
    } else {
      d = sorted[right] - m;
      right++;
    }
    if (rank === lowRank) {
      low = d;
    }
    if (rank === highRank) {
      high = d;
    }
  }
  return (low + high) / 2;
}

/**
 * Weight of the prior with n personal days: the shrinkage weight k / (n + k), shifted and rescaled so it is 1 with no
 * data and reaches 0 exactly at N_min (a plain k / (n + k) cut off at N_min would make the baseline jump on that day).
 */
export function priorWeight(n: number, params: BaselineParameters): number {
  const { minPersonalDays: nMin, priorStrength: k } = params;
  if (n >= nMin) {
    return 0;
  }
  const atMin = k / (nMin + k);
  return (k / (n + k) - atMin) / (1 - atMin);
}

/**
 * The baseline from a window, a prior and the metric's spread floor; undefined when there is neither personal data
 * nor a prior centre (a vague prior knows no centre).
 *
 * With m, s = median and max(floor, 1.4826 x MAD) of the n window values, and w = priorWeight(n):
 *   centre = w x prior.centre + (1 - w) x m                     (m alone when the prior has no centre)
 *   within = w x prior.within + (1 - w) x s                     (day-to-day spread)
 *   u      = w x prior.between + (1 - w) x sqrt(pi/2) x s / sqrt(n)   (uncertainty of the centre itself)
 *   spread = max(floor, sqrt(within^2 + u^2))
 * So the band is the spread a new day's value is expected to have around a centre estimated from few data: wide
 * while the prior dominates, narrowing as personal days accumulate (at n = 28 the median-uncertainty term adds 2.8%).
 */
export function blendBaseline(
  window: SortedWindow,
  prior: PopulationPrior,
  floor: number,
  params: BaselineParameters
): Baseline | undefined {
  const n = window.size;
  const robust = window.robust();
  if (robust === undefined) {
    if (prior.centre === undefined) {
      return undefined;
    }
    return {
      centre: prior.centre,
      spread: Math.max(floor, Math.hypot(prior.within, prior.between)),
      n: 0,
      priorWeight: 1,
    };
  }
  const w = priorWeight(n, params);
  const s = Math.max(floor, robust.sd);
  const centre = prior.centre === undefined ? robust.median : w * prior.centre + (1 - w) * robust.median;
  const within = w * prior.within + (1 - w) * s;
  const u = w * prior.between + ((1 - w) * MEDIAN_SE_FACTOR * s) / Math.sqrt(n);
  return { centre, spread: Math.max(floor, Math.hypot(within, u)), n, priorWeight: w };
}
