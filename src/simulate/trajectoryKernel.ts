import type { Prng } from '../cohort/prng';
import {
  FATIGUE_DAYS,
  FITNESS_DAYS,
  HISTOGRAM_BINS,
  INDEX_RANGE,
  LEVER_PRIORS,
  METRIC_DIRECTION,
  SIMULATED_METRICS,
  STRAIN_FLOOR_LOAD,
  type KernelResult,
  type LeverPriors,
  type PersonalPosterior,
  type ScenarioSchedule,
} from './recoveryModel';
import { NORMAL_TABLE, NORMAL_TABLE_BITS } from './standardNormal';

/** Four 32-bit words that seed the kernel's generator, drawn from the Prng passed in (the world's seed). */
export function kernelSeed(prng: Prng): Uint32Array {
  const words = new Uint32Array(4);
  for (let i = 0; i < 4; i++) {
    words[i] = Math.floor(prng.next() * 4294967296) >>> 0;
  }
  return words;
}

/**
 * Monte Carlo over parameters and daily noise for one scenario: `trajectories` simulated recoveries of `horizon` days.
 * Pure and deterministic: the same posterior, schedule and seed words give the same counts, bit for bit.
 *
 * Written for speed (10,000 trajectories x 5 scenarios x 90 days within 200 ms on one core): one pass,
 * no allocation per trajectory or day, an inlined sfc32 generator (the algorithm of src/cohort/prng.ts) and normal
 * draws from a 4,096-entry quantile table (standardNormal.ts); daily quantiles come from fixed-bin histograms
 * instead of sorting. naiveTrajectories.ts is the same model written plainly, the reference the bench compares with.
 */
export function runTrajectories(
  posterior: PersonalPosterior,
  schedule: ScenarioSchedule,
  trajectories: number,
  seed: Uint32Array,
  priors: LeverPriors = LEVER_PRIORS
): KernelResult {
  const H = schedule.horizon;
  const M = posterior.metrics.length;
  const BINS = HISTOGRAM_BINS;
  const tableMask = (1 << NORMAL_TABLE_BITS) - 1;
  const table = NORMAL_TABLE_32;

  const state = new Int32Array(4);
  state[0] = seed[0] | 0;
  state[1] = seed[1] | 0;
  state[2] = seed[2] | 0;
  state[3] = seed[3] | 1;
  // Every trajectory uses the same number of random words, in fixed slots (a header for the parameter draws, then
  // PER_DAY per day), filled in bulk before the trajectory runs: branches never shift the stream, so trajectory j of
  // two scenarios sees the same draws (common random numbers), and the hot loop reads a typed array, not a closure.
  const words = new Uint32Array(HEADER_WORDS + H * PER_DAY);
  const toUnit = 1 / 4294967296;

  const rateNoiseTable = new Float64Array(table.length);
  for (let i = 0; i < table.length; i++) {
    rateNoiseTable[i] = Math.exp(priors.dailyRateNoise * table[i]);
  }

  const load = schedule.load;
  const illness = schedule.illness;
  const adherence = schedule.adherence;
  const loadRef = Math.max(1, posterior.loadReference);
  const capSlope = 1 - priors.capacityAtFullDeficit;

  if (M !== 3) {
    throw new RangeError(
      `the kernel simulates exactly ${SIMULATED_METRICS.length} metrics (${SIMULATED_METRICS.join(', ')})`
    );
  }
  const [m0, m1, m2] = posterior.metrics;
  const returnCounts = new Int32Array(H + 2);
  // Every series in one array, day-major: day t, series q (0 = recovery index, 1-3 = the metrics) at
  // (t * 4 + q) * BINS, so a trajectory walks the array forward. 16-bit counts halve its size (better cache use);
  // they are flushed into 32-bit totals every 65,535 trajectories so they never overflow.
  const SERIES = 4;
  const counts = new Uint16Array(H * SERIES * BINS);
  const totals = new Int32Array(H * SERIES * BINS);
  const flush = (): void => {
    for (let i = 0; i < counts.length; i++) {
      totals[i] += counts[i];
    }
    counts.fill(0);
  };
  const innovation0 = m0.sigma * Math.sqrt(1 - m0.phi * m0.phi);
  const innovation1 = m1.sigma * Math.sqrt(1 - m1.phi * m1.phi);
  const innovation2 = m2.sigma * Math.sqrt(1 - m2.phi * m2.phi);
  const phi0 = m0.phi;
  const phi1 = m1.phi;
  const phi2 = m2.phi;
  // Recovery index: mean of the signed deviations in personal SD units (the twin's convention: negative = worse).
  const w0 = METRIC_DIRECTION[m0.metric] / m0.sigma / 3;
  const w1 = METRIC_DIRECTION[m1.metric] / m1.sigma / 3;
  const w2 = METRIC_DIRECTION[m2.metric] / m2.sigma / 3;
  // While ill, each metric moves illnessShiftSd personal SDs in its worse direction.
  const ill0 = -METRIC_DIRECTION[m0.metric] * priors.illnessShiftSd * m0.sigma;
  const ill1 = -METRIC_DIRECTION[m1.metric] * priors.illnessShiftSd * m1.sigma;
  const ill2 = -METRIC_DIRECTION[m2.metric] * priors.illnessShiftSd * m2.sigma;
  const scale0 = BINS / (m0.hi - m0.lo);
  const scale1 = BINS / (m1.hi - m1.lo);
  const scale2 = BINS / (m2.hi - m2.lo);
  const lo0 = m0.lo;
  const lo1 = m1.lo;
  const lo2 = m2.lo;
  const indexScale = BINS / (INDEX_RANGE.hi - INDEX_RANGE.lo);
  const indexLo = INDEX_RANGE.lo;
  const lastBin = BINS - 1;
  const fitnessGain = 1 / FITNESS_DAYS;
  const fatigueGain = 1 / FATIGUE_DAYS;
  const S = posterior.draws;
  let setbacks = 0;

  const lnHazardGsd = Math.log(priors.overloadHazard.gsd);
  const lnIllHazardGsd = Math.log(priors.illnessLoadHazard.gsd);
  const jumpMin = priors.setbackJump.min;
  const jumpSpan = priors.setbackJump.max - jumpMin;
  const illRateSpan = priors.illnessRate.max - priors.illnessRate.min;
  for (let j = 0; j < trajectories; j++) {
    if (j > 0 && j % 65535 === 0) {
      flush();
    }
    refill(words, state);
    const s = Math.floor(words[0] * toUnit * S);
    const k = posterior.rate[s];
    let D = posterior.deficit0[s];
    const threshold = posterior.returnThreshold[s];
    const base0 = m0.base[s];
    const base1 = m1.base[s];
    const base2 = m2.base[s];
    const amp0 = m0.amplitude[s];
    const amp1 = m1.amplitude[s];
    const amp2 = m2.amplitude[s];
    const g0 = m0.strainEffect[s];
    const g1 = m1.strainEffect[s];
    const g2 = m2.strainEffect[s];
    let e0 = m0.residual0[s];
    let e1 = m1.residual0[s];
    let e2 = m2.residual0[s];
    // Lever effects of this trajectory, drawn from their priors.
    const stimulus = clamp(priors.stimulus.mean + priors.stimulus.sd * table[words[1] & tableMask], 0, 1);
    const penalty = Math.max(0, priors.overloadPenalty.mean + priors.overloadPenalty.sd * table[words[2] & tableMask]);
    const hazard = priors.overloadHazard.median * Math.exp(lnHazardGsd * table[words[3] & tableMask]);
    const illHazard = priors.illnessLoadHazard.median * Math.exp(lnIllHazardGsd * table[words[4] & tableMask]);
    const illRate = priors.illnessRate.min + illRateSpan * words[5] * toUnit;
    const sleepFactor =
      schedule.sleepExtraHours === 0
        ? 1
        : Math.exp(
            (priors.sleepPerHour.mean + priors.sleepPerHour.sd * table[words[6] & tableMask]) * schedule.sleepExtraHours
          );
    const painPerDeficit =
      posterior.painNow !== undefined && posterior.deficit0[s] > 0
        ? (priors.painSlowing * posterior.painNow) / posterior.deficit0[s]
        : 0;
    const restFactor = 1 - 0.5 * stimulus;

    let fitness = posterior.fitness0;
    let fatigue = posterior.fatigue0;
    let lastAbove = D > threshold ? 0 : -1;
    let setback = 0;
    let p = HEADER_WORDS;
    for (let t = 0; t < H; t++, p += PER_DAY) {
      let w = load[t];
      if (w > 0 && (words[p] & 0xffff) * TO_UNIT_16 >= adherence) {
        w = 0;
      }
      const ill = illness[t];
      let factor: number;
      let risk = 0;
      if (w > 0) {
        const r = w / (loadRef * (1 - capSlope * D));
        if (r <= 1) {
          factor = 1 + stimulus * (r - 0.5);
        } else {
          factor = 1 + 0.5 * stimulus - penalty * (r - 1);
          if (factor < 0.05) {
            factor = 0.05;
          }
          risk = hazard * (r - 1);
        }
        if (ill === 1) {
          risk += illHazard * (w / loadRef);
        }
      } else {
        factor = restFactor;
      }
      if (ill === 1) {
        // No training gain while ill (the body is not adapting); only the slowing and the setback risk remain.
        factor = (factor < restFactor ? factor : restFactor) * illRate;
      }
      if (risk > 0 && (words[p] >>> 16) * TO_UNIT_16 < risk) {
        D += (jumpMin + jumpSpan * (words[p + 1] >>> 12) * TO_UNIT_20) * (1 - D);
        setback = 1;
      }
      let keff = k * factor * sleepFactor * rateNoiseTable[words[p + 1] & tableMask];
      if (painPerDeficit > 0) {
        keff /= 1 + painPerDeficit * D;
      }
      D *= expNeg(keff);
      if (D > threshold) {
        lastAbove = t + 1;
      }
      fitness += (w - fitness) * fitnessGain;
      fatigue += (w - fatigue) * fatigueGain;
      const strain = (fatigue - fitness) / (fitness > STRAIN_FLOOR_LOAD ? fitness : STRAIN_FLOOR_LOAD);
      const noise = words[p + 2];
      e0 = phi0 * e0 + innovation0 * table[noise & tableMask];
      e1 = phi1 * e1 + innovation1 * table[(noise >>> 12) & tableMask];
      e2 = phi2 * e2 + innovation2 * table[words[p + 3] & tableMask];
      const d0 = amp0 * D + g0 * strain + e0 + (ill === 1 ? ill0 : 0);
      const d1 = amp1 * D + g1 * strain + e1 + (ill === 1 ? ill1 : 0);
      const d2 = amp2 * D + g2 * strain + e2 + (ill === 1 ? ill2 : 0);
      const row = t * SERIES * BINS;
      const vi = (d0 * w0 + d1 * w1 + d2 * w2 - indexLo) * indexScale;
      counts[row + (vi < 0 ? 0 : vi > lastBin ? lastBin : vi | 0)]++;
      const v0 = (base0 + d0 - lo0) * scale0;
      counts[row + BINS + (v0 < 0 ? 0 : v0 > lastBin ? lastBin : v0 | 0)]++;
      const v1 = (base1 + d1 - lo1) * scale1;
      counts[row + 2 * BINS + (v1 < 0 ? 0 : v1 > lastBin ? lastBin : v1 | 0)]++;
      const v2 = (base2 + d2 - lo2) * scale2;
      counts[row + 3 * BINS + (v2 < 0 ? 0 : v2 > lastBin ? lastBin : v2 | 0)]++;
    }
    setbacks += setback;
    // Back at baseline from the day after the last day above the threshold; horizon + 1 = not within the horizon.
    returnCounts[lastAbove === H ? H + 1 : lastAbove + 1]++;
  }
  flush();
  // Split per series (day-major rows of BINS), the layout simulationSummary.ts reads.
  const split = (q: number): Int32Array => {
    const out = new Int32Array(H * BINS);
    for (let t = 0; t < H; t++) {
      out.set(totals.subarray((t * SERIES + q) * BINS, (t * SERIES + q + 1) * BINS), t * BINS);
    }
    return out;
  };
  return {
    trajectories,
    horizon: H,
    returnCounts,
    setbacks,
    indexHistogram: split(0),
    metricHistograms: [split(1), split(2), split(3)],
  };
}

/** Random words drawn once per trajectory (posterior draw and lever effects). */
const HEADER_WORDS = 8;
/**
 * Random words per day: [0] adherence (low 16 bits) and setback check (high 16); [1] rate noise (low 12) and setback
 * size (high 20); [2] noise of metrics 0 and 1 (12 bits each); [3] noise of metric 2.
 */
const PER_DAY = 4;
/** The normal table in single precision: half the cache footprint; the draws are discretised anyway. */
const NORMAL_TABLE_32 = new Float32Array(NORMAL_TABLE);
const TO_UNIT_16 = 1 / 65536;
const TO_UNIT_20 = 1 / 1048576;

/** sfc32 (the generator of src/cohort/prng.ts) filling `buffer` with 32-bit words; state in and out of `state`. */
function refill(buffer: Uint32Array, state: Int32Array): void {
  let a = state[0];
  let b = state[1];
  let c = state[2];
  let d = state[3];
  for (let i = 0; i < buffer.length; i++) {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    buffer[i] = t >>> 0;
  }
  state[0] = a;
  state[1] = b;
  state[2] = c;
  state[3] = d;
}

/**
 * exp(-x): Math.exp for large x, else the (3,3) Pade approximant, within 5e-8 of it for x up to 0.5 (recovery rates are
 * well below 0.5 a day) and about three times cheaper.
 */
function expNeg(x: number): number {
  if (x > 0.5) {
    return Math.exp(-x);
  }
  const x2 = x * x;
  const num = 120 - 60 * x + 12 * x2 - x2 * x;
  const den = 120 + 60 * x + 12 * x2 + x2 * x;
  return num / den;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
