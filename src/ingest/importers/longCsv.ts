import { isMetricName } from '../../fhir/metricCatalogue';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseCsv } from './csvRows';
import type { Importer } from './importer';
import type { SourceFile } from './importRecord';
import type { ImportIssue, ImportRecord, ParsedSource } from './importRecord';
import { isoDay, numberCell } from './importRecord';

/**
 * Generic long format `subject_id,day,metric,value[,unit]` — the format the detection command reads and the seed
 * command writes (observations.csv). `day` is an ISO date or an integer day index counted from `startDate`;
 * `metric` is a catalogue name; `unit` (optional) is a UCUM code, default the catalogue unit.
 */
export const LONG_CSV_SOURCE = 'csv';

export interface LongCsvOptions {
  /** Day 0 for integer day indexes, `YYYY-MM-DD`. */
  readonly startDate?: string;
  /** Source label in record keys (default `csv`); the seed cohort's CSV can be imported as `synthetic`. */
  readonly source?: string;
}

export function parseLongCsv(file: SourceFile, options: LongCsvOptions = {}): ParsedSource {
  const records: ImportRecord[] = [];
  const issues: ImportIssue[] = [];
  const table = parseCsv(file.text);
  const source = options.source ?? LONG_CSV_SOURCE;
  const missing = ['subject_id', 'day', 'metric', 'value'].filter((c) => !table.header.includes(c));
  if (missing.length > 0) {
    issues.push({ file: file.name, location: 'line 1', reason: `missing columns: ${missing.join(', ')}` });
    return { source, subjectNamespace: '', records, issues, notImported: [] };
  }
  const start = options.startDate ? isoDay(options.startDate) : undefined;
  if (options.startDate && !start) {
    issues.push({ file: file.name, location: 'file', reason: `start date '${options.startDate}' is not YYYY-MM-DD` });
    return { source, subjectNamespace: '', records, issues, notImported: [] };
  }
  for (const row of table.rows) {
    const location = `line ${row.line}`;
    const subjectKey = row.values['subject_id']?.trim() ?? '';
    const dayText = row.values['day']?.trim() ?? '';
    const metric = row.values['metric']?.trim() ?? '';
    const value = numberCell(row.values['value']);
    const unit = row.values['unit']?.trim() || undefined;
    const fail = (reason: string): void => {
      issues.push({ file: file.name, location, reason });
    };
    if (row.fieldCount !== table.header.length) {
      fail(`expected ${table.header.length} fields, found ${row.fieldCount}`);
      continue;
    }
    if (!subjectKey) {
      fail('missing subject_id');
      continue;
    }
    if (!isMetricName(metric)) {
      fail(`unknown metric '${metric}'`);
      continue;
    }
    if (value === undefined || Number.isNaN(value)) {
      fail('value is not a number');
      continue;
    }
    let day: string | undefined;
    if (/^\d+$/.test(dayText)) {
      if (!start) {
        fail('integer day index needs a start date (--start-date)');
        continue;
      }
      day = new Date(Date.parse(`${start}T00:00:00Z`) + Number(dayText) * 86_400_000).toISOString().slice(0, 10);
    } else {
      day = isoDay(dayText);
    }
    if (!day) {
      fail(`malformed day '${dayText}'`);
      continue;
    }
    records.push({ subjectKey, metric, day, value, unit, file: file.name, location });
  }
  return { source, subjectNamespace: '', records, issues, notImported: [] };
}

/** `twin import csv <file>`: a long CSV `subject_id,day,metric,value` (what `twin seed` and `twin detect` use). */
export const longCsvImporter: Importer = {
  format: 'csv',
  description: 'long CSV subject_id,day,metric,value (day: ISO date, or an integer index with --start-date)',
  read: async (path, options) =>
    parseLongCsv(
      { name: basename(path), text: await readFile(path, 'utf8') },
      {
        startDate: options.startDate,
        source: options.source,
      }
    ),
};
