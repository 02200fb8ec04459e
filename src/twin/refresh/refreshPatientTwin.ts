import type { Condition, Consent, Observation, Procedure, Resource } from '@medplum/fhirtypes';
import { writeBack } from '../../deliver/writeBack';
import { remove, upsert, type WritePlan } from '../../deliver/writePlan';
import type { FhirClient } from '../../fhir/fhirClient';
import {
  computeTwin,
  DEFAULT_TWIN_OPTIONS,
  type ExcludedPeriod,
  type TwinRejection,
  type TwinResult,
} from '../computeTwin';
import { ExclusionCalendar } from '../excludedDays';
import { weekStart } from '../affectedDays';
import { dayNumber, isoDay } from '../../calendar/calendarDay';
import { injuryPeriods } from '../injuryPeriods';
import { TWIN_RESOURCE_SYSTEM } from '../../fhir/codes/twinCodes';
import { consentAllowsProcessing } from '../../policy/consentPolicy';
import { internalFault } from '../../fhir/outcomes';

export interface RefreshDeps {
  readonly client: FhirClient;
  /** Profile validation of every twin resource before it is sent. */
  readonly validate?: (resource: Resource) => void;
  readonly today: () => string;
  /**
   * IANA time zone of the patient's day for readings recorded in UTC without a local offset (default UTC; env
   * TWIN_TIME_ZONE at the doors). Readings with an offset always count for the local date they were written with.
   */
  readonly timeZone?: string;
}

/** One kind of dropped input: the same code, reason and unit, and how many Observations it dropped. */
export interface IgnoredInput {
  /** `system|code` of the Observation (or `text:...` / `(no code)`). */
  readonly code: string;
  readonly reason: string;
  readonly unit?: string;
  readonly count: number;
}

/** What one refresh did: counts only, safe to log (no values, no identifiers). */
export interface RefreshSummary {
  readonly status: 'refreshed' | 'skipped-consent';
  readonly observationsRead: number;
  readonly accepted: number;
  readonly duplicates: number;
  readonly retracted: number;
  readonly rejected: number;
  readonly rejectionReasons: Readonly<Record<string, number>>;
  /** What was dropped, per code, reason and unit, most frequent first: visible, never one anonymous count. */
  readonly ignored: readonly IgnoredInput[];
  readonly baselinesWritten: number;
  /** Baselines in force on a past day (`baseline/{patient}/{metric}/{day}`) written or changed. */
  readonly baselinesInForceWritten: number;
  readonly statesWritten: number;
  readonly removed: number;
}

/** Restrict a refresh to the days one new value can change (the event door); default: the whole history. */
export interface RefreshWindow {
  /** Earliest day whose Observations are read (the first affected day minus the baseline window). */
  readonly readFrom: string;
  /** Daily states are recomputed, written or removed only for days in [from, to]. */
  readonly states: { readonly from: string; readonly to: string };
  /** Whether the baselines (as of the last day with data) can have changed. */
  readonly baselines: boolean;
}

/**
 * Recomputes one patient's twin from the Observations on the server and writes it back in one transaction.
 *
 * The twin is a function of the set of the patient's measurements (src/twin/computeTwin.ts), so whichever door
 * triggered the refresh, in whatever order data arrived, the result is the same, and running it again writes nothing
 * new (conditional updates of unchanged content create no version). A crash before the transaction commits leaves
 * the previous twin whole; running again completes it.
 */
export async function refreshPatientTwin(
  patientId: string,
  deps: RefreshDeps,
  requested?: RefreshWindow,
  source: PatientDataSource = serverDataSource(deps.client)
): Promise<RefreshSummary> {
  const { client } = deps;
  const subject = `Patient/${patientId}`;
  const consents = await source.consents(patientId);
  if (!consentAllowsProcessing(consents, deps.today())) {
    return { ...EMPTY, status: 'skipped-consent' };
  }
  const [conditions, procedures] = await Promise.all([source.conditions(patientId), source.procedures(patientId)]);
  const excludedPeriods = injuryPeriods(conditions, procedures);
  const window = requested && widenForExclusions(requested, excludedPeriods, DEFAULT_TWIN_OPTIONS.windowDays);
  const all = await source.observations(patientId, window?.readFrom);
  // The twin's own Observations live beside the measurements; they are outputs, never inputs.
  const measurements = all.filter((o) => !isTwinResource(o));
  const twinQuery: Record<string, string> = { subject, identifier: `${TWIN_RESOURCE_SYSTEM}|` };
  if (window) {
    twinQuery.date = `ge${window.readFrom}`;
  }
  const existingTwin = await client.searchAll<Observation>('Observation', twinQuery);
  const result = computeTwin(
    {
      patientId,
      observations: measurements,
      excludedPeriods,
      emitStates: window?.states,
    },
    deps.timeZone === undefined ? undefined : { timeZone: deps.timeZone }
  );
  const perDay = [...result.baselinesInForce, ...result.states];
  const keep = window?.baselines === false ? perDay : [...result.baselines, ...perDay];
  const stale = staleTwinIdentifiers(existingTwin, result, patientId, window);
  // writeBack sends only what differs from the twin already on the server: a replayed event or a repeated refresh
  // then sends nothing at all, and a new value sends the few resources it really changed.
  const onServer = new Map(existingTwin.map((o) => [twinKey(o), o]));
  const plan: WritePlan = {
    writes: [
      ...keep.map((o) => {
        const key = twinKey(o);
        if (!key) {
          throw internalFault('A twin resource was computed without its identifier');
        }
        return upsert(o, { system: TWIN_RESOURCE_SYSTEM, value: key }, onServer.get(key));
      }),
      ...stale.map((id) => remove('Observation', id)),
    ],
  };
  const written = await writeBack(client, withValidation(plan, deps.validate));
  const changed = written.sent.flatMap((w) => (w.kind === 'upsert' ? [w.resource as Observation] : []));
  return summarise(measurements.length, result, changed, stale.length);
}

/**
 * A caller that still passes `validate` (instead of a validating client) gets every resource of the plan checked
 * before anything is sent.
 */
function withValidation(plan: WritePlan, validate: ((resource: Resource) => void) | undefined): WritePlan {
  if (validate) {
    for (const write of plan.writes) {
      if (write.kind !== 'remove') {
        validate(write.resource);
      }
    }
  }
  return plan;
}

/**
 * A baseline window reaches back over excluded (post-injury) periods (ExclusionCalendar.windowStart), so with
 * exclusions a change on day t reaches the states of more weeks, and recomputing them needs older data, than
 * affectedDays.ts says for a calendar window. Widens the requested window to both.
 */
export function widenForExclusions(
  window: RefreshWindow,
  periods: readonly ExcludedPeriod[],
  windowDays: number
): RefreshWindow {
  if (periods.length === 0) {
    return window;
  }
  const calendar = new ExclusionCalendar(periods);
  const from = dayNumber(window.states.from);
  const readFrom = isoDay(Math.min(dayNumber(window.readFrom), calendar.windowStart(weekStart(from), windowDays) - 1));
  let to = window.states.to;
  if (to !== '9999-12-31') {
    // The last Monday whose window still holds day `from`, and the Sunday after it.
    let monday = weekStart(from);
    while (calendar.windowStart(monday + 7, windowDays) <= from) {
      monday += 7;
    }
    const last = isoDay(monday + 6);
    to = last > to ? last : to;
  }
  return { ...window, readFrom, states: { from: window.states.from, to } };
}

/** Where a refresh reads a patient's data from: the FHIR server (default) or, for the bulk door, an export. */
export interface PatientDataSource {
  observations(patientId: string, from?: string): Promise<Observation[]>;
  consents(patientId: string): Promise<Consent[]>;
  conditions(patientId: string): Promise<Condition[]>;
  procedures(patientId: string): Promise<Procedure[]>;
}

/** Reads each patient's data by search (FHIR R4 search.html), the patient's Observations from `from` on. */
export function serverDataSource(client: FhirClient): PatientDataSource {
  const subject = (id: string): string => `Patient/${id}`;
  return {
    observations: (id, from) =>
      client.searchAll<Observation>(
        'Observation',
        from ? { subject: subject(id), date: `ge${from}` } : { subject: subject(id) }
      ),
    consents: (id) => client.searchAll<Consent>('Consent', { patient: subject(id) }),
    conditions: (id) => client.searchAll<Condition>('Condition', { subject: subject(id) }),
    procedures: (id) => client.searchAll<Procedure>('Procedure', { subject: subject(id) }),
  };
}

const EMPTY: RefreshSummary = {
  status: 'refreshed',
  observationsRead: 0,
  accepted: 0,
  duplicates: 0,
  retracted: 0,
  rejected: 0,
  rejectionReasons: {},
  ignored: [],
  baselinesWritten: 0,
  baselinesInForceWritten: 0,
  statesWritten: 0,
  removed: 0,
};

function twinKey(o: Observation): string | undefined {
  return o.identifier?.find((i) => i.system === TWIN_RESOURCE_SYSTEM)?.value;
}

function isTwinResource(o: Observation): boolean {
  return o.identifier?.some((i) => i.system === TWIN_RESOURCE_SYSTEM) ?? false;
}

/**
 * Twin resources on the server that the new computation no longer produces (every measurement of that day was
 * retracted, say). Inside a window only states of the window's days are considered, and baselines only when the
 * window can change them.
 */
function staleTwinIdentifiers(
  existing: readonly Observation[],
  result: TwinResult,
  patientId: string,
  window: RefreshWindow | undefined
): { system: string; value: string }[] {
  const produced = new Set(
    [...result.baselines, ...result.baselinesInForce, ...result.states].map(
      (o) => o.identifier?.find((i) => i.system === TWIN_RESOURCE_SYSTEM)?.value
    )
  );
  const stale: { system: string; value: string }[] = [];
  for (const o of existing) {
    const value = o.identifier?.find((i) => i.system === TWIN_RESOURCE_SYSTEM)?.value;
    if (!value || produced.has(value)) {
      continue;
    }
    const [kind, pid, key, day] = value.split('/');
    if (pid !== patientId) {
      continue;
    }
    if (kind === 'state' && window && (key < window.states.from || key > window.states.to)) {
      continue;
    }
    // A baseline in force on a past day belongs to that day, like its state.
    if (kind === 'baseline' && day !== undefined && window && (day < window.states.from || day > window.states.to)) {
      continue;
    }
    if (kind === 'baseline' && day === undefined && window && !window.baselines) {
      continue;
    }
    stale.push({ system: TWIN_RESOURCE_SYSTEM, value });
  }
  return stale;
}

function summarise(read: number, result: TwinResult, written: readonly Observation[], removed: number): RefreshSummary {
  const rejectionReasons: Record<string, number> = {};
  for (const r of result.rejected) {
    rejectionReasons[r.reason] = (rejectionReasons[r.reason] ?? 0) + 1;
  }
  const segments = (o: Observation): string[] => o.identifier?.[0]?.value?.split('/') ?? [];
  return {
    status: 'refreshed',
    observationsRead: read,
    ...result.counts,
    rejectionReasons,
    ignored: ignoredInputs(result.rejected),
    baselinesWritten: written.filter((o) => segments(o)[0] === 'baseline' && segments(o).length === 3).length,
    baselinesInForceWritten: written.filter((o) => segments(o)[0] === 'baseline' && segments(o).length === 4).length,
    statesWritten: written.filter((o) => segments(o)[0] === 'state').length,
    removed,
  };
}

/** Rejections grouped by code, reason and unit, most frequent first (then by code, reason, unit: deterministic). */
export function ignoredInputs(rejected: readonly TwinRejection[]): IgnoredInput[] {
  const groups = new Map<string, { code: string; reason: string; unit?: string; count: number }>();
  for (const r of rejected) {
    const code = r.code ?? '(no code)';
    const key = JSON.stringify([code, r.reason, r.unit ?? null]);
    const group = groups.get(key);
    if (group) {
      group.count++;
    } else {
      groups.set(
        key,
        r.unit === undefined ? { code, reason: r.reason, count: 1 } : { code, reason: r.reason, unit: r.unit, count: 1 }
      );
    }
  }
  return mergeIgnored([...groups.values()]);
}

/** Sums groups with the same code, reason and unit and sorts them (most frequent first). */
export function mergeIgnored(groups: readonly IgnoredInput[]): IgnoredInput[] {
  const merged = new Map<string, IgnoredInput>();
  for (const g of groups) {
    const key = JSON.stringify([g.code, g.reason, g.unit ?? null]);
    const existing = merged.get(key);
    merged.set(key, existing ? { ...existing, count: existing.count + g.count } : { ...g });
  }
  const text = (a: string | undefined, b: string | undefined): number =>
    (a ?? '') < (b ?? '') ? -1 : (a ?? '') > (b ?? '') ? 1 : 0;
  return [...merged.values()].sort(
    (a, b) => b.count - a.count || text(a.code, b.code) || text(a.reason, b.reason) || text(a.unit, b.unit)
  );
}
