/**
 * The standard normal quantile function and a table of it for the Monte Carlo kernel.
 *
 * inverseNormalCdf: Acklam's rational approximation (relative error below 1.2e-9 over (0, 1)), enough for priors,
 * credible intervals and the table below.
 *
 * NORMAL_TABLE: 4,096 equally likely standard normal values (the quantiles at the midpoints (i + 0.5) / 4096). The
 * kernel draws daily noise by indexing it with 12 random bits, which is several times cheaper than Box-Muller and
 * keeps 10,000 trajectories x 5 scenarios x 90 days inside the 200 ms budget. The draws are a discretised normal:
 * mean 0, variance within 0.1% of 1, tails cut at +/-3.7 SD (a day-to-day noise beyond 3.7 SD is not modelled).
 */
const A = [
  -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
];
const B = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
const C = [
  -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
  2.938163982698783,
];
const D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 via erf, |error| < 1.5e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

/** The p-quantile of the standard normal, p in (0, 1). */
export function inverseNormalCdf(p: number): number {
  if (!(p > 0 && p < 1)) {
    throw new RangeError('p must be in (0, 1)');
  }
  const low = 0.02425;
  let x: number;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    x =
      (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) /
      ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  } else if (p <= 1 - low) {
    const q = p - 0.5;
    const r = q * q;
    x =
      ((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) /
      (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x =
      -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) /
      ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  }
  return x;
}

export const NORMAL_TABLE_BITS = 12;

function buildTable(): Float64Array {
  const size = 1 << NORMAL_TABLE_BITS;
  const table = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    table[i] = inverseNormalCdf((i + 0.5) / size);
  }
  // Rescale to unit variance exactly: the midpoint rule loses a little variance in the tails.
  let sumSq = 0;
  for (let i = 0; i < size; i++) {
    sumSq += table[i] * table[i];
  }
  const scale = 1 / Math.sqrt(sumSq / size);
  for (let i = 0; i < size; i++) {
    table[i] *= scale;
  }
  return table;
}

export const NORMAL_TABLE: Float64Array = buildTable();
