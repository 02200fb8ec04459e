import type { MetricName } from '../fhir/metricCatalogue';

/**
 * How the twin treats each catalogue metric. These are modelling choices of the twin, not facts about the metric,
 * so they live here rather than in the catalogue (src/fhir/metricCatalogue.ts), which only says what a value is.
 *
 * - aggregation: how one day's deduplicated measurements become the daily value.
 *   'mean': repeated readings of a level (heart rate, HRV, a score) are averaged.
 *   'sum': counts and doses accumulate over the day (training sessions, step or active-minute counts reported in
 *   parts). The sum is taken per source and then averaged over sources, so two devices that each report the whole
 *   day's steps are not double counted (see dailySeries.ts).
 * - goodDirection: +1 when a higher value means better recovery, -1 when higher means worse, 0 when the direction is
 *   not monotone (the metric gets a deviation component in the daily state but does not enter the recovery index).
 * - spreadFloor: the smallest robust spread (in the catalogue unit) a baseline may have, about the resolution of the
 *   measurement; without it a flat series (a score reported as 3 every day) has MAD 0 and every change becomes an
 *   infinite deviation. These are engineering choices stated as such, not clinical thresholds.
 */
export type DailyAggregation = 'mean' | 'sum';

export interface MetricRule {
  readonly aggregation: DailyAggregation;
  readonly goodDirection: 1 | -1 | 0;
  readonly spreadFloor: number;
}

export const METRIC_RULES: Readonly<Record<MetricName, MetricRule>> = Object.freeze({
  // A spot heart rate depends on activity and time of day; higher at rest still means more strain.
  'heart-rate': { aggregation: 'mean', goodDirection: -1, spreadFloor: 1 },
  // Resting HR rises with illness, overreaching and after injury or surgery.
  'resting-heart-rate': { aggregation: 'mean', goodDirection: -1, spreadFloor: 1 },
  // HRV falls with illness, strain and poor sleep.
  'hrv-sdnn': { aggregation: 'mean', goodDirection: 1, spreadFloor: 2 },
  'hrv-rmssd': { aggregation: 'mean', goodDirection: 1, spreadFloor: 2 },
  // Respiratory rate rises with respiratory infection.
  'respiratory-rate': { aggregation: 'mean', goodDirection: -1, spreadFloor: 0.3 },
  'oxygen-saturation': { aggregation: 'mean', goodDirection: 1, spreadFloor: 0.5 },
  // Fever is the deviation that matters in a recovery context; hypothermia is out of this product's scope.
  'body-temperature': { aggregation: 'mean', goodDirection: -1, spreadFloor: 0.1 },
  // Sleep of the night ending on that day. Summed per source: a source sends either one total for the night or the
  // night's segments (one night arrives as 40+ samples from HealthKit bridges), and either way its sum is the night;
  // two devices reporting the same night are then averaged, not added (dailySeries.ts).
  'sleep-duration': { aggregation: 'sum', goodDirection: 1, spreadFloor: 0.25 },
  // Moving more is recovering (steps fall with illness and after injury, rise with rehabilitation).
  steps: { aggregation: 'sum', goodDirection: 1, spreadFloor: 250 },
  'active-minutes': { aggregation: 'sum', goodDirection: 1, spreadFloor: 5 },
  'pain-severity': { aggregation: 'mean', goodDirection: -1, spreadFloor: 0.5 },
  // Weight loss after surgery and weight gain from fluid retention are both concerning: not monotone.
  'body-weight': { aggregation: 'mean', goodDirection: 0, spreadFloor: 0.2 },
  // Both hypo- and hyperglycaemia are bad: not monotone.
  glucose: { aggregation: 'mean', goodDirection: 0, spreadFloor: 3 },
  // Training load is the dose, not the response: more load is neither better nor worse recovery on its own.
  'training-load': { aggregation: 'sum', goodDirection: 0, spreadFloor: 25 },
  // PMSys wellness items are all oriented "higher = better" (fatigue 5 = very rested, soreness 5 = not sore, stress
  // 5 = relaxed): in PMData (shared/data/pmdata, 16 people, 1,729 days) fatigue, soreness and stress each correlate
  // positively with readiness and mood (r = 0.08 to 0.46), and the cohort generator (src/cohort/physiology.ts) uses
  // the same orientation. So all six enter the index with +1.
  readiness: { aggregation: 'mean', goodDirection: 1, spreadFloor: 0.5 },
  fatigue: { aggregation: 'mean', goodDirection: 1, spreadFloor: 0.5 },
  soreness: { aggregation: 'mean', goodDirection: 1, spreadFloor: 0.5 },
  stress: { aggregation: 'mean', goodDirection: 1, spreadFloor: 0.5 },
  mood: { aggregation: 'mean', goodDirection: 1, spreadFloor: 0.5 },
  'sleep-quality': { aggregation: 'mean', goodDirection: 1, spreadFloor: 0.5 },
});
