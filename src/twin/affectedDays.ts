import { addDays, dayNumber, isoDay } from '../calendar/calendarDay';

/** Monday (ISO 8601 week start) of the week holding day number d (1970-01-01, day 0, was a Thursday). */
export function weekStart(d: number): number {
  return d - ((((d + 3) % 7) + 7) % 7);
}

/**
 * Incremental recomputation. Baselines are renewed weekly (computeTwin.ts): every day of the week starting on Monday m
 * is judged against the baseline as of m, whose window is [m - W, m - 1]. So a value arriving (or being retracted or
 * amended) on day t changes:
 * - the daily state of t itself, and
 * - the baselines as of the Mondays m in t + 1 .. t + W (t is in their window), hence the states of those weeks, up
 *   to the Sunday after the last such Monday.
 * Nothing else. Recomputing those states needs the measurements from (Monday of t's week) - W on, and computeTwin's
 * cost per emitted day is bounded by W (sliding sorted window), so one new value costs O(W) work whatever the length
 * of the history.
 */
export function affectedDays(day: string, windowDays: number): { from: string; to: string } {
  const lastMonday = weekStart(dayNumber(day) + windowDays);
  return { from: day, to: isoDay(lastMonday + 6) };
}

/** First day whose measurements are needed to recompute the states of [from, to]: (Monday of from's week) - W. */
export function firstDayNeeded(range: { from: string }, windowDays: number): string {
  return addDays(isoDay(weekStart(dayNumber(range.from))), -windowDays);
}
