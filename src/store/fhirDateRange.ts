import { badRequest, OperationOutcomeError } from '@medplum/core';

/** Inclusive range of epoch milliseconds that a FHIR date, dateTime or instant stands for. */
export interface DateRange {
  readonly lo: number;
  readonly hi: number;
}

/** Used for an open Period end or start (FHIR R4 datatypes.html#Period: a missing end means "ongoing"). */
export const MIN_TIME = -8_640_000_000_000_000;
export const MAX_TIME = 8_640_000_000_000_000;

const DATE_PATTERN =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * Converts a FHIR date/dateTime/instant string to the range of instants it covers, honouring its precision:
 * `2024` is the whole year, `2024-03-05` the whole day, `2024-03-05T10:00:00Z` that second
 * (FHIR R4 search.html#date: "the precision of the value determines the range").
 *
 * A dateTime with a time but no offset is read as UTC: R4 requires an offset whenever hours are given
 * (datatypes.html#dateTime), so such a value is already non-conformant and UTC is the least surprising reading.
 * Returns undefined for a string that is not a FHIR date.
 */
export function parseFhirDateRange(value: string): DateRange | undefined {
  const m = DATE_PATTERN.exec(value.trim());
  if (!m) {
    return undefined;
  }
  const year = Number(m[1]);
  const month = m[2] === undefined ? undefined : Number(m[2]) - 1;
  const day = m[3] === undefined ? undefined : Number(m[3]);
  if (month !== undefined && (month < 0 || month > 11)) {
    return undefined;
  }
  if (day !== undefined && (day < 1 || day > 31)) {
    return undefined;
  }
  if (month === undefined) {
    return { lo: Date.UTC(year, 0, 1), hi: Date.UTC(year + 1, 0, 1) - 1 };
  }
  if (day === undefined) {
    return { lo: Date.UTC(year, month, 1), hi: Date.UTC(year, month + 1, 1) - 1 };
  }
  if (m[4] === undefined) {
    const lo = Date.UTC(year, month, day);
    return { lo, hi: lo + 86_400_000 - 1 };
  }
  const offsetMs = parseOffset(m[8]);
  const hours = Number(m[4]);
  const minutes = Number(m[5]);
  const seconds = m[6] === undefined ? undefined : Number(m[6]);
  const fraction = m[7];
  const base = Date.UTC(year, month, day, hours, minutes, seconds ?? 0) - offsetMs;
  if (Number.isNaN(base)) {
    return undefined;
  }
  if (seconds === undefined) {
    return { lo: base, hi: base + 60_000 - 1 };
  }
  if (fraction === undefined) {
    return { lo: base, hi: base + 1000 - 1 };
  }
  const ms = Number(fraction.slice(0, 3).padEnd(3, '0'));
  return { lo: base + ms, hi: base + ms };
}

function parseOffset(offset: string | undefined): number {
  if (!offset || offset === 'Z') {
    return 0;
  }
  const sign = offset.startsWith('-') ? -1 : 1;
  const [h, m] = offset.slice(1).split(':').map(Number);
  return sign * ((h ?? 0) * 60 + (m ?? 0)) * 60_000;
}

/** As {@link parseFhirDateRange}, but a search value that is not a date is a client error (FHIR R4 search.html#errors). */
export function requireFhirDateRange(value: string, paramName: string): DateRange {
  const range = parseFhirDateRange(value);
  if (!range) {
    throw new OperationOutcomeError(badRequest(`Invalid date value "${value}" for search parameter ${paramName}`));
  }
  return range;
}
