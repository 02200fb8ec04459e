import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Observation } from '@medplum/fhirtypes';
import type { MetricName } from '../fhir/metricCatalogue';
import { blendBaseline, SortedWindow, type Baseline } from './baseline';
import { isoDay, parseDay } from '../calendar/calendarDay';
import { dailySeries, type DailySeries } from './dailySeries';
import { ExclusionCalendar, type ExcludedPeriod } from './excludedDays';
import { dedupeMeasurements, newerObservation } from './measurementKey';
import { METRIC_RULES, type MetricRule } from './metricRules';
import { normaliseObservation, observationIdentity, subjectPatientId, type Measurement } from './normaliseObservation';
import { POPULATION_PRIORS, type PopulationPrior } from './populationPriors';
import { completenessPercent, deviation, recoveryIndex, type StateComponent } from './recoveryState';
import { buildBaselineObservation, buildStateObservation } from './twinResources';
import { internalFault } from '../fhir/outcomes';

export type { ExcludedPeriod } from './excludedDays';

export interface TwinInputs {
  /** Logical id; output references Patient/{patientId}. */
  patientId: string;
  /** Raw FHIR, any order, may hold duplicates, amended versions, entered-in-error, garbage. */
  observations: readonly Observation[];
  excludedPeriods?: readonly ExcludedPeriod[];
  /** Emit daily states only for days in [from, to] (inclusive); default: every day with data. Baselines are emitted as of `asOf`. */
  emitStates?: { from: string; to: string };
  /** Day the baselines are computed for; default: the last day with data. */
  asOf?: string;
}

/** Why one Observation was refused. The reason text holds no values (health data). */
export interface TwinRejection {
  reason: string;
  observationId?: string;
}

export interface TwinResult {
  /** twin-baseline shaped, one per metric with data (and a baseline to show), sorted by metric name. */
  baselines: Observation[];
  /** twin-recovery-state shaped, one per day with data in the emitted range, sorted by day. */
  states: Observation[];
  /** Sorted by observationId, then reason. */
  rejected: TwinRejection[];
  /** Every input Observation lands in exactly one of these four. */
  counts: { accepted: number; duplicates: number; retracted: number; rejected: number };
}

export interface TwinOptions {
  /** W: the baseline of day d covers [d - W, d - 1]. */
  windowDays: number;
  /** N_min: personal days in the window from which the population prior has no weight. */
  minPersonalDays: number;
  /** k: strength of the prior, in days of personal data. */
  priorStrength: number;
  /** Each metric's term of the recovery index is clipped to [-indexClip, indexClip] robust SDs. */
  indexClip: number;
  priors: Readonly<Record<MetricName, PopulationPrior>>;
  rules: Readonly<Record<MetricName, MetricRule>>;
}

export const DEFAULT_TWIN_OPTIONS: Readonly<TwinOptions> = Object.freeze({
  windowDays: 28,
  minPersonalDays: 14,
  priorStrength: 7,
  indexClip: 4,
  priors: POPULATION_PRIORS,
  rules: METRIC_RULES,
});

/**
 * The twin of one patient from their raw Observations: a pure function of the SET of measurements, so any arrival
 * order, and any number of replays, give byte-identical output.
 *
 * Stages: pick the latest version per Observation identity (an entered-in-error copy retracts the identity
 * altogether) -> normalise (normaliseObservation.ts) -> de-duplicate by (patient, metric, time, source) ->
 * daily series per metric -> baselines (trailing window, excluded periods left out, prior blend) -> daily states.
 *
 * Cost: O(M log M) to sort the M measurements given, then, per emitted day, O(W) per metric: each metric keeps a
 * sorted sliding window that values enter and leave once; a jump of more than W days rebuilds it from at most W
 * values. Nothing re-scans the history per day. With affectedDays.ts, a caller that receives one new value reads
 * the measurements of [t - W, t + W] and emits states for [t, t + W] only: bounded work per new value.
 */
export function computeTwin(inputs: TwinInputs, options?: Partial<TwinOptions>): TwinResult {
  const opts = resolveOptions(options);
  const exclusions = new ExclusionCalendar(inputs.excludedPeriods ?? []);
  const { measurements, rejected, counts } = acceptMeasurements(inputs.patientId, inputs.observations);
  const deduplicated = dedupeMeasurements(inputs.patientId, measurements);
  counts.duplicates += deduplicated.duplicates;
  counts.accepted = deduplicated.kept.length;

  const series = dailySeries(deduplicated.kept, opts.rules);
  if (series.length === 0) {
    return { baselines: [], states: [], rejected, counts };
  }
  const lastDay = Math.max(...series.map((s) => s.days[s.days.length - 1]));
  const asOf = inputs.asOf === undefined ? lastDay : optionDay(inputs.asOf, 'asOf');

  const baselines: Observation[] = [];
  for (const s of series) {
    const window = new TrailingWindow(s, exclusions, opts.windowDays);
    window.advanceTo(asOf);
    const baseline = blendBaseline(window.sorted, opts.priors[s.metric], opts.rules[s.metric].spreadFloor, opts);
    if (baseline) {
      baselines.push(
        buildBaselineObservation({
          patientId: inputs.patientId,
          metric: s.metric,
          baseline,
          windowStart: isoDay(asOf - opts.windowDays),
          asOf: isoDay(asOf),
          windowDays: opts.windowDays,
        })
      );
    }
  }

  const states = dailyStates(inputs, series, exclusions, opts);
  return { baselines, states, rejected, counts };
}

function resolveOptions(options: Partial<TwinOptions> | undefined): TwinOptions {
  const opts: TwinOptions = { ...DEFAULT_TWIN_OPTIONS, ...options };
  const positiveInt = (n: number): boolean => Number.isInteger(n) && n > 0;
  if (!positiveInt(opts.windowDays)) {
    throw new OperationOutcomeError(badRequest('windowDays must be a positive integer', 'windowDays'));
  }
  if (!positiveInt(opts.minPersonalDays)) {
    throw new OperationOutcomeError(badRequest('minPersonalDays must be a positive integer', 'minPersonalDays'));
  }
  if (!(opts.priorStrength > 0) || !(opts.indexClip > 0)) {
    throw new OperationOutcomeError(badRequest('priorStrength and indexClip must be positive', 'options'));
  }
  return opts;
}

function optionDay(text: string, expression: string): number {
  const day = parseDay(text);
  if (day === undefined) {
    throw new OperationOutcomeError(badRequest(`${expression} must be a date YYYY-MM-DD`, expression));
  }
  return day;
}

interface Accepted {
  measurements: Measurement[];
  rejected: TwinRejection[];
  counts: TwinResult['counts'];
}

/**
 * Versions and retractions, then normalisation. Copies of one Observation identity (id, else first identifier) are
 * resolved first: if any copy is entered-in-error the identity is retracted (every copy leaves the twin); otherwise
 * the newest copy is normalised and the older ones count as duplicates. So an amended value replaces the original,
 * and a later impossible amendment is refused without resurrecting the superseded value.
 */
function acceptMeasurements(patientId: string, observations: readonly Observation[]): Accepted {
  const byIdentity = new Map<string, Observation | Observation[]>();
  const anonymous: Observation[] = [];
  for (const obs of observations) {
    const identity = obs && typeof obs === 'object' ? observationIdentity(obs) : undefined;
    if (identity === undefined) {
      anonymous.push(obs);
      continue;
    }
    const existing = byIdentity.get(identity);
    if (existing === undefined) {
      byIdentity.set(identity, obs);
    } else if (Array.isArray(existing)) {
      existing.push(obs);
    } else {
      byIdentity.set(identity, [existing, obs]);
    }
  }

  const counts = { accepted: 0, duplicates: 0, retracted: 0, rejected: 0 };
  const measurements: Measurement[] = [];
  const rejected: TwinRejection[] = [];
  const take = (obs: Observation): void => {
    const normalised = obs && typeof obs === 'object' ? normaliseObservation(obs) : undefined;
    if (normalised === undefined) {
      counts.rejected++;
      rejected.push({ reason: 'not an Observation' });
      return;
    }
    switch (normalised.kind) {
      case 'measurement': {
        const subjectId = subjectPatientId(normalised.m.subject);
        if (subjectId !== undefined && subjectId !== patientId) {
          counts.rejected++;
          rejected.push(rejection('subject is a different patient', obs));
        } else {
          measurements.push(normalised.m);
        }
        return;
      }
      case 'retraction':
        // Only reachable for a retraction without identity, which normaliseObservation refuses; kept for safety.
        counts.retracted++;
        return;
      case 'rejected':
        counts.rejected++;
        rejected.push(rejection(normalised.reason, obs));
        return;
    }
  };

  for (const copies of byIdentity.values()) {
    if (!Array.isArray(copies)) {
      if (copies.status === 'entered-in-error') {
        counts.retracted++;
      } else {
        take(copies);
      }
      continue;
    }
    if (copies.some((c) => c.status === 'entered-in-error')) {
      counts.retracted += copies.length;
      continue;
    }
    counts.duplicates += copies.length - 1;
    take(copies.reduce(newerObservation));
  }
  for (const obs of anonymous) {
    take(obs);
  }
  rejected.sort((a, b) => compareText(a.observationId ?? '', b.observationId ?? '') || compareText(a.reason, b.reason));
  return { measurements, rejected, counts };
}

function rejection(reason: string, obs: Observation): TwinRejection {
  return obs.id ? { reason, observationId: obs.id } : { reason };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The trailing window [d - W, d - 1] of one metric's daily series, excluded days left out, as a sorted multiset that
 * slides forward as d increases. Each daily value enters and leaves at most once while days advance by less than W;
 * a bigger jump rebuilds from the at most W values of the new window. Never moves backwards.
 */
class TrailingWindow {
  readonly sorted = new SortedWindow();
  /** Index of the first series entry inside the window, and of the first entry at or after d. */
  private lo = 0;
  private hi = 0;
  private current = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly series: DailySeries,
    private readonly exclusions: ExclusionCalendar,
    private readonly windowDays: number
  ) {}

  /** Moves the window to day d (d must not decrease); afterwards `valueOn` answers for d. */
  advanceTo(d: number): void {
    if (d < this.current) {
      throw internalFault('TrailingWindow cannot move backwards');
    }
    const { days, values } = this.series;
    const from = d - this.windowDays;
    if (d - this.current > this.windowDays) {
      this.sorted.clear();
      this.lo = lowerBound(days, from);
      this.hi = this.lo;
    }
    this.current = d;
    while (this.hi < days.length && days[this.hi] < d) {
      if (!this.exclusions.has(days[this.hi])) {
        this.sorted.insert(values[this.hi]);
      }
      this.hi++;
    }
    while (this.lo < this.hi && days[this.lo] < from) {
      if (!this.exclusions.has(days[this.lo])) {
        this.sorted.remove(values[this.lo]);
      }
      this.lo++;
    }
  }

  /** The daily value on the current day, if any. */
  valueOn(d: number): number | undefined {
    const i = this.hi;
    return i < this.series.days.length && this.series.days[i] === d ? this.series.values[i] : undefined;
  }
}

function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < value) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/**
 * One state per day with data in the emitted range. A metric "has a baseline" on day d when it has personal values
 * in its window or a value that day that can be scored; completeness is the share of those with a value that day.
 * A day whose values can give no index (only metrics without a direction, or none with a baseline yet) has no state.
 */
function dailyStates(
  inputs: TwinInputs,
  series: readonly DailySeries[],
  exclusions: ExclusionCalendar,
  opts: TwinOptions
): Observation[] {
  const range = inputs.emitStates;
  const from = range ? optionDay(range.from, 'emitStates.from') : Number.NEGATIVE_INFINITY;
  const to = range ? optionDay(range.to, 'emitStates.to') : Number.POSITIVE_INFINITY;
  const daySet = new Set<number>();
  for (const s of series) {
    for (const day of s.days) {
      if (day >= from && day <= to) {
        daySet.add(day);
      }
    }
  }
  const days = [...daySet].sort((a, b) => a - b);
  const windows = series.map((s) => new TrailingWindow(s, exclusions, opts.windowDays));
  const states: Observation[] = [];
  for (const day of days) {
    const components: StateComponent[] = [];
    let withBaseline = 0;
    for (let i = 0; i < series.length; i++) {
      const metric = series[i].metric;
      const window = windows[i];
      window.advanceTo(day);
      const value = window.valueOn(day);
      if (value === undefined) {
        if (window.sorted.size > 0) {
          withBaseline++;
        }
        continue;
      }
      const baseline: Baseline | undefined = blendBaseline(
        window.sorted,
        opts.priors[metric],
        opts.rules[metric].spreadFloor,
        opts
      );
      if (baseline === undefined) {
        continue;
      }
      withBaseline++;
      components.push({ metric, z: deviation(value, baseline) });
    }
    const index = recoveryIndex(components, opts.rules, opts.indexClip);
    if (index === undefined) {
      continue;
    }
    states.push(
      buildStateObservation(inputs.patientId, isoDay(day), {
        day,
        components,
        index,
        completeness: completenessPercent(components.length, withBaseline),
      })
    );
  }
  return states;
}
