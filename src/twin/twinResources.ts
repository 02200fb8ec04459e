import type { Observation, ObservationComponent, Quantity } from '@medplum/fhirtypes';
import type { MetricName } from '../fhir/metricCatalogue';
import { METRICS, metricUnitDisplay } from '../fhir/metricCatalogue';
import { UCUM_SYSTEM } from '../fhir/ucum';
import type { Baseline } from './baseline';
import type { RecoveryState } from './recoveryState';
import {
  baselineIdentifierValue,
  stateIdentifierValue,
  TWIN_CONCEPT_DISPLAY,
  TWIN_CONCEPT_SYSTEM,
  TWIN_PROFILE,
  TWIN_RESOURCE_SYSTEM,
  type TwinConceptCode,
} from '../fhir/codes/twinCodes';

/**
 * The twin's Observations exactly as notes/twin-model.md specifies them. No id, no meta other than the profile, and
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
function baselineDecimals(metric: MetricName): number {
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

function metricCode(metric: MetricName): Observation['code'] {
  const def = METRICS[metric];
  return { coding: def.codings.map((c) => ({ ...c })), text: def.display };
}

export interface BaselineResourceInput {
  readonly patientId: string;
  readonly metric: MetricName;
  readonly baseline: Baseline;
  /** First day of the window (as-of day minus W) and the as-of day, YYYY-MM-DD. */
  readonly windowStart: string;
  readonly asOf: string;
  readonly windowDays: number;
}

/** A twin-baseline Observation (notes/twin-model.md). */
export function buildBaselineObservation(input: BaselineResourceInput): Observation {
  const { patientId, metric, baseline } = input;
  const decimals = baselineDecimals(metric);
  const centre = roundTo(baseline.centre, decimals);
  const spread = roundTo(baseline.spread, decimals);
  return {
    resourceType: 'Observation',
    meta: { profile: [TWIN_PROFILE.baseline] },
    identifier: [{ system: TWIN_RESOURCE_SYSTEM, value: baselineIdentifierValue(patientId, metric) }],
    status: 'final',
    category: [{ coding: [{ system: TWIN_CONCEPT_SYSTEM, code: 'twin-baseline', display: 'Twin personal baseline' }] }],
    code: metricCode(metric),
    subject: { reference: `Patient/${patientId}` },
    effectivePeriod: { start: input.windowStart, end: input.asOf },
    valueQuantity: metricQuantity(metric, centre),
    method: { coding: [{ system: TWIN_CONCEPT_SYSTEM, code: 'robust-median-mad' }] },
    referenceRange: [
      {
        // From the unrounded figures, then rounded: the band does not inherit the centre's rounding error twice.
        low: metricQuantity(metric, baseline.centre - 2 * baseline.spread),
        high: metricQuantity(metric, baseline.centre + 2 * baseline.spread),
        text: 'personal normal band: centre ± 2 robust SD',
      },
    ],
    component: [
      { code: concept('baseline-spread'), valueQuantity: metricQuantity(metric, spread) },
      { code: concept('baseline-sample-count'), valueInteger: baseline.n },
      { code: concept('baseline-window-days'), valueInteger: input.windowDays },
      {
        code: concept('baseline-prior-weight'),
        valueQuantity: unitless(roundTo(baseline.priorWeight, WEIGHT_DECIMALS)),
      },
    ],
  };
}

/** A twin-recovery-state Observation (notes/twin-model.md). */
export function buildStateObservation(patientId: string, day: string, state: RecoveryState): Observation {
  const component: ObservationComponent[] = state.components.map((c) => ({
    code: metricCode(c.metric),
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
  return {
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
}
