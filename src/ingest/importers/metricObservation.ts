import type { BundleEntry, Observation, Patient, Reference, Resource } from '@medplum/fhirtypes';
import {
  CATEGORY_DISPLAY,
  getMetric,
  normaliseMetricValue,
  OBSERVATION_CATEGORY_SYSTEM,
  metricUnitDisplay,
} from '../../fhir/metricCatalogue';
import { UCUM_SYSTEM } from '../../fhir/ucum';
import { internalFault } from '../../fhir/outcomes';
import { deterministicUuid } from '../../fhir/deterministicUuid';
import { identifierSearch } from '../../fhir/identifierSearch';

/**
 * Identifier system for every resource the project derives from an external or synthetic record. The value is a
 * stable key (source, subject, metric, day), so a replayed import produces the same identifier and the
 * conditional create (`ifNoneExist`) matches the existing resource instead of creating a duplicate
 * (FHIR R4 http.html#ccreate, bundle.html#transaction).
 */
export const RECORD_KEY_SYSTEM = 'https://recovery-twin.dev/fhir/NamingSystem/record-key';

/** Identifier system for the subject key of a source (e.g. PMData participant p01, Welltory user_code). */
export const SUBJECT_KEY_SYSTEM = 'https://recovery-twin.dev/fhir/NamingSystem/subject-key';

/** The record key of one daily metric value. */
export function observationKey(source: string, subjectKey: string, metric: string, day: string): string {
  return `${source}/${subjectKey}/${metric}/${day}`;
}

export interface MetricObservationInput {
  /** Source label used in the record key, e.g. `pmdata-fitbit`, `synthetic-s42`. */
  readonly source: string;
  /** Stable subject key within the source (part of the record key). */
  readonly subjectKey: string;
  /** Reference to the Patient (`Patient/123` or a transaction `urn:uuid:`). */
  readonly subject: Reference<Patient>;
  readonly metric: string;
  /** Calendar day, ISO `YYYY-MM-DD`; daily aggregates are dated to the day (dateTime to day precision). */
  readonly day: string;
  readonly value: number;
  /** Unit of `value`; defaults to the catalogue unit. Converted through ucum.ts. */
  readonly unit?: string;
  /** Device that produced the value, as a display-only reference. */
  readonly deviceDisplay?: string;
}

/**
 * Builds a final Observation for one daily metric value, normalised to the catalogue unit.
 * Throws a 400 OperationOutcomeError when the value is outside the metric's plausible bounds.
 */
export function buildMetricObservation(input: MetricObservationInput): Observation {
  const def = getMetric(input.metric);
  const value = normaliseMetricValue(def.name, input.value, input.unit);
  const key = observationKey(input.source, input.subjectKey, def.name, input.day);
  const observation: Observation = {
    resourceType: 'Observation',
    identifier: [{ system: RECORD_KEY_SYSTEM, value: key }],
    status: 'final',
    category: [
      {
        coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: def.category, display: CATEGORY_DISPLAY[def.category] }],
      },
    ],
    code: { coding: def.codings.map((c) => ({ ...c })), text: def.display },
    subject: input.subject,
    effectiveDateTime: input.day,
    valueQuantity: { value, unit: metricUnitDisplay(def), system: UCUM_SYSTEM, code: def.unit },
  };
  if (def.profiles.length > 0) {
    observation.meta = { profile: [...def.profiles] };
  }
  if (input.deviceDisplay) {
    observation.device = { display: input.deviceDisplay };
  }
  return observation;
}

/**
 * A transaction entry that creates `resource` unless one with its first identifier already exists.
 * `fullUrl` (a deterministic urn:uuid) is only needed for resources other entries reference (Patient, ...); leaf
 * Observations skip it, which saves a hash per value in million-row cohorts (bundle.html#bundle-unique: fullUrl is
 * optional for POST entries).
 */
export function conditionalCreateEntry<T extends Resource & { identifier?: { system?: string; value?: string }[] }>(
  resource: T,
  withFullUrl = true
): BundleEntry<T> {
  const identifier = resource.identifier?.[0];
  if (!identifier?.system || !identifier.value) {
    throw internalFault(`conditionalCreateEntry needs an identifier on ${resource.resourceType}`);
  }
  const request = {
    method: 'POST' as const,
    url: resource.resourceType,
    ifNoneExist: identifierSearch(identifier.system, identifier.value),
  };
  if (!withFullUrl) {
    return { resource, request };
  }
  return { fullUrl: `urn:uuid:${deterministicUuid(`${identifier.system}|${identifier.value}`)}`, resource, request };
}
