import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Observation, Reference } from '@medplum/fhirtypes';
import { METRICS, type MetricName } from '../fhir/metricCatalogue';
import { personalBaseline, SortedWindow, type BaselineResult } from './baseline';
import { DEFAULT_TIME_ZONE, isoDay, isTimeZone, parseDay } from '../calendar/calendarDay';
import { baselineIdentifierValue, TWIN_RESOURCE_SYSTEM } from '../fhir/codes/twinCodes';
import { dailySeries, type DailySeries } from './dailySeries';
import { ExclusionCalendar, type ExcludedPeriod } from './excludedDays';
import { dedupeMeasurements, newerObservation } from './measurementKey';
import { METRIC_RULES, type MetricRule } from './metricRules';
import { normaliseObservation, observationIdentity, subjectPatientId, type Measurement } from './normaliseObservation';
import { POPULATION_PRIORS, type PopulationPrior } from './populationPriors';
import { completenessPercent, deviation, recoveryIndex, type StateComponent } from './recoveryState';
import { baselineDecimals, buildBaselineObservation, buildStateObservation } from './twinResources';
import { weekStart } from './affectedDays';
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
  /** The Observation's code as `system|code` (the coding the catalogue recognised, else the first one). */
  code?: string;
  /** The unit as the source wrote it, when the unit was the problem or part of it. */
  unit?: string;
}

export interface TwinResult {
  /**
   * twin-baseline shaped, the current baseline (as of the last day with data) of every metric with data, sorted by
   * metric name; "not enough data" (dataAbsentReason, no band) when the person's own values cannot carry a band.
   */
  baselines: Observation[];
  /**
   * twin-baseline shaped, the baseline in force during each week (renewed on Mondays) in which a metric was scored in
   * a daily state (identifier `baseline/{patient}/{metric}/{Monday}`), sorted by identifier: the band that week's
   * values were judged against.
   */
  baselinesInForce: Observation[];
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
  /** Fewest personal days in the window for a band; fewer is published as "not enough data". */
  minBandDays: number;
  /** IANA time zone of the patient's day for times recorded in UTC (`Z`) without a local offset. */
  timeZone: string;
  /** Write the weekly baselines in force (baselinesInForce); off only for callers that do not keep them. */
  baselinesInForce: boolean;
  /** Each metric's term of the recovery index is clipped to [-indexClip, indexClip] robust SDs. */
  indexClip: number;
  priors: Readonly<Record<MetricName, PopulationPrior>>;
  rules: Readonly<Record<MetricName, MetricRule>>;
}

export const DEFAULT_TWIN_OPTIONS: Readonly<TwinOptions> = Object.freeze({
  windowDays: 28,
  minPersonalDays: 14,
  priorStrength: 7,
  minBandDays: 7,
  timeZone: DEFAULT_TIME_ZONE,
  baselinesInForce: true,
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
 * daily series per metric (on the patient's local day) -> personal baselines (trailing window of W usable days,
 * excluded periods left out and reached over; the person's own values only, "not enough data" otherwise;
 * baseline.ts) -> daily states against the baseline in force that week, with the weekly baselines in force.
 *
 * Cost: O(M log M) to sort the M measurements given, then O(W) per metric per emitted week: each metric keeps a
 * sorted sliding window that values enter and leave once; a jump past the window rebuilds it from at most W values.
 * Nothing re-scans the history per day. With affectedDays.ts, a caller that receives one new value reads the
 * measurements from one window before the value's week and emits states for the weeks whose baseline window holds
 * it: bounded work per new value.
 */
export function computeTwin(inputs: TwinInputs, options?: Partial<TwinOptions>): TwinResult {
  const opts = resolveOptions(options);
  const exclusions = new ExclusionCalendar(inputs.excludedPeriods ?? []);
  const { measurements, rejected, counts } = acceptMeasurements(inputs.patientId, inputs.observations, opts.timeZone);
  const deduplicated = dedupeMeasurements(inputs.patientId, measurements);
  counts.duplicates += deduplicated.duplicates;
  counts.accepted = deduplicated.kept.length;

  const series = dailySeries(deduplicated.kept, opts.rules);
  if (series.length === 0) {
    return { baselines: [], baselinesInForce: [], states: [], rejected, counts };
  }
  const inputsByDay = inputReferences(deduplicated.kept);
  const lastDay = Math.max(...series.map((s) => s.days[s.days.length - 1]));
  const asOf = inputs.asOf === undefined ? lastDay : optionDay(inputs.asOf, 'asOf');

  const baselines: Observation[] = [];
  for (const s of series) {
    const window = new TrailingWindow(s, exclusions, opts.windowDays);
    window.advanceTo(asOf);
    baselines.push(
      baselineObservation(inputs.patientId, s.metric, baselineOf(window, s.metric, opts), window, asOf, {
        opts,
        inputsByDay,
        inForce: false,
      })
    );
  }

  const { states, baselinesInForce } = dailyStates(inputs, series, exclusions, opts, inputsByDay);
  return { baselines, baselinesInForce, states, rejected, counts };
}

/** The personal baseline of a metric from its current window (baseline.ts). */
function baselineOf(window: TrailingWindow, metric: MetricName, opts: TwinOptions): BaselineResult {
  const def = METRICS[metric];
  return personalBaseline(window.sorted, opts.priors[metric], opts.rules[metric].spreadFloor, opts, {
    min: def.min,
    max: def.max,
    resolution: 10 ** -baselineDecimals(metric),
  });
}

/** The references of the input Observations behind each metric's daily value, per day, sorted. */
type InputsByDay = ReadonlyMap<MetricName, ReadonlyMap<number, readonly Reference<Observation>[]>>;

function inputReferences(kept: readonly Measurement[]): InputsByDay {
  const texts = new Map<MetricName, Map<number, Set<string>>>();
  for (const m of kept) {
    // By identifier when there is one (the same on every server, so every door gives the same twin), else by id.
    const name = m.identifier ?? m.sourceId;
    if (name === undefined) {
      continue;
    }
    let byDay = texts.get(m.metric);
    if (!byDay) {
      byDay = new Map();
      texts.set(m.metric, byDay);
    }
    let ids = byDay.get(m.day);
    if (!ids) {
      ids = new Set();
      byDay.set(m.day, ids);
    }
    ids.add(name);
  }
  const out = new Map<MetricName, Map<number, Reference<Observation>[]>>();
  for (const [metric, byDay] of texts) {
    const refs = new Map<number, Reference<Observation>[]>();
    for (const [day, ids] of byDay) {
      refs.set(day, [...ids].sort().map(observationReference));
    }
    out.set(metric, refs);
  }
  return out;
}

/**
 * A reference to an input Observation: a logical reference by its identifier when it has one (stable across servers
 * and doors; `Observation?identifier=system|value` finds it), else the literal `Observation/{id}`. FHIR R4
 * references.html#logical.
 */
function observationReference(sourceId: string): Reference<Observation> {
  const bar = sourceId.indexOf('|');
  if (bar < 0) {
    return { reference: `Observation/${sourceId}` };
  }
  return { type: 'Observation', identifier: { system: sourceId.slice(0, bar), value: sourceId.slice(bar + 1) } };
}

function baselineObservation(
  patientId: string,
  metric: MetricName,
  baseline: BaselineResult,
  window: TrailingWindow,
  asOf: number,
  context: { opts: TwinOptions; inputsByDay: InputsByDay; inForce: boolean }
): Observation {
  const used = window.usedDays();
  const byDay = context.inputsByDay.get(metric);
  // The current baseline names its inputs. A baseline in force on a past day does not repeat them (up to W x sources
  // references on each of hundreds of days): its inputs are the metric's Observations within its effectivePeriod, and
  // the daily state of that day names the day's inputs and this baseline (docs/twin-data-contract.md).
  const derivedFrom: Reference<Observation>[] = [];
  if (!context.inForce) {
    for (const day of used) {
      derivedFrom.push(...(byDay?.get(day) ?? []));
    }
  }
  const windowDays = context.opts.windowDays;
  return buildBaselineObservation({
    patientId,
    metric,
    baseline,
    asOf: isoDay(asOf),
    inForce: context.inForce,
    // effectivePeriod is the window actually used: first to last day with a value that entered the baseline; with
    // none, the window that was searched.
    from: isoDay(used.length > 0 ? used[0] : asOf - windowDays),
    to: isoDay(used.length > 0 ? used[used.length - 1] : asOf - 1),
    windowDays,
    derivedFrom,
  });
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
  if (!positiveInt(opts.minBandDays)) {
    throw new OperationOutcomeError(badRequest('minBandDays must be a positive integer', 'minBandDays'));
  }
  if (!isTimeZone(opts.timeZone)) {
    throw new OperationOutcomeError(
      badRequest('timeZone must be an IANA time zone name, e.g. Europe/Oslo', 'timeZone')
    );
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
function acceptMeasurements(patientId: string, observations: readonly Observation[], timeZone: string): Accepted {
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
    const normalised = obs && typeof obs === 'object' ? normaliseObservation(obs, { timeZone }) : undefined;
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
      case 'rejected': {
        counts.rejected++;
        const r = rejection(normalised.reason, obs);
        if (normalised.code !== undefined) {
          r.code = normalised.code;
        }
        if (normalised.unit !== undefined) {
          r.unit = normalised.unit;
        }
        rejected.push(r);
        return;
      }
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
 * The trailing window of W usable days before d of one metric's daily series ([d - W, d - 1] when nothing is
 * excluded; reaching back over excluded periods otherwise, ExclusionCalendar.windowStart), excluded days left out, as
 * a sorted multiset that slides forward as d increases. Each daily value enters and leaves at most once while the
 * window moves by less than its length; a bigger jump rebuilds from the values of the new window. Never moves
 * backwards.
 */
class TrailingWindow {
  readonly sorted = new SortedWindow();
  /** Index of the first series entry inside the window, and of the first entry at or after d. */
  private lo = 0;
  private hi = 0;
  private current = Number.NEGATIVE_INFINITY;
  private from = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly series: DailySeries,
    private readonly exclusions: ExclusionCalendar,
    private readonly windowDays: number
  ) {}

  /** Moves the window to the one of day d (d must not decrease). */
  advanceTo(d: number): void {
    if (d < this.current) {
      throw internalFault('TrailingWindow cannot move backwards');
    }
    const { days, values } = this.series;
    const from = this.exclusions.windowStart(d, this.windowDays);
    if (from >= this.current) {
      // The new window starts after the old one ended: rebuild instead of sliding.
      this.sorted.clear();
      this.lo = lowerBound(days, from);
      this.hi = this.lo;
    }
    this.current = d;
    this.from = from;
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

  /** The days (ascending) whose values are in the window now: the days the baseline actually uses. */
  usedDays(): number[] {
    const days: number[] = [];
    for (let i = this.lo; i < this.hi; i++) {
      const day = this.series.days[i];
      if (day >= this.from && !this.exclusions.has(day)) {
        days.push(day);
      }
    }
    return days;
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
 * One state per day with data in the emitted range, and the baseline in force for every metric it scores.
 *
 * Baselines are renewed weekly: every day of the week starting on Monday m is judged against the baseline as of m
 * (window [m - W, m - 1]). A band that holds for a week is what a clinician can read and compare against, and the
 * baseline in force on any past day is one record per metric and week (`baseline/{patient}/{metric}/{m}`), named in
 * the derivedFrom of every state that used it.
 *
 * A metric "has a baseline" on day d when its own values in that window carry a personal band (baseline.ts);
 * completeness is the share of those with a value that day. A metric without one is left out of the day's state
 * (a deviation from a population figure is not a personal deviation). A day whose values give no index has no state.
 */
function dailyStates(
  inputs: TwinInputs,
  series: readonly DailySeries[],
  exclusions: ExclusionCalendar,
  opts: TwinOptions,
  inputsByDay: InputsByDay
): { states: Observation[]; baselinesInForce: Observation[] } {
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
  const values = series.map((s) => new Map(s.days.map((d, i) => [d, s.values[i]])));
  /** Per metric: the week whose baseline is cached, the baseline, and its record once a state used it. */
  const weekly = series.map(() => ({ week: Number.NaN, baseline: undefined as BaselineResult | undefined }));
  const inForce = new Map<string, Observation>();
  const states: Observation[] = [];
  for (const day of days) {
    const week = weekStart(day);
    const components: StateComponent[] = [];
    const used: { i: number; id: string }[] = [];
    const derivedFrom: Reference<Observation>[] = [];
    let withBaseline = 0;
    for (let i = 0; i < series.length; i++) {
      const metric = series[i].metric;
      const cache = weekly[i];
      if (cache.week !== week) {
        windows[i].advanceTo(week);
        cache.week = week;
        cache.baseline = baselineOf(windows[i], metric, opts);
      }
      const baseline = cache.baseline;
      if (baseline?.kind !== 'baseline') {
        continue;
      }
      withBaseline++;
      const value = values[i].get(day);
      if (value === undefined) {
        continue;
      }
      components.push({ metric, z: deviation(value, baseline) });
      derivedFrom.push(...(inputsByDay.get(metric)?.get(day) ?? []));
      if (opts.baselinesInForce) {
        const id = baselineIdentifierValue(inputs.patientId, metric, isoDay(week));
        used.push({ i, id });
        derivedFrom.push({ type: 'Observation', identifier: { system: TWIN_RESOURCE_SYSTEM, value: id } });
      }
    }
    const index = recoveryIndex(components, opts.rules, opts.indexClip);
    if (index === undefined) {
      continue;
    }
    for (const { i, id } of used) {
      if (!inForce.has(id)) {
        const baseline = weekly[i].baseline as BaselineResult;
        inForce.set(
          id,
          baselineObservation(inputs.patientId, series[i].metric, baseline, windows[i], week, {
            opts,
            inputsByDay,
            inForce: true,
          })
        );
      }
    }
    states.push(
      buildStateObservation(
        inputs.patientId,
        isoDay(day),
        { day, components, index, completeness: completenessPercent(components.length, withBaseline) },
        derivedFrom
      )
    );
  }
  const baselinesInForce = [...inForce.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
  return { states, baselinesInForce };
}
