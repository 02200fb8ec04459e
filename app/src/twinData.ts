import type {
  CarePlan,
  CarePlanActivity,
  Coding,
  HumanName,
  Observation,
  RiskAssessment,
  Task,
} from '@medplum/fhirtypes';
import type { MetricName } from '../../src/fhir/metricCatalogue';
import { METRIC_RULES } from '../../src/twin/metricRules';
import { FROM_APPROVAL, TWIN_CONCEPT_SYSTEM, TWIN_PROFILE_BASE } from './config';

/** Identifier system of every twin resource (docs/twin-data-contract.md). */
const TWIN_RESOURCE_SYSTEM = 'https://recovery-twin.dev/fhir/NamingSystem/twin-resource';

/** Code system of a daily state's per-metric components (docs/twin-data-contract.md). */
const METRIC_DEVIATION_SYSTEM = 'https://recovery-twin.dev/fhir/CodeSystem/metric-deviation';

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

/** One metric's deviation on the latest day, and what it does to the recovery index. */
export interface Driver {
  readonly label: string;
  /** (value - centre) / spread against the personal baseline: positive is above it, whatever the metric. */
  readonly z: number;
  /**
   * The metric's term in the index (src/twin/recoveryState.ts recoveryIndex: goodDirection x z): positive pulls the
   * index up (better), negative down; undefined for a metric without a direction, which the index leaves out.
   */
  readonly effect?: number;
}

/** A deviation component's label without the repeated "deviation from personal baseline" of its display. */
function driverLabel(code: { text?: string; coding?: Coding[] }): string {
  const text = code.text ?? code.coding?.[0]?.display ?? code.coding?.[0]?.code ?? 'metric';
  return text.replace(/:\s*deviation from (the )?personal baseline$/i, '');
}

/**
 * What drives the latest index: its components (z against the personal baseline), those that count in the index
 * first, by the size of their term, then the metrics the index leaves out (no good direction, metricRules.ts).
 */
export function drivers(states: readonly Observation[]): Driver[] {
  const latest = [...states]
    .filter((o) => isCategory(o, 'twin-recovery-state'))
    .sort((a, b) => (dayOf(b) ?? '').localeCompare(dayOf(a) ?? ''))[0];
  return (latest?.component ?? [])
    .filter(
      (c) =>
        !(c.code.coding ?? []).some((x) => x.code === 'data-completeness') && typeof c.valueQuantity?.value === 'number'
    )
    .map((c): Driver => {
      const z = c.valueQuantity?.value ?? 0;
      const metric = (c.code.coding ?? []).find((x) => x.system === METRIC_DEVIATION_SYSTEM)?.code ?? '';
      const direction = Object.hasOwn(METRIC_RULES, metric) ? METRIC_RULES[metric as MetricName].goodDirection : 0;
      return { label: driverLabel(c.code), z, ...(direction !== 0 ? { effect: direction * z } : {}) };
    })
    .sort(
      (a, b) =>
        Number(b.effect !== undefined) - Number(a.effect !== undefined) ||
        Math.abs(b.effect ?? b.z) - Math.abs(a.effect ?? a.z)
    );
}

/** A driver in words: how far from the baseline, and which way it moves the index. */
export function driverSentence(d: Driver): string {
  const size = `${d.z > 0 ? '+' : ''}${Math.round(d.z * 100) / 100} SD`;
  if (d.effect === undefined) {
    return `${d.label}: ${size} (no better or worse direction: not part of the index)`;
  }
  const way =
    Math.abs(d.effect) < 0.005
      ? 'no effect on the index'
      : d.effect > 0
        ? 'pulls the index up'
        : 'pulls the index down';
  return `${d.label}: ${size} (${way})`;
}

/** A person's name as a reader expects it (HumanName.text, else prefix, given and family names), if there is one. */
export function personName(names: readonly HumanName[] | undefined): string | undefined {
  const n = names?.[0];
  const built = [...(n?.prefix ?? []), ...(n?.given ?? []), n?.family ?? ''].join(' ').trim();
  return n?.text ?? (built || undefined);
}

/**
 * What a finding's basis holds (src/detect/findings/findingResources.ts basisOf: measurements of the telling days,
 * with the twin's daily states and baselines in force): the references to the twin's own computed Observations are
 * counted apart from the measurements, so the page does not call an estimate a measurement.
 */
export function basisCounts(
  finding: RiskAssessment,
  twinIds: ReadonlySet<string>
): { measured: number; computed: number } {
  let measured = 0;
  let computed = 0;
  for (const b of finding.basis ?? []) {
    const ref = b.reference ?? '';
    if (ref.startsWith('Observation/') && twinIds.has(ref.slice('Observation/'.length))) {
      computed++;
    } else {
      measured++;
    }
  }
  return { measured, computed };
}

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

/** A proposal's review that ended in approval (reviewDecision.ts: the Task completed, businessStatus "approved", reviewStateMachine.ts). */
export function isApprovedReview(t: Task): boolean {
  return (
    hasProfile(t, 'review-task') &&
    t.status === 'completed' &&
    (t.focus?.reference ?? '').startsWith('CarePlan/') &&
    t.businessStatus?.text === 'approved'
  );
}

/**
 * Open Tasks for the care team that are neither a finding's review nor a proposal's (e.g. "plan recovery care: no
 * protocol in the library", focused on the Condition): the care-team list counts them, so the page shows them.
 */
export function otherOpenTasks(tasks: readonly Task[]): Task[] {
  return tasks.filter((t) => {
    const focus = t.focus?.reference ?? '';
    return isCareTeamTask(t) && !focus.startsWith('RiskAssessment/') && !focus.startsWith('CarePlan/');
  });
}

/**
 * An open Task for the care team: not one an approved plan ordered for the patient to do (owner the Patient, based on
 * the CarePlan, e.g. a daily check-in), which is the patient's to complete, not a review.
 */
export function isCareTeamTask(t: Task): boolean {
  return (
    AWAITING.has(t.status) &&
    !(t.owner?.reference ?? '').startsWith('Patient/') &&
    !(t.basedOn ?? []).some((b) => (b.reference ?? '').startsWith('CarePlan/'))
  );
}

/**
 * The activities approval will order: the starting phase's requests (reviewDecision.ts, approve). When the record
 * could not decide the phase, the clinician's choice (`chosenPhase`, the protocol's phase id) is the starting phase:
 * approval orders its activities that are not cancelled.
 */
export function orderedOnApproval(plan: CarePlan, chosenPhase?: string): CarePlanActivity[] {
  if (chosenPhase) {
    return (plan.activity ?? []).filter(
      (a) =>
        a.detail?.status !== 'cancelled' &&
        a.detail?.extension?.some((e) => e.url.endsWith('/protocol-phase') && e.valueString === chosenPhase)
    );
  }
  return (plan.activity ?? []).filter((a) =>
    // Every activity of the starting phase becomes a request on approval, whatever its kind (reviewDecision.ts).
    (a.detail?.scheduledString ?? '').endsWith(FROM_APPROVAL)
  );
}

/** An activity kind (CarePlan.activity.detail.kind, a FHIR resource type) as a clinician names the order. */
const ORDER_WORDS: Readonly<Record<string, string>> = {
  ServiceRequest: 'Referral or service request',
  CommunicationRequest: 'Information for the patient',
  MedicationRequest: 'Medication order',
  DeviceRequest: 'Device order',
  NutritionOrder: 'Nutrition order',
  Appointment: 'Appointment',
  Task: 'Task',
  VisionPrescription: 'Vision prescription',
};

export function orderKindWords(kind: string | undefined): string {
  return ORDER_WORDS[kind ?? ''] ?? (kind || 'Order');
}

/** The protocol's citations the plan's own notes do not already quote (the proposal notes its sources). */
export function citationsNotInNotes(citations: readonly string[], plan: CarePlan): string[] {
  const notes = (plan.note ?? []).map((n) => n.text ?? '').join('\n');
  return citations.filter((c) => !notes.includes(c));
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
