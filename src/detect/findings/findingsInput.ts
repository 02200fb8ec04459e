import type { Observation } from '@medplum/fhirtypes';
import { isMetricName, type MetricName } from '../../fhir/metricCatalogue';
import { isoDay, parseDay } from '../../calendar/calendarDay';
import { dailySeries } from '../../twin/dailySeries';
import { dedupeMeasurements, newerObservation } from '../../twin/measurementKey';
import { METRIC_RULES } from '../../twin/metricRules';
import {
  normaliseObservation,
  observationIdentity,
  subjectPatientId,
  type Measurement,
} from '../../twin/normaliseObservation';
import { TWIN_PROFILE, TWIN_RESOURCE_SYSTEM } from '../../fhir/codes/twinCodes';
import type { SubjectSeries } from '../detectionInput';
import type { BasisIndex, TwinOutputs } from './findingResources';

/** A patient's daily series for the detectors, and which Observations gave each day's value of each metric. */
export interface FindingsInput {
  readonly series: SubjectSeries;
  readonly basis: BasisIndex;
  /** Observations that gave no value (not a catalogue metric, not usable, retracted, other patient): a count only. */
  readonly unused: number;
  /** The twin's own outputs on the server (daily states, baselines), for a finding's basis. */
  readonly twin: TwinOutputs;
  /** Sources (device, meta.source) of each day's values per metric, for device changes (episodeAttribution.ts). */
  readonly sources: ReadonlyMap<number, ReadonlyMap<MetricName, readonly string[]>>;
}

/**
 * Turns a patient's Observations (as read from the server, any order) into the SubjectSeries scoreSubject takes,
 * with the same rules as the twin (src/twin/computeTwin.ts): the latest copy per Observation identity, an
 * entered-in-error copy retracts the identity, normaliseObservation (units, bounds, status), de-duplication by
 * metric/time/source, and daily values by METRIC_RULES aggregation (src/twin/dailySeries.ts). The twin's own
 * Observations (baselines, daily states) are outputs and never inputs. Day ordinals are days since 1970-01-01, as
 * src/detect/detectionInput.ts gives for ISO dates.
 */
export function findingsInput(patientId: string, observations: readonly Observation[]): FindingsInput {
  const byIdentity = new Map<string, Observation[]>();
  const anonymous: Observation[] = [];
  let unused = 0;
  const twin: { states: Map<number, string>; baselines: { metric: MetricName; id: string; asOf: number }[] } = {
    states: new Map(),
    baselines: [],
  };
  for (const obs of observations) {
    if (obs.identifier?.some((i) => i.system === TWIN_RESOURCE_SYSTEM)) {
      collectTwinOutput(obs, twin);
      unused++;
      continue;
    }
    const identity = observationIdentity(obs);
    if (identity === undefined) {
      anonymous.push(obs);
    } else {
      byIdentity.set(identity, [...(byIdentity.get(identity) ?? []), obs]);
    }
  }
  const chosen: Observation[] = [...anonymous];
  for (const copies of byIdentity.values()) {
    if (copies.some((c) => c.status === 'entered-in-error')) {
      unused += copies.length;
    } else {
      unused += copies.length - 1;
      chosen.push(copies.reduce(newerObservation));
    }
  }
  const idOf = new Map<Measurement, string | undefined>();
  const measurements: Measurement[] = [];
  for (const obs of chosen) {
    const normalised = normaliseObservation(obs);
    if (normalised.kind !== 'measurement') {
      unused++;
      continue;
    }
    const subjectId = subjectPatientId(normalised.m.subject);
    if (subjectId !== undefined && subjectId !== patientId) {
      unused++;
      continue;
    }
    idOf.set(normalised.m, obs.id);
    measurements.push(normalised.m);
  }
  const { kept, duplicates } = dedupeMeasurements(patientId, measurements);
  unused += duplicates;

  const values = new Map<number, Map<MetricName, number>>();
  const dayLabels = new Map<number, string>();
  for (const s of dailySeries(kept, METRIC_RULES)) {
    s.days.forEach((day, i) => {
      let dayValues = values.get(day);
      if (!dayValues) {
        dayValues = new Map();
        values.set(day, dayValues);
        dayLabels.set(day, isoDay(day));
      }
      dayValues.set(s.metric, s.values[i]);
    });
  }
  const basis = new Map<number, Map<MetricName, string[]>>();
  for (const m of kept) {
    const id = idOf.get(m);
    if (id === undefined) {
      continue;
    }
    let byMetric = basis.get(m.day);
    if (!byMetric) {
      byMetric = new Map();
      basis.set(m.day, byMetric);
    }
    byMetric.set(m.metric, [...(byMetric.get(m.metric) ?? []), id]);
  }
  for (const byMetric of basis.values()) {
    for (const ids of byMetric.values()) {
      ids.sort();
    }
  }
  const sources = new Map<number, Map<MetricName, string[]>>();
  for (const m of kept) {
    let byMetric = sources.get(m.day);
    if (!byMetric) {
      byMetric = new Map();
      sources.set(m.day, byMetric);
    }
    const list = byMetric.get(m.metric) ?? [];
    if (!list.includes(m.source)) {
      list.push(m.source);
    }
    byMetric.set(m.metric, list);
  }
  twin.baselines.sort((a, b) => a.asOf - b.asOf || (a.id < b.id ? -1 : 1));
  return { series: { subjectId: patientId, dayLabels, values }, basis, unused, twin, sources };
}

/**
 * A twin output read back: a daily recovery state (profile twin-recovery-state, or identifier `state/...`) by its
 * day, or a baseline (profile twin-baseline, or identifier `baseline/{patient}/{metric}...`) by metric and as-of day
 * (effectivePeriod.end, else effectiveDateTime).
 */
function collectTwinOutput(
  obs: Observation,
  twin: { states: Map<number, string>; baselines: { metric: MetricName; id: string; asOf: number }[] }
): void {
  if (!obs.id || obs.status === 'entered-in-error') {
    return;
  }
  const key = obs.identifier?.find((i) => i.system === TWIN_RESOURCE_SYSTEM)?.value ?? '';
  const profiles = obs.meta?.profile ?? [];
  const dayText = (obs.effectivePeriod?.end ?? obs.effectiveDateTime ?? '').slice(0, 10);
  const day = dayText ? parseDay(dayText) : undefined;
  if (day === undefined) {
    return;
  }
  if (profiles.includes(TWIN_PROFILE.recoveryState) || key.startsWith('state/')) {
    twin.states.set(day, obs.id);
  } else if (profiles.includes(TWIN_PROFILE.baseline) || key.startsWith('baseline/')) {
    const metric = key.split('/')[2] ?? '';
    if (isMetricName(metric)) {
      twin.baselines.push({ metric, id: obs.id, asOf: day });
    }
  }
}
