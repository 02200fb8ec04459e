import type { MetricName } from '../fhir/metricCatalogue';

/**
 * The shape of the personalised recovery model (models/simulator/MODEL_CARD.md explains it for a clinician).
 *
 * State, one value per simulated day:
 * - D, the recovery deficit: the share of the post-event shift of the person's metrics still remaining (1 on the day
 *   of the injury, operation or illness onset, 0 = back at the personal baseline). It falls as D <- D * exp(-k_eff),
 *   a saturating return toward baseline, with k_eff = k * (load effect) * (sleep effect) * (pain effect) * (daily
 *   noise); a setback (overload, training while ill) pushes it back up.
 * - Fitness and fatigue: Banister's impulse-response (fitness-fatigue) model as exponentially weighted training loads
 *   with time constants of 42 and 7 days (the time constants the synthetic cohort also uses); their normalised
 *   difference is the training strain.
 * Observations, per metric: y = base + amplitude * D + strainEffect * strain + illnessShift * ill + e, e an AR(1)
 * day-to-day noise. base, amplitude, strainEffect, the noise and k are personal (fitted, personalFit.ts); the lever
 * effects below are population assumptions drawn per trajectory from wide priors, because one person's history
 * cannot identify them.
 */
export const SIMULATED_METRICS = [
  'resting-heart-rate',
  'hrv-rmssd',
  'readiness',
] as const satisfies readonly MetricName[];
export type SimulatedMetric = (typeof SIMULATED_METRICS)[number];

/** +1: higher is better (HRV, readiness); -1: lower is better (resting heart rate). The twin's sign convention. */
export const METRIC_DIRECTION: Readonly<Record<SimulatedMetric, 1 | -1>> = Object.freeze({
  'resting-heart-rate': -1,
  'hrv-rmssd': 1,
  readiness: 1,
});

/**
 * The scale each metric is modelled on. HRV varies multiplicatively (its day-to-day spread grows with its level), so it
 * is modelled as ln(RMSSD), as the synthetic cohort generates it (src/cohort/physiology.ts); the others on their own
 * scale. Bands are transformed back to the catalogue unit (quantiles survive a monotone transform).
 */
export const METRIC_SCALE: Readonly<Record<SimulatedMetric, 'linear' | 'log'>> = Object.freeze({
  'resting-heart-rate': 'linear',
  'hrv-rmssd': 'log',
  readiness: 'linear',
});

/** A value of the metric on its model scale, and back. */
export function toModelScale(metric: SimulatedMetric, value: number): number {
  return METRIC_SCALE[metric] === 'log' ? Math.log(value) : value;
}
export function fromModelScale(metric: SimulatedMetric, value: number): number {
  return METRIC_SCALE[metric] === 'log' ? Math.exp(value) : value;
}

/** Banister time constants (days) of fitness and fatigue. */
export const FITNESS_DAYS = 42;
export const FATIGUE_DAYS = 7;
/** Floor of the fitness term when strain is normalised (AU), so a near-zero fitness does not explode the ratio. */
export const STRAIN_FLOOR_LOAD = 150;

/** Training strain: (fatigue - fitness) / max(fitness, floor), the normalised training-stress balance. */
export function strainOf(fitness: number, fatigue: number): number {
  return (fatigue - fitness) / Math.max(fitness, STRAIN_FLOOR_LOAD);
}

/**
 * The return criterion: the deficit's share of the recovery index (mean signed deviation of the simulated metrics
 * in personal SD units) is within this many personal SDs of the baseline, and stays there to the horizon.
 */
export const RETURN_BAND_SD = 0.5;

/**
 * Population assumptions of the lever effects, each drawn per trajectory (normal, clamped, or log-normal by median
 * and geometric SD). They are modelling assumptions chosen to be wide, not estimates from literature or data; the
 * model card lists them and the calibration report shows what they do to coverage. A clinician reading a scenario
 * comparison reads "under these assumptions".
 */
export interface LeverPriors {
  /** Rate gain of loading at the right dose: rate x (1 + stimulus * (r - 0.5)) for load/capacity r <= 1. */
  readonly stimulus: { readonly mean: number; readonly sd: number };
  /** Rate penalty per unit of overload (r - 1) above capacity. */
  readonly overloadPenalty: { readonly mean: number; readonly sd: number };
  /** Setback hazard per session day per unit of overload (log-normal). */
  readonly overloadHazard: { readonly median: number; readonly gsd: number };
  /** Setback hazard per session day while ill, per unit of load relative to the reference session (log-normal). */
  readonly illnessLoadHazard: { readonly median: number; readonly gsd: number };
  /** Size of a setback: the deficit moves this share of the way back to 1 (uniform). */
  readonly setbackJump: { readonly min: number; readonly max: number };
  /** Rate multiplier while ill (uniform); while ill, training brings no gain (only its setback risk). */
  readonly illnessRate: { readonly min: number; readonly max: number };
  /** Rate change per hour of extra sleep: rate x exp(beta * hours). */
  readonly sleepPerHour: { readonly mean: number; readonly sd: number };
  /** Rate slowing per pain point (0-10) at the current deficit: rate / (1 + painSlowing * pain). */
  readonly painSlowing: number;
  /** Capacity at full deficit as a share of the reference session load: capacity = ref * (1 - (1 - c) * D). */
  readonly capacityAtFullDeficit: number;
  /** SD of the day-to-day log-normal noise of the recovery rate. */
  readonly dailyRateNoise: number;
  /** Shift of each metric while ill, in personal SDs, in its worse direction. */
  readonly illnessShiftSd: number;
}

export const LEVER_PRIORS: Readonly<LeverPriors> = Object.freeze({
  stimulus: { mean: 0.4, sd: 0.15 },
  overloadPenalty: { mean: 0.5, sd: 0.2 },
  overloadHazard: { median: 0.03, gsd: 1.6 },
  illnessLoadHazard: { median: 0.08, gsd: 1.6 },
  setbackJump: { min: 0.1, max: 0.3 },
  illnessRate: { min: 0.1, max: 0.5 },
  sleepPerHour: { mean: 0.1, sd: 0.05 },
  painSlowing: 0.05,
  capacityAtFullDeficit: 0.2,
  dailyRateNoise: 0.3,
  illnessShiftSd: 1.5,
});

/** One metric's posterior draws (length = PersonalPosterior.draws) and noise. */
export interface MetricPosterior {
  readonly metric: SimulatedMetric;
  /** Days of the person's own data in the fit (0 = population prior only). */
  readonly observedDays: number;
  /** Personal base on the model scale (METRIC_SCALE). */
  readonly base: Float64Array;
  /** Shift at D = 1, model scale (positive for resting HR when it rises). */
  readonly amplitude: Float64Array;
  /** Shift per unit of training strain. */
  readonly strainEffect: Float64Array;
  /** AR(1) noise state on day 0 (today's residual, decayed over the days since the last value). */
  readonly residual0: Float64Array;
  /** Stationary SD and lag-1 autocorrelation of the day-to-day noise. */
  readonly sigma: number;
  readonly phi: number;
  /** Histogram range of the simulated values (model scale: ln for HRV, see METRIC_SCALE). */
  readonly lo: number;
  readonly hi: number;
}

/** Everything the Monte Carlo needs about the person: draws from the posterior, and today's state. */
export interface PersonalPosterior {
  readonly draws: number;
  /** Recovery rate k per day. */
  readonly rate: Float64Array;
  /** Deficit today. */
  readonly deficit0: Float64Array;
  /** Deficit at or below which the person counts as back at baseline (Infinity: the shift is already within band). */
  readonly returnThreshold: Float64Array;
  readonly metrics: readonly MetricPosterior[];
  /** Banister state today (AU). */
  readonly fitness0: number;
  readonly fatigue0: number;
  /** The person's reference training-day load (AU): their own median before the event, or the population prior. */
  readonly loadReference: number;
  /** Latest pain 0-10 (undefined: no pain reported, no pain effect). */
  readonly painNow?: number;
  /** Days since the index event (undefined: none). */
  readonly daysSinceEvent?: number;
  /** Posterior median of the recovery time constant 1/k (days) and whether personal data moved it. */
  readonly rateSummary: { readonly medianTimeConstant: number; readonly personalDays: number };
}

/** A scenario as daily inputs to the kernel (scenarioSchedule.ts builds it). */
export interface ScenarioSchedule {
  readonly key: string;
  readonly horizon: number;
  /** Planned training load per day (AU), illness load factor already applied. */
  readonly load: Float64Array;
  /** 1 on days of illness. */
  readonly illness: Uint8Array;
  /** Extra sleep per night (hours) over the horizon. */
  readonly sleepExtraHours: number;
  /** Share of planned sessions actually done (0..1). */
  readonly adherence: number;
}

/** Histogram bins per simulated series per day. */
export const HISTOGRAM_BINS = 256;
/** Recovery-index histogram range (personal SD units). */
export const INDEX_RANGE = Object.freeze({ lo: -8, hi: 4 });

/** Raw Monte Carlo output of one scenario. */
export interface KernelResult {
  readonly trajectories: number;
  readonly horizon: number;
  /** Count of trajectories by day of return (index 0..horizon), index horizon + 1 = not back within the horizon. */
  readonly returnCounts: Int32Array;
  /** Trajectories with at least one setback. */
  readonly setbacks: number;
  /** Per day, HISTOGRAM_BINS counts of the recovery index; then one histogram per metric (order of posterior). */
  readonly indexHistogram: Int32Array;
  readonly metricHistograms: readonly Int32Array[];
}
