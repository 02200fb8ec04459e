import type { DayScore } from '../causalScorer';

/** One alarm episode of one subject: a run of alarm days in the detector's output. Days are day ordinals. */
export interface AlarmEpisode {
  /** First alarm day (the onset the finding is named after). */
  readonly onsetDay: number;
  /** Last alarm day so far. */
  readonly lastDay: number;
  /**
   * Open: the episode's last alarm day is the last scored day, so it may still go on. Closed: a scored day without
   * alarm follows it (for the ensemble, hysteresis has already seen the person back at baseline).
   */
  readonly open: boolean;
  /** Highest score of the episode, and the (first) day it was reached. */
  readonly peakScore: number;
  readonly peakDay: number;
  /** Every alarm day of the episode with its score and reason, ascending. */
  readonly days: readonly DayScore[];
}

export interface EpisodeOptions {
  /**
   * Scored days are the days with data, so an episode can span days without data. Two alarm days more than this
   * many calendar days apart start separate episodes even if no scored day without alarm lies between them.
   */
  readonly maxGapDays: number;
}

export const DEFAULT_EPISODE_OPTIONS: Readonly<EpisodeOptions> = Object.freeze({ maxGapDays: 3 });

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
  const episodes: AlarmEpisode[] = [];
  let run: DayScore[] = [];
  const flush = (open: boolean): void => {
    if (run.length > 0) {
      episodes.push(toEpisode(run, open));
      run = [];
    }
  };
  for (const s of sorted) {
    if (!s.alarm) {
      flush(false);
      continue;
    }
    const previous = run[run.length - 1];
    if (previous && s.day - previous.day > options.maxGapDays) {
      flush(false);
    }
    run.push(s);
  }
  flush(true);
  return episodes;
}

function toEpisode(run: readonly DayScore[], open: boolean): AlarmEpisode {
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
  };
}
