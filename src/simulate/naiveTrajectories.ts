import type { Prng } from '../cohort/prng';
import {
  FATIGUE_DAYS,
  FITNESS_DAYS,
  LEVER_PRIORS,
  METRIC_DIRECTION,
  strainOf,
  type LeverPriors,
  type PersonalPosterior,
  type ScenarioSchedule,
} from './recoveryModel';

/** Output of the plain implementation: per-trajectory return day and setback, and exact daily quantiles. */
export interface NaiveResult {
  /** Day of return per trajectory (horizon + 1 = not within the horizon). */
  readonly returnDays: number[];
  readonly setbacks: number;
  /** Exact 10th/50th/90th percentiles of the recovery index per day (sorted samples). */
  readonly indexBands: { q10: number[]; q50: number[]; q90: number[] };
}

/**
 * The same model as trajectoryKernel.ts written the plain way: one object per trajectory, Box-Muller normals from
 * the project Prng, Math.exp, every value kept and sorted for the daily quantiles. It is the reference the bench
 * measures the kernel against (`npm run bench -- simulate`), and the test checks both agree in distribution.
 */
export function naiveTrajectories(
  posterior: PersonalPosterior,
  schedule: ScenarioSchedule,
  trajectories: number,
  prng: Prng,
  priors: LeverPriors = LEVER_PRIORS
): NaiveResult {
  const H = schedule.horizon;
  const loadRef = Math.max(1, posterior.loadReference);
  const returnDays: number[] = [];
  const indexByDay: number[][] = Array.from({ length: H }, () => []);
  let setbacks = 0;
  for (let j = 0; j < trajectories; j++) {
    const s = prng.int(0, posterior.draws - 1);
    const person = {
      k: posterior.rate[s],
      deficit: posterior.deficit0[s],
      threshold: posterior.returnThreshold[s],
      metrics: posterior.metrics.map((m) => ({
        metric: m.metric,
        base: m.base[s],
        amplitude: m.amplitude[s],
        strainEffect: m.strainEffect[s],
        residual: m.residual0[s],
        sigma: m.sigma,
        phi: m.phi,
      })),
      stimulus: Math.min(1, Math.max(0, prng.normal(priors.stimulus.mean, priors.stimulus.sd))),
      penalty: Math.max(0, prng.normal(priors.overloadPenalty.mean, priors.overloadPenalty.sd)),
      hazard: priors.overloadHazard.median * Math.exp(Math.log(priors.overloadHazard.gsd) * prng.normal(0, 1)),
      illHazard: priors.illnessLoadHazard.median * Math.exp(Math.log(priors.illnessLoadHazard.gsd) * prng.normal(0, 1)),
      illRate: priors.illnessRate.min + (priors.illnessRate.max - priors.illnessRate.min) * prng.next(),
      sleepFactor: Math.exp(prng.normal(priors.sleepPerHour.mean, priors.sleepPerHour.sd) * schedule.sleepExtraHours),
    };
    const pain =
      posterior.painNow !== undefined && person.deficit > 0
        ? (priors.painSlowing * posterior.painNow) / person.deficit
        : 0;
    let fitness = posterior.fitness0;
    let fatigue = posterior.fatigue0;
    let lastAbove = person.deficit > person.threshold ? 0 : -1;
    let hadSetback = false;
    for (let t = 0; t < H; t++) {
      const done = prng.next() < schedule.adherence;
      const w = done ? schedule.load[t] : 0;
      const ill = schedule.illness[t] === 1;
      let factor = 1 - 0.5 * person.stimulus;
      let risk = 0;
      if (w > 0) {
        const r = w / (loadRef * (1 - (1 - priors.capacityAtFullDeficit) * person.deficit));
        factor =
          r <= 1
            ? 1 + person.stimulus * (r - 0.5)
            : Math.max(0.05, 1 + 0.5 * person.stimulus - person.penalty * (r - 1));
        risk = r > 1 ? person.hazard * (r - 1) : 0;
        risk += ill ? person.illHazard * (w / loadRef) : 0;
      }
      if (ill) {
        factor = Math.min(factor, 1 - 0.5 * person.stimulus) * person.illRate;
      }
      const check = prng.next();
      const jump = prng.next();
      if (risk > 0 && check < risk) {
        person.deficit +=
          (priors.setbackJump.min + (priors.setbackJump.max - priors.setbackJump.min) * jump) * (1 - person.deficit);
        hadSetback = true;
      }
      const k =
        (person.k * factor * person.sleepFactor * Math.exp(prng.normal(0, priors.dailyRateNoise))) /
        (1 + pain * person.deficit);
      person.deficit *= Math.exp(-k);
      if (person.deficit > person.threshold) {
        lastAbove = t + 1;
      }
      fitness += (w - fitness) / FITNESS_DAYS;
      fatigue += (w - fatigue) / FATIGUE_DAYS;
      const strain = strainOf(fitness, fatigue);
      let index = 0;
      for (const m of person.metrics) {
        m.residual = m.phi * m.residual + prng.normal(0, m.sigma * Math.sqrt(1 - m.phi * m.phi));
        const shift = ill ? -METRIC_DIRECTION[m.metric] * priors.illnessShiftSd * m.sigma : 0;
        const deviation = m.amplitude * person.deficit + m.strainEffect * strain + shift + m.residual;
        index += (METRIC_DIRECTION[m.metric] * deviation) / m.sigma;
      }
      indexByDay[t].push(index / person.metrics.length);
    }
    if (hadSetback) {
      setbacks++;
    }
    returnDays.push(lastAbove === H ? H + 1 : lastAbove + 1);
  }
  const q = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const indexBands = { q10: [] as number[], q50: [] as number[], q90: [] as number[] };
  for (const values of indexByDay) {
    const sorted = [...values].sort((a, b) => a - b);
    indexBands.q10.push(q(sorted, 0.1));
    indexBands.q50.push(q(sorted, 0.5));
    indexBands.q90.push(q(sorted, 0.9));
  }
  return { returnDays, setbacks, indexBands };
}
