import { dayNumber } from '../calendar/calendarDay';

/** Days a baseline must not learn from, YYYY-MM-DD inclusive (FHIR date precision, UTC calendar days). */
export interface ExcludedPeriod {
  start: string;
  end: string;
  reason: 'post-injury' | 'flagged-abnormal';
}

/**
 * The excluded days as merged, sorted day-number intervals, for O(log p) membership tests. Overlapping or adjacent
 * periods merge; a period whose end is before its start is treated as its start day alone.
 */
export class ExclusionCalendar {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

  constructor(periods: readonly ExcludedPeriod[] = []) {
    const intervals = periods
      .map((p) => {
        const start = dayNumber(p.start);
        return [start, Math.max(start, dayNumber(p.end))] as const;
      })
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (const [start, end] of intervals) {
      const last = this.ends.length - 1;
      if (last >= 0 && start <= this.ends[last] + 1) {
        this.ends[last] = Math.max(this.ends[last], end);
      } else {
        this.starts.push(start);
        this.ends.push(end);
      }
    }
  }

  /** True when the day number lies inside an excluded period. */
  has(day: number): boolean {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (day < this.starts[mid]) {
        hi = mid - 1;
      } else if (day > this.ends[mid]) {
        lo = mid + 1;
      } else {
        return true;
      }
    }
    return false;
  }

  get size(): number {
    return this.starts.length;
  }

  /**
   * First day of the window of W usable days before d: the earliest x such that [x, d - 1] holds exactly W days that
   * are not excluded. Without exclusions that is d - W; an excluded period inside the window pushes its start back by
   * the period's length, so a baseline during and after an injury is still the person's own pre-injury normal (the
   * window reaches back over the excluded weeks) rather than nothing. O(p) in the periods before d.
   */
  windowStart(d: number, windowDays: number): number {
    let need = windowDays;
    let cursor = d; // the window so far is [cursor, d - 1]
    for (let i = this.starts.length - 1; i >= 0; i--) {
      if (this.starts[i] >= cursor) {
        continue;
      }
      const free = cursor - 1 - Math.min(this.ends[i], cursor - 1);
      if (free >= need) {
        return cursor - need;
      }
      need -= free;
      cursor = this.starts[i];
    }
    return cursor - need;
  }

  /** Excluded periods as [start, end] day numbers, ascending. */
  periods(): [number, number][] {
    return this.starts.map((s, i) => [s, this.ends[i]]);
  }
}
