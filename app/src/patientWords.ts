import type { AuditEvent, CarePlan, Observation, RiskAssessment, Task } from '@medplum/fhirtypes';
import {
  baselineMetric,
  basisCounts,
  dayOf,
  hasProfile,
  isCategory,
  isCurrentBaseline,
  metricLabel,
  twinKey,
} from './twinData';

/**
 * The patient's page in plain words: what the twin worked out about the patient, without codes, z-scores or
 * resource names. Everything the twin computed (a usual range, a daily recovery score) is called an estimate; only
 * what a device recorded is called a measurement.
 */

/** Units as a person says them (UCUM codes and the catalogue's unit texts, docs/twin-data-contract.md). */
const PLAIN_UNITS: Readonly<Record<string, string>> = {
  '/min': 'per minute',
  'beats/minute': 'per minute',
  'breaths/minute': 'breaths per minute',
  ms: 'ms',
  h: 'hours',
  hours: 'hours',
  '{steps}/d': 'steps a day',
  'steps/day': 'steps a day',
  '%': '%',
  Cel: '°C',
  '°C': '°C',
  kg: 'kg',
  min: 'minutes',
  '{score}': 'points',
};

/**
 * Each metric of the catalogue (src/fhir/metricCatalogue.ts, by name) as a person calls it, and its unit in words
 * (a score's scale rather than a unit code).
 */
const PLAIN_METRICS: Readonly<Record<string, { name: string; unit?: string }>> = {
  'heart-rate': { name: 'heart rate', unit: 'bpm' },
  'resting-heart-rate': { name: 'resting heart rate', unit: 'bpm' },
  'hrv-sdnn': { name: 'heart rate variability', unit: 'ms' },
  'hrv-rmssd': { name: 'heart rate variability (beat to beat)', unit: 'ms' },
  'respiratory-rate': { name: 'breathing rate', unit: 'breaths per minute' },
  'oxygen-saturation': { name: 'blood oxygen level', unit: '%' },
  'body-temperature': { name: 'body temperature', unit: '°C' },
  'sleep-duration': { name: 'sleep', unit: 'hours a night' },
  steps: { name: 'step count', unit: 'steps a day' },
  'active-minutes': { name: 'active time', unit: 'minutes a day' },
  'pain-severity': { name: 'pain', unit: 'out of 10' },
  'body-weight': { name: 'weight', unit: 'kg' },
  glucose: { name: 'blood sugar', unit: 'mg/dL' },
  'training-load': { name: 'training load (how hard you trained × how long)', unit: 'points a day' },
  readiness: { name: 'readiness', unit: 'out of 10' },
  fatigue: { name: 'tiredness', unit: 'out of 5' },
  soreness: { name: 'muscle soreness', unit: 'out of 5' },
  stress: { name: 'stress', unit: 'out of 5' },
  mood: { name: 'mood', unit: 'out of 5' },
  'sleep-quality': { name: 'sleep quality', unit: 'out of 5' },
};

export function plainUnit(label: string, unit: string | undefined): string {
  const u = unit ?? '';
  if ((u === '/min' || u === 'beats/minute') && /heart/i.test(label)) {
    return 'bpm';
  }
  return PLAIN_UNITS[u] ?? u;
}

/** A number as a person reads it: whole numbers from 10 up, one decimal below. */
export function plainNumber(value: number): string {
  return Math.abs(value) >= 10 ? String(Math.round(value)) : String(Math.round(value * 10) / 10);
}

export interface UsualRange {
  readonly label: string;
  /** "Your usual resting heart rate is 58–64 bpm", or why there is none yet. */
  readonly sentence: string;
  /** How the estimate was made: from how many days of the patient's own measurements, and when. */
  readonly basis: string;
  readonly known: boolean;
}

/** The patient's usual ranges: one per current baseline (docs/twin-data-contract.md, "Personal baseline"). */
export function usualRanges(twin: readonly Observation[]): UsualRange[] {
  return twin
    .filter((o) => isCategory(o, 'twin-baseline') && isCurrentBaseline(o))
    .map((o) => {
      const plain = PLAIN_METRICS[baselineMetric(o) ?? ''];
      const label = plain?.name ?? metricLabel(o).toLowerCase();
      const name = label;
      const low = o.referenceRange?.[0]?.low?.value;
      const high = o.referenceRange?.[0]?.high?.value;
      // The twin writes counts as valueInteger (twinResources.ts); a valueQuantity is read too.
      const count = (code: string): number | undefined => {
        const c = (o.component ?? []).find((x) => (x.code.coding ?? []).some((y) => y.code === code));
        return c?.valueInteger ?? c?.valueQuantity?.value;
      };
      const days = count('baseline-sample-count');
      const window = count('baseline-window-days');
      const from = o.effectivePeriod?.start?.slice(0, 10);
      const to = o.effectivePeriod?.end?.slice(0, 10);
      if (typeof low !== 'number' || typeof high !== 'number') {
        // Not always too few days: a day-to-day spread too wide for a useful band is another reason (baseline.ts).
        if (/spread/i.test(o.dataAbsentReason?.text ?? '')) {
          return {
            label,
            known: false,
            sentence: `Your ${name} changes too much from day to day to work out a usual range yet.`,
            basis:
              `Looked at ${typeof days === 'number' ? `${days} days of ` : ''}your own measurements` +
              (from && to ? ` (${from} to ${to}).` : '.'),
          };
        }
        return {
          label,
          known: false,
          sentence: `There are not enough recent measurements to know your usual ${name}.`,
          basis: `The twin needs your own measurements on at least ${
            /at least (\d+) needed/.exec(o.dataAbsentReason?.text ?? '')?.[1] ?? 'seven'
          } days${typeof window === 'number' ? ` of the last ${window}` : ''}.`,
        };
      }
      const unit = plain?.unit ?? plainUnit(label, o.valueQuantity?.unit ?? o.referenceRange?.[0]?.low?.unit);
      return {
        label,
        known: true,
        sentence: `Your usual ${name} is ${plainNumber(low)}–${plainNumber(high)} ${unit}.`.replace(' %', '%'),
        basis:
          `Estimate, worked out from ${typeof days === 'number' ? `${days} days of ` : ''}your own measurements` +
          (from && to ? ` (${from} to ${to}).` : '.'),
      };
    })
    .sort((a, b) => a.label.localeCompare(b.label));
}

export interface DayState {
  readonly day: string;
  readonly score: number;
  readonly words: string;
}

/**
 * The recovery score of each day (the twin's recovery index: 0 is a usual day for this patient, positive better,
 * negative more strain than usual), latest first, in words.
 */
export function recentDays(twin: readonly Observation[], days = 14): DayState[] {
  return twin
    .filter((o) => isCategory(o, 'twin-recovery-state') && typeof o.valueQuantity?.value === 'number')
    .map((o) => ({ day: dayOf(o) ?? '', score: o.valueQuantity?.value ?? 0 }))
    .filter((d) => d.day)
    .sort((a, b) => b.day.localeCompare(a.day))
    .slice(0, days)
    .map((d) => ({
      ...d,
      words:
        d.score >= 1
          ? 'better than usual for you'
          : d.score <= -1
            ? 'more strain than usual for you'
            : 'about usual for you',
    }));
}

const OPEN = new Set(['draft', 'requested', 'received', 'accepted', 'ready', 'in-progress', 'on-hold']);

export interface Noticed {
  readonly id: string;
  readonly when: string;
  readonly what: string;
  readonly review: string;
  /** How many of the patient's measurements the finding names (its basis, without the twin's own estimates). */
  readonly measurements: number;
}

/**
 * What the early-warning check noticed, and whether a clinician has looked at it (its review Task). Only a completed
 * review Task is a clinician's review: a finding without one was not sent for review (its likelihood was below the
 * level that creates one), and a cancelled one was closed without a decision (R4 task.html#statemachine).
 * `twinIds` are the ids of the twin's own computed Observations, so only measurements are counted as such.
 */
export function noticed(
  findings: readonly RiskAssessment[],
  tasks: readonly Task[],
  twinIds: ReadonlySet<string> = new Set()
): Noticed[] {
  return findings
    .filter((f) => hasProfile(f, 'anomaly-risk-assessment'))
    .map((f) => {
      const task = tasks.find((t) => t.focus?.reference === `RiskAssessment/${f.id ?? ''}`);
      let review: string;
      if (!task) {
        review = 'Not sent to your clinician for review: the program was not confident enough about it.';
      } else if (OPEN.has(task.status)) {
        review = 'Waiting for your clinician to look at it.';
      } else if (task.status === 'completed') {
        const verdict = task.businessStatus?.text ?? '';
        review = /dismiss/i.test(verdict)
          ? 'Reviewed by your clinician: they decided it needs no action.'
          : /confirm/i.test(verdict)
            ? 'Reviewed by your clinician: they agreed with it.'
            : 'Reviewed by your clinician.';
      } else {
        review = 'Closed without a review by your clinician.';
      }
      return {
        id: f.id ?? '',
        when: (f.occurrenceDateTime ?? '').slice(0, 10),
        what: f.prediction?.[0]?.outcome?.text ?? 'a change from what is usual for you',
        review,
        measurements: basisCounts(f, twinIds).measured,
      };
    })
    .sort((a, b) => b.when.localeCompare(a.when));
}

export interface PlanStatus {
  readonly id: string;
  readonly title: string;
  readonly status: string;
  /** The plan's activities still to come (a phase already past is left out: it was not ordered). */
  readonly activities: string[];
  /** How many activities the clinician's approval ordered (they became requests the plan refers to). */
  readonly ordered: number;
}

/** planApplier.ts: an activity of a phase the patient is already past, shown to the clinician, never ordered. */
const PAST_NOT_ORDERED = /already past, not ordered$/;

/**
 * Care plans the twin proposed, and what the clinician decided (reviewDecision.ts: active approved, revoked declined).
 * An approved plan is no longer a proposal (its intent and profile change), so a plan is the twin's when it carries
 * the proposal profile, is a draft, or has a review Task.
 */
export function proposalStatuses(plans: readonly CarePlan[], tasks: readonly Task[]): PlanStatus[] {
  const reviewed = new Set(tasks.map((t) => t.focus?.reference ?? '').filter((r) => r.startsWith('CarePlan/')));
  return plans
    .filter(
      (p) => hasProfile(p, 'care-plan-proposal') || p.status === 'draft' || reviewed.has(`CarePlan/${p.id ?? ''}`)
    )
    .map((p) => {
      const task = tasks.find((t) => t.focus?.reference === `CarePlan/${p.id ?? ''}`);
      const status =
        p.status === 'active' || p.status === 'completed'
          ? 'Approved by your clinician.'
          : p.status === 'revoked'
            ? 'Declined by your clinician.'
            : task && OPEN.has(task.status)
              ? 'Proposed: waiting for your clinician to decide.'
              : 'Proposed.';
      return {
        id: p.id ?? '',
        title: p.title ?? 'A suggested recovery plan',
        status,
        activities: (p.activity ?? [])
          .filter((a) => !PAST_NOT_ORDERED.test(a.detail?.scheduledString ?? ''))
          .map((a) => a.detail?.code?.text ?? '')
          .filter((t) => t),
        ordered: (p.activity ?? []).filter((a) => a.reference?.reference).length,
      };
    });
}

/** Where the measurements came from: the source named in their record key (metricObservation.ts observationKey). */
const SOURCES: Readonly<Record<string, string>> = {
  synthetic: 'demo data (a made-up patient)',
  'pmdata-fitbit': 'Fitbit',
  'pmdata-pmsys': 'the PMSys questionnaire app',
  welltory: 'Welltory',
  csv: 'an uploaded file',
  healthkit: 'Apple Health',
  'apple-health': 'Apple Health',
};
const RECORD_KEY_SYSTEM_SUFFIX = '/NamingSystem/record-key';

export interface DataSource {
  readonly device: string;
  readonly via: string;
  readonly measurements: number;
  readonly from: string;
  readonly to: string;
}

/** The devices (and the apps they came through) that recorded the patient's measurements, most used first. */
export function dataSources(measurements: readonly Observation[]): DataSource[] {
  const out = new Map<string, { device: string; via: string; n: number; from: string; to: string }>();
  for (const o of measurements) {
    if (isCategory(o, 'twin-baseline') || isCategory(o, 'twin-recovery-state') || twinKey(o)) {
      continue;
    }
    const device = o.device?.display ?? 'a device or app that did not say which';
    const key = o.identifier?.find((i) => (i.system ?? '').endsWith(RECORD_KEY_SYSTEM_SUFFIX))?.value ?? '';
    const source = key.split('/')[0] ?? '';
    const via = SOURCES[source] ?? (source || 'your health record');
    const day = dayOf(o) ?? '';
    const k = `${device}|${via}`;
    const entry = out.get(k) ?? { device, via, n: 0, from: day, to: day };
    entry.n += 1;
    if (day && (!entry.from || day < entry.from)) {
      entry.from = day;
    }
    if (day > entry.to) {
      entry.to = day;
    }
    out.set(k, entry);
  }
  return [...out.values()]
    .sort((a, b) => b.n - a.n)
    .map((e) => ({ device: e.device, via: e.via, measurements: e.n, from: e.from, to: e.to }));
}

export interface Access {
  readonly who: string;
  readonly app: string;
  readonly what: string;
  readonly times: number;
  readonly day: string;
  readonly last: string;
}

const COUNT_EXTENSION_SUFFIX = '/StructureDefinition/audit-interaction-count';

/** Who read the patient's twin (the server's read audit trail, src/auth/readAuditTrail.ts), latest first. */
export function accessList(events: readonly AuditEvent[], self: string): Access[] {
  return events
    .map((e) => {
      const requestor = (e.agent ?? []).find((a) => a.requestor) ?? e.agent?.[0];
      const app = (e.agent ?? []).find((a) => !a.requestor)?.who?.display ?? '';
      const ref = requestor?.who?.reference ?? '';
      const name = requestor?.who?.display ?? requestor?.name ?? 'an unnamed service';
      const who = ref === self ? `You (${name})` : ref.startsWith('Practitioner/') ? `${name}, clinician` : name;
      const code = e.subtype?.[0]?.code;
      return {
        who,
        app,
        what:
          code === 'operation'
            ? 'updated your twin from your data'
            : code === 'search-type'
              ? 'looked through your record'
              : 'opened part of your record',
        times: e.extension?.find((x) => x.url.endsWith(COUNT_EXTENSION_SUFFIX))?.valueInteger ?? 1,
        day: (e.period?.start ?? e.recorded ?? '').slice(0, 10),
        last: e.period?.end ?? e.recorded ?? '',
      };
    })
    .sort((a, b) => b.last.localeCompare(a.last));
}
