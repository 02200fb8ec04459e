import { isMetricName, type MetricName } from '../fhir/metricCatalogue';
import { parseCsv } from '../ingest/importers/csvRows';
import { invalidInput } from '../fhir/outcomes';

/** One subject's daily values, by day ordinal (integer day index, or days since 1970-01-01 for ISO dates). */
export interface SubjectSeries {
  readonly subjectId: string;
  /** Day ordinal -> the day as written in the input (so output uses the caller's own format). */
  readonly dayLabels: Map<number, string>;
  readonly values: Map<number, Map<MetricName, number>>;
}

export interface DetectionInput {
  readonly subjects: SubjectSeries[];
  /** Metrics not in the catalogue: ignored, each named once. */
  readonly unknownMetrics: string[];
  /** Rows that could not be read, with their line number; they are skipped. */
  readonly rejectedRows: { line: number; reason: string }[];
}

const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Parses a day as an ordinal: an integer index as is, an ISO date as days since the epoch. */
export function dayOrdinal(text: string): number | undefined {
  if (/^-?\d+$/.test(text)) {
    return Number(text);
  }
  if (ISO_DAY.test(text)) {
    const ms = Date.parse(`${text}T00:00:00Z`);
    return Number.isNaN(ms) ? undefined : Math.round(ms / 86_400_000);
  }
  return undefined;
}

/**
 * Reads the long CSV `subject_id,day,metric,value` (the format `twin seed` and the importers write). Several values
 * of one metric on one day are averaged. Nothing is logged here: callers report counts, never values.
 */
export function readDetectionInput(text: string): DetectionInput {
  const table = parseCsv(text);
  const missing = ['subject_id', 'day', 'metric', 'value'].filter((c) => !table.header.includes(c));
  if (missing.length > 0) {
    throw invalidInput(`input CSV lacks column(s): ${missing.join(', ')}`);
  }
  const bySubject = new Map<string, SubjectSeries>();
  const sums = new Map<string, { sum: number; n: number }>();
  const unknown = new Set<string>();
  const rejectedRows: { line: number; reason: string }[] = [];
  for (const row of table.rows) {
    const subjectId = row.values.subject_id?.trim() ?? '';
    const dayText = row.values.day?.trim() ?? '';
    const metric = row.values.metric?.trim() ?? '';
    const value = Number(row.values.value);
    const day = dayOrdinal(dayText);
    if (!subjectId || day === undefined || row.values.value?.trim() === '' || !Number.isFinite(value)) {
      rejectedRows.push({ line: row.line, reason: 'missing subject, unreadable day or non-numeric value' });
      continue;
    }
    if (!isMetricName(metric)) {
      unknown.add(metric);
      continue;
    }
    let series = bySubject.get(subjectId);
    if (!series) {
      series = { subjectId, dayLabels: new Map(), values: new Map() };
      bySubject.set(subjectId, series);
    }
    series.dayLabels.set(day, dayText);
    const key = `${subjectId}\u0000${day}\u0000${metric}`;
    const acc = sums.get(key) ?? { sum: 0, n: 0 };
    acc.sum += value;
    acc.n++;
    sums.set(key, acc);
    let dayValues = series.values.get(day);
    if (!dayValues) {
      dayValues = new Map();
      series.values.set(day, dayValues);
    }
    dayValues.set(metric, acc.sum / acc.n);
  }
  return { subjects: [...bySubject.values()], unknownMetrics: [...unknown].sort(), rejectedRows };
}
