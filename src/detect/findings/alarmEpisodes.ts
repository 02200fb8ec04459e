import type { DayScore } from '../causalScorer';

/** One alarm episode of one subject: a run of alarm days in the detector's output. Days are day ordinals. */
export interface AlarmEpisode {
  /** First alarm day (the onset the finding is named after). */
  readonly onsetDay: number;
  /** Last alarm day so far. */
  readonly lastDay: number;
  /**
   * Open: the episode's last alarm day is the last scored day, so it may still go on, or it became a pending shift.
   * Closed: a scored day without alarm follows it (for the ensemble, hysteresis has already seen the person back at
   * baseline), or its shift resolved.
   */
  readonly open: boolean;
  /** Highest score of the episode, and the (first) day it was reached. */
  readonly peakScore: number;
  readonly peakDay: number;
  /** Every alarm day of the episode with its score and reason, ascending. */
  readonly days: readonly DayScore[];
  /**
   * The alarm ended at the episode limit while the values were still away from the baseline (a sustained shift):
   * `pending` while they still are (the last scored day), `resolved` once they came back within the earlier baseline
   * (on `shiftEndDay`, the first day without the shift), `none` for an episode that ended otherwise. A pending shift
   * is open: it is never reported as back towards baseline, and it asks a clinician whether it is a new normal.
   */
  readonly shift: 'none' | 'pending' | 'resolved';
  readonly shiftEndDay?: number;
}

export interface EpisodeOptions {
  /**
   * The detector's episode limit (DetectorOptions.maxEpisodeDays). A closed episode at least this long from a detector
   * that does not mark shifts (the LSTM) is taken as cut at the limit, i.e. a pending shift, never as recovered.
   */
  readonly maxEpisodeDays: number;
  /**
   * Scored days are the days with data, so an episode can span days without data. Two alarm days more than this
   * many calendar days apart start separate episodes even if no scored day without alarm lies between them.
   */
  readonly maxGapDays: number;
}

export const DEFAULT_EPISODE_OPTIONS: Readonly<EpisodeOptions> = Object.freeze({ maxGapDays: 3, maxEpisodeDays: 21 });

/**
 * Groups one subject's day scores (scoreSubject output, any order) into alarm episodes: maximal runs of alarm days
 * that are adjacent among the scored days and at most `maxGapDays` calendar days apart. The same grouping as
 * src/detect/detectionEvaluation.ts when every day has data; across days without data the run is kept, as the
 * ensemble's hysteresis keeps its episode open across them.
 */
export function alarmEpisodes(
  scores: readonly DayScore[],
  options: EpisodeOptions = DEFAULT_EPISODE_OPTIONS
): AlarmEpisode[] {
  const sorted = [...scores].sort((a, b) => a.day - b.day);
  const marksShifts = sorted.some((s) => s.shiftSince !== undefined);
  const episodes: AlarmEpisode[] = [];
  let run: DayScore[] = [];
  const flush = (open: boolean, index: number): void => {
    if (run.length === 0) {
      return;
    }
    const onset = run[0].day;
    let shift: AlarmEpisode['shift'] = 'none';
    let shiftEndDay: number | undefined;
    if (!open && sorted[index]?.shiftSince === onset) {
      const end = sorted.findIndex((s, i) => i > index && s.shiftSince !== onset);
      shift = end === -1 ? 'pending' : 'resolved';
      shiftEndDay = end === -1 ? undefined : sorted[end].day;
    } else if (!open && !marksShifts && run[run.length - 1].day - onset + 1 >= options.maxEpisodeDays) {
      shift = 'pending';
    }
    episodes.push(toEpisode(run, open || shift === 'pending', shift, shiftEndDay));
    run = [];
  };
  sorted.forEach((s, i) => {
    if (!s.alarm) {
      flush(false, i);
      return;
    }
    const previous = run[run.length - 1];
    if (previous && s.day - previous.day > options.maxGapDays) {
      flush(false, -1);
    }
    run.push(s);
  });
  flush(true, sorted.length);
  return episodes;
}

function toEpisode(
  run: readonly DayScore[],
  open: boolean,
  shift: AlarmEpisode['shift'],
  shiftEndDay: number | undefined
): AlarmEpisode {
  let peak = run[0];
  for (const s of run) {
    if (s.score > peak.score) {
      peak = s;
    }
  }
  return {
    onsetDay: run[0].day,
    lastDay: run[run.length - 1].day,
    open,
    peakScore: peak.score,
    peakDay: peak.day,
    days: [...run],
    shift,
    ...(shiftEndDay === undefined ? {} : { shiftEndDay }),
  };
}
