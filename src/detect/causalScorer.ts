import type { MetricName } from '../fhir/metricCatalogue';
import { SortedWindow } from '../twin/baseline';
import { METRIC_RULES } from '../twin/metricRules';
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
  /** An episode longer than this is a new normal (a device change, a plateau): it closes and the baseline adopts it. */
  readonly maxEpisodeDays: number;
  /** Ensemble: the CUSUM enters the score divided by this (it accumulates over days, z does not). */
  readonly ensembleCusumDivisor: number;
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
});
// onThreshold, cusumK and ensembleCusumDivisor were chosen on a development cohort (`twin seed --seed 9`, 200 x 180
// days) for few false alarms at a still early warning; figures are reported on other seeds and data sets.

export interface DayScore {
  readonly day: number;
  readonly score: number;
  readonly alarm: boolean;
  /** Which metrics are adverse and in which direction; no values. */
  readonly reason: string;
}

interface MetricState {
  readonly window: SortedWindow;
  /** (day, value) in the window, oldest first, for eviction. */
  readonly entries: { day: number; value: number }[];
  cusum: number;
}

/**
 * Scores one subject day by day, strictly causally: the score of day d reads only days <= d (each day's value is
 * compared with the baseline of the days before it, then enters the window). Days inside an open alarm episode are
 * held back from the baseline, so an illness does not become the new normal; an episode that outlasts
 * `maxEpisodeDays` is taken as a new normal (device change, plateau): it closes and its days join the baseline.
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
        const z = (-rule.goodDirection * (value - robust.median)) / Math.max(rule.spreadFloor, robust.sd);
        adverse.push({ metric, z });
        state.cusum = Math.max(0, state.cusum + z - options.cusumK);
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
      if (!open && score >= options.onThreshold) {
        open = true;
        episodeDays = 0;
        quietDays = 0;
      }
      if (open) {
        episodeDays++;
        quietDays = score < options.offThreshold ? quietDays + 1 : 0;
        if (quietDays >= options.closeAfterDays) {
          open = false;
          held.length = 0; // the episode's days stay out of the baseline
        } else if (episodeDays > options.maxEpisodeDays) {
          open = false;
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
    out.push({ day, score: round(score), alarm, reason: reasonOf(adverse) });
  }
  return out;
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
