import type { MetricName } from '../../fhir/metricCatalogue';
import { readExportFiles } from './exportFiles';
import type { Importer } from './importer';
import type { ImportIssue, ImportRecord, ParsedSource, SourceFile } from './importRecord';
import { isoDay, numberCell } from './importRecord';

/**
 * Fitbit-style JSON exports as found in PMData (`<participant>/fitbit/*.json`):
 * - resting_heart_rate.json: `[{dateTime, value: {date, value, error}}]`; value 0 means "no estimate that day";
 * - sleep.json: sleep logs `{logId, dateOfSleep, minutesAsleep, mainSleep}`; the main sleep of each night, logs
 *   de-duplicated by logId (the PMData export repeats some logs at month boundaries);
 * - very_active_minutes.json + moderately_active_minutes.json: `[{dateTime, value}]`, summed into moderate-to-vigorous
 *   active minutes (both files needed);
 * - steps.json (minute-level in Fitbit exports, not shipped with PMData): summed per day.
 * Other files (exercise, heart-rate zones, sedentary/light minutes, sleep_score.csv) are listed as not imported.
 */
export const FITBIT_SOURCE = 'pmdata-fitbit';

export type { SourceFile } from './importRecord';

const KNOWN = new Set([
  'resting_heart_rate.json',
  'sleep.json',
  'very_active_minutes.json',
  'moderately_active_minutes.json',
  'steps.json',
]);

export function parseFitbitExport(files: readonly SourceFile[], subjectKey: string): ParsedSource {
  const records: ImportRecord[] = [];
  const issues: ImportIssue[] = [];
  const notImported: string[] = [];
  const byName = new Map(files.map((f) => [f.name, f]));
  const json = (file: SourceFile): unknown[] | undefined => {
    try {
      const parsed: unknown = JSON.parse(file.text);
      if (!Array.isArray(parsed)) {
        issues.push({ file: file.name, location: 'file', reason: 'expected a JSON array' });
        return undefined;
      }
      return parsed as unknown[];
    } catch (err) {
      issues.push({ file: file.name, location: 'file', reason: `not valid JSON (${(err as Error).message})` });
      return undefined;
    }
  };

  for (const file of files) {
    if (!KNOWN.has(file.name)) {
      notImported.push(`${file.name}: no catalogue metric read from this file`);
    }
  }

  const rhr = byName.get('resting_heart_rate.json');
  if (rhr) {
    json(rhr)?.forEach((entry, i) => {
      const e = entry as { dateTime?: string; value?: { value?: number } };
      const day = isoDay(e.dateTime);
      const value = numberCell(e.value?.value);
      const location = `entry ${i + 1}`;
      if (!day || value === undefined || Number.isNaN(value)) {
        issues.push({ file: rhr.name, location, reason: 'missing or malformed dateTime/value.value' });
      } else if (value === 0) {
        issues.push({ file: rhr.name, location, reason: 'no resting heart rate estimate (value 0)' });
      } else {
        records.push(record(subjectKey, 'resting-heart-rate', day, value, '/min', rhr.name, location));
      }
    });
  }

  const sleep = byName.get('sleep.json');
  if (sleep) {
    const seen = new Set<string>();
    json(sleep)?.forEach((entry, i) => {
      const e = entry as { logId?: number; dateOfSleep?: string; minutesAsleep?: number; mainSleep?: boolean };
      const location = `entry ${i + 1}`;
      const day = isoDay(e.dateOfSleep);
      const minutes = numberCell(e.minutesAsleep);
      if (!day || minutes === undefined || Number.isNaN(minutes)) {
        issues.push({ file: sleep.name, location, reason: 'missing or malformed dateOfSleep/minutesAsleep' });
        return;
      }
      const id = String(e.logId ?? `${day}#${i}`);
      if (seen.has(id) || e.mainSleep === false) {
        return; // repeated log or a nap: not the night's main sleep, silently not a separate value
      }
      seen.add(id);
      records.push(record(subjectKey, 'sleep-duration', day, minutes, 'min', sleep.name, location));
    });
  }

  const very = byName.get('very_active_minutes.json');
  const moderate = byName.get('moderately_active_minutes.json');
  if (very && moderate) {
    const sums = new Map<string, { value: number; parts: number; file: string; location: string }>();
    for (const file of [very, moderate]) {
      json(file)?.forEach((entry, i) => {
        const e = entry as { dateTime?: string; value?: string | number };
        const day = isoDay(e.dateTime);
        const value = numberCell(e.value);
        if (!day || value === undefined || Number.isNaN(value)) {
          issues.push({ file: file.name, location: `entry ${i + 1}`, reason: 'missing or malformed dateTime/value' });
          return;
        }
        const sum = sums.get(day) ?? { value: 0, parts: 0, file: file.name, location: `entry ${i + 1}` };
        sum.value += value;
        sum.parts++;
        sums.set(day, sum);
      });
    }
    for (const [day, sum] of sums) {
      if (sum.parts === 2) {
        records.push(record(subjectKey, 'active-minutes', day, sum.value, 'min', sum.file, sum.location));
      }
    }
  } else if (very || moderate) {
    notImported.push('active minutes: need both very_active_minutes.json and moderately_active_minutes.json');
  }

  const steps = byName.get('steps.json');
  if (steps) {
    const sums = new Map<string, { value: number; location: string }>();
    json(steps)?.forEach((entry, i) => {
      const e = entry as { dateTime?: string; value?: string | number };
      const day = isoDay(e.dateTime);
      const value = numberCell(e.value);
      if (!day || value === undefined || Number.isNaN(value)) {
        issues.push({ file: steps.name, location: `entry ${i + 1}`, reason: 'missing or malformed dateTime/value' });
        return;
      }
      const sum = sums.get(day) ?? { value: 0, location: `entry ${i + 1}` };
      sum.value += value;
      sums.set(day, sum);
    });
    for (const [day, sum] of sums) {
      records.push(record(subjectKey, 'steps', day, sum.value, '{steps}/d', steps.name, sum.location));
    }
  }
  return { source: FITBIT_SOURCE, subjectNamespace: 'pmdata', records, issues, notImported };
}

function record(
  subjectKey: string,
  metric: MetricName,
  day: string,
  value: number,
  unit: string,
  file: string,
  location: string
): ImportRecord {
  return { subjectKey, metric, day, value, unit, file, location };
}

/** `twin import fitbit <participant folder | fitbit folder | file>` (PMData layout `pNN/fitbit/*.json`). */
export const fitbitImporter: Importer = {
  format: 'fitbit',
  description: 'Fitbit JSON export (PMData participant folder pNN/ or its fitbit/ folder)',
  read: async (path, options) => {
    const { files, subjectKey } = await readExportFiles(path, 'fitbit', ['.json']);
    return parseFitbitExport(files, options.patientId && !subjectKey ? options.patientId : subjectKey);
  },
};
