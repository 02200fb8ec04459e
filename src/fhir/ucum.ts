import { badRequest, OperationOutcomeError } from '@medplum/core';

/** The UCUM code system URI used in Quantity.system (FHIR R4 datatypes.html#Quantity, terminologies-systems.html). */
export const UCUM_SYSTEM = 'http://unitsofmeasure.org';

/**
 * The physical dimension a unit measures. Two units convert into each other only when their dimensions match;
 * annotations such as `{score}` or `{steps}/d` have UCUM dimension 1 but are kept as their own "dimensions" here so a
 * score is never silently turned into a step count.
 */
export type UnitDimension =
  | 'temperature'
  | 'mass'
  | 'duration'
  | 'frequency'
  | 'fraction'
  | 'mass-concentration'
  | 'substance-concentration'
  | 'score'
  | 'arbitrary'
  | 'steps-per-day';

interface UnitDefinition {
  readonly dimension: UnitDimension;
  /** value_in_base = value * factor + offset (base: Cel, kg, h, /min, %, mg/dL, mmol/L, 1). */
  readonly factor: number;
  readonly offset: number;
  /** Human-readable unit for Quantity.unit. */
  readonly display: string;
}

/**
 * The UCUM units the project reads and writes, with the factors the UCUM specification defines for them
 * (https://ucum.org/ucum: [degF] = 5/9 K with offset, [lb_av] = 0.45359237 kg, h = 60 min, d = 24 h).
 * Unit codes are case-sensitive UCUM ("c/s") codes.
 */
const UNITS: Readonly<Record<string, UnitDefinition>> = Object.freeze({
  Cel: { dimension: 'temperature', factor: 1, offset: 0, display: 'C' },
  '[degF]': { dimension: 'temperature', factor: 5 / 9, offset: (-32 * 5) / 9, display: 'F' },
  K: { dimension: 'temperature', factor: 1, offset: -273.15, display: 'K' },
  kg: { dimension: 'mass', factor: 1, offset: 0, display: 'kg' },
  g: { dimension: 'mass', factor: 0.001, offset: 0, display: 'g' },
  '[lb_av]': { dimension: 'mass', factor: 0.45359237, offset: 0, display: 'lb' },
  h: { dimension: 'duration', factor: 1, offset: 0, display: 'h' },
  min: { dimension: 'duration', factor: 1 / 60, offset: 0, display: 'min' },
  s: { dimension: 'duration', factor: 1 / 3600, offset: 0, display: 's' },
  ms: { dimension: 'duration', factor: 1 / 3_600_000, offset: 0, display: 'ms' },
  d: { dimension: 'duration', factor: 24, offset: 0, display: 'd' },
  '/min': { dimension: 'frequency', factor: 1, offset: 0, display: '/min' },
  '{beats}/min': { dimension: 'frequency', factor: 1, offset: 0, display: 'beats/minute' },
  '/s': { dimension: 'frequency', factor: 60, offset: 0, display: '/s' },
  '%': { dimension: 'fraction', factor: 1, offset: 0, display: '%' },
  '1': { dimension: 'fraction', factor: 100, offset: 0, display: '1' },
  'mg/dL': { dimension: 'mass-concentration', factor: 1, offset: 0, display: 'mg/dL' },
  'g/L': { dimension: 'mass-concentration', factor: 100, offset: 0, display: 'g/L' },
  'mmol/L': { dimension: 'substance-concentration', factor: 1, offset: 0, display: 'mmol/L' },
  '{score}': { dimension: 'score', factor: 1, offset: 0, display: 'score' },
  '{AU}': { dimension: 'arbitrary', factor: 1, offset: 0, display: 'AU' },
  '{steps}/d': { dimension: 'steps-per-day', factor: 1, offset: 0, display: 'steps/day' },
});

/** Common non-UCUM spellings found in wearable exports, mapped to their UCUM code. Only unambiguous ones. */
const ALIASES: Readonly<Record<string, string>> = Object.freeze({
  '°C': 'Cel',
  C: 'Cel',
  '°F': '[degF]',
  F: '[degF]',
  lb: '[lb_av]',
  lbs: '[lb_av]',
  // Rates per minute as sources spell them in Quantity.unit (HealthKitOnFHIR writes "beats/minute" and
  // "breaths/minute"; Health Connect bridges "bpm"); UCUM annotations {beats}/min and {breaths}/min are /min.
  bpm: '/min',
  BPM: '/min',
  'beats/min': '/min',
  'beats/minute': '/min',
  'beats per minute': '/min',
  'breaths/min': '/min',
  'breaths/minute': '/min',
  'breaths per minute': '/min',
  '{breaths}/min': '/min',
  '{beat}/min': '/min',
  '{breath}/min': '/min',
  'min-1': '/min',
  // Durations (sleep): hours and minutes in the spellings exports use.
  hours: 'h',
  hour: 'h',
  hr: 'h',
  hrs: 'h',
  minutes: 'min',
  minute: 'min',
  mins: 'min',
  seconds: 's',
  sec: 's',
  milliseconds: 'ms',
  'mg/dl': 'mg/dL',
});

/** Normalises a unit string to a UCUM code the project knows, or throws with the reason. */
export function toUcumCode(unit: string): string {
  const trimmed = unit.trim();
  if (UNITS[trimmed]) {
    return trimmed;
  }
  const alias = ALIASES[trimmed];
  if (alias) {
    return alias;
  }
  throw new OperationOutcomeError(badRequest(`Unknown or unsupported unit '${trimmed}'`, 'Quantity.code'));
}

/** Human-readable display for a UCUM code (Quantity.unit). */
export function ucumDisplay(code: string): string {
  return UNITS[toUcumCode(code)].display;
}

/** True when `from` converts into `to` (same dimension). */
export function isConvertible(from: string, to: string): boolean {
  try {
    return unitOf(from).dimension === unitOf(to).dimension;
  } catch {
    return false;
  }
}

/**
 * Converts a value between two UCUM units of the same dimension (°F→Cel, [lb_av]→kg, min→h, ...).
 * Throws an OperationOutcomeError (400) for unknown units or a dimension mismatch; mmol/L ↔ mg/dL is refused on
 * purpose because it needs the analyte's molar mass, which a unit alone does not know.
 */
export function convertUnit(value: number, from: string, to: string): number {
  if (!Number.isFinite(value)) {
    throw new OperationOutcomeError(badRequest(`Value is not a finite number`, 'Quantity.value'));
  }
  const source = unitOf(from);
  const target = unitOf(to);
  if (source.dimension !== target.dimension) {
    throw new OperationOutcomeError(
      badRequest(`Cannot convert '${from}' (${source.dimension}) to '${to}' (${target.dimension})`, 'Quantity.code')
    );
  }
  if (source === target) {
    return value;
  }
  const base = value * source.factor + source.offset;
  return (base - target.offset) / target.factor;
}

function unitOf(unit: string): UnitDefinition {
  return UNITS[toUcumCode(unit)];
}
