import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, Observation } from '@medplum/fhirtypes';
import { parseSource, runImport } from '../src/cli/importCommand';
import { buildImportBundles } from '../src/ingest/importers/importBundles';
import type { ImportRecord } from '../src/ingest/importers/importRecord';
import { parseLongCsv } from '../src/ingest/importers/longCsv';
import { parsePmsysExport } from '../src/ingest/importers/pmsys';
import { parseCsv } from '../src/ingest/importers/csvRows';
import { validationIssues } from './data.fhirValidation';
import { identifierSearch } from '../src/fhir/identifierSearch';

const FIX = join(__dirname, '..', 'fixtures');
const quiet = (): void => undefined;

function find(
  records: readonly ImportRecord[],
  metric: string,
  day: string,
  subject?: string
): ImportRecord | undefined {
  return records.find(
    (r) => r.metric === metric && r.day === day && (subject === undefined || r.subjectKey === subject)
  );
}

function observations(bundles: readonly { bundle: Bundle }[]): Observation[] {
  return bundles
    .flatMap((b) => (b.bundle.entry ?? []).map((e) => e.resource))
    .filter((r): r is Observation => r?.resourceType === 'Observation');
}

function byKey(obs: readonly Observation[], key: string): Observation | undefined {
  return obs.find((o) => o.identifier?.[0]?.value === key);
}

describe('csv reader', () => {
  test('keeps line numbers and quoted commas', () => {
    const table = parseCsv('a,b,c\n1,"x, y",3\n\n4,"he said ""hi""",6\r\n7,8\n');
    expect(table.rows.map((r) => r.line)).toEqual([2, 4, 5]);
    expect(table.rows[0]?.values['b']).toBe('x, y');
    expect(table.rows[1]?.values['b']).toBe('he said "hi"');
    expect(table.rows[2]?.fieldCount).toBe(2);
  });
});

describe('fitbit importer (PMData excerpt)', () => {
  test('resting HR, sleep and active minutes match the source files', async () => {
    const parsed = await parseSource('fitbit', join(FIX, 'pmdata', 'p01'), { onError: 'skip' });
    // resting_heart_rate.json entry 1: {"dateTime": "2019-11-01 00:00:00", "value": {"value": 53.74107360839844}}
    expect(find(parsed.records, 'resting-heart-rate', '2019-11-01')?.value).toBeCloseTo(53.741, 3);
    expect(find(parsed.records, 'resting-heart-rate', '2019-11-01')?.subjectKey).toBe('p01');
    // sleep.json: dateOfSleep 2019-11-02, minutesAsleep 378 -> 6.3 h after conversion
    expect(find(parsed.records, 'sleep-duration', '2019-11-02')).toMatchObject({ value: 378, unit: 'min' });
    // logId 24544805751 appears twice for 2019-11-07 in the export: imported once
    expect(parsed.records.filter((r) => r.metric === 'sleep-duration' && r.day === '2019-11-07')).toHaveLength(1);
    // 2019-11-01: very active 72 + moderately active 58
    expect(find(parsed.records, 'active-minutes', '2019-11-01')?.value).toBe(130);

    const built = buildImportBundles(parsed);
    const obs = observations(built.bundles);
    const rhr = byKey(obs, 'pmdata-fitbit/p01/resting-heart-rate/2019-11-01');
    // Issue 11: the verified LOINC code first, the project code kept beside it for data already written.
    expect(rhr?.code.coding).toEqual([
      { system: 'http://loinc.org', code: '40443-4', display: 'Heart rate --resting' },
      {
        system: 'https://recovery-twin.dev/fhir/CodeSystem/recovery-metric',
        code: 'resting-heart-rate',
        display: 'Resting heart rate',
      },
    ]);
    expect(rhr?.valueQuantity).toEqual({
      value: 53.7,
      unit: '/min',
      system: 'http://unitsofmeasure.org',
      code: '/min',
    });
    expect(rhr?.effectiveDateTime).toBe('2019-11-01');
    const sleep = byKey(obs, 'pmdata-fitbit/p01/sleep-duration/2019-11-02');
    expect(sleep?.valueQuantity).toMatchObject({ value: 6.3, code: 'h' });
    for (const o of obs) {
      expect(validationIssues(o)).toEqual([]);
    }
  });

  test('zero resting-HR estimates are skipped and reported with their entry number', async () => {
    const parsed = await parseSource('fitbit', join(FIX, 'pmdata', 'p03', 'fitbit'), { onError: 'skip' });
    expect(parsed.records.filter((r) => r.metric === 'resting-heart-rate').map((r) => r.day)).toEqual([
      '2019-11-01',
      '2019-11-02',
      '2019-11-05',
      '2019-11-06',
      '2019-11-07',
      '2019-11-08',
    ]);
    expect(parsed.issues.map((i) => i.location)).toEqual(['entry 3', 'entry 4', 'entry 9', 'entry 10']);
    expect(parsed.records[0]?.subjectKey).toBe('p03');
  });
});

describe('pmsys importer (PMData excerpt)', () => {
  test('wellness items and daily sRPE load match the source files', async () => {
    const parsed = await parseSource('pmsys', join(FIX, 'pmdata', 'p01'), { onError: 'skip' });
    // wellness.csv line 2: 2019-11-01T08:31:40.751Z,2,3,5,6,3,2,[12921003],3
    expect(find(parsed.records, 'fatigue', '2019-11-01')?.value).toBe(2);
    expect(find(parsed.records, 'readiness', '2019-11-01')?.value).toBe(5);
    expect(find(parsed.records, 'sleep-duration', '2019-11-01')).toMatchObject({
      value: 6,
      unit: 'h',
      location: 'line 2',
    });
    expect(find(parsed.records, 'stress', '2019-11-01')?.value).toBe(3);
    // srpe.csv line 4: 2019-11-14T21:00:53.000Z, RPE 7, 60 min -> 420
    expect(find(parsed.records, 'training-load', '2019-11-14')?.value).toBe(420);
    expect(parsed.notImported.some((n) => n.startsWith('injury.csv'))).toBe(true);

    const obs = observations(buildImportBundles(parsed).bundles);
    const readiness = byKey(obs, 'pmdata-pmsys/p01/readiness/2019-11-01');
    expect(readiness?.category?.[0]?.coding?.[0]?.code).toBe('survey');
    expect(readiness?.valueQuantity).toMatchObject({ value: 5, code: '{score}' });
  });

  test('malformed rows are reported with their line number; skip keeps the rest, fail rejects the file', async () => {
    const text =
      'effective_time_frame,fatigue,mood,readiness,sleep_duration_h,sleep_quality,soreness,soreness_area,stress\n' +
      '2019-11-01T08:31:40.751Z,2,3,5,6,3,2,[],3\n' +
      'yesterday,2,3,5,6,3,2,[],3\n' +
      '2019-11-03T08:00:00.000Z,2,3,11,6,3,2,[],3\n' +
      '2019-11-04T08:00:00.000Z,2,x,5,6,3,2,[],3\n';
    const parsed = parsePmsysExport([{ name: 'wellness.csv', text }], 'p99');
    const built = buildImportBundles(parsed);
    const reasons = built.issues.map((i) => `${i.location}: ${i.reason}`);
    expect(reasons).toEqual([
      'line 3: malformed effective_time_frame',
      'line 5: mood is not a number',
      'line 4: readiness value is outside the plausible range [0, 10] {score}',
    ]);
    expect(built.imported).toBe(7 + 6 + 6);

    const dir = await mkdtemp(join(tmpdir(), 'rt-import-'));
    try {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(join(dir, 'wellness.csv'), text);
      const out = join(dir, 'out');
      const failed = await runImport('pmsys', join(dir, 'wellness.csv'), { onError: 'fail', out }, quiet);
      expect(failed).toMatchObject({ rejected: true, imported: 0, skipped: 3 });
      await expect(readdir(out)).rejects.toThrow();
      const skipped = await runImport('pmsys', join(dir, 'wellness.csv'), { onError: 'skip', out }, quiet);
      expect(skipped).toMatchObject({ rejected: false, imported: 19, skipped: 3 });
      expect(await readdir(out)).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('welltory importer (excerpt)', () => {
  test('HRV, wearables and sleep values, units converted, per user', async () => {
    const parsed = await parseSource('welltory', join(FIX, 'welltory'), { onError: 'skip' });
    expect(parsed.issues).toEqual([]);
    // hrv_measurements.csv line 2: 007b8190cf 2020-04-21 bpm 75, sdnn 45.802, rmssd 54.174
    expect(find(parsed.records, 'heart-rate', '2020-04-21', '007b8190cf')?.value).toBe(75);
    expect(find(parsed.records, 'hrv-rmssd', '2020-04-21', '007b8190cf')?.value).toBeCloseTo(54.174, 3);
    const built = buildImportBundles(parsed);
    const obs = observations(built.bundles);
    // wearables.csv: 5d200bd1c6 2020-04-09 resting_pulse 57, average_spo2_value 0.960 (a fraction) -> 96 %
    expect(byKey(obs, 'welltory/5d200bd1c6/oxygen-saturation/2020-04-09')?.valueQuantity).toMatchObject({
      value: 96,
      code: '%',
    });
    expect(byKey(obs, 'welltory/5d200bd1c6/oxygen-saturation/2020-04-09')?.code.coding?.map((c) => c.code)).toEqual([
      // Issue 11: pulse oximetry stays 59408-5 (first); 2708-6 beside it is what the R4 oxygensat profile requires.
      '59408-5',
      '2708-6',
    ]);
    expect(byKey(obs, 'welltory/5d200bd1c6/resting-heart-rate/2020-04-09')?.valueQuantity?.value).toBe(57);
    // 6be5033971 2020-01-25 body_temperature_avg 36.800 Cel
    expect(byKey(obs, 'welltory/6be5033971/body-temperature/2020-01-25')?.valueQuantity).toMatchObject({
      value: 36.8,
      code: 'Cel',
    });
    // sleep.csv: 0d297d2410 2020-01-01 sleep_duration 19881 (seconds) -> 5.52 h
    expect(byKey(obs, 'welltory/0d297d2410/sleep-duration/2020-01-01')?.valueQuantity).toMatchObject({
      value: 5.52,
      code: 'h',
    });
    // steps 01bad5a519 2020-02-12: 8574
    expect(byKey(obs, 'welltory/01bad5a519/steps/2020-02-12')?.valueQuantity?.value).toBe(8574);
    for (const o of obs) {
      expect(validationIssues(o)).toEqual([]);
    }
    // one Patient per user, conditionally created on its subject key
    const patientQueries = new Set(
      built.bundles.flatMap((b) =>
        (b.bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'Patient').map((e) => e.request?.ifNoneExist)
      )
    );
    expect(patientQueries).toContain(
      identifierSearch('https://recovery-twin.dev/fhir/NamingSystem/subject-key', 'welltory/5d200bd1c6')
    );
  });

  test('--patient-id is refused for a multi-subject source', async () => {
    const parsed = await parseSource('welltory', join(FIX, 'welltory'), { onError: 'skip' });
    expect(() => buildImportBundles(parsed, { patientId: 'abc' })).toThrow(/single-subject/);
  });
});

describe('long csv importer', () => {
  test('ISO dates and day indexes; bad rows reported by line', () => {
    const text =
      'subject_id,day,metric,value,unit\ns1,2024-01-02,body-temperature,98.6,[degF]\ns1,3,steps,9000,\ns1,4,pulse,1,\ns2,x,steps,1,\n';
    const parsed = parseLongCsv({ name: 'long.csv', text }, { startDate: '2024-01-01' });
    expect(parsed.records.map((r) => [r.day, r.metric])).toEqual([
      ['2024-01-02', 'body-temperature'],
      ['2024-01-04', 'steps'],
    ]);
    expect(parsed.issues.map((i) => i.location)).toEqual(['line 4', 'line 5']);
    const obs = observations(buildImportBundles(parsed).bundles);
    expect(obs[0]?.valueQuantity).toMatchObject({ value: 37, code: 'Cel' });
    expect(obs[0]?.subject?.reference).toMatch(/^urn:uuid:/);
  });
});

describe('idempotency', () => {
  test('importing the same export twice yields identical bundles and identifiers, each conditionally created', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rt-import-'));
    try {
      await runImport('fitbit', join(FIX, 'pmdata', 'p01'), { onError: 'skip', out: join(dir, 'a') }, quiet);
      await runImport('fitbit', join(FIX, 'pmdata', 'p01'), { onError: 'skip', out: join(dir, 'b') }, quiet);
      const files = await readdir(join(dir, 'a'));
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) {
        expect(await readFile(join(dir, 'b', f), 'utf8')).toBe(await readFile(join(dir, 'a', f), 'utf8'));
        const bundle = JSON.parse(await readFile(join(dir, 'a', f), 'utf8')) as Bundle;
        const keys = new Set<string>();
        for (const entry of bundle.entry ?? []) {
          const id = (entry.resource as Observation).identifier?.[0];
          expect(entry.request?.method).toBe('POST');
          expect(entry.request?.ifNoneExist).toBe(identifierSearch(id?.system ?? '', id?.value ?? ''));
          keys.add(entry.request?.ifNoneExist ?? '');
        }
        expect(keys.size).toBe(bundle.entry?.length);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
