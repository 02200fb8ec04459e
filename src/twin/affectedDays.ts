import { addDays } from '../calendar/calendarDay';

/**
 * Incremental recomputation. A daily state of day d depends on that day's values and on the baseline as of d, whose
 * window is [d - W, d - 1]. So a value arriving (or being retracted or amended) on day t changes:
 * - the daily state of t itself, and
 * - the states of t + 1 .. t + W (t is in their window), and
 * - the baselines "as of" any day in t + 1 .. t + W.
 * Nothing else. Recomputing those W + 1 days needs the measurements of [t - W, t + W] only, and computeTwin's cost
 * per emitted day is bounded by W (sliding sorted window), so one new value costs O(W) = O(1) work in the length of
 * the history.
 */
export function affectedDays(day: string, windowDays: number): { from: string; to: string } {
  return { from: day, to: addDays(day, windowDays) };
}

/** First day whose measurements are needed to recompute the states of [from, to]: from - W. */
export function firstDayNeeded(range: { from: string }, windowDays: number): string {
  return addDays(range.from, -windowDays);
}
