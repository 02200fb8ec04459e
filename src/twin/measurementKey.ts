import type { Observation } from '@medplum/fhirtypes';
import type { Measurement } from './normaliseObservation';

/**
 * De-duplication key of a measurement: the same patient, metric, effective time and source say the same thing once,
 * however many times (or through however many doors) it arrives.
 */
export function measurementKey(patientId: string, m: Measurement): string {
  return `${patientId}|${m.metric}|${m.time}|${m.source}`;
}

/**
 * Total order "which copy wins" between two copies of the same thing, newest first: later meta.lastUpdated, then the
 * higher meta.versionId (numeric when both are numbers, as on HAPI and this project's store; text otherwise, as for
 * Medplum's UUIDs where lastUpdated decides). Returns > 0 when `a` is newer.
 */
export function compareVersions(
  a: { readonly lastUpdated?: string; readonly versionId?: string },
  b: { readonly lastUpdated?: string; readonly versionId?: string }
): number {
  const ta = a.lastUpdated === undefined ? Number.NEGATIVE_INFINITY : Date.parse(a.lastUpdated);
  const tb = b.lastUpdated === undefined ? Number.NEGATIVE_INFINITY : Date.parse(b.lastUpdated);
  if (ta !== tb && !(Number.isNaN(ta) && Number.isNaN(tb))) {
    if (Number.isNaN(ta)) {
      return -1;
    }
    if (Number.isNaN(tb)) {
      return 1;
    }
    return ta > tb ? 1 : -1;
  }
  const va = a.versionId;
  const vb = b.versionId;
  if (va === vb) {
    return 0;
  }
  if (va === undefined) {
    return -1;
  }
  if (vb === undefined) {
    return 1;
  }
  const na = Number(va);
  const nb = Number(vb);
  if (Number.isFinite(na) && Number.isFinite(nb) && na !== nb) {
    return na > nb ? 1 : -1;
  }
  return va > vb ? 1 : va < vb ? -1 : 0;
}

/**
 * Which of two copies of one Observation (same id) is the one to use: the newer version; when the versions cannot
 * tell them apart (no meta), the larger canonical JSON, an arbitrary but order-independent choice.
 */
export function newerObservation(a: Observation, b: Observation): Observation {
  const byVersion = compareVersions(
    { lastUpdated: a.meta?.lastUpdated, versionId: a.meta?.versionId },
    { lastUpdated: b.meta?.lastUpdated, versionId: b.meta?.versionId }
  );
  if (byVersion !== 0) {
    return byVersion > 0 ? a : b;
  }
  return JSON.stringify(a) >= JSON.stringify(b) ? a : b;
}

/**
 * Which of two measurements with the same key to keep: the newer copy, then (identical versions, different
 * Observations) the smaller identity and then the smaller value, so the choice never depends on arrival order.
 */
export function preferredMeasurement(a: Measurement, b: Measurement): Measurement {
  const byVersion = compareVersions(a, b);
  if (byVersion !== 0) {
    return byVersion > 0 ? a : b;
  }
  const ia = a.sourceId ?? '';
  const ib = b.sourceId ?? '';
  if (ia !== ib) {
    return ia < ib ? a : b;
  }
  return a.value <= b.value ? a : b;
}

/** The result of de-duplicating a list of measurements by key. */
export interface Deduplicated {
  readonly kept: Measurement[];
  readonly duplicates: number;
}

/** Keeps one measurement per key (preferredMeasurement decides), counting the others as duplicates. */
export function dedupeMeasurements(_patientId: string, measurements: readonly Measurement[]): Deduplicated {
  const byKey = new Map<string, Measurement>();
  for (const m of measurements) {
    // measurementKey without the patient part: every measurement here belongs to `patientId` (one key per call).
    const key = `${m.metric}|${m.time}|${m.source}`;
    const existing = byKey.get(key);
    byKey.set(key, existing === undefined ? m : preferredMeasurement(existing, m));
  }
  return { kept: [...byKey.values()], duplicates: measurements.length - byKey.size };
}
