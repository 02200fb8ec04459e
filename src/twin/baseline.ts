import type { PopulationPrior } from './populationPriors';
import { internalFault } from '../fhir/outcomes';

/**
 * Personal baseline of one metric as of one day: a robust centre and spread of the person's own daily values in the
 * trailing window [d - W, d - 1] (excluded days left out), and the personal normal band centre ± 2 spread, kept
 * inside the metric's plausible range.
 */
export interface Baseline {
  readonly kind: 'baseline';
  /** Median of the person's own values (never the population's centre). */
  readonly centre: number;
  /**
   * Within-person day-to-day spread (1.4826 x MAD), widened for the uncertainty of a centre estimated from n values,
   * never below the metric's floor (catalogue unit).
   */
  readonly spread: number;
  /** Daily values in the window. */
  readonly n: number;
  /** Weight of the population's typical within-person spread in `spread`, in [0, 1] (0 for a vague prior). */
  readonly priorWeight: number;
  /** The band centre ± 2 spread, cut to the metric's plausible range. */
  readonly low: number;
  readonly high: number;
}

/** Why there is no personal baseline to publish (said, never replaced by a population figure). */
export interface NotEnoughData {
  readonly kind: 'not-enough-data';
  readonly n: number;
  /** Plain-language reason without values (no health data). */
  readonly reason: string;
}

export type BaselineResult = Baseline | NotEnoughData;

export interface BaselineParameters {
  /** N_min: from this many personal days on the population's within-person spread has no weight. */
  readonly minPersonalDays: number;
  /** k: prior strength, in days of personal data the prior is worth. */
  readonly priorStrength: number;
  /** Fewest personal days in the window for a band at all; fewer is "not enough data". */
  readonly minBandDays: number;
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
export function priorWeight(n: number, params: Pick<BaselineParameters, 'minPersonalDays' | 'priorStrength'>): number {
  const { minPersonalDays: nMin, priorStrength: k } = params;
  if (n >= nMin) {
    return 0;
  }
  const atMin = k / (nMin + k);
  return (k / (n + k) - atMin) / (1 - atMin);
}

/**
 * The personal baseline from a window of the person's own daily values, or "not enough data".
 *
 * With m, s = median and max(floor, 1.4826 x MAD) of the n window values:
 *   centre = m                                                    (the person's own; a population centre never is)
 *   w      = priorWeight(n) when the prior holds a population's within-person spread, else 0
 *   within = w x prior.within + (1 - w) x s                       (day-to-day spread, shrunk while n is small)
 *   u      = sqrt(pi/2) x within / sqrt(n)                        (uncertainty of the median itself)
 *   spread = max(floor, sqrt(within^2 + u^2))
 *   band   = [max(min, centre - 2 spread), min(max, centre + 2 spread)]
 * The between-person spread of the prior never enters: how much people differ from each other says nothing about
 * how much this person varies from day to day. No band is published with fewer than `minBandDays` values, nor when
 * the band would cover the whole plausible range (no value could ever leave it).
 */
export function personalBaseline(
  window: SortedWindow,
  prior: PopulationPrior,
  floor: number,
  params: BaselineParameters,
  range: { readonly min: number; readonly max: number; readonly resolution?: number }
): BaselineResult {
  const n = window.size;
  const robust = window.robust();
  if (robust === undefined || n < params.minBandDays) {
    return {
      kind: 'not-enough-data',
      n,
      reason: `not enough data: ${n} personal day(s) in the window, at least ${params.minBandDays} needed`,
    };
  }
  const w = prior.centre === undefined ? 0 : priorWeight(n, params);
  const s = Math.max(floor, robust.sd);
  const within = w * prior.within + (1 - w) * s;
  const u = (MEDIAN_SE_FACTOR * within) / Math.sqrt(n);
  const spread = Math.max(floor, Math.hypot(within, u));
  const centre = robust.median;
  const low = Math.max(range.min, centre - 2 * spread);
  const high = Math.min(range.max, centre + 2 * spread);
  // Judged at the precision the band is published with: a band that rounds to the whole range is one no value can
  // leave.
  const half = (range.resolution ?? 0) / 2;
  if (low <= range.min + half && high >= range.max - half) {
    return {
      kind: 'not-enough-data',
      n,
      reason: 'not enough data: the day-to-day spread is so wide that the band would cover the whole plausible range',
    };
  }
  return { kind: 'baseline', centre, spread, n, priorWeight: w, low, high };
}
