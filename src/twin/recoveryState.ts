import type { MetricName } from '../fhir/metricCatalogue';
import type { Baseline } from './baseline';
import type { MetricRule } from './metricRules';

/** One metric's signed deviation from its personal baseline on one day, in robust SD units. */
export interface StateComponent {
  readonly metric: MetricName;
  readonly z: number;
}

/** The recovery state of one day. */
export interface RecoveryState {
  readonly day: number;
  /** Sorted by metric name. */
  readonly components: readonly StateComponent[];
  readonly index: number;
  /** Metrics with a value that day / metrics with a baseline that day, in percent. */
  readonly completeness: number;
}

/** z = (value - centre) / spread: positive means above the personal normal, whatever the metric's direction. */
export function deviation(value: number, baseline: Baseline): number {
  return (value - baseline.centre) / baseline.spread;
}

/**
 * Recovery index: the mean over the metrics with a direction (metricRules.ts) of goodDirection x z, each term clipped
 * to [-clip, clip] so one wild metric cannot carry the day. Positive = better than the personal normal, negative =
 * worse (resting HR up, HRV down, pain up all pull it down). Undefined when no component has a direction.
 */
export function recoveryIndex(
  components: readonly StateComponent[],
  rules: Readonly<Record<MetricName, MetricRule>>,
  clip: number
): number | undefined {
  let sum = 0;
  let count = 0;
  for (const c of components) {
    const direction = rules[c.metric].goodDirection;
    if (direction !== 0) {
      sum += Math.min(clip, Math.max(-clip, direction * c.z));
      count++;
    }
  }
  return count === 0 ? undefined : sum / count;
}

/** Percentage of the metrics with a baseline that had a value on the day. */
export function completenessPercent(withValue: number, withBaseline: number): number {
  return withBaseline === 0 ? 0 : (100 * withValue) / withBaseline;
}
