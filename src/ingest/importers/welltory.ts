import type { MetricName } from '../../fhir/metricCatalogue';
import { parseCsv } from './csvRows';
import { readExportFiles } from './exportFiles';
import type { Importer } from './importer';
import type { SourceFile } from './importRecord';
import type { ImportIssue, ImportRecord, ParsedSource } from './importRecord';
import { isoDay, numberCell } from './importRecord';

/**
 * Welltory COVID-19 & wearables open data (github.com/Welltory/hrv-covid19, CC0), many users per file:
 * - hrv_measurements.csv: spot HRV measurements (bpm, sdnn ms, rmssd ms); several a day are averaged into one daily
 *   value per metric (the location reported is the day's first row);
 * - wearables.csv: daily resting_pulse (bpm), average_spo2_value, body_temperature_avg (°C), steps_count;
 * - sleep.csv: daily sleep_duration.
 * Two unit facts checked against the data rather than taken from datatypes.md: sleep_duration is in seconds
 * (median 26,041, i.e. 7.2 h; datatypes.md says hours) and average_spo2_value is a fraction 0.92-0.99 (datatypes.md
 * says %). Both are converted through ucum.ts ('s' -> h, '1' -> %).
 */
export const WELLTORY_SOURCE = 'welltory';

const HRV_COLUMNS: readonly (readonly [string, MetricName, string])[] = [
  ['bpm', 'heart-rate', '/min'],
  ['sdnn', 'hrv-sdnn', 'ms'],
  ['rmssd', 'hrv-rmssd', 'ms'],
];

const WEARABLE_COLUMNS: readonly (readonly [string, MetricName, string])[] = [
  ['resting_pulse', 'resting-heart-rate', '/min'],
  ['average_spo2_value', 'oxygen-saturation', '1'],
  ['body_temperature_avg', 'body-temperature', 'Cel'],
  ['steps_count', 'steps', '{steps}/d'],
];

const SLEEP_COLUMNS: readonly (readonly [string, MetricName, string])[] = [['sleep_duration', 'sleep-duration', 's']];

export function parseWelltoryExport(files: readonly SourceFile[]): ParsedSource {
  const records: ImportRecord[] = [];
  const issues: ImportIssue[] = [];
  const notImported: string[] = [];
  for (const file of files) {
    switch (file.name) {
      case 'hrv_measurements.csv':
        parseTable(file, 'measurement_datetime', HRV_COLUMNS, records, issues);
        break;
      case 'wearables.csv':
        parseTable(file, 'day', WEARABLE_COLUMNS, records, issues);
        break;
      case 'sleep.csv':
        parseTable(file, 'day', SLEEP_COLUMNS, records, issues);
        break;
      default:
        notImported.push(`${file.name}: not a Welltory file with catalogue metrics`);
    }
  }
  return { source: WELLTORY_SOURCE, subjectNamespace: 'welltory', records, issues, notImported };
}

/** Reads one table; values of the same (user, day, metric) are averaged. */
function parseTable(
  file: SourceFile,
  dayColumn: string,
  columns: readonly (readonly [string, MetricName, string])[],
  records: ImportRecord[],
  issues: ImportIssue[]
): void {
  const table = parseCsv(file.text);
  const missing = ['user_code', dayColumn, ...columns.map((c) => c[0])].filter((c) => !table.header.includes(c));
  if (missing.length > 0) {
    issues.push({ file: file.name, location: 'line 1', reason: `missing columns: ${missing.join(', ')}` });
    return;
  }
  const groups = new Map<
    string,
    { subjectKey: string; metric: MetricName; day: string; unit: string; sum: number; n: number; location: string }
  >();
  for (const row of table.rows) {
    const location = `line ${row.line}`;
    const subjectKey = row.values['user_code']?.trim() ?? '';
    const day = isoDay(row.values[dayColumn]);
    if (!subjectKey || !day || row.fieldCount !== table.header.length) {
      issues.push({
        file: file.name,
        location,
        reason: !subjectKey
          ? 'missing user_code'
          : !day
            ? `malformed ${dayColumn}`
            : `expected ${table.header.length} fields, found ${row.fieldCount}`,
      });
      continue;
    }
    for (const [column, metric, unit] of columns) {
      const value = numberCell(row.values[column]);
      if (value === undefined) {
        continue; // not measured that day
      }
      if (Number.isNaN(value)) {
        issues.push({ file: file.name, location, reason: `${column} is not a number` });
        continue;
      }
      const key = `${subjectKey}|${metric}|${day}`;
      const group = groups.get(key) ?? { subjectKey, metric, day, unit, sum: 0, n: 0, location };
      group.sum += value;
      group.n++;
      groups.set(key, group);
    }
  }
  for (const g of groups.values()) {
    records.push({
      subjectKey: g.subjectKey,
      metric: g.metric,
      day: g.day,
      value: g.sum / g.n,
      unit: g.unit,
      file: file.name,
      location: g.location,
    });
  }
}

/** `twin import welltory <data folder | file>` (the Welltory HRV / COVID-19 data set's CSV files). */
export const welltoryImporter: Importer = {
  format: 'welltory',
  description: 'Welltory HRV / COVID-19 data set (its data folder of CSV files)',
  read: async (path) => parseWelltoryExport((await readExportFiles(path, '', ['.csv'])).files),
};
