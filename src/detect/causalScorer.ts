import type { MetricName } from '../fhir/metricCatalogue';
import { SortedWindow } from '../twin/baseline';
import { METRIC_RULES } from '../twin/metricRules';
import { POPULATION_PRIORS } from '../twin/populationPriors';
import type { SubjectSeries } from './detectionInput';

export type DetectorName = 'ensemble' | 'zscore' | 'cusum';

export interface DetectorOptions {
  /** Trailing baseline window, days. */
  readonly windowDays: number;
  /** Days of personal data before a metric is scored. */
  readonly minBaselineDays: number;
  /** CUSUM allowance k (robust SD units) per day. */
  readonly cusumK: number;
  /** robust-z alone: alarm when the most adverse metric is at least this far from baseline. */
  readonly zThreshold: number;
  /** CUSUM alone: alarm at this cumulative sum. */
  readonly cusumThreshold: number;
  /** Ensemble: an episode opens at this score and stays open while the score is above `offThreshold`... */
  readonly onThreshold: number;
  readonly offThreshold: number;
  /** ...until it has been below it this many days in a row. */
  readonly closeAfterDays: number;
  /**
   * An episode still deviated after this many days is a sustained shift (a device change, a plateau, a long illness):
   * the alarm ends, the scorer compares later days with the shifted level PROVISIONALLY (so a new event on top of it
   * can still be seen), and every later day says `shiftSince` until the person is back within the earlier baseline.
   * The finding stays open as "new normal?" for a clinician to confirm; it is never reported as back to baseline.
   */
  readonly maxEpisodeDays: number;
  /** Ensemble: the CUSUM enters the score divided by this (it accumulates over days, z does not). */
  readonly ensembleCusumDivisor: number;
  /**
   * Population prior on the day-to-day spread, as this many pseudo-days of the population's typical within-person
   * spread (src/twin/populationPriors.ts) pooled with the person's own days: spread^2 = (n sd^2 + k within^2) /
   * (n + k). 0 = off (dense data: the person's own spread). The sparse mode uses it so that a baseline of a few spot
   * readings is not overconfident.
   */
  readonly priorSpreadDays: number;
}

export const DEFAULT_DETECTOR_OPTIONS: Readonly<DetectorOptions> = Object.freeze({
  windowDays: 28,
  minBaselineDays: 7,
  cusumK: 1,
  zThreshold: 3,
  cusumThreshold: 5,
  onThreshold: 4,
  offThreshold: 1,
  closeAfterDays: 3,
  maxEpisodeDays: 21,
  ensembleCusumDivisor: 3,
  priorSpreadDays: 0,
});
// onThreshold, cusumK and ensembleCusumDivisor were chosen on a development cohort (`twin seed --seed 9`, 200 x 180
// days) for few false alarms at a still early warning; figures are reported on other seeds and data sets.

export interface DayScore {
  readonly day: number;
  readonly score: number;
  readonly alarm: boolean;
  /** Which metrics are adverse and in which direction; no values. */
  readonly reason: string;
  /**
   * Set while a sustained shift is pending (see DetectorOptions.maxEpisodeDays): the onset day of the episode that
   * became the shift. Absent otherwise (and always absent for zscore and cusum, which have no episodes).
   */
  readonly shiftSince?: number;
}

interface MetricState {
  readonly window: SortedWindow;
  /** (day, value) in the window, oldest first, for eviction. */
  readonly entries: { day: number; value: number }[];
  cusum: number;
  /** Last day the metric was scored against a baseline (for the CUSUM's decay over days without a value). */
  lastScored?: number;
}

/** The pre-episode baseline a pending shift is measured against (median and spread per metric, frozen at the cut). */
interface PendingShift {
  readonly since: number;
  readonly earlier: ReadonlyMap<MetricName, { median: number; sd: number }>;
  quietDays: number;
}

/**
 * Scores one subject day by day, strictly causally: the score of day d reads only days <= d (each day's value is
 * compared with the baseline of the days before it, then enters the window). Days inside an open alarm episode are
 * held back from the baseline, so an illness does not become the new normal; an episode still deviated after
 * `maxEpisodeDays` is a sustained shift: its alarm ends, its days join the baseline provisionally, and later days carry
 * `shiftSince` until the values are back within the earlier baseline (the finding asks a clinician: "new normal?").
 * A metric's CUSUM is reset whenever it has no baseline to update against (never a frozen sum).
 *
 * Scores: adverse z_m = -(goodDirection) x (value - median) / spread, per metric with a baseline.
 * - zscore: max_m adverse z_m (robust z alone, the reference).
 * - cusum: max_m S_m with S_m = max(0, S_m + adverse z_m - k).
 * - ensemble: max(sum_m max(0, adverse z_m) / sqrt(#metrics scored), max_m S_m / divisor), so several metrics moving the
 *   adverse way together (resting HR up, HRV down, sleep down) count more than one alone; with hysteresis.
 */
export function scoreSubject(
  series: SubjectSeries,
  detector: DetectorName,
  options: DetectorOptions = DEFAULT_DETECTOR_OPTIONS
): DayScore[] {
  const days = [...series.values.keys()].sort((a, b) => a - b);
  const states = new Map<MetricName, MetricState>();
  const held: { metric: MetricName; day: number; value: number }[] = [];
  const out: DayScore[] = [];
  let open = false;
  let episodeDays = 0;
  let quietDays = 0;
  let episodeOnset = 0;
  let shift: PendingShift | undefined;
  for (const day of days) {
    const values = series.values.get(day) ?? new Map<MetricName, number>();
    const adverse: { metric: MetricName; z: number }[] = [];
    let cusumMax = 0;
    for (const [metric, value] of values) {
      const rule = METRIC_RULES[metric];
      let state = states.get(metric);
      if (!state) {
        state = { window: new SortedWindow(), entries: [], cusum: 0 };
        states.set(metric, state);
      }
      evict(state, day - options.windowDays);
      const robust = state.window.size >= options.minBaselineDays ? state.window.robust() : undefined;
      if (robust && rule.goodDirection !== 0) {
        const z =
          (-rule.goodDirection * (value - robust.median)) / spreadOf(metric, robust.sd, state.window.size, options);
        adverse.push({ metric, z });
        // Days without a value carry no evidence of deviation (z = 0), so the sum loses k for each of them: a spot
        // metric measured every few weeks does not carry an old excess into an unrelated later day.
        const missed = state.lastScored === undefined ? 0 : Math.max(0, day - state.lastScored - 1);
        state.cusum = Math.max(0, state.cusum - missed * options.cusumK + z - options.cusumK);
        state.lastScored = day;
      } else {
        // No baseline to compare with (the window fell below minBaselineDays, e.g. a spot metric measured rarely):
        // the sum cannot update, so it must not keep counting either. A frozen sum re-entering the score on every
        // day the metric appears raised repeated alarms at a constant score.
        state.cusum = 0;
        state.lastScored = undefined;
      }
      cusumMax = Math.max(cusumMax, state.cusum);
    }
    const maxZ = adverse.reduce((m, a) => Math.max(m, a.z), 0);
    const combined =
      adverse.length > 0 ? adverse.reduce((s, a) => s + Math.max(0, a.z), 0) / Math.sqrt(adverse.length) : 0;
    let score: number;
    let alarm: boolean;
    if (detector === 'zscore') {
      score = maxZ;
      alarm = score >= options.zThreshold;
    } else if (detector === 'cusum') {
      score = cusumMax;
      alarm = score >= options.cusumThreshold;
    } else {
      score = Math.max(combined, cusumMax / options.ensembleCusumDivisor);
      if (shift) {
        // A pending shift resolves when the person is back within the earlier (pre-episode) baseline.
        const earlierScore = combinedAgainst(values, shift.earlier);
        shift.quietDays = earlierScore < options.offThreshold ? shift.quietDays + 1 : 0;
        if (shift.quietDays >= options.closeAfterDays) {
          shift = undefined;
        }
      }
      if (!open && score >= options.onThreshold) {
        open = true;
        episodeDays = 0;
        quietDays = 0;
        episodeOnset = day;
      }
      if (open) {
        episodeDays++;
        quietDays = score < options.offThreshold ? quietDays + 1 : 0;
        if (quietDays >= options.closeAfterDays) {
          open = false;
          held.length = 0; // the episode's days stay out of the baseline
        } else if (episodeDays > options.maxEpisodeDays) {
          // Still deviated after maxEpisodeDays: a sustained shift. Freeze the earlier baseline to tell when it ends,
          // then compare later days with the shifted level provisionally (the finding says so: "new normal?").
          open = false;
          shift = { since: episodeOnset, earlier: robustOf(states, options.minBaselineDays), quietDays: 0 };
          adoptHeld(held, states);
          for (const s of states.values()) {
            s.cusum = 0;
          }
        }
      }
      alarm = open;
    }
    // The day's values join the baseline after scoring (causal), unless an episode is open.
    for (const [metric, value] of values) {
      if (detector === 'ensemble' && open) {
        held.push({ metric, day, value });
      } else {
        const state = states.get(metric);
        if (state) {
          state.window.insert(value);
          state.entries.push({ day, value });
        }
      }
    }
    const reason = reasonOf(adverse);
    out.push(
      shift && !alarm
        ? { day, score: round(score), alarm, reason, shiftSince: shift.since }
        : { day, score: round(score), alarm, reason }
    );
  }
  return out;
}

/** The spread a z is taken against: the person's own, pooled with the population prior when configured, floored. */
function spreadOf(metric: MetricName, sd: number, n: number, options: DetectorOptions): number {
  const floor = METRIC_RULES[metric].spreadFloor;
  const k = options.priorSpreadDays;
  if (!(k > 0)) {
    return Math.max(floor, sd);
  }
  const within = POPULATION_PRIORS[metric].within;
  return Math.max(floor, Math.sqrt((n * sd * sd + k * within * within) / (n + k)));
}

/** Robust median and spread of every metric window with enough days (the baseline in force). */
function robustOf(
  states: ReadonlyMap<MetricName, MetricState>,
  minDays: number
): Map<MetricName, { median: number; sd: number }> {
  const out = new Map<MetricName, { median: number; sd: number }>();
  for (const [metric, state] of states) {
    const robust = state.window.size >= minDays ? state.window.robust() : undefined;
    if (robust) {
      out.set(metric, robust);
    }
  }
  return out;
}

/** The ensemble's combined term of one day against a fixed baseline (no CUSUM): sum of adverse z / sqrt(#scored). */
function combinedAgainst(
  values: ReadonlyMap<MetricName, number>,
  baseline: ReadonlyMap<MetricName, { median: number; sd: number }>
): number {
  let sum = 0;
  let n = 0;
  for (const [metric, value] of values) {
    const rule = METRIC_RULES[metric];
    const b = baseline.get(metric);
    if (!b || rule.goodDirection === 0) {
      continue;
    }
    sum += Math.max(0, (-rule.goodDirection * (value - b.median)) / Math.max(rule.spreadFloor, b.sd));
    n++;
  }
  return n > 0 ? sum / Math.sqrt(n) : 0;
}

function evict(state: MetricState, before: number): void {
  while (state.entries.length > 0 && state.entries[0].day < before) {
    const old = state.entries.shift();
    if (old) {
      state.window.remove(old.value);
    }
  }
}

function adoptHeld(
  held: { metric: MetricName; day: number; value: number }[],
  states: Map<MetricName, MetricState>
): void {
  for (const h of held) {
    const state = states.get(h.metric);
    if (state) {
      state.window.insert(h.value);
      state.entries.push({ day: h.day, value: h.value });
    }
  }
  for (const state of states.values()) {
    state.entries.sort((a, b) => a.day - b.day);
  }
  held.length = 0;
}

function reasonOf(adverse: { metric: MetricName; z: number }[]): string {
  const notable = adverse.filter((a) => a.z >= 2).sort((a, b) => b.z - a.z);
  if (notable.length === 0) {
    return '';
  }
  return notable
    .map((a) => {
      const dir = METRIC_RULES[a.metric].goodDirection === 1 ? 'below' : 'above';
      return `${a.metric} ${a.z >= 3 ? 'far ' : ''}${dir} personal baseline`;
    })
    .join('; ');
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
