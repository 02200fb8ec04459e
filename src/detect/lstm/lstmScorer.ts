import { SortedWindow } from '../../twin/baseline';
import { DEFAULT_DETECTOR_OPTIONS, type DayScore } from '../causalScorer';
import type { SubjectSeries } from '../detectionInput';
import { EpisodeHysteresis, type HysteresisOptions } from './episodeHysteresis';
import type { SubjectErrorRunner } from './ortWorkerPool';
import { packGroup, reasonText, type GroupErrors, type WindowErrorOptions } from './subjectErrors';

/**
 * Causal scoring with the LSTM autoencoder (models/lstm-detector/MODEL_CARD.md):
 * 1. features: per-day robust z of each metric against the person's prior 28 days, with masks (featureWindows.ts);
 * 2. raw error e_d: mean squared reconstruction error, over present values of the last `errorDays` days of the window
 *    ending at d (the window reads days d - window + 1 .. d only). With `adverseOnly`, a residual counts only in the
 *    adverse direction of its metric (resting HR above, HRV / sleep / wellness below what the model expected), so an
 *    unusually good day is not an alarm; metrics without a direction (training load) count both ways;
 * 3. calibration: score_d = robust z of log(e_d + errorOffset) against the same person's errors on the prior
 *    `calibrationDays` days (at least `minCalibrationDays` of them), so one threshold fits people whose data
 *    reconstructs well or badly;
 * 4. episodes: the same hysteresis as the ensemble (episodeHysteresis.ts); days inside an open episode are held back
 *    from the error baseline, so an illness does not become the person's normal error level.
 * Every step reads only days <= d, so appending future days never changes a past score.
 */
export interface LstmScoringOptions extends HysteresisOptions, WindowErrorOptions {
  readonly errorOffset: number;
  readonly calibrationDays: number;
  readonly minCalibrationDays: number;
  /** Smallest spread of log error (engineering floor, like the metric spread floors). */
  readonly calibrationSpreadFloor: number;
}

export const DEFAULT_LSTM_SCORING_OPTIONS: Readonly<LstmScoringOptions> = Object.freeze({
  errorDays: 3,
  adverseOnly: true,
  errorOffset: 0.05,
  calibrationDays: 28,
  minCalibrationDays: 7,
  calibrationSpreadFloor: 0.35,
  onThreshold: 2.5,
  offThreshold: 1,
  closeAfterDays: DEFAULT_DETECTOR_OPTIONS.closeAfterDays,
  maxEpisodeDays: DEFAULT_DETECTOR_OPTIONS.maxEpisodeDays,
  batch: 256,
});
// errorDays, onThreshold and calibrationSpreadFloor were chosen on the development cohort (`twin seed --seed 9`, 200 x
// 180 days, people the model was trained on) for early warning at a false-alarm rate near the ensemble's; figures
// are reported on the held-out seed-7 cohort and on the real data sets (models/lstm-detector/MODEL_CARD.md).

/** What the model said about one day: its raw error and the features that reconstructed worst on that day. */
export interface DayError {
  readonly day: number;
  /** undefined when the window held no present value (nothing to compare). */
  readonly error: number | undefined;
  readonly reason: string;
}

/** Subjects per worker request: large enough to fill batches of 256 windows, small enough to keep replies short. */
const GROUP_SUBJECTS = 8;

/**
 * Scores every subject; the result is in the order of `subjects`. The workers build features and windows, run the
 * model and return raw errors (subjectErrors.ts); this thread only packs each series into typed arrays and calibrates
 * (docs/ARCHITECTURE.md, performance goals: the event loop is never blocked more than 20 ms). A window's output depends only on that
 * window, so neither the grouping nor the batching changes any score.
 */
export async function scoreSubjectsLstm(
  subjects: readonly SubjectSeries[],
  runner: SubjectErrorRunner,
  options: LstmScoringOptions = DEFAULT_LSTM_SCORING_OPTIONS
): Promise<DayScore[][]> {
  return subjectsLstm(subjects, runner, options, (errors) => calibrate(errors, options));
}

/**
 * The raw day errors of every subject (before calibration and hysteresis), in the order of `subjects`: an evaluation
 * that sweeps the alarm threshold runs the model once and calibrates each threshold from these.
 */
export function dayErrorsOfSubjectsLstm(
  subjects: readonly SubjectSeries[],
  runner: SubjectErrorRunner,
  options: LstmScoringOptions = DEFAULT_LSTM_SCORING_OPTIONS
): Promise<DayError[][]> {
  return subjectsLstm(subjects, runner, options, (errors) => errors);
}

async function subjectsLstm<T>(
  subjects: readonly SubjectSeries[],
  runner: SubjectErrorRunner,
  options: LstmScoringOptions,
  finish: (errors: DayError[]) => T
): Promise<T[]> {
  const out = new Array<T>(subjects.length);
  // Bounded in flight: two groups per worker keep every worker busy while this thread calibrates the last reply,
  // and bound the memory of replies waiting here.
  const maxInFlight = 2 * Math.max(1, runner.size);
  const inFlight: Promise<void>[] = [];
  for (let from = 0; from < subjects.length; from += GROUP_SUBJECTS) {
    const to = Math.min(subjects.length, from + GROUP_SUBJECTS);
    const group = packGroup(subjects.slice(from, to));
    const dayStart = group.dayStart.slice();
    const days = group.days.slice();
    const job = runner.errors(group, options).then(async (result) => {
      for (let s = 0; from + s < to; s++) {
        out[from + s] = finish(dayErrorsOf(days, dayStart, result, s));
        await yieldToLoop();
      }
    });
    // Awaited below; this only stops a failure from counting as unhandled meanwhile.
    job.catch(() => undefined);
    inFlight.push(job);
    if (inFlight.length >= maxInFlight) {
      await inFlight.shift();
    }
    // Packing is short (one pass over the person's values), but yield between groups all the same.
    await yieldToLoop();
  }
  await Promise.all(inFlight);
  return out;
}

/** Subject s of a group's raw errors as DayError (the group's days and dayStart, kept before they were sent). */
export function dayErrorsOf(days: Int32Array, dayStart: Int32Array, result: GroupErrors, s: number): DayError[] {
  const out: DayError[] = [];
  for (let i = dayStart[s]; i < dayStart[s + 1]; i++) {
    const error = result.errors[i];
    const codes = result.reasonCodes.subarray(result.reasonStart[i], result.reasonStart[i + 1]);
    out.push({
      day: days[i],
      error: Number.isNaN(error) ? undefined : error,
      reason: codes.length > 0 ? reasonText(codes) : '',
    });
  }
  return out;
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Per-person calibration of raw errors and hysteresis; pure and causal. */
export function calibrate(days: readonly DayError[], options: LstmScoringOptions): DayScore[] {
  const window = new SortedWindow();
  const entries: { day: number; value: number }[] = [];
  const held: { day: number; value: number }[] = [];
  const episodes = new EpisodeHysteresis(options);
  const out: DayScore[] = [];
  for (const d of days) {
    while (entries.length > 0 && entries[0].day < d.day - options.calibrationDays) {
      const old = entries.shift();
      if (old) {
        window.remove(old.value);
      }
    }
    const logError = d.error === undefined ? undefined : Math.log(d.error + options.errorOffset);
    let score = 0;
    if (logError !== undefined && window.size >= options.minCalibrationDays) {
      const robust = window.robust();
      if (robust) {
        score = Math.max(0, (logError - robust.median) / Math.max(options.calibrationSpreadFloor, robust.sd));
      }
    }
    score = Math.round(score * 1000) / 1000;
    const { alarm, action } = episodes.step(score);
    if (action === 'drop') {
      held.length = 0;
    } else if (action === 'adopt') {
      for (const h of held) {
        window.insert(h.value);
        entries.push(h);
      }
      entries.sort((a, b) => a.day - b.day);
      held.length = 0;
    }
    if (logError !== undefined) {
      if (action === 'hold') {
        held.push({ day: d.day, value: logError });
      } else {
        window.insert(logError);
        entries.push({ day: d.day, value: logError });
      }
    }
    out.push({ day: d.day, score, alarm, reason: alarm || score >= options.offThreshold ? d.reason : '' });
  }
  return out;
}
