// Builders of raw Observations for the twin tests (test/twin.*.test.ts). Deliberately written by hand rather than
// through the importers, so tests can also build what an importer would refuse (wrong units, missing fields).
import type { Observation } from '@medplum/fhirtypes';
import type { MetricName } from '../src/fhir/metricCatalogue';
import { METRICS } from '../src/fhir/metricCatalogue';
import { UCUM_SYSTEM } from '../src/fhir/ucum';
import { addDays } from '../src/calendar/calendarDay';

export const PATIENT = 'pat-1';
export const START = '2026-03-01';

export interface ObsSpec {
  metric: MetricName;
  value: number;
  /** Day offset from START (bare date) unless `time` is given. */
  day?: number;
  time?: string;
  unit?: string;
  id?: string;
  status?: Observation['status'];
  device?: string;
  versionId?: string;
  lastUpdated?: string;
}

export function dayOf(offset: number): string {
  return addDays(START, offset);
}

export function obs(spec: ObsSpec): Observation {
  const def = METRICS[spec.metric];
  const o: Observation = {
    resourceType: 'Observation',
    status: spec.status ?? 'final',
    code: { coding: def.codings.map((c) => ({ ...c })) },
    subject: { reference: `Patient/${PATIENT}` },
    effectiveDateTime: spec.time ?? dayOf(spec.day ?? 0),
    valueQuantity: { value: spec.value, system: UCUM_SYSTEM, code: spec.unit ?? def.unit },
  };
  if (spec.id) {
    o.id = spec.id;
  }
  if (spec.device) {
    o.device = { reference: spec.device };
  }
  if (spec.versionId || spec.lastUpdated) {
    o.meta = { versionId: spec.versionId, lastUpdated: spec.lastUpdated };
  }
  return o;
}

/** A deterministic pseudo-noise in [-1, 1] (no Math.random in tests). */
export function wobble(i: number): number {
  return Math.sin(i * 12.9898) * 0.999;
}

/** `days` daily values of one metric: centre + amplitude x wobble, one Observation per day with ids. */
export function dailyObservations(
  metric: MetricName,
  fromDay: number,
  days: number,
  centre: number,
  amplitude: number,
  decimals = 1
): Observation[] {
  const out: Observation[] = [];
  for (let d = fromDay; d < fromDay + days; d++) {
    const value = Math.round((centre + amplitude * wobble(d)) * 10 ** decimals) / 10 ** decimals;
    out.push(obs({ metric, value, day: d, id: `${metric}-${d}`, device: 'Device/watch' }));
  }
  return out;
}

/** The value of a component whose code carries `code`. */
export function componentValue(o: Observation, code: string): number | undefined {
  const c = o.component?.find((x) => x.code.coding?.some((k) => k.code === code));
  return c?.valueQuantity?.value ?? c?.valueInteger;
}
