import { isOperationOutcome, OperationOutcomeError } from '@medplum/core';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importerFor, IMPORTERS } from './importerRegistry';

describe('importer registry', () => {
  test('format names are unique and every importer says what it reads', () => {
    const formats = IMPORTERS.map((i) => i.format);
    expect(new Set(formats).size).toBe(formats.length);
    expect(formats).toEqual(expect.arrayContaining(['fitbit', 'pmsys', 'welltory', 'csv']));
    for (const importer of IMPORTERS) {
      expect(importer.description.length).toBeGreaterThan(10);
    }
  });

  test('an unknown format is a bad request naming the known ones', () => {
    let caught: unknown;
    try {
      importerFor('garmin');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(OperationOutcomeError);
    const outcome = (caught as OperationOutcomeError).outcome;
    expect(isOperationOutcome(outcome)).toBe(true);
    expect(outcome.issue[0].code).toBe('invalid');
    expect(outcome.issue[0].details?.text).toContain('fitbit, pmsys, welltory, csv');
  });

  test('the csv importer reads a long CSV through the registry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'importer-'));
    const file = join(dir, 'long.csv');
    writeFileSync(
      file,
      'subject_id,day,metric,value\ns1,2026-01-01,resting-heart-rate,52\ns1,2026-01-02,resting-heart-rate,abc\n'
    );
    const parsed = await importerFor('csv').read(file, {});
    expect(parsed.records).toHaveLength(1);
    expect(parsed.records[0]).toMatchObject({ subjectKey: 's1', metric: 'resting-heart-rate', value: 52 });
    expect(parsed.issues).toHaveLength(1);
  });
});
