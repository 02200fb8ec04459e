import type { MetricName } from '../fhir/metricCatalogue';
import { METRICS } from '../fhir/metricCatalogue';

/**
 * Population priors: what the twin assumes about a person's baseline before it has seen enough of their own data.
 *
 * - centre: the typical personal centre of the metric (undefined when no population data backs one; the centre is
 *   then the person's own median from the first value on, and only the spread is widened).
 * - between: how much personal centres differ between people (the uncertainty of using `centre` for a stranger).
 * - within: the typical day-to-day spread of one person around their own centre.
 * All in the metric's catalogue unit, rounded to two significant figures: the source samples are small (13 to 56
 * people), so more digits would be invented precision.
 *
 * Derivation ("dev data", run once over /work/shared/data, not at run time): for every person with at least 7 days of
 * the metric, build the daily series (mean per day; sum per day for training load and active minutes), take the
 * personal median and 1.4826 x MAD of the daily values; then centre = median of the personal medians,
 * between = 1.4826 x MAD of the personal medians, within = median of the personal spreads.
 * For the integer self-report scales the MAD is 0 for most people (a score that is 3 on most days), so those use
 * means and standard deviations instead (centre = median of personal means, between = SD of personal means,
 * within = median of personal SDs); marked "SD-based" below.
 * Sources: PMData (Thambawita et al., MMSys 2020, CC BY 4.0; shared/data/pmdata) and the Welltory COVID-19 HRV
 * dataset (CC0; shared/data/welltory-hrv-covid19). The Welltory cohort is people with (suspected) COVID-19 and
 * PMData is 16 recreational athletes: the priors are broad starting points, not norms, and they fade out
 * after MIN_PERSONAL_DAYS of personal data (baseline.ts).
 *
 * Metrics without population data in the development sets (respiratory rate, SpO2 and body temperature have one
 * Welltory person each; pain, weight and glucose none) get a vague prior: no centre, and between = within = a
 * quarter of the catalogue's plausible range, so the band stays wide until the person's own data narrows it.
 */
export interface PopulationPrior {
  readonly centre?: number;
  readonly between: number;
  readonly within: number;
  /** Where the numbers come from (kept with the numbers so a reviewer can check them). */
  readonly source: string;
}

const PMDATA = 'PMData';
const WELLTORY = 'Welltory COVID-19 HRV';

function vague(metric: MetricName): PopulationPrior {
  const def = METRICS[metric];
  const quarterRange = (def.max - def.min) / 4;
  return {
    between: quarterRange,
    within: quarterRange,
    source: 'vague: no population data; quarter of plausible range',
  };
}

export const POPULATION_PRIORS: Readonly<Record<MetricName, PopulationPrior>> = Object.freeze({
  // Welltory hrv_measurements.csv `bpm` (heart rate during a spot HRV measurement): 56 people, 1,578 days.
  'heart-rate': { centre: 74, between: 7.8, within: 5.5, source: `${WELLTORY}: 56 people, 1,578 days` },
  // PMData fitbit/resting_heart_rate.json (14 people) + Welltory wearables.csv resting_pulse (32): 3,106 days.
  'resting-heart-rate': { centre: 62, between: 11, within: 4.3, source: `${PMDATA} + ${WELLTORY}: 46 people` },
  // Welltory hrv_measurements.csv `sdnn` / `rmssd` (ms): 56 people, 1,578 days.
  'hrv-sdnn': { centre: 49, between: 18, within: 14, source: `${WELLTORY}: 56 people, 1,578 days` },
  'hrv-rmssd': { centre: 47, between: 22, within: 14, source: `${WELLTORY}: 56 people, 1,578 days` },
  'respiratory-rate': vague('respiratory-rate'),
  'oxygen-saturation': vague('oxygen-saturation'),
  'body-temperature': vague('body-temperature'),
  // PMData fitbit/sleep.json, main sleep `minutesAsleep` / 60: 16 people, 1,881 nights.
  'sleep-duration': { centre: 6.8, between: 0.7, within: 1.0, source: `${PMDATA}: 16 people, 1,881 nights` },
  // Welltory wearables.csv steps_count: 33 people, 1,968 days (a convalescent cohort: low; athletes sit far above).
  steps: { centre: 3300, between: 3700, within: 2800, source: `${WELLTORY}: 33 people, 1,968 days` },
  // PMData fitbit moderately_active_minutes + very_active_minutes per day: 16 people, 2,396 days.
  'active-minutes': { centre: 53, between: 44, within: 47, source: `${PMDATA}: 16 people, 2,396 days` },
  'pain-severity': vague('pain-severity'),
  'body-weight': vague('body-weight'),
  glucose: vague('glucose'),
  // PMData pmsys/srpe.csv perceived_exertion x duration_min, summed per day, training days only: 13 people, 714 days.
  'training-load': { centre: 280, between: 44, within: 150, source: `${PMDATA}: 13 people, 714 training days` },
  // PMData pmsys/wellness.csv, 16 people, 1,729 days, SD-based (integer scales).
  readiness: { centre: 4.9, between: 1.2, within: 1.4, source: `${PMDATA}: 16 people, 1,729 days, SD-based` },
  fatigue: { centre: 2.8, between: 0.22, within: 0.62, source: `${PMDATA}: 16 people, 1,729 days, SD-based` },
  soreness: { centre: 2.9, between: 0.15, within: 0.49, source: `${PMDATA}: 16 people, 1,729 days, SD-based` },
  stress: { centre: 2.9, between: 0.3, within: 0.65, source: `${PMDATA}: 16 people, 1,729 days, SD-based` },
  mood: { centre: 3.1, between: 0.32, within: 0.53, source: `${PMDATA}: 16 people, 1,729 days, SD-based` },
  'sleep-quality': { centre: 3.0, between: 0.24, within: 0.71, source: `${PMDATA}: 16 people, 1,729 days, SD-based` },
});
