import type { Bundle, BundleEntry, Observation, Patient } from '@medplum/fhirtypes';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeEmbeddedSeed, OBSERVATION_ID_SYSTEM, PATIENT_ID_SYSTEM, serializeSeed } from '../scripts/makeEmbeddedSeed';
import { EMBEDDED_SEED_FILE, loadEmbeddedSeed } from '../src/fhir/seed';
import { createValidator } from '../src/fhir/validation';

const VITAL_SIGNS = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';
const HEART_RATE = 'http://hl7.org/fhir/StructureDefinition/heartrate';

const seed = loadEmbeddedSeed();
const entries: BundleEntry[] = seed.entry ?? [];
const patients = entries.filter((e): e is BundleEntry<Patient> => e.resource?.resourceType === 'Patient');
const observations = entries.filter((e): e is BundleEntry<Observation> => e.resource?.resourceType === 'Observation');

function identifierOf(entry: BundleEntry): { system?: string; value?: string } {
  const resource = entry.resource as Patient | Observation;
  expect(resource.identifier).toHaveLength(1);
  return resource.identifier?.[0] ?? {};
}

/** Daily values per patient identifier, in date order. */
function seriesByPatient(): Map<string, number[]> {
  const keyByUrl = new Map(patients.map((p) => [p.fullUrl, identifierOf(p).value ?? '']));
  const series = new Map<string, [string, number][]>();
  for (const { resource } of observations) {
    const key = keyByUrl.get(resource?.subject?.reference) ?? 'unknown';
    const points = series.get(key) ?? [];
    points.push([resource?.effectiveDateTime ?? '', resource?.valueQuantity?.value ?? NaN]);
    series.set(key, points);
  }
  return new Map([...series].map(([key, points]) => [key, points.sort().map(([, v]) => v)]));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

describe('embedded seed', () => {
  test('is one transaction Bundle of 5 Patients and 14 daily heart rates each', () => {
    expect(seed.resourceType).toBe('Bundle');
    expect(seed.type).toBe('transaction');
    expect(patients.map((p) => identifierOf(p))).toEqual(
      [1, 2, 3, 4, 5].map((n) => ({ system: PATIENT_ID_SYSTEM, value: `seed-${n}` }))
    );
    expect(observations).toHaveLength(5 * 14);
    expect(patients.length + observations.length).toBe(entries.length);
  });

  test('every entry resource, and the Bundle itself, passes base R4 and the profiles it claims', () => {
    const unknown: string[] = [];
    const validator = createValidator({ profileDirs: [], onUnknownProfile: (url) => unknown.push(url) });
    expect(validator.knownProfiles()).toEqual(expect.arrayContaining([VITAL_SIGNS, HEART_RATE]));
    for (const entry of entries) {
      expect(() => validator.validate(entry.resource as Patient | Observation)).not.toThrow();
    }
    expect(() => validator.validate(seed)).not.toThrow();
    expect(unknown).toEqual([]);
    for (const { resource } of observations) {
      expect(resource?.meta?.profile).toEqual([VITAL_SIGNS, HEART_RATE]);
    }
  });

  test('heart rates carry LOINC 8867-4 and UCUM /min', () => {
    for (const { resource } of observations) {
      expect(resource?.code.coding).toEqual([{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }]);
      expect(resource?.valueQuantity).toMatchObject({ system: 'http://unitsofmeasure.org', code: '/min' });
    }
  });

  test('identifiers and fullUrls are unique; each entry is a conditional create on its identifier', () => {
    const identifiers = entries.map((e) => `${identifierOf(e).system}|${identifierOf(e).value}`);
    expect(new Set(identifiers).size).toBe(entries.length);
    expect(new Set(entries.map((e) => e.fullUrl)).size).toBe(entries.length);
    for (const entry of entries) {
      const { system, value } = identifierOf(entry);
      expect(entry.fullUrl).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(entry.request).toEqual({
        method: 'POST',
        url: entry.resource?.resourceType,
        ifNoneExist: `identifier=${system}|${value}`,
      });
    }
    for (const { resource } of observations) {
      const { system, value } = resource?.identifier?.[0] ?? {};
      const patientKey = patients.find((p) => p.fullUrl === resource?.subject?.reference);
      expect(system).toBe(OBSERVATION_ID_SYSTEM);
      expect(value).toBe(`${identifierOf(patientKey ?? {}).value}-8867-4-${resource?.effectiveDateTime}`);
    }
  });

  test('every Observation references a Patient of the Bundle by its urn:uuid fullUrl', () => {
    const patientUrls = new Set(patients.map((p) => p.fullUrl));
    for (const { resource } of observations) {
      expect(patientUrls.has(resource?.subject?.reference)).toBe(true);
    }
  });

  test('each patient has 14 consecutive days', () => {
    const datesByPatient = new Map<string, string[]>();
    for (const { resource } of observations) {
      const key = resource?.subject?.reference ?? '';
      datesByPatient.set(key, [...(datesByPatient.get(key) ?? []), resource?.effectiveDateTime ?? '']);
    }
    const expected = Array.from({ length: 14 }, (_, i) => `2026-01-${String(i + 1).padStart(2, '0')}`);
    expect(datesByPatient.size).toBe(5);
    for (const dates of datesByPatient.values()) {
      expect([...dates].sort()).toEqual(expected);
    }
  });

  test('values are plausible resting heart rates; only seed-4 rises 8-12 /min over the last 3 days', () => {
    for (const [key, values] of seriesByPatient()) {
      const quiet = values.slice(0, 11);
      const last = values.slice(11);
      for (const v of quiet) {
        expect(Number.isInteger(v) && v >= 52 && v <= 68).toBe(true);
      }
      const base = median(quiet);
      if (key === 'seed-4') {
        // Rise of 8-12 over the baseline; the median of noisy quiet days is within 2 of the baseline.
        for (const v of last) {
          expect(v - base).toBeGreaterThanOrEqual(6);
          expect(v - base).toBeLessThanOrEqual(14);
        }
      } else {
        for (const v of last) {
          expect(Math.abs(v - base)).toBeLessThanOrEqual(4);
        }
      }
    }
  });

  test('the generator is deterministic and the committed file is its output', () => {
    const first = makeEmbeddedSeed();
    const second = makeEmbeddedSeed();
    expect(second).toEqual(first);
    const committed = readFileSync(join(__dirname, '..', EMBEDDED_SEED_FILE), 'utf8');
    expect(serializeSeed(first)).toBe(committed);
  });

  test('the values come from the seeded PRNG (another seed, other values; same identifiers)', () => {
    const other: Bundle = makeEmbeddedSeed({ seed: 7 });
    const values = (b: Bundle): unknown[] => (b.entry ?? []).map((e) => (e.resource as Observation).valueQuantity);
    const ids = (b: Bundle): unknown[] => (b.entry ?? []).map((e) => e.fullUrl);
    expect(values(other)).not.toEqual(values(seed));
    expect(ids(other)).toEqual(ids(seed));
  });
});
