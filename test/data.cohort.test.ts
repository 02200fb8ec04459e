import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OperationOutcomeError } from '@medplum/core';
import type { Bundle, Observation } from '@medplum/fhirtypes';
import { runSeed } from '../src/cli/seedCommand';
import { parseGroundTruth } from '../src/cohort/events';
import type { GeneratedPatient } from '../src/cohort/generateCohort';
import { generateCohort } from '../src/cohort/generateCohort';
import { DEVICE_B } from '../src/cohort/physiology';
import { createPrng } from '../src/cohort/prng';
import { fhirServerSink } from '../src/ingest/importers/bundleSink';
import { validationIssues } from './data.fhirValidation';

const quiet = (): void => undefined;
const START = '2024-01-01';

function cohort(patients: number, days: number, seed: number): GeneratedPatient[] {
  return [...generateCohort({ patients, days, seed, startDate: START })];
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function series(
  p: GeneratedPatient,
  metric: 'resting-heart-rate' | 'hrv-rmssd' | 'training-load' | 'pain-severity'
): (number | undefined)[] {
  return p.daily.map((d) => d.values[metric]);
}

function meanOf(values: (number | undefined)[], from: number, to: number): number | undefined {
  const present = values.slice(Math.max(0, from), to + 1).filter((v): v is number => v !== undefined);
  return present.length ? present.reduce((a, b) => a + b, 0) / present.length : undefined;
}

describe('prng', () => {
  test('same seed and stream give the same draws; different streams differ', () => {
    const a = createPrng(42, 'x');
    const b = createPrng(42, 'x');
    const c = createPrng(42, 'y');
    const draws = (p: ReturnType<typeof createPrng>): number[] => Array.from({ length: 5 }, () => p.next());
    const da = draws(a);
    expect(draws(b)).toEqual(da);
    expect(draws(c)).not.toEqual(da);
    expect(da.every((v) => v >= 0 && v < 1)).toBe(true);
  });
});

describe('generateCohort', () => {
  test('is deterministic for a seed, and patient i does not depend on the cohort size', () => {
    const a = cohort(3, 60, 7);
    const b = cohort(3, 60, 7);
    expect(JSON.stringify(a.map((p) => [p.bundle, p.groundTruth]))).toBe(
      JSON.stringify(b.map((p) => [p.bundle, p.groundTruth]))
    );
    const bigger = cohort(5, 60, 7);
    expect(JSON.stringify(bigger.slice(0, 3).map((p) => p.bundle))).toBe(JSON.stringify(a.map((p) => p.bundle)));
    const other = cohort(3, 60, 8);
    expect(JSON.stringify(other.map((p) => p.bundle))).not.toBe(JSON.stringify(a.map((p) => p.bundle)));
  });

  test('every resource validates (base R4 + claimed vital-signs profiles); every entry is a conditional create', () => {
    const resourceTypes = new Set<string>();
    const profiles = new Set<string>();
    for (const patient of cohort(4, 45, 3)) {
      const keys = new Set<string>();
      for (const entry of patient.bundle.entry ?? []) {
        const resource = entry.resource;
        if (!resource) {
          throw new Error('entry without resource');
        }
        resourceTypes.add(resource.resourceType);
        resource.meta?.profile?.forEach((p) => profiles.add(p));
        expect({ type: resource.resourceType, issues: validationIssues(resource) }).toEqual({
          type: resource.resourceType,
          issues: [],
        });
        expect(entry.request?.method).toBe('POST');
        // Conditional create on the resource's own identifier (FHIR R4 http.html#ccreate), URL-encoded.
        const id = (entry.resource as { identifier?: { system?: string; value?: string }[] }).identifier?.[0];
        expect(id?.system).toMatch(/^https:\/\/recovery-twin\.dev\/fhir\/NamingSystem\/[a-z-]+$/);
        expect(entry.request?.ifNoneExist).toBe(`identifier=${encodeURIComponent(`${id?.system}|${id?.value}`)}`);
        keys.add(entry.request?.ifNoneExist ?? '');
      }
      expect(keys.size).toBe(patient.bundle.entry?.length);
      expect(patient.bundle.type).toBe('transaction');
    }
    expect([...resourceTypes].sort()).toEqual(
      expect.arrayContaining(['Consent', 'DocumentReference', 'Observation', 'Patient'])
    );
    expect(profiles).toContain('http://hl7.org/fhir/StructureDefinition/heartrate');
    expect(profiles).toContain('http://hl7.org/fhir/StructureDefinition/resprate');
  });

  test('injury Conditions use a verified SNOMED code; surgery is a text-only Procedure', () => {
    const all = cohort(40, 60, 11);
    const conditions = all.flatMap((p) =>
      (p.bundle.entry ?? []).map((e) => e.resource).filter((r) => r?.resourceType === 'Condition')
    );
    const procedures = all.flatMap((p) =>
      (p.bundle.entry ?? []).map((e) => e.resource).filter((r) => r?.resourceType === 'Procedure')
    );
    expect(conditions.length).toBeGreaterThan(0);
    expect(procedures.length).toBeGreaterThan(0);
    for (const c of conditions) {
      expect(['44465007', '58150001', '62106007']).toContain(
        (c as { code: { coding: { code: string }[] } }).code.coding[0]?.code
      );
    }
    for (const p of procedures) {
      const code = (p as { code: { coding?: unknown; text?: string } }).code;
      expect(code.coding).toBeUndefined();
      expect(typeof code.text).toBe('string');
    }
  });

  test('resting HR and HRV move in opposite directions (correlated physiology)', () => {
    const correlations: number[] = [];
    for (const p of cohort(20, 120, 5)) {
      const pairs = p.daily
        .map((d) => [d.values['resting-heart-rate'], d.values['hrv-rmssd']])
        .filter((x): x is [number, number] => x[0] !== undefined && x[1] !== undefined);
      const mx = pairs.reduce((a, x) => a + x[0], 0) / pairs.length;
      const my = pairs.reduce((a, x) => a + x[1], 0) / pairs.length;
      const cov = pairs.reduce((a, x) => a + (x[0] - mx) * (x[1] - my), 0);
      const vx = pairs.reduce((a, x) => a + (x[0] - mx) ** 2, 0);
      const vy = pairs.reduce((a, x) => a + (x[1] - my) ** 2, 0);
      correlations.push(cov / Math.sqrt(vx * vy));
    }
    expect(median(correlations)).toBeLessThan(-0.3);
  });

  test('rejects bad options with an OperationOutcomeError', () => {
    expect(() => cohort(0, 10, 1)).toThrow(OperationOutcomeError);
    expect(() => [...generateCohort({ patients: 1, days: 10, seed: 1, startDate: '2024-13-45' })]).toThrow(/startDate/);
  });
});

describe('ground truth matches the injected events (trivial re-detection rules)', () => {
  const patients = cohort(150, 150, 21);
  const truth = patients.flatMap((p) => p.groundTruth);

  test('illness: resting HR around symptom onset is > 3 bpm above the pre-onset median; rarely so elsewhere', () => {
    let detected = 0;
    let total = 0;
    let falseAlarms = 0;
    let controls = 0;
    for (const p of patients) {
      const rhr = series(p, 'resting-heart-rate');
      const baselineAt = (day: number): number | undefined => {
        const window = rhr.slice(Math.max(0, day - 21), day).filter((v): v is number => v !== undefined);
        return window.length >= 7 ? median(window) : undefined;
      };
      const rule = (day: number): boolean | undefined => {
        const base = baselineAt(day);
        const level = meanOf(rhr, day, day + 2);
        return base === undefined || level === undefined ? undefined : level - base > 3;
      };
      const onset = p.groundTruth.find((r) => r.event === 'illness_presymptomatic');
      const symptoms = p.groundTruth.find((r) => r.event === 'illness_symptoms');
      if (onset && symptoms) {
        expect(symptoms.day - onset.day).toBeGreaterThanOrEqual(1);
        expect(symptoms.day - onset.day).toBeLessThanOrEqual(7);
        const hit = rule(symptoms.day - 1);
        if (hit !== undefined) {
          total++;
          detected += hit ? 1 : 0;
        }
      }
      // Controls: athletes with no injected event at all, every 10th day after the baseline period.
      if (p.groundTruth.length === 0 && p.plan.persona === 'athlete') {
        for (let day = 30; day < 140; day += 10) {
          const hit = rule(day);
          if (hit !== undefined) {
            controls++;
            falseAlarms += hit ? 1 : 0;
          }
        }
      }
    }
    expect(total).toBeGreaterThan(20);
    expect(detected / total).toBeGreaterThan(0.85);
    expect(controls).toBeGreaterThan(50);
    expect(falseAlarms / controls).toBeLessThan(0.1);
  });

  test('overreaching: session loads in the block are well above the previous four weeks', () => {
    const rows = truth.filter((r) => r.event === 'overreaching');
    expect(rows.length).toBeGreaterThan(5);
    for (const row of rows) {
      const p = patients.find((x) => x.subjectKey === row.subject) as GeneratedPatient;
      // Rule: mean logged session load of the first 10 days vs the 28 days before (rest days carry no value).
      const load = series(p, 'training-load');
      const before = meanOf(load, row.day - 28, row.day - 1) as number;
      const during = meanOf(load, row.day, row.day + 9) as number;
      expect(during).toBeGreaterThan(1.3 * before);
    }
  });

  test('data gaps have no wearable values; device changes switch the device on that day', () => {
    const gaps = truth.filter((r) => r.event === 'data_gap');
    expect(gaps.length).toBeGreaterThan(10);
    for (const row of gaps) {
      const p = patients.find((x) => x.subjectKey === row.subject) as GeneratedPatient;
      const length = p.plan.gap?.length ?? 0;
      expect(length).toBeGreaterThanOrEqual(4);
      for (let day = row.day; day < row.day + length; day++) {
        expect(p.daily[day]?.values['resting-heart-rate']).toBeUndefined();
      }
    }
    for (const row of truth.filter((r) => r.event === 'device_change')) {
      const p = patients.find((x) => x.subjectKey === row.subject) as GeneratedPatient;
      expect(p.daily[row.day]?.device).toBe(DEVICE_B);
      expect(p.daily[row.day - 1]?.device).not.toBe(DEVICE_B);
    }
  });

  test('injury/surgery: pain starts high and recovers toward baseline; plateaus are recorded', () => {
    const starts = truth.filter((r) => r.event === 'injury' || r.event === 'surgery');
    expect(starts.length).toBeGreaterThan(20);
    for (const row of starts) {
      const p = patients.find((x) => x.subjectKey === row.subject) as GeneratedPatient;
      const pain = series(p, 'pain-severity');
      const early = meanOf(pain, row.day, row.day + 3);
      const late = meanOf(pain, row.day + 45, row.day + 60);
      if (early !== undefined) {
        expect(early).toBeGreaterThanOrEqual(3);
        expect(late ?? 0).toBeLessThan(early);
      }
    }
    const plateaus = truth.filter((r) => r.event === 'recovery_plateau');
    expect(plateaus.length).toBeGreaterThan(5);
  });
});

describe('writing the cohort', () => {
  test('seed --out writes one bundle per patient, ground-truth.csv and observations.csv', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rt-seed-'));
    try {
      await runSeed({ patients: 6, days: 40, seed: 9, startDate: START, out: dir }, quiet);
      const files = (await readdir(join(dir, 'bundles'))).sort();
      expect(files).toEqual([
        'syn-9-0001.json',
        'syn-9-0002.json',
        'syn-9-0003.json',
        'syn-9-0004.json',
        'syn-9-0005.json',
        'syn-9-0006.json',
      ]);
      const bundle = JSON.parse(await readFile(join(dir, 'bundles', files[0]), 'utf8')) as Bundle;
      expect(bundle).toEqual(cohort(1, 40, 9)[0]?.bundle);
      const truth = parseGroundTruth(await readFile(join(dir, 'ground-truth.csv'), 'utf8'));
      expect(truth).toEqual(cohort(6, 40, 9).flatMap((p) => p.groundTruth));
      const long = (await readFile(join(dir, 'observations.csv'), 'utf8')).trim().split('\n');
      expect(long[0]).toBe('subject_id,day,metric,value');
      const observationCount = cohort(6, 40, 9).reduce(
        (n, p) => n + (p.bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'Observation').length,
        0
      );
      expect(long.length - 1).toBe(observationCount);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('fhir sink posts application/fhir+json and fails clearly on non-2xx', async () => {
    const calls: { url: string; headers: Record<string, string> }[] = [];
    const ok = fhirServerSink('http://fhir.test/base/', (url, init) => {
      calls.push({ url, headers: init.headers });
      return Promise.resolve({ ok: true, status: 200, statusText: 'OK', text: () => Promise.resolve('{}') });
    });
    await ok.write('p1', { resourceType: 'Bundle', type: 'transaction', entry: [] });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe('http://fhir.test/base');
    expect(calls[0]?.headers['Content-Type']).toBe('application/fhir+json');
    const failing = fhirServerSink('http://fhir.test', () =>
      Promise.resolve({
        ok: false,
        status: 422,
        statusText: 'Unprocessable Entity',
        text: () =>
          Promise.resolve(
            JSON.stringify({
              resourceType: 'OperationOutcome',
              issue: [{ severity: 'error', code: 'invalid', details: { text: 'bad bundle' } }],
            })
          ),
      })
    );
    await expect(failing.write('p1', { resourceType: 'Bundle', type: 'transaction' })).rejects.toThrow(
      /HTTP 422.*bad bundle/
    );
  });

  test('observations carry the deterministic record key and the device', () => {
    const p = cohort(1, 10, 4)[0];
    const obs = (p.bundle.entry ?? [])
      .map((e) => e.resource)
      .filter((r): r is Observation => r?.resourceType === 'Observation');
    // Issue 11: the LOINC coding (40443-4) comes first; the project code is still there beside it.
    const rhr = obs.find(
      (o) => o.code.coding?.some((c) => c.code === 'resting-heart-rate') && o.effectiveDateTime === '2024-01-01'
    );
    expect(rhr?.code.coding?.[0]?.code).toBe('40443-4');
    if (rhr) {
      expect(rhr.identifier?.[0]?.value).toBe('synthetic/syn-4-0001/resting-heart-rate/2024-01-01');
      expect(rhr.device?.display).toMatch(/wearable/);
    }
    expect(obs.length).toBeGreaterThan(30);
  });
});
