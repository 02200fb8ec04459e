import type { Prng } from '../cohort/prng';
import { POPULATION_PRIORS } from '../twin/populationPriors';
import {
  FATIGUE_DAYS,
  FITNESS_DAYS,
  METRIC_DIRECTION,
  METRIC_SCALE,
  RETURN_BAND_SD,
  SIMULATED_METRICS,
  strainOf,
  toModelScale,
  type MetricPosterior,
  type PersonalPosterior,
  type SimulatedMetric,
} from './recoveryModel';

/** One person's history as the fit reads it: day numbers (calendarDay.ts), values in catalogue units. */
export interface SimulationHistory {
  /** Today: the last day of the history and day 0 of every scenario. */
  readonly asOfDay: number;
  readonly series: Partial<
    Record<SimulatedMetric, { readonly days: readonly number[]; readonly values: readonly number[] }>
  >;
  /** Recorded daily training load (AU); a day without a record counts as no training. */
  readonly load: { readonly days: readonly number[]; readonly values: readonly number[] };
  /** Day of the index event (injury, operation, illness onset), if any. */
  readonly eventDay?: number;
  /** Latest pain score 0-10, if any. */
  readonly painNow?: number;
}

export interface FitOptions {
  /**
   * Centre of the prior on the recovery time: the deficit is expected to fall to 10% in this many days (typically
   * the planned duration of the patient's protocol). Geometric SD 2: a wide prior that the person's data override.
   */
  readonly expectedRecoveryDays: number;
  /** Posterior draws kept for the Monte Carlo. */
  readonly draws: number;
  readonly prng: Prng;
}

/**
 * Prior of each simulated metric, in personal-SD units where noted. Base and noise come from the twin's population
 * priors (src/twin/populationPriors.ts: PMData and Welltory). The shift at full deficit (amplitude) and the effect of
 * training strain are modelling assumptions: amplitude 1.5 +/- 1.5 personal SDs in the worse direction (a shift that
 * the twin's detectors would notice, with room for none), strain effect 0 +/- 1 SD per unit of strain (no direction
 * assumed: the data decide).
 */
const AMPLITUDE_PRIOR_SD_UNITS = { mean: 1.5, sd: 1.5 } as const;
const STRAIN_PRIOR_SD_UNITS = 1;
/** Prior pseudo-observations of the noise variance and of the lag-1 autocorrelation (its prior centre PHI_PRIOR). */
const NOISE_PRIOR_DAYS = 4;
const PHI_PRIOR = 0.3;
const PHI_PRIOR_DAYS = 10;
const PHI_MAX = 0.9;
/** Grid over log k: +/- 3 geometric SDs of the prior in 33 steps. */
const RATE_GRID = 33;
const RATE_PRIOR_LOG_SD = Math.log(2);
/** Fewer training days than this: the reference session load is the population prior. */
const MIN_LOAD_DAYS = 5;

/**
 * Fits the personal model and returns draws from its posterior (partial pooling: the population prior is the prior
 * of every personal parameter, so a person without data gets the population spread, and every day of their own data
 * narrows it).
 *
 * Per metric, y_t = base + amplitude * E_t(k) + strainEffect * strain_t + e_t, with E_t = exp(-k (t - event)) after
 * the event (0 before) and strain_t from the recorded training load. Given k, this is a Bayesian linear regression
 * with a normal prior (conjugate), solved exactly; k itself is on a grid with a log-normal prior, weighted by the
 * marginal likelihood of every metric. The day-to-day noise is AR(1): its variance and lag-1 correlation are
 * estimated from the residuals, shrunk to their priors, and the regression's noise variance is inflated by
 * (1 + phi) / (1 - phi) (the variance of a mean of AR(1) noise), so correlated days do not count as independent.
 */
export function fitPersonalModel(history: SimulationHistory, options: FitOptions): PersonalPosterior {
  const { prng } = options;
  const firstDay = Math.min(
    history.asOfDay,
    ...SIMULATED_METRICS.map((m) => history.series[m]?.days[0] ?? history.asOfDay),
    history.load.days[0] ?? history.asOfDay
  );
  const banister = banisterSeries(history, firstDay);
  const loadReference = referenceLoad(history);
  const event = history.eventDay !== undefined && history.eventDay <= history.asOfDay ? history.eventDay : undefined;

  const kPrior = Math.log(Math.log(10) / Math.max(1, options.expectedRecoveryDays));
  const logK: number[] = [];
  for (let i = 0; i < RATE_GRID; i++) {
    logK.push(kPrior + RATE_PRIOR_LOG_SD * (-3 + (6 * i) / (RATE_GRID - 1)));
  }
  const step = logK[1] - logK[0];
  const logWeight = logK.map((x) => -0.5 * ((x - kPrior) / RATE_PRIOR_LOG_SD) ** 2);

  const priorWeight = [...logWeight];
  const gridWeights = (fits: RegressionFit[][]): number[] => {
    const w = [...priorWeight];
    if (event !== undefined) {
      for (let i = 0; i < RATE_GRID; i++) {
        for (const fit of fits) {
          w[i] += fit[i].logEvidence;
        }
      }
    }
    return w;
  };
  // Two passes: the noise (SD and autocorrelation) is first estimated at the prior's rate, then again at the most
  // probable rate of the first pass, so a recovery faster or slower than the prior does not pass for noise.
  let setups = SIMULATED_METRICS.map((metric) =>
    metricSetup(metric, history, banister.strain, firstDay, event, Math.exp(kPrior))
  );
  let fits = setups.map((setup) => logK.map((lk) => regress(setup, Math.exp(lk), event)));
  if (event !== undefined) {
    const first = gridWeights(fits);
    const map = Math.exp(logK[first.indexOf(Math.max(...first))]);
    setups = SIMULATED_METRICS.map((metric) => metricSetup(metric, history, banister.strain, firstDay, event, map));
    fits = setups.map((setup) => logK.map((lk) => regress(setup, Math.exp(lk), event)));
  }
  logWeight.splice(0, logWeight.length, ...gridWeights(fits));
  const maxW = Math.max(...logWeight);
  const weights = logWeight.map((w) => Math.exp(w - maxW));
  const total = weights.reduce((x, y) => x + y, 0);
  const cumulative: number[] = [];
  let acc = 0;
  for (const w of weights) {
    acc += w / total;
    cumulative.push(acc);
  }

  const S = options.draws;
  const rate = new Float64Array(S);
  const deficit0 = new Float64Array(S);
  const returnThreshold = new Float64Array(S);
  const metrics = setups.map((setup) => ({
    setup,
    base: new Float64Array(S),
    amplitude: new Float64Array(S),
    strainEffect: new Float64Array(S),
    residual0: new Float64Array(S),
  }));
  const sinceEvent = event !== undefined ? history.asOfDay - event : undefined;
  const timeConstants: number[] = [];
  for (let s = 0; s < S; s++) {
    const u = prng.next();
    let cell = cumulative.findIndex((c) => u <= c);
    if (cell < 0) {
      cell = RATE_GRID - 1;
    }
    const k = Math.exp(logK[cell] + step * (prng.next() - 0.5));
    rate[s] = k;
    timeConstants.push(1 / k);
    deficit0[s] = sinceEvent !== undefined ? Math.exp(-k * sinceEvent) : 0;
    let shiftPerDeficit = 0;
    metrics.forEach((target, m) => {
      const fit = fits[m][cell];
      const beta = drawNormal3(fit.mean, fit.cholesky, prng);
      target.base[s] = beta[0];
      target.amplitude[s] = beta[1];
      target.strainEffect[s] = beta[2];
      const setup = target.setup;
      if (setup.lastIndex >= 0) {
        const x = setup.rows[setup.lastIndex];
        const expected =
          beta[0] + beta[1] * (event !== undefined ? eventTerm(x.day, k, event) : 0) + beta[2] * x.strain;
        target.residual0[s] = (x.y - expected) * setup.phi ** (history.asOfDay - x.day);
      } else {
        target.residual0[s] = prng.normal(0, setup.sigma);
      }
      shiftPerDeficit += (METRIC_DIRECTION[setup.metric] * beta[1]) / setup.sigma;
    });
    shiftPerDeficit /= metrics.length;
    // Worse-direction shift of the index at D = 1; back at baseline once D * |shift| <= RETURN_BAND_SD.
    returnThreshold[s] = shiftPerDeficit < -RETURN_BAND_SD ? RETURN_BAND_SD / -shiftPerDeficit : Infinity;
  }
  timeConstants.sort((x, y) => x - y);

  const metricPosteriors: MetricPosterior[] = metrics.map((target) => {
    const { setup } = target;
    let lo = Infinity;
    let hi = -Infinity;
    for (let s = 0; s < S; s++) {
      const low = target.base[s] + Math.min(0, target.amplitude[s]) - 2 * Math.abs(target.strainEffect[s]);
      const high = target.base[s] + Math.max(0, target.amplitude[s]) + 2 * Math.abs(target.strainEffect[s]);
      lo = Math.min(lo, low);
      hi = Math.max(hi, high);
    }
    const margin = 6 * setup.sigma;
    return {
      metric: setup.metric,
      observedDays: setup.rows.length,
      base: target.base,
      amplitude: target.amplitude,
      strainEffect: target.strainEffect,
      residual0: target.residual0,
      sigma: setup.sigma,
      phi: setup.phi,
      lo: lo - margin,
      hi: hi + margin,
    };
  });

  return {
    draws: S,
    rate,
    deficit0,
    returnThreshold,
    metrics: metricPosteriors,
    fitness0: banister.fitness,
    fatigue0: banister.fatigue,
    loadReference,
    painNow: history.painNow,
    daysSinceEvent: sinceEvent,
    rateSummary: {
      medianTimeConstant: timeConstants[Math.floor(S / 2)] ?? 1 / Math.exp(kPrior),
      personalDays:
        event !== undefined ? Math.max(0, ...setups.map((x) => x.rows.filter((r) => r.day >= event).length)) : 0,
    },
  };
}

/** Banister fitness/fatigue from the first day of the history to today; strain per day. */
function banisterSeries(
  history: SimulationHistory,
  firstDay: number
): { strain: Map<number, number>; fitness: number; fatigue: number } {
  const byDay = new Map<number, number>();
  history.load.days.forEach((day, i) => byDay.set(day, (byDay.get(day) ?? 0) + history.load.values[i]));
  // Start from the person's mean daily load over the history (strain 0 on day one), not from zero: a history that
  // starts mid-season would otherwise begin with a spurious detraining signal.
  let sum = 0;
  for (let day = firstDay; day <= history.asOfDay; day++) {
    sum += byDay.get(day) ?? 0;
  }
  const start = sum / (history.asOfDay - firstDay + 1);
  let fitness = start;
  let fatigue = start;
  const strain = new Map<number, number>();
  for (let day = firstDay; day <= history.asOfDay; day++) {
    const w = byDay.get(day) ?? 0;
    fitness += (w - fitness) / FITNESS_DAYS;
    fatigue += (w - fatigue) / FATIGUE_DAYS;
    strain.set(day, strainOf(fitness, fatigue));
  }
  return { strain, fitness, fatigue };
}

/** The person's typical training-day load before the event (median of training days), else the population prior. */
function referenceLoad(history: SimulationHistory): number {
  const before = history.load.values.filter(
    (v, i) => v > 0 && (history.eventDay === undefined || history.load.days[i] < history.eventDay)
  );
  if (before.length < MIN_LOAD_DAYS) {
    return POPULATION_PRIORS['training-load'].centre ?? 280;
  }
  const sorted = [...before].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)];
}

interface Row {
  readonly day: number;
  readonly y: number;
  readonly strain: number;
}

interface MetricSetup {
  readonly metric: SimulatedMetric;
  readonly rows: readonly Row[];
  readonly lastIndex: number;
  readonly priorMean: readonly [number, number, number];
  readonly priorVar: readonly [number, number, number];
  readonly sigma: number;
  readonly phi: number;
}

function metricSetup(
  metric: SimulatedMetric,
  history: SimulationHistory,
  strain: ReadonlyMap<number, number>,
  firstDay: number,
  event: number | undefined,
  rate: number
): MetricSetup {
  const prior = modelScalePrior(metric);
  const within = prior.within;
  const worse = -METRIC_DIRECTION[metric];
  const priorMean: [number, number, number] = [prior.centre, worse * AMPLITUDE_PRIOR_SD_UNITS.mean * within, 0];
  const priorVar: [number, number, number] = [
    prior.between ** 2,
    (AMPLITUDE_PRIOR_SD_UNITS.sd * within) ** 2,
    (STRAIN_PRIOR_SD_UNITS * within) ** 2,
  ];
  const series = history.series[metric];
  const rows: Row[] = [];
  if (series) {
    series.days.forEach((day, i) => {
      const value = series.values[i];
      if (
        day >= firstDay &&
        day <= history.asOfDay &&
        Number.isFinite(value) &&
        (METRIC_SCALE[metric] === 'linear' || value > 0)
      ) {
        rows.push({ day, y: toModelScale(metric, value), strain: strain.get(day) ?? 0 });
      }
    });
  }
  const setup0: MetricSetup = {
    metric,
    rows,
    lastIndex: rows.length - 1,
    priorMean,
    priorVar,
    sigma: within,
    phi: PHI_PRIOR,
  };
  if (rows.length < 3) {
    return setup0;
  }
  // Noise: residuals of a fit at the given rate, shrunk to the population's day-to-day spread.
  const first = regress(setup0, rate, event);
  const residuals = rows.map(
    (r) =>
      r.y -
      (first.mean[0] +
        first.mean[1] * (event !== undefined ? eventTerm(r.day, rate, event) : 0) +
        first.mean[2] * r.strain)
  );
  const ss = residuals.reduce((x, e) => x + e * e, 0);
  const variance = (NOISE_PRIOR_DAYS * within ** 2 + ss) / (NOISE_PRIOR_DAYS + rows.length);
  let num = 0;
  let den = 0;
  let pairs = 0;
  for (let i = 1; i < rows.length; i++) {
    if (rows[i].day - rows[i - 1].day === 1) {
      num += residuals[i] * residuals[i - 1];
      den += residuals[i - 1] ** 2;
      pairs++;
    }
  }
  const phiHat = den > 0 ? num / den : PHI_PRIOR;
  const phi = Math.min(PHI_MAX, Math.max(0, (pairs * phiHat + PHI_PRIOR_DAYS * PHI_PRIOR) / (pairs + PHI_PRIOR_DAYS)));
  return { ...setup0, sigma: Math.sqrt(variance), phi };
}

/**
 * The population prior on the metric's model scale. For ln(HRV) the centre is ln of the population centre and the
 * SDs are the population SDs divided by the centre (first-order delta method: sd(ln x) ~ sd(x) / x): an
 * approximation of the same PMData/Welltory figures, not a separate estimate.
 */
function modelScalePrior(metric: SimulatedMetric): { centre: number; between: number; within: number } {
  const prior = POPULATION_PRIORS[metric];
  const centre = prior.centre ?? 0;
  if (METRIC_SCALE[metric] === 'log') {
    return { centre: Math.log(centre), between: prior.between / centre, within: prior.within / centre };
  }
  return { centre, between: prior.between, within: prior.within };
}

function eventTerm(day: number, k: number, event: number): number {
  return day >= event ? Math.exp(-k * (day - event)) : 0;
}

interface RegressionFit {
  readonly mean: readonly [number, number, number];
  /** Lower Cholesky factor of the posterior covariance, row-major 3x3. */
  readonly cholesky: readonly number[];
  /** Log marginal likelihood up to terms that do not depend on k. */
  readonly logEvidence: number;
}

/**
 * Conjugate Bayesian linear regression on [1, E(k), strain] with a diagonal normal prior and known noise variance
 * (inflated for AR(1) correlation). Without an event the amplitude keeps its prior (its regressor is 0).
 */
function regress(setup: MetricSetup, k: number, event: number | undefined): RegressionFit {
  const noiseVar = (setup.sigma ** 2 * (1 + setup.phi)) / (1 - setup.phi);
  const precision = [1 / setup.priorVar[0], 0, 0, 0, 1 / setup.priorVar[1], 0, 0, 0, 1 / setup.priorVar[2]];
  const rhs = [
    setup.priorMean[0] / setup.priorVar[0],
    setup.priorMean[1] / setup.priorVar[1],
    setup.priorMean[2] / setup.priorVar[2],
  ];
  for (const row of setup.rows) {
    const x = [1, event !== undefined ? eventTerm(row.day, k, event) : 0, row.strain];
    for (let i = 0; i < 3; i++) {
      rhs[i] += (x[i] * row.y) / noiseVar;
      for (let j = 0; j < 3; j++) {
        precision[i * 3 + j] += (x[i] * x[j]) / noiseVar;
      }
    }
  }
  const cov = invert3(precision);
  const mean: [number, number, number] = [0, 1, 2].map(
    (i) => cov[i * 3] * rhs[0] + cov[i * 3 + 1] * rhs[1] + cov[i * 3 + 2] * rhs[2]
  ) as [number, number, number];
  // log p(y | k) = 1/2 log|cov| + 1/2 mean' precision mean + (terms constant in k).
  let quad = 0;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      quad += mean[i] * precision[i * 3 + j] * mean[j];
    }
  }
  return { mean, cholesky: cholesky3(cov), logEvidence: 0.5 * Math.log(det3(cov)) + 0.5 * quad };
}

function det3(m: readonly number[]): number {
  return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
}

function invert3(m: readonly number[]): number[] {
  const det = det3(m);
  const inv = [
    m[4] * m[8] - m[5] * m[7],
    m[2] * m[7] - m[1] * m[8],
    m[1] * m[5] - m[2] * m[4],
    m[5] * m[6] - m[3] * m[8],
    m[0] * m[8] - m[2] * m[6],
    m[2] * m[3] - m[0] * m[5],
    m[3] * m[7] - m[4] * m[6],
    m[1] * m[6] - m[0] * m[7],
    m[0] * m[4] - m[1] * m[3],
  ];
  return inv.map((v) => v / det);
}

function cholesky3(m: readonly number[]): number[] {
  const l = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = m[i * 3 + j];
      for (let q = 0; q < j; q++) {
        sum -= l[i * 3 + q] * l[j * 3 + q];
      }
      l[i * 3 + j] = i === j ? Math.sqrt(Math.max(sum, 1e-12)) : sum / l[j * 3 + j];
    }
  }
  return l;
}

function drawNormal3(mean: readonly number[], chol: readonly number[], prng: Prng): number[] {
  const z = [prng.normal(0, 1), prng.normal(0, 1), prng.normal(0, 1)];
  return [0, 1, 2].map((i) => mean[i] + chol[i * 3] * z[0] + chol[i * 3 + 1] * z[1] + chol[i * 3 + 2] * z[2]);
}
