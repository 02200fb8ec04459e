import type { Condition, Observation, Procedure } from '@medplum/fhirtypes';
import { createHash } from 'node:crypto';
import { parseDay } from '../calendar/calendarDay';
import { canonicalJson } from '../fhir/canonicalJson';
import { TWIN_RESOURCE_SYSTEM } from '../fhir/codes/twinCodes';
import type { MetricName } from '../fhir/metricCatalogue';
import { dailySeries } from '../twin/dailySeries';
import { dedupeMeasurements, newerObservation } from '../twin/measurementKey';
import { METRIC_RULES } from '../twin/metricRules';
import {
  normaliseObservation,
  observationIdentity,
  subjectPatientId,
  type Measurement,
} from '../twin/normaliseObservation';
import type { SimulationHistory } from './personalFit';
import { SIMULATED_METRICS, type SimulatedMetric } from './recoveryModel';

/** Days of history the fit reads (older days say little about the current recovery). */
export const HISTORY_DAYS = 180;

/**
 * A patient's history for the fit, from their Observations (any order, as read from the server), with the twin's
 * rules (src/twin/computeTwin.ts): the latest copy per Observation identity, an entered-in-error copy retracts it,
 * normaliseObservation (units, bounds, status), de-duplication, daily values by METRIC_RULES. The twin's own
 * resources are outputs, never inputs. Only days up to `asOfDay` and at most HISTORY_DAYS back are read.
 *
 * The index event is `eventDay` when given, else the latest Condition onset or Procedure performed date on or
 * before today (the injury, operation or illness the protocols start from).
 */
export function simulationHistory(
  patientId: string,
  asOfDay: number,
  observations: readonly Observation[],
  context: {
    readonly conditions?: readonly Condition[];
    readonly procedures?: readonly Procedure[];
    readonly eventDay?: number;
  }
): SimulationHistory {
  const byIdentity = new Map<string, Observation[]>();
  const chosen: Observation[] = [];
  for (const obs of observations) {
    if (obs.identifier?.some((i) => i.system === TWIN_RESOURCE_SYSTEM)) {
      continue;
    }
    const identity = observationIdentity(obs);
    if (identity === undefined) {
      chosen.push(obs);
    } else {
      byIdentity.set(identity, [...(byIdentity.get(identity) ?? []), obs]);
    }
  }
  for (const copies of byIdentity.values()) {
    if (!copies.some((c) => c.status === 'entered-in-error')) {
      chosen.push(copies.reduce(newerObservation));
    }
  }
  const measurements: Measurement[] = [];
  for (const obs of chosen) {
    const normalised = normaliseObservation(obs);
    if (normalised.kind !== 'measurement') {
      continue;
    }
    const subjectId = subjectPatientId(normalised.m.subject);
    if (
      (subjectId !== undefined && subjectId !== patientId) ||
      normalised.m.day > asOfDay ||
      normalised.m.day < asOfDay - HISTORY_DAYS
    ) {
      continue;
    }
    measurements.push(normalised.m);
  }
  const { kept } = dedupeMeasurements(patientId, measurements);
  const series: Partial<Record<SimulatedMetric, { days: number[]; values: number[] }>> = {};
  let load = { days: [] as number[], values: [] as number[] };
  let painNow: number | undefined;
  for (const s of dailySeries(kept, METRIC_RULES)) {
    const copy = { days: [...s.days], values: [...s.values] };
    if (isSimulated(s.metric)) {
      series[s.metric] = copy;
    } else if (s.metric === 'training-load') {
      load = copy;
    } else if (s.metric === 'pain-severity' && s.values.length > 0) {
      painNow = s.values[s.values.length - 1];
    }
  }
  const eventDay = context.eventDay ?? latestEventDay(context.conditions ?? [], context.procedures ?? [], asOfDay);
  return {
    asOfDay,
    series,
    load,
    ...(eventDay !== undefined ? { eventDay } : {}),
    ...(painNow !== undefined ? { painNow } : {}),
  };
}

/** sha256 of the history (canonical JSON): part of the simulation identity. */
export function historyDigest(history: SimulationHistory): string {
  return createHash('sha256').update(canonicalJson(history), 'utf8').digest('hex');
}

function isSimulated(metric: MetricName): metric is SimulatedMetric {
  return (SIMULATED_METRICS as readonly string[]).includes(metric);
}

function latestEventDay(
  conditions: readonly Condition[],
  procedures: readonly Procedure[],
  asOfDay: number
): number | undefined {
  const days: number[] = [];
  for (const c of conditions) {
    if (c.verificationStatus?.coding?.some((x) => x.code === 'entered-in-error' || x.code === 'refuted')) {
      continue;
    }
    const day = dayOf(c.onsetDateTime ?? c.onsetPeriod?.start ?? c.recordedDate);
    if (day !== undefined) {
      days.push(day);
    }
  }
  for (const p of procedures) {
    if (p.status === 'entered-in-error' || p.status === 'not-done') {
      continue;
    }
    const day = dayOf(p.performedDateTime ?? p.performedPeriod?.start);
    if (day !== undefined) {
      days.push(day);
    }
  }
  const past = days.filter((d) => d <= asOfDay);
  return past.length > 0 ? Math.max(...past) : undefined;
}

function dayOf(text: string | undefined): number | undefined {
  return text ? parseDay(text.slice(0, 10)) : undefined;
}
