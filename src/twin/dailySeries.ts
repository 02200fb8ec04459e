import type { MetricName } from '../fhir/metricCatalogue';
import type { MetricRule } from './metricRules';
import type { Measurement } from './normaliseObservation';

/** One metric's daily values, ascending by day (day numbers, calendarDay.ts), in the catalogue unit. */
export interface DailySeries {
  readonly metric: MetricName;
  readonly days: readonly number[];
  readonly values: readonly number[];
}

/**
 * Daily series per metric from de-duplicated measurements, sorted by metric name.
 *
 * 'mean' metrics: the mean of the day's values. 'sum' metrics: the sum per source, then the mean over sources (two
 * wearables that each count the whole day's steps must not double it; sessions from one source add up).
 * Values are combined in ascending order so floating-point sums, and hence every later figure, are the same
 * whatever order the measurements arrived in.
 */
export function dailySeries(
  measurements: readonly Measurement[],
  rules: Readonly<Record<MetricName, MetricRule>>
): DailySeries[] {
  const byMetric = new Map<MetricName, Measurement[]>();
  for (const m of measurements) {
    let list = byMetric.get(m.metric);
    if (!list) {
      list = [];
      byMetric.set(m.metric, list);
    }
    list.push(m);
  }
  const series: DailySeries[] = [];
  for (const metric of [...byMetric.keys()].sort()) {
    const list = byMetric.get(metric) ?? [];
    list.sort((a, b) => a.day - b.day || a.value - b.value);
    const aggregate = rules[metric].aggregation === 'sum' ? sumPerSourceThenMean : mean;
    const days: number[] = [];
    const values: number[] = [];
    let start = 0;
    while (start < list.length) {
      let end = start + 1;
      while (end < list.length && list[end].day === list[start].day) {
        end++;
      }
      days.push(list[start].day);
      values.push(aggregate(list, start, end));
      start = end;
    }
    series.push({ metric, days, values });
  }
  return series;
}

/** Mean of list[start..end) (values already ascending). */
function mean(list: readonly Measurement[], start: number, end: number): number {
  if (end - start === 1) {
    return list[start].value;
  }
  let sum = 0;
  for (let i = start; i < end; i++) {
    sum += list[i].value;
  }
  return sum / (end - start);
}

function sumPerSourceThenMean(list: readonly Measurement[], start: number, end: number): number {
  if (end - start === 1) {
    return list[start].value;
  }
  const perSource = new Map<string, number>();
  for (let i = start; i < end; i++) {
    perSource.set(list[i].source, (perSource.get(list[i].source) ?? 0) + list[i].value);
  }
  const sums = [...perSource.values()].sort((a, b) => a - b);
  let total = 0;
  for (const s of sums) {
    total += s;
  }
  return total / sums.length;
}
