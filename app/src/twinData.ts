import type { CarePlan, CarePlanActivity, Coding, Observation, RiskAssessment, Task } from '@medplum/fhirtypes';
import { FROM_APPROVAL, TWIN_CONCEPT_SYSTEM, TWIN_PROFILE_BASE } from './config';

/** One point of a daily series: a day (YYYY-MM-DD) and a value. */
export interface DayValue {
  readonly day: string;
  readonly value: number;
}

/** A personal band in force from `asOf` on (one version of a baseline Observation). */
export interface BandVersion {
  readonly asOf: string;
  readonly low: number;
  readonly high: number;
  readonly centre: number;
}

export function hasProfile(resource: { meta?: { profile?: string[] } }, name: string): boolean {
  return (resource.meta?.profile ?? []).includes(`${TWIN_PROFILE_BASE}/${name}`);
}

export function isCategory(o: Observation, code: string): boolean {
  return (o.category ?? []).some((c) =>
    (c.coding ?? []).some((x) => x.system === TWIN_CONCEPT_SYSTEM && x.code === code)
  );
}

export function dayOf(o: Observation): string | undefined {
  return (o.effectiveDateTime ?? o.effectivePeriod?.end ?? o.effectivePeriod?.start)?.slice(0, 10);
}

/** The recovery index per day, from the twin's recovery-state Observations, in day order. */
export function recoveryIndexSeries(states: readonly Observation[]): DayValue[] {
  return states
    .filter((o) => isCategory(o, 'twin-recovery-state') && typeof o.valueQuantity?.value === 'number')
    .map((o) => ({ day: dayOf(o) ?? '', value: o.valueQuantity?.value ?? 0 }))
    .filter((p) => p.day)
    .sort((a, b) => a.day.localeCompare(b.day));
}

/** What drives the latest index: its components (z against the personal baseline), largest first. */
export function drivers(states: readonly Observation[]): Array<{ label: string; z: number }> {
  const latest = [...states]
    .filter((o) => isCategory(o, 'twin-recovery-state'))
    .sort((a, b) => (dayOf(b) ?? '').localeCompare(dayOf(a) ?? ''))[0];
  return (latest?.component ?? [])
    .filter(
      (c) =>
        !(c.code.coding ?? []).some((x) => x.code === 'data-completeness') && typeof c.valueQuantity?.value === 'number'
    )
    .map((c) => ({
      label: c.code.text ?? c.code.coding?.[0]?.display ?? c.code.coding?.[0]?.code ?? 'metric',
      z: c.valueQuantity?.value ?? 0,
    }))
    .sort((a, b) => Math.abs(b.z) - Math.abs(a.z));
}

/** Identifier system of every twin resource (docs/twin-data-contract.md). */
const TWIN_RESOURCE_SYSTEM = 'https://recovery-twin.dev/fhir/NamingSystem/twin-resource';

/** Code system of a daily state's per-metric components (docs/twin-data-contract.md). */
const METRIC_DEVIATION_SYSTEM = 'https://recovery-twin.dev/fhir/CodeSystem/metric-deviation';

/** The twin identifier value of a resource (`baseline/{patient}/{metric}[/{Monday}]`, `state/{patient}/{day}`). */
export function twinKey(o: Observation): string | undefined {
  return o.identifier?.find((i) => i.system === TWIN_RESOURCE_SYSTEM)?.value;
}

/** The metric (catalogue name) a baseline describes: the third segment of its identifier. */
export function baselineMetric(o: Observation): string | undefined {
  const parts = (twinKey(o) ?? '').split('/');
  return parts[0] === 'baseline' ? parts[2] : undefined;
}

/** The current baseline of a metric (`baseline/{patient}/{metric}`), not a week's baseline in force. */
export function isCurrentBaseline(o: Observation): boolean {
  const parts = (twinKey(o) ?? '').split('/');
  return parts[0] === 'baseline' && parts.length === 3;
}

/** The metric's codings on a baseline: its `baseline-metric` component (docs/twin-data-contract.md). */
function metricConcept(o: Observation): { coding?: Coding[]; text?: string } | undefined {
  return (o.component ?? []).find((c) => (c.code.coding ?? []).some((x) => x.code === 'baseline-metric'))
    ?.valueCodeableConcept;
}

/** The coding that identifies a metric (the first of the baseline's metric codings), as `system|code` for a search. */
export function metricToken(o: Observation): string | undefined {
  const coding: Coding | undefined = metricConcept(o)?.coding?.[0];
  return coding?.system && coding.code ? `${coding.system}|${coding.code}` : undefined;
}

/** What a clinician reads as the metric's name. */
export function metricLabel(o: Observation): string {
  const concept = metricConcept(o);
  return concept?.text ?? concept?.coding?.[0]?.display ?? baselineMetric(o) ?? 'metric';
}

/**
 * The bands in force, oldest first, from the weekly baselines (`baseline/{patient}/{metric}/{Monday}`: in force from
 * that Monday on). A week whose baseline says "not enough data" has no band and is left out.
 */
export function bandVersions(weekly: readonly Observation[]): BandVersion[] {
  return weekly
    .map((o) => ({
      asOf: (twinKey(o) ?? '').split('/')[3] ?? '',
      low: o.referenceRange?.[0]?.low?.value,
      high: o.referenceRange?.[0]?.high?.value,
      centre: o.valueQuantity?.value,
    }))
    .filter(
      (b): b is BandVersion =>
        /^\d{4}-\d{2}-\d{2}$/.test(b.asOf) &&
        typeof b.low === 'number' &&
        typeof b.high === 'number' &&
        typeof b.centre === 'number'
    )
    .sort((a, b) => a.asOf.localeCompare(b.asOf));
}

/**
 * The band in force on `day`: the latest version computed up to that day (a baseline at day d reads days before d).
 * Undefined before the first baseline: no band is drawn rather than a later one pretending to be known then.
 */
export function bandOn(day: string, versions: readonly BandVersion[]): BandVersion | undefined {
  let found: BandVersion | undefined;
  for (const v of versions) {
    if (v.asOf <= day) {
      found = v;
    }
  }
  return found;
}

/** Daily measured values (the mean of the day's measurements) of one metric, in day order. */
export function dailyValues(observations: readonly Observation[]): DayValue[] {
  const byDay = new Map<string, number[]>();
  for (const o of observations) {
    const day = dayOf(o);
    const value = o.valueQuantity?.value;
    if (day && typeof value === 'number' && !isCategory(o, 'twin-baseline') && !isCategory(o, 'twin-recovery-state')) {
      byDay.set(day, [...(byDay.get(day) ?? []), value]);
    }
  }
  return [...byDay.entries()]
    .map(([day, values]) => ({ day, value: values.reduce((a, b) => a + b, 0) / values.length }))
    .sort((a, b) => a.day.localeCompare(b.day));
}

export function isOpenFinding(r: RiskAssessment): boolean {
  return r.status === 'preliminary' && hasProfile(r, 'anomaly-risk-assessment');
}

/**
 * The findings the clinician must see: an episode still running (preliminary), and one that has ended (final) but
 * whose review Task is still waiting for a decision. Otherwise the care-team list would count a review the patient's
 * page offers no way to make.
 */
export function findingsToShow(findings: readonly RiskAssessment[], tasks: readonly Task[]): RiskAssessment[] {
  const awaiting = new Set(
    tasks
      .filter((t) => hasProfile(t, 'review-task') && AWAITING.has(t.status))
      .map((t) => t.focus?.reference ?? '')
      .filter((ref) => ref.startsWith('RiskAssessment/'))
  );
  return findings.filter(
    (f) =>
      hasProfile(f, 'anomaly-risk-assessment') &&
      (f.status === 'preliminary' || (f.status === 'final' && awaiting.has(`RiskAssessment/${f.id ?? ''}`)))
  );
}

const AWAITING = new Set(['requested', 'received', 'accepted', 'in-progress']);

export function isAwaitingReview(t: Task): boolean {
  return hasProfile(t, 'review-task') && AWAITING.has(t.status) && (t.focus?.reference ?? '').startsWith('CarePlan/');
}

/** The activities approval will order: the starting phase's requests (reviewDecision.ts, approve). */
export function orderedOnApproval(plan: CarePlan): CarePlanActivity[] {
  return (plan.activity ?? []).filter((a) =>
    // Every activity of the starting phase becomes a request on approval, whatever its kind (reviewDecision.ts).
    (a.detail?.scheduledString ?? '').endsWith(FROM_APPROVAL)
  );
}

/** Unix seconds of a day at 00:00 UTC (uPlot's x axis). */
export function daySeconds(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}

/**
 * Each day's deviation of one metric from the personal baseline in force THAT day, as the twin computed it in its
 * recovery-state Observation (component z = (value - centre) / spread, src/twin/recoveryState.ts). The band is
 * centre +/- 2 spread (the baseline's referenceRange), so |z| > 2 is "outside the band in force that day".
 */
export function dailyDeviation(states: readonly Observation[], metric: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const o of states) {
    const day = dayOf(o);
    // A state's per-metric component is coded in the metric-deviation system by the metric's name.
    const component = (o.component ?? []).find((c) =>
      (c.code.coding ?? []).some((x) => x.system === METRIC_DEVIATION_SYSTEM && x.code === metric)
    );
    const z = component?.valueQuantity?.value;
    if (day && typeof z === 'number') {
      out.set(day, z);
    }
  }
  return out;
}

/** The band's half-width in spreads (the baseline's referenceRange: centre +/- 2 robust SD). */
export const BAND_SPREADS = 2;
