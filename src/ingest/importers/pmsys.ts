import type { MetricName } from '../../fhir/metricCatalogue';
import { parseCsv } from './csvRows';
import { readExportFiles } from './exportFiles';
import type { Importer } from './importer';
import type { SourceFile } from './importRecord';
import type { ImportIssue, ImportRecord, ParsedSource } from './importRecord';
import { isoDay, numberCell } from './importRecord';

/**
 * PMSys athlete self-report CSVs as found in PMData (`<participant>/pmsys/`):
 * - wellness.csv: `effective_time_frame,fatigue,mood,readiness,sleep_duration_h,sleep_quality,soreness,soreness_area,stress`
 *   one report per morning; the day is the UTC calendar day of effective_time_frame (PMData timestamps are UTC, 'Z');
 * - srpe.csv: `end_date_time,activity_names,perceived_exertion,duration_min`; training load = RPE x minutes,
 *   summed over the sessions of a day (the catalogue's training-load is a daily sum);
 * - injury.csv: weekly body-part/severity reports; listed as not imported (no catalogue metric for them).
 */
export const PMSYS_SOURCE = 'pmdata-pmsys';

const WELLNESS_COLUMNS: readonly (readonly [string, MetricName, string])[] = [
  ['fatigue', 'fatigue', '{score}'],
  ['mood', 'mood', '{score}'],
  ['readiness', 'readiness', '{score}'],
  ['sleep_duration_h', 'sleep-duration', 'h'],
  ['sleep_quality', 'sleep-quality', '{score}'],
  ['soreness', 'soreness', '{score}'],
  ['stress', 'stress', '{score}'],
];

export function parsePmsysExport(files: readonly SourceFile[], subjectKey: string): ParsedSource {
  const records: ImportRecord[] = [];
  const issues: ImportIssue[] = [];
  const notImported: string[] = [];
  for (const file of files) {
    if (file.name === 'wellness.csv') {
      parseWellness(file, subjectKey, records, issues);
    } else if (file.name === 'srpe.csv') {
      parseSrpe(file, subjectKey, records, issues);
    } else if (file.name === 'injury.csv') {
      notImported.push('injury.csv: body-part severity reports have no catalogue metric');
    } else {
      notImported.push(`${file.name}: not a PMSys file this importer reads`);
    }
  }
  return { source: PMSYS_SOURCE, subjectNamespace: 'pmdata', records, issues, notImported };
}

function parseWellness(file: SourceFile, subjectKey: string, records: ImportRecord[], issues: ImportIssue[]): void {
  const table = parseCsv(file.text);
  const missing = ['effective_time_frame', ...WELLNESS_COLUMNS.map((c) => c[0])].filter(
    (c) => !table.header.includes(c)
  );
  if (missing.length > 0) {
    issues.push({ file: file.name, location: 'line 1', reason: `missing columns: ${missing.join(', ')}` });
    return;
  }
  for (const row of table.rows) {
    const location = `line ${row.line}`;
    const day = isoDay(row.values['effective_time_frame']);
    if (!day || row.fieldCount !== table.header.length) {
      issues.push({
        file: file.name,
        location,
        reason: !day
          ? 'malformed effective_time_frame'
          : `expected ${table.header.length} fields, found ${row.fieldCount}`,
      });
      continue;
    }
    for (const [column, metric, unit] of WELLNESS_COLUMNS) {
      const value = numberCell(row.values[column]);
      if (value === undefined) {
        continue; // item not answered that day
      }
      if (Number.isNaN(value)) {
        issues.push({ file: file.name, location, reason: `${column} is not a number` });
        continue;
      }
      records.push({ subjectKey, metric, day, value, unit, file: file.name, location });
    }
  }
}

function parseSrpe(file: SourceFile, subjectKey: string, records: ImportRecord[], issues: ImportIssue[]): void {
  const table = parseCsv(file.text);
  const missing = ['end_date_time', 'perceived_exertion', 'duration_min'].filter((c) => !table.header.includes(c));
  if (missing.length > 0) {
    issues.push({ file: file.name, location: 'line 1', reason: `missing columns: ${missing.join(', ')}` });
    return;
  }
  const daily = new Map<string, { load: number; location: string }>();
  for (const row of table.rows) {
    const location = `line ${row.line}`;
    const day = isoDay(row.values['end_date_time']);
    const rpe = numberCell(row.values['perceived_exertion']);
    const minutes = numberCell(row.values['duration_min']);
    if (!day) {
      issues.push({ file: file.name, location, reason: 'malformed end_date_time' });
      continue;
    }
    if (rpe === undefined || minutes === undefined || Number.isNaN(rpe) || Number.isNaN(minutes)) {
      issues.push({ file: file.name, location, reason: 'perceived_exertion and duration_min must be numbers' });
      continue;
    }
    if (rpe < 0 || rpe > 10 || minutes < 0 || minutes > 1440) {
      issues.push({
        file: file.name,
        location,
        reason: 'implausible session (RPE outside 0-10 or duration outside 0-1440 min)',
      });
      continue;
    }
    const entry = daily.get(day) ?? { load: 0, location };
    entry.load += rpe * minutes;
    daily.set(day, entry);
  }
  for (const [day, { load, location }] of daily) {
    records.push({ subjectKey, metric: 'training-load', day, value: load, unit: '{AU}', file: file.name, location });
  }
}

/** `twin import pmsys <participant folder | pmsys folder | file>` (PMData layout `pNN/pmsys/*.csv`). */
export const pmsysImporter: Importer = {
  format: 'pmsys',
  description: 'PMSys self-report CSV export (PMData participant folder pNN/ or its pmsys/ folder)',
  read: async (path, options) => {
    const { files, subjectKey } = await readExportFiles(path, 'pmsys', ['.csv']);
    return parsePmsysExport(files, options.patientId && !subjectKey ? options.patientId : subjectKey);
  },
};
