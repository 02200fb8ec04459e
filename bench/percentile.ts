/** The p-quantile (0..1) of ascending `sorted` by the nearest-rank rule the benchmarks report; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}
