/**
 * Calendar days as integers (days since 1970-01-01) so windows are integer ranges and day arithmetic never meets a
 * time zone or a daylight-saving shift. A day number names a calendar date; which date a reading belongs to (the
 * patient's local day) is decided once, in src/twin/normaliseObservation.ts.
 */
const MS_PER_DAY = 86_400_000;

const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Recently parsed dates: a patient's measurements repeat the same few hundred dates, so most parses are a lookup.
 * Bounded (cleared when full), so memory does not grow with the history.
 */
const PARSED = new Map<string, number | undefined>();
const PARSED_LIMIT = 4096;

/** Day number of an ISO `YYYY-MM-DD`; undefined when the text is not a real calendar date (2026-02-30, ...). */
export function parseDay(iso: string): number | undefined {
  if (PARSED.has(iso)) {
    return PARSED.get(iso);
  }
  const day = parseDayUncached(iso);
  if (PARSED.size >= PARSED_LIMIT) {
    PARSED.clear();
  }
  PARSED.set(iso, day);
  return day;
}

function parseDayUncached(iso: string): number | undefined {
  const match = ISO_DAY.exec(iso);
  if (!match) {
    return undefined;
  }
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const ms = Date.UTC(year, month - 1, day);
  const date = new Date(ms);
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return undefined;
  }
  return ms / MS_PER_DAY;
}

/** Day number of an ISO `YYYY-MM-DD`; throws when it is not a calendar date (for caller-supplied options). */
export function dayNumber(iso: string): number {
  const day = parseDay(iso);
  if (day === undefined) {
    throw new RangeError(`not an ISO calendar date (YYYY-MM-DD): '${iso}'`);
  }
  return day;
}

/** The UTC calendar day containing an instant given in epoch milliseconds. */
export function dayOfInstant(ms: number): number {
  return Math.floor(ms / MS_PER_DAY);
}

const FORMATTED = new Map<number, string>();

/** ISO `YYYY-MM-DD` of a day number (memoised like parseDay). */
export function isoDay(day: number): string {
  let iso = FORMATTED.get(day);
  if (iso === undefined) {
    iso = new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
    if (FORMATTED.size >= PARSED_LIMIT) {
      FORMATTED.clear();
    }
    FORMATTED.set(day, iso);
  }
  return iso;
}

/** ISO day `days` after (or before, when negative) `iso`. */
export function addDays(iso: string, days: number): string {
  return isoDay(dayNumber(iso) + days);
}

/** The time zone the twin assumes when a source recorded no local offset (twin data contract: UTC unless configured). */
export const DEFAULT_TIME_ZONE = 'UTC';

const ZONE_FORMATS = new Map<string, Intl.DateTimeFormat>();

/** True when `timeZone` is an IANA time zone name the runtime knows (`Europe/Oslo`, `UTC`, ...). */
export function isTimeZone(timeZone: string): boolean {
  try {
    zoneFormat(timeZone);
    return true;
  } catch {
    return false;
  }
}

function zoneFormat(timeZone: string): Intl.DateTimeFormat {
  let format = ZONE_FORMATS.get(timeZone);
  if (!format) {
    // en-CA formats dates as YYYY-MM-DD; throws RangeError for an unknown zone.
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    ZONE_FORMATS.set(timeZone, format);
  }
  return format;
}

/**
 * The calendar day, in `timeZone` (IANA name), containing an instant in epoch milliseconds. UTC takes the fast path;
 * other zones go through Intl, daylight-saving rules included.
 */
export function dayOfInstantIn(ms: number, timeZone: string): number {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') {
    return dayOfInstant(ms);
  }
  const day = parseDay(zoneFormat(timeZone).format(ms));
  if (day === undefined) {
    throw new RangeError(`cannot place an instant in time zone '${timeZone}'`);
  }
  return day;
}
