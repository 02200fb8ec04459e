/**
 * Alarm episodes with hysteresis, the same rule as the statistical ensemble (src/detect/causalScorer.ts, which keeps
 * it inline): an episode opens when the score reaches `onThreshold`, stays open until the score has been below
 * `offThreshold` for `closeAfterDays` scored days in a row, and an episode longer than `maxEpisodeDays` is taken as a
 * new normal (device change, plateau) and closes. One episode gives one alarm, not an alarm a day.
 *
 * The caller learns what to do with the day's data from `step`: while an episode is open it holds the day back from
 * its baseline ('hold'); when an episode closes as a new normal it adopts what it held ('adopt'); when an episode
 * closes normally the held days are dropped ('drop').
 */
export interface HysteresisOptions {
  readonly onThreshold: number;
  readonly offThreshold: number;
  readonly closeAfterDays: number;
  readonly maxEpisodeDays: number;
}

export type HysteresisAction = 'keep' | 'hold' | 'drop' | 'adopt';

export class EpisodeHysteresis {
  private open = false;
  private episodeDays = 0;
  private quietDays = 0;

  constructor(private readonly options: HysteresisOptions) {}

  /** Feeds one scored day; returns whether the day is inside an alarm episode and what to do with its data. */
  step(score: number): { alarm: boolean; action: HysteresisAction } {
    const o = this.options;
    if (!this.open && score >= o.onThreshold) {
      this.open = true;
      this.episodeDays = 0;
      this.quietDays = 0;
    }
    if (!this.open) {
      return { alarm: false, action: 'keep' };
    }
    this.episodeDays++;
    this.quietDays = score < o.offThreshold ? this.quietDays + 1 : 0;
    if (this.quietDays >= o.closeAfterDays) {
      this.open = false;
      return { alarm: false, action: 'drop' };
    }
    if (this.episodeDays > o.maxEpisodeDays) {
      this.open = false;
      return { alarm: false, action: 'adopt' };
    }
    return { alarm: true, action: 'hold' };
  }
}
