import type { CodeableConcept, Observation, ObservationComponent, Quantity, Reference } from '@medplum/fhirtypes';
import type { MetricName } from '../fhir/metricCatalogue';
import { METRICS, metricUnitDisplay } from '../fhir/metricCatalogue';
import { UCUM_SYSTEM } from '../fhir/ucum';
import type { BaselineResult } from './baseline';
import type { RecoveryState } from './recoveryState';
import {
  baselineIdentifierValue,
  METRIC_DEVIATION_SYSTEM,
  stateIdentifierValue,
  TWIN_CONCEPT_DISPLAY,
  TWIN_CONCEPT_SYSTEM,
  TWIN_PROFILE,
  TWIN_RESOURCE_SYSTEM,
  type TwinConceptCode,
} from '../fhir/codes/twinCodes';

/**
 * The twin's Observations exactly as docs/twin-data-contract.md specifies them. No id, no meta other than the profile, and
 * every number rounded to a fixed number of decimals, so the same inputs always serialise to the same bytes and a
 * conditional update of unchanged content creates no new version.
 */

/** Rounds half away from zero to `decimals` places; never returns -0 (it would serialise as 0 anyway). */
export function roundTo(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  const rounded = (Math.sign(value) * Math.round(Math.abs(value) * factor)) / factor;
  return rounded === 0 ? 0 : rounded;
}

/** Decimals of centre, spread and band: one more than the metric's own values (at most 3). */
export function baselineDecimals(metric: MetricName): number {
  return Math.min(3, METRICS[metric].decimals + 1);
}

const Z_DECIMALS = 2;
const INDEX_DECIMALS = 2;
const COMPLETENESS_DECIMALS = 1;
const WEIGHT_DECIMALS = 3;

function concept(code: TwinConceptCode): { coding: { system: string; code: string; display: string }[] } {
  return { coding: [{ system: TWIN_CONCEPT_SYSTEM, code, display: TWIN_CONCEPT_DISPLAY[code] }] };
}

function metricQuantity(metric: MetricName, value: number): Quantity {
  const def = METRICS[metric];
  return {
    value: roundTo(value, baselineDecimals(metric)),
    unit: metricUnitDisplay(def),
    system: UCUM_SYSTEM,
    code: def.unit,
  };
}

function unitless(value: number): Quantity {
  return { value, unit: '1', system: UCUM_SYSTEM, code: '1' };
}

/** The metric a baseline describes: its catalogue codings, as the value of the baseline-metric component. */
function metricConcept(metric: MetricName): CodeableConcept {
  const def = METRICS[metric];
  return { coding: def.codings.map((c) => ({ ...c })), text: def.display };
}

/**
 * The code of a metric's deviation in a daily state: the metric-deviation CodeSystem, never the measurement's own
 * code, so a search for the measurement (code, combo-code, component-code) does not return the state.
 */
function deviationCode(metric: MetricName): CodeableConcept {
  return {
    coding: [
      {
        system: METRIC_DEVIATION_SYSTEM,
        code: metric,
        display: `${METRICS[metric].display}: deviation from personal baseline`,
      },
    ],
  };
}

/** R4 data-absent-reason: the value is expected once enough data exist (terminology.hl7.org data-absent-reason). */
const NOT_ENOUGH_DATA: CodeableConcept = {
  coding: [
    {
      system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason',
      code: 'temp-unknown',
      display: 'Temporarily Unknown',
    },
  ],
};

export interface BaselineResourceInput {
  readonly patientId: string;
  readonly metric: MetricName;
  readonly baseline: BaselineResult;
  /** The day whose values are judged against this baseline (YYYY-MM-DD); part of the identifier when `inForce`. */
  readonly asOf: string;
  /** true: the record of the baseline in force on `asOf` (identifier with the day); false: the current baseline. */
  readonly inForce: boolean;
  /** First and last day whose values the baseline used (the window searched when there were none), YYYY-MM-DD. */
  readonly from: string;
  readonly to: string;
  readonly windowDays: number;
  /** The Observations the baseline was computed from, sorted (may be empty when they carry no id). */
  readonly derivedFrom: readonly Reference<Observation>[];
}

/** A twin-baseline Observation (docs/twin-data-contract.md). */
export function buildBaselineObservation(input: BaselineResourceInput): Observation {
  const { patientId, metric, baseline } = input;
  const def = METRICS[metric];
  const identifier = baselineIdentifierValue(patientId, metric, input.inForce ? input.asOf : undefined);
  const o: Observation = {
    resourceType: 'Observation',
    meta: { profile: [TWIN_PROFILE.baseline] },
    identifier: [{ system: TWIN_RESOURCE_SYSTEM, value: identifier }],
    status: 'final',
    category: [{ coding: [{ system: TWIN_CONCEPT_SYSTEM, code: 'twin-baseline', display: 'Twin personal baseline' }] }],
    code: { ...concept('personal-baseline'), text: `Personal baseline: ${def.display}` },
    subject: { reference: `Patient/${patientId}` },
    effectivePeriod: { start: input.from, end: input.to },
  };
  const metricComponent: ObservationComponent = {
    code: concept('baseline-metric'),
    valueCodeableConcept: metricConcept(metric),
  };
  const counts: ObservationComponent[] = [
    { code: concept('baseline-sample-count'), valueInteger: baseline.n },
    { code: concept('baseline-window-days'), valueInteger: input.windowDays },
  ];
  if (baseline.kind === 'not-enough-data') {
    o.dataAbsentReason = { ...NOT_ENOUGH_DATA, text: baseline.reason };
    o.method = { coding: [{ system: TWIN_CONCEPT_SYSTEM, code: 'robust-median-mad' }] };
    o.component = [metricComponent, ...counts];
  } else {
    const decimals = baselineDecimals(metric);
    o.valueQuantity = metricQuantity(metric, roundTo(baseline.centre, decimals));
    o.method = { coding: [{ system: TWIN_CONCEPT_SYSTEM, code: 'robust-median-mad' }] };
    o.referenceRange = [
      {
        // From the unrounded figures, then rounded: the band does not inherit the centre's rounding error twice.
        low: metricQuantity(metric, baseline.low),
        high: metricQuantity(metric, baseline.high),
        text: "personal normal band: centre ± 2 SD of the patient's own day-to-day values, within the plausible range",
      },
    ];
    o.component = [
      metricComponent,
      { code: concept('baseline-spread'), valueQuantity: metricQuantity(metric, roundTo(baseline.spread, decimals)) },
      ...counts,
      {
        code: concept('baseline-prior-weight'),
        valueQuantity: unitless(roundTo(baseline.priorWeight, WEIGHT_DECIMALS)),
      },
    ];
  }
  if (input.derivedFrom.length > 0) {
    o.derivedFrom = input.derivedFrom.map((r) => ({ ...r }));
  }
  return o;
}

/** A twin-recovery-state Observation (docs/twin-data-contract.md). */
export function buildStateObservation(
  patientId: string,
  day: string,
  state: RecoveryState,
  derivedFrom: readonly Reference<Observation>[]
): Observation {
  const component: ObservationComponent[] = state.components.map((c) => ({
    code: deviationCode(c.metric),
    valueQuantity: unitless(roundTo(c.z, Z_DECIMALS)),
  }));
  component.push({
    code: concept('data-completeness'),
    valueQuantity: {
      value: roundTo(state.completeness, COMPLETENESS_DECIMALS),
      unit: '%',
      system: UCUM_SYSTEM,
      code: '%',
    },
  });
  const o: Observation = {
    resourceType: 'Observation',
    meta: { profile: [TWIN_PROFILE.recoveryState] },
    identifier: [{ system: TWIN_RESOURCE_SYSTEM, value: stateIdentifierValue(patientId, day) }],
    status: 'final',
    category: [{ coding: [{ system: TWIN_CONCEPT_SYSTEM, code: 'twin-recovery-state' }] }],
    code: { coding: [{ system: TWIN_CONCEPT_SYSTEM, code: 'recovery-index', display: 'Recovery index' }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: day,
    valueQuantity: unitless(roundTo(state.index, INDEX_DECIMALS)),
    component,
  };
  if (derivedFrom.length > 0) {
    o.derivedFrom = derivedFrom.map((r) => ({ ...r }));
  }
  return o;
}
