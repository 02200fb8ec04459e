import type { Observation, Reference } from '@medplum/fhirtypes';
import type { MetricDefinition, MetricName } from '../fhir/metricCatalogue';
import { checkMetricValue, METRICS, METRIC_NAMES } from '../fhir/metricCatalogue';
import { isConvertible, toUcumCode, UCUM_SYSTEM } from '../fhir/ucum';
import { RECORD_KEY_SYSTEM } from '../ingest/importers/metricObservation';
import { dayOfInstant, parseDay } from '../calendar/calendarDay';
import { internalFault } from '../fhir/outcomes';

/**
 * One accepted value of one metric: what the rest of the twin works on. Everything the twin needs is copied out of
 * the Observation here, once, so later stages never look at raw FHIR again.
 */
export interface Measurement {
  readonly metric: MetricName;
  /** Value in the catalogue unit of the metric (converted and bounds-checked). */
  readonly value: number;
  /** UTC calendar day as a day number (calendarDay.ts). */
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
  /** Observation.subject as written (a Patient reference, a transaction urn:uuid, or a logical identifier). */
  readonly subject: string;
  /** meta.lastUpdated and meta.versionId, to prefer the newest copy when two copies say the same thing. */
  readonly lastUpdated?: string;
  readonly versionId?: string;
}

export type Normalised =
  | { kind: 'measurement'; m: Measurement }
  | { kind: 'retraction'; sourceId: string }
  | { kind: 'rejected'; reason: string };

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
    for (const coding of METRICS[name].codings) {
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
 * - code: any coding of a catalogue metric (LOINC or project code), else refused.
 * - subject: a Patient reference (relative, absolute, or a transaction urn:uuid) or a logical identifier.
 * - effective time: effectiveDateTime, effectiveInstant or effectivePeriod.start, at least to the day; a dateTime
 *   with a time must carry a zone (FHIR R4 datatypes.html#dateTime), and its day is the UTC calendar day.
 * - value: valueQuantity without comparator, converted with the catalogue's UCUM table and checked against the
 *   metric's plausible bounds: out of bounds is refused, never clamped.
 */
export function normaliseObservation(obs: Observation): Normalised {
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
    return rejected('code is not a catalogue metric');
  }
  if (metric === null) {
    return rejected('code denotes more than one catalogue metric');
  }
  const def = METRICS[metric];

  const subject = subjectText(obs.subject);
  if (subject === undefined) {
    return rejected('missing subject');
  }
  if (subject === null) {
    return rejected('subject is not a Patient');
  }

  const effective = effectiveOf(obs);
  if (typeof effective === 'string') {
    return rejected(effective);
  }

  const value = valueOf(obs, def);
  if (typeof value === 'string') {
    return rejected(value);
  }

  const m: Measurement = {
    metric,
    value,
    day: effective.day,
    time: effective.time,
    source: sourceOf(obs),
    sourceId: observationIdentity(obs),
    subject,
    lastUpdated: obs.meta?.lastUpdated,
    versionId: obs.meta?.versionId,
  };
  return { kind: 'measurement', m };
}

function rejected(reason: string): Normalised {
  return { kind: 'rejected', reason };
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

/** The effective day and time key, or the reason there is none. */
function effectiveOf(obs: Observation): { day: number; time: string } | string {
  const text = obs.effectiveDateTime ?? obs.effectiveInstant ?? obs.effectivePeriod?.start;
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
    if (!Number.isFinite(ms) || parseDay(text.slice(0, 10)) === undefined) {
      return 'effective time is not a valid dateTime';
    }
    return { day: dayOfInstant(ms), time: String(ms) };
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
  let from: string;
  try {
    from = toUcumCode(unit);
  } catch {
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
