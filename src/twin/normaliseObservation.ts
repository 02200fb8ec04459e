import type { Observation, Reference } from '@medplum/fhirtypes';
import type { MetricDefinition, MetricName } from '../fhir/metricCatalogue';
import { checkMetricValue, metricUnitCode, METRICS, METRIC_NAMES, recognisedCodings } from '../fhir/metricCatalogue';
import { isConvertible, UCUM_SYSTEM } from '../fhir/ucum';
import { RECORD_KEY_SYSTEM } from '../ingest/importers/metricObservation';
import { DEFAULT_TIME_ZONE, dayOfInstantIn, parseDay } from '../calendar/calendarDay';
import { internalFault } from '../fhir/outcomes';

/**
 * One accepted value of one metric: what the rest of the twin works on. Everything the twin needs is copied out of
 * the Observation here, once, so later stages never look at raw FHIR again.
 */
export interface Measurement {
  readonly metric: MetricName;
  /** Value in the catalogue unit of the metric (converted and bounds-checked). */
  readonly value: number;
  /**
   * The patient's local calendar day as a day number (calendarDay.ts): the date as the source wrote it when the
   * effective time carries a local offset, else the date in the configured default time zone (see effectiveOf).
   */
  readonly day: number;
  /**
   * The effective time as a de-duplication key: epoch milliseconds for a dateTime/instant with a time, the date
   * itself for a bare date (a different precision is a different statement).
   */
  readonly time: string;
  /** Who produced the value (device, meta.source or the record-key source); part of the de-duplication key. */
  readonly source: string;
  /** Identity of the Observation: its id, else `system|value` of its first identifier; retractions match on it. */
  readonly sourceId?: string;
  /**
   * `system|value` of the Observation's first complete identifier: how the twin's derivedFrom names its inputs when
   * it can, since an identifier is the same on every server the data reach (an id is not).
   */
  readonly identifier?: string;
  /** Observation.subject as written (a Patient reference, a transaction urn:uuid, or a logical identifier). */
  readonly subject: string;
  /** meta.lastUpdated and meta.versionId, to prefer the newest copy when two copies say the same thing. */
  readonly lastUpdated?: string;
  readonly versionId?: string;
}

export type Normalised =
  | { kind: 'measurement'; m: Measurement }
  | { kind: 'retraction'; sourceId: string }
  | { kind: 'rejected'; reason: string; code?: string; unit?: string };

/** What normalisation needs to know about the deployment. */
export interface NormaliseOptions {
  /**
   * IANA time zone of the patient's day when a source recorded no local offset (a UTC `Z` time): default UTC.
   * A time with a real offset (`+09:00`, `-05:00`, `+00:00`) always counts for the date it was written with.
   */
  readonly timeZone?: string;
}

/**
 * Every coding of every catalogue metric (primary and alternative codings both denote the metric), as
 * system -> code -> metric: two lookups per coding and no string building on the hot path.
 */
const METRIC_BY_CODING: ReadonlyMap<
  string | undefined,
  ReadonlyMap<string | undefined, MetricName>
> = buildCodingIndex();

function buildCodingIndex(): Map<string | undefined, Map<string | undefined, MetricName>> {
  const index = new Map<string | undefined, Map<string | undefined, MetricName>>();
  for (const name of METRIC_NAMES) {
    for (const coding of recognisedCodings(METRICS[name])) {
      let bySystem = index.get(coding.system);
      if (!bySystem) {
        bySystem = new Map();
        index.set(coding.system, bySystem);
      }
      const existing = bySystem.get(coding.code);
      if (existing && existing !== name) {
        throw internalFault(`catalogue coding ${coding.system}|${coding.code} denotes both ${existing} and ${name}`);
      }
      bySystem.set(coding.code, name);
    }
  }
  return index;
}

/**
 * Turns one raw Observation into a measurement, a retraction or a rejection with a reason.
 *
 * Reasons never carry values or free text from the resource (they end up in logs and summaries: no health data).
 * The rules, in order:
 * - status (FHIR R4 valueset-observation-status): entered-in-error -> retraction of that Observation; final, amended
 *   and corrected are used (the caller passes the latest version); registered, preliminary, cancelled, unknown are
 *   refused: they are not (yet) a result.
 * - code: any coding of a catalogue metric (LOINC, project code, or a recognised alternative), else refused; the
 *   rejection names the code (system|code of the first coding) so dropped data can be reported per code.
 * - subject: a Patient reference (relative, absolute, or a transaction urn:uuid) or a logical identifier.
 * - effective time: effectiveDateTime, effectiveInstant or effectivePeriod (its start; for sleep its end, the morning
 *   the night counts for), at least to the day; a dateTime with a time must carry a zone (FHIR R4
 *   datatypes.html#dateTime). The day is the patient's LOCAL day: the date written with a local offset (07:00+09:00
 *   on the 5th is the 5th), or for a UTC `Z` time the date in `options.timeZone` (default UTC). docs/twin-data-contract.md.
 * - value: valueQuantity without comparator, converted with the catalogue's UCUM table and checked against the
 *   metric's plausible bounds: out of bounds is refused, never clamped.
 */
export function normaliseObservation(obs: Observation, options?: NormaliseOptions): Normalised {
  if ((obs as { resourceType?: unknown }).resourceType !== 'Observation') {
    return rejected('not an Observation');
  }
  const status = obs.status as string | undefined;
  switch (status) {
    case 'final':
    case 'amended':
    case 'corrected':
      break;
    case 'entered-in-error': {
      const sourceId = observationIdentity(obs);
      return sourceId === undefined
        ? rejected('entered-in-error Observation without id or identifier: nothing to retract')
        : { kind: 'retraction', sourceId };
    }
    case 'registered':
    case 'preliminary':
    case 'cancelled':
    case 'unknown':
      return rejected(`status ${status} is not a usable result`);
    default:
      return rejected('missing or invalid status');
  }

  const metric = metricOf(obs);
  if (metric === undefined) {
    return rejected('code is not a catalogue metric', codeText(obs));
  }
  if (metric === null) {
    return rejected('code denotes more than one catalogue metric', codeText(obs));
  }
  const code = codeText(obs);
  const def = METRICS[metric];

  const subject = subjectText(obs.subject);
  if (subject === undefined) {
    return rejected('missing subject', code);
  }
  if (subject === null) {
    return rejected('subject is not a Patient', code);
  }

  const effective = effectiveOf(obs, metric, options?.timeZone ?? DEFAULT_TIME_ZONE);
  if (typeof effective === 'string') {
    return rejected(effective, code);
  }

  const value = valueOf(obs, def);
  if (typeof value === 'string') {
    return rejected(value, code, unitText(obs));
  }

  const m: Measurement = {
    metric,
    value,
    day: effective.day,
    time: effective.time,
    source: sourceOf(obs),
    sourceId: observationIdentity(obs),
    identifier: firstIdentifier(obs),
    subject,
    lastUpdated: obs.meta?.lastUpdated,
    versionId: obs.meta?.versionId,
  };
  return { kind: 'measurement', m };
}

function rejected(reason: string, code?: string, unit?: string): Normalised {
  const r: Normalised = { kind: 'rejected', reason };
  if (code !== undefined) {
    r.code = code;
  }
  if (unit !== undefined) {
    r.unit = unit;
  }
  return r;
}

/** Longest code or unit text a report repeats (a code is not health data, but it is still free text). */
const TEXT_LIMIT = 64;

/**
 * The code of an Observation as `system|code`: the coding the catalogue recognised, else the first coding, else
 * `text:<text>`; undefined when there is no code at all.
 */
function codeText(obs: Observation): string | undefined {
  const codings = obs.code?.coding ?? [];
  const known = codings.find((c) => METRIC_BY_CODING.get(c.system)?.get(c.code) !== undefined);
  const coding = known ?? codings[0];
  if (coding) {
    return `${coding.system ?? ''}|${coding.code ?? ''}`.slice(0, TEXT_LIMIT);
  }
  return obs.code?.text ? `text:${obs.code.text}`.slice(0, TEXT_LIMIT) : undefined;
}

/** The unit as the source wrote it (code, else unit text), for the report of dropped data. */
function unitText(obs: Observation): string | undefined {
  const q = obs.valueQuantity;
  const unit = q?.code ?? q?.unit;
  return unit === undefined ? undefined : unit.slice(0, TEXT_LIMIT);
}

function firstIdentifier(obs: Observation): string | undefined {
  const identifier = obs.identifier?.find((i) => i.system && i.value);
  return identifier ? `${identifier.system}|${identifier.value}` : undefined;
}

/** The Observation's identity: its id, else `system|value` of its first complete identifier. */
export function observationIdentity(obs: Observation): string | undefined {
  if (obs.id) {
    return obs.id;
  }
  for (const identifier of obs.identifier ?? []) {
    if (identifier.system && identifier.value) {
      return `${identifier.system}|${identifier.value}`;
    }
  }
  return undefined;
}

/** undefined: no catalogue metric; null: codings of two different metrics. */
function metricOf(obs: Observation): MetricName | undefined | null {
  let found: MetricName | undefined;
  for (const coding of obs.code?.coding ?? []) {
    const name = METRIC_BY_CODING.get(coding.system)?.get(coding.code);
    if (name !== undefined) {
      if (found !== undefined && found !== name) {
        return null;
      }
      found = name;
    }
  }
  return found;
}

/** undefined: no subject; null: a subject that is not a Patient. */
function subjectText(subject: Reference | undefined): string | undefined | null {
  if (!subject) {
    return undefined;
  }
  const reference = subject.reference;
  if (reference) {
    if (reference.startsWith('urn:uuid:') || reference.startsWith('urn:oid:')) {
      return reference;
    }
    return subjectPatientId(reference) === undefined ? null : reference;
  }
  const identifier = subject.identifier;
  if (identifier?.value && (subject.type === undefined || subject.type === 'Patient')) {
    return `identifier:${identifier.system ?? ''}|${identifier.value}`;
  }
  return undefined;
}

/** FHIR R4 datatypes.html#id. */
const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;
const PATIENT_REFERENCE = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

/**
 * The logical id of a Patient reference (`Patient/123`, `https://server/fhir/Patient/123`, with or without
 * `/_history/n`); undefined for anything else (FHIR R4 references.html#literal).
 */
export function subjectPatientId(reference: string | undefined): string | undefined {
  if (!reference) {
    return undefined;
  }
  if (reference === lastReference) {
    return lastPatientId;
  }
  let id: string | undefined;
  // Fast path for the common relative form `Patient/{id}`.
  if (reference.startsWith('Patient/') && reference.indexOf('/', 8) === -1) {
    id = reference.slice(8);
    id = ID_PATTERN.test(id) ? id : undefined;
  } else {
    id = PATIENT_REFERENCE.exec(reference)?.[1];
  }
  lastReference = reference;
  lastPatientId = id;
  return id;
}

/** One-entry memo: a patient's Observations all carry the same subject reference. */
let lastReference: string | undefined;
let lastPatientId: string | undefined;

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/;
const PARTIAL_DATE = /^\d{4}(-\d{2})?$/;

/** The effective day (local) and time key, or the reason there is none. */
function effectiveOf(obs: Observation, metric: MetricName, timeZone: string): { day: number; time: string } | string {
  // A night of sleep counts for the day it ends on (metricRules.ts), so a sleep period is dated by its end.
  const period = obs.effectivePeriod;
  const periodTime = metric === 'sleep-duration' ? (period?.end ?? period?.start) : (period?.start ?? period?.end);
  const text = obs.effectiveDateTime ?? obs.effectiveInstant ?? periodTime;
  if (text === undefined) {
    return obs.effectiveTiming
      ? 'effectiveTiming is not supported: no single effective time'
      : 'missing effective time';
  }
  if (typeof text !== 'string') {
    return 'effective time is not a string';
  }
  if (text.length === 10) {
    const day = parseDay(text);
    if (day !== undefined) {
      return { day, time: text };
    }
    return DATE_ONLY.test(text) ? 'effective time is not a calendar date' : 'effective time is not a valid dateTime';
  }
  const match = DATE_TIME.exec(text);
  if (match) {
    if (match[1] === undefined) {
      return 'effective time has a time of day but no time zone';
    }
    const ms = Date.parse(text);
    const written = parseDay(text.slice(0, 10));
    if (!Number.isFinite(ms) || written === undefined) {
      return 'effective time is not a valid dateTime';
    }
    // A local offset was recorded: the date as written is the patient's day (an 07:00+09:00 reading belongs to that
    // morning, not to the previous UTC day). `Z` says only "UTC", not where the patient was: use the configured zone.
    const day = match[1] === 'Z' ? dayOfInstantIn(ms, timeZone) : written;
    return { day, time: String(ms) };
  }
  return PARTIAL_DATE.test(text)
    ? 'effective time is not precise to the day'
    : 'effective time is not a valid dateTime';
}

/** The value in the catalogue unit, or the reason it is refused (no value in the reason). */
function valueOf(obs: Observation, def: MetricDefinition): number | string {
  const quantity = obs.valueQuantity;
  if (!quantity) {
    return `${def.name}: no valueQuantity`;
  }
  const value = quantity.value;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return `${def.name}: valueQuantity.value is not a finite number`;
  }
  if (quantity.comparator !== undefined) {
    return `${def.name}: value with a comparator is not an exact measurement`;
  }
  // The UCUM code is authoritative when the system is UCUM (FHIR R4 datatypes.html#Quantity); the display text is a
  // fallback for exports that only fill `unit`, and only through the unambiguous aliases of ucum.ts.
  const unit =
    quantity.system === undefined || quantity.system === UCUM_SYSTEM ? (quantity.code ?? quantity.unit) : quantity.unit;
  if (unit === undefined || unit.trim() === '') {
    return `${def.name}: valueQuantity has no unit`;
  }
  if (unit === def.unit) {
    // Already in the catalogue unit (what the importers write): only the bounds check remains.
    const same = checkMetricValue(def.name, value);
    return same.ok ? same.value : same.reason;
  }
  const from = metricUnitCode(def, unit);
  if (from === undefined) {
    return `${def.name}: unknown unit`;
  }
  if (!isConvertible(from, def.unit)) {
    return `${def.name}: unit cannot be converted to ${def.unit}`;
  }
  const checked = checkMetricValue(def.name, value, from);
  return checked.ok ? checked.value : checked.reason;
}

/**
 * The source of a measurement for de-duplication: the device, else meta.source, else the source label of a
 * record-key identifier (its first path segment, e.g. `pmdata-fitbit`), else another identifier's system.
 */
function sourceOf(obs: Observation): string {
  const device = obs.device;
  if (device) {
    if (device.reference) {
      return `device:${device.reference}`;
    }
    if (device.identifier?.value) {
      return `device:${device.identifier.system ?? ''}|${device.identifier.value}`;
    }
    if (device.display) {
      return `device:${device.display}`;
    }
  }
  if (obs.meta?.source) {
    return `meta:${obs.meta.source}`;
  }
  for (const identifier of obs.identifier ?? []) {
    if (identifier.system === RECORD_KEY_SYSTEM && identifier.value) {
      const slash = identifier.value.indexOf('/');
      return `record-key:${slash > 0 ? identifier.value.slice(0, slash) : identifier.value}`;
    }
  }
  for (const identifier of obs.identifier ?? []) {
    if (identifier.system) {
      return `identifier:${identifier.system}`;
    }
  }
  return 'unknown';
}
