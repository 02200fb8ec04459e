import type { MetricName } from '../fhir/metricCatalogue';
import type { PatientPlan } from './patientPlan';
import { SURGERY } from './patientPlan';
import type { Prng } from './prng';

/**
 * Day-by-day physiology of one synthetic patient. A small, explainable model rather than a black box:
 *
 * - Training load (session RPE x minutes) follows a weekly plan with rest days and a longer weekend session; fitness
 *   and fatigue are the 42- and 7-day exponentially weighted loads of the Banister fitness-fatigue model, and
 *   "strain" = (fatigue - fitness) / fitness drives resting HR up and HRV down after hard blocks.
 * - A shared AR(1) latent "daily load of life" (work, travel, stress) moves resting HR, HRV, sleep and mood together,
 *   so the metrics are correlated the way real ones are; short sleep raises the next morning's resting HR.
 * - Illness: resting HR rises and HRV falls from 1-7 days before symptoms, respiratory rate rises, training stops
 *   while symptomatic, wellness items drop, then everything decays back to baseline over about a week.
 * - Injury or surgery: a recovery deficit that starts at 1 and decays as exp(-t/tau) (gradual return toward
 *   baseline), frozen during an injected plateau; pain, steps, resting HR and HRV follow the deficit.
 * - Weekly rhythm (more sleep at weekends, fewer steps on Sundays), circadian rhythm of the daytime spot heart rate
 *   (peaks mid-afternoon), day-to-day noise, random missing days, multi-day gaps and a device change with a small
 *   calibration offset, as real wearables have.
 *
 * Wellness items (PMSys-style 1-5 scales, readiness 0-10) are generated with "higher = better" on every item.
 */
export interface DailyRecord {
  readonly day: number;
  /** Values in the catalogue unit of each metric; absent metrics are missing that day. */
  readonly values: Partial<Record<MetricName, number>>;
  /** Clock time (hour, minute) of the daytime spot heart-rate reading when there is one. */
  readonly spotTime?: { readonly hour: number; readonly minute: number };
  readonly device: string;
}

export const DEVICE_A = 'Wrist-worn wearable (model A)';
export const DEVICE_B = 'Wrist-worn wearable (model B)';

/** Day-of-week (0 = Sunday) of day 0. */
export function* simulatePatient(
  plan: PatientPlan,
  prng: Prng,
  days: number,
  startWeekday: number
): Generator<DailyRecord> {
  const b = plan.baselines;
  const athletic = plan.persona !== 'post-surgery';
  const recoveryStart = plan.injury?.day ?? plan.surgeryDay;
  const recovery = plan.injury?.kind ?? (plan.surgeryDay !== undefined ? SURGERY : undefined);
  let fitness = (b.sessionLoad * (7 - b.restDays.length)) / 7;
  let fatigue = fitness;
  let latent = 0;
  let deficit = 0;
  let previousLoad = 0;

  for (let day = 0; day < days; day++) {
    const weekday = (startWeekday + day) % 7;
    const values: Partial<Record<MetricName, number>> = {};

    // Illness intensity 0..severity: ramps from the pre-symptomatic onset to symptoms + 1 day, then decays.
    let illness = 0;
    let symptomatic = 0;
    if (plan.illness) {
      const { symptomDay, leadDays, severity } = plan.illness;
      const onset = symptomDay - leadDays;
      if (day >= onset && day <= symptomDay + 1) {
        illness = (day - onset + 1) / (symptomDay + 2 - onset);
      } else if (day > symptomDay + 1 && day <= symptomDay + 3) {
        illness = 1;
      } else if (day > symptomDay + 3) {
        illness = Math.exp(-(day - symptomDay - 3) / 4);
      }
      illness *= severity;
      symptomatic = day >= symptomDay ? illness : 0;
    }

    // Recovery deficit after injury/surgery: 1 on the day, exponential return, frozen during a plateau.
    if (recovery && recoveryStart !== undefined && day >= recoveryStart) {
      const onPlateau =
        plan.plateau !== undefined && day >= plan.plateau.day && day < plan.plateau.day + plan.plateau.length;
      deficit = day === recoveryStart ? 1 : onPlateau ? deficit : deficit * Math.exp(-1 / recovery.tau);
    }

    // Training load of the day.
    let load = 0;
    if (!b.restDays.includes(weekday)) {
      if (athletic) {
        load = b.sessionLoad * (weekday === 6 ? 1.3 : 1) * Math.exp(prng.normal(0, 0.25));
        if (
          plan.overreaching &&
          day >= plan.overreaching.day &&
          day < plan.overreaching.day + plan.overreaching.length
        ) {
          load *= 1.8;
        }
        load *= Math.max(0, 1 - 1.6 * deficit);
      } else if (recoveryStart !== undefined && day >= recoveryStart + 10) {
        // Supervised rehabilitation sessions, growing as the deficit shrinks.
        load = 150 * (1 - deficit) * Math.exp(prng.normal(0, 0.2));
      }
      if (symptomatic > 0.3) {
        load = 0;
      } else if (plan.illness && day >= plan.illness.symptomDay && day < plan.illness.symptomDay + 10) {
        load *= 0.5;
      }
    }
    load = load < 30 ? 0 : Math.round(load);
    fitness += (load - fitness) / 42;
    fatigue += (load - fatigue) / 7;
    const strain = athletic ? Math.max(-0.4, (fatigue - fitness) / Math.max(150, fitness)) : 0;
    const positiveStrain = Math.max(0, strain);

    latent = 0.6 * latent + prng.normal(0, 0.8);

    const onNewDevice = plan.deviceChangeDay !== undefined && day >= plan.deviceChangeDay;
    const device = onNewDevice ? DEVICE_B : DEVICE_A;
    const inGap = plan.gap !== undefined && day >= plan.gap.day && day < plan.gap.day + plan.gap.length;
    const wearableWorn = !inGap && !prng.chance(0.04);

    const weekendNight = weekday === 6 || weekday === 0;
    const sleep = bounded(
      b.sleepHours + (weekendNight ? 0.5 : 0) - 0.3 * latent - 0.6 * deficit + 0.4 * illness + prng.normal(0, 0.55),
      2.5,
      12
    );
    const sleepDebt = Math.max(0, b.sleepHours - sleep);
    const restingHr = bounded(
      b.restingHr +
        1.2 * latent +
        5 * strain +
        0.6 * sleepDebt +
        (recovery?.rhrRise ?? 0) * deficit +
        7 * illness +
        (onNewDevice ? 1.8 : 0) +
        prng.normal(0, 1.3),
      32,
      120
    );
    const lnRmssd =
      b.lnRmssd -
      0.04 * latent -
      0.18 * strain -
      0.03 * sleepDebt -
      0.35 * deficit -
      0.3 * illness -
      (onNewDevice ? 0.08 : 0) +
      prng.normal(0, 0.1);
    const respiratoryRate = bounded(b.respiratoryRate + 2.2 * illness + 0.3 * deficit + prng.normal(0, 0.35), 8, 30);
    const weekdayStepFactor = weekday === 0 ? 0.85 : weekday === 6 ? 1.1 : 1;
    const steps =
      b.steps *
        weekdayStepFactor *
        (1 - 0.75 * deficit) *
        (1 - 0.6 * Math.min(1, symptomatic)) *
        Math.exp(prng.normal(0, 0.2)) +
      (load > 0 && athletic ? 2500 : 0);

    if (wearableWorn) {
      values['resting-heart-rate'] = round(restingHr, 1);
      values['hrv-rmssd'] = round(bounded(Math.exp(lnRmssd), 5, 250), 1);
      values['respiratory-rate'] = round(respiratoryRate, 1);
      values['sleep-duration'] = round(sleep, 2);
      values['steps'] = Math.round(bounded(steps, 0, 60_000));
    }

    let spotTime: DailyRecord['spotTime'];
    if (wearableWorn && prng.chance(0.6)) {
      // Daytime spot heart rate: resting HR plus activity offset with a circadian swing peaking mid-afternoon.
      const hour = prng.int(7, 21);
      const minute = prng.int(0, 59);
      const circadian = 5 * Math.sin((2 * Math.PI * (hour - 9)) / 24);
      values['heart-rate'] = Math.round(bounded(restingHr + 14 + circadian + prng.normal(0, 4), 35, 180));
      spotTime = { hour, minute };
    }

    if (load > 0 && !prng.chance(0.05)) {
      values['training-load'] = load;
    }

    if (athletic && !prng.chance(0.12)) {
      values['readiness'] = score(
        7 - 3 * positiveStrain - 4 * symptomatic - 4 * deficit - 0.5 * latent + prng.normal(0, 0.8),
        0,
        10
      );
      values['fatigue'] = score(
        3.4 - 1.5 * positiveStrain - 2 * symptomatic - 0.4 * sleepDebt + prng.normal(0, 0.5),
        1,
        5
      );
      values['soreness'] = score(
        3.4 - 0.0015 * previousLoad - 1.2 * positiveStrain - 1.5 * deficit + prng.normal(0, 0.5),
        1,
        5
      );
      values['stress'] = score(3.2 - 0.5 * latent - symptomatic + prng.normal(0, 0.5), 1, 5);
      values['mood'] = score(3.4 - 0.4 * latent - 1.2 * symptomatic - 0.8 * deficit + prng.normal(0, 0.5), 1, 5);
      values['sleep-quality'] = score(3 + 0.7 * (sleep - b.sleepHours) - 1.2 * symptomatic + prng.normal(0, 0.5), 1, 5);
    }

    if (recovery && deficit > 0.02 && !prng.chance(0.15)) {
      values['pain-severity'] = score(recovery.painAtOnset * deficit + prng.normal(0, 0.6), 0, 10);
    }

    if (weekday === 1 && !prng.chance(0.3)) {
      values['body-weight'] = round(b.weightKg - 1.5 * deficit + prng.normal(0, 0.4), 1);
    }

    previousLoad = load;
    yield { day, values, spotTime, device };
  }
}

function bounded(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

/** A self-reported score: the model's latent value rounded onto the scale's integer steps. */
function score(value: number, min: number, max: number): number {
  return Math.round(bounded(value, min, max));
}
