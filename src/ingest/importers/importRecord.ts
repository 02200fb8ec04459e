import type { MetricName } from '../../fhir/metricCatalogue';

/** One file of an export, read as text. */
export interface SourceFile {
  readonly name: string;
  readonly text: string;
}

/**
 * What every importer produces before any FHIR is built: one daily metric value with where it came from, plus the
 * problems met on the way. Keeping the parse step separate from the FHIR step lets the tests check parsed values
 * against the source files directly.
 */
export interface ImportRecord {
  /** Subject key inside the source (PMData participant folder, Welltory user_code, CSV subject_id). */
  readonly subjectKey: string;
  readonly metric: MetricName;
  /** ISO calendar day `YYYY-MM-DD`. */
  readonly day: string;
  readonly value: number;
  /** UCUM unit (or alias) of `value`; converted to the catalogue unit when the Observation is built. */
  readonly unit?: string;
  /** Where the value came from, e.g. `resting_heart_rate.json entry 12`, `wellness.csv line 7`. */
  readonly file: string;
  readonly location: string;
}

/** A row or file that could not be imported, with its location and why. */
export interface ImportIssue {
  readonly file: string;
  /** `line N` (CSV), `entry N` (JSON arrays) or `file`. */
  readonly location: string;
  readonly reason: string;
}

export interface ParsedSource {
  /** Source label for record keys, e.g. `pmdata-fitbit`. */
  readonly source: string;
  /**
   * Namespace of subject keys in Patient identifiers (`pmdata/p01`): shared by sources of the same dataset so that
   * Fitbit and PMSys data of one participant land on one Patient. Empty = subject key used as is (long CSV).
   */
  readonly subjectNamespace: string;
  readonly records: ImportRecord[];
  readonly issues: ImportIssue[];
  /** Files or columns deliberately not imported, with the reason (reported in the summary, not errors). */
  readonly notImported: string[];
}

/** `YYYY-MM-DD` from an ISO-like timestamp or date (first 10 characters), or undefined when it is not one. */
export function isoDay(text: string | undefined): string | undefined {
  const candidate = text?.trim().slice(0, 10);
  if (!candidate || !/^\d{4}-\d{2}-\d{2}$/.test(candidate)) {
    return undefined;
  }
  const parsed = Date.parse(`${candidate}T00:00:00Z`);
  return Number.isNaN(parsed) || new Date(parsed).toISOString().slice(0, 10) !== candidate ? undefined : candidate;
}

/** A finite number from a CSV/JSON cell; undefined for empty cells; NaN for garbage (reported by the caller). */
export function numberCell(text: string | number | undefined | null): number | undefined {
  if (text === undefined || text === null) {
    return undefined;
  }
  if (typeof text === 'number') {
    return text;
  }
  const trimmed = text.trim();
  if (trimmed === '') {
    return undefined;
  }
  return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(trimmed) ? Number(trimmed) : Number.NaN;
}
