import { SortedWindow } from '../../twin/baseline';
import { DEFAULT_DETECTOR_OPTIONS, type DayScore } from '../causalScorer';
import type { SubjectSeries } from '../detectionInput';
import { EpisodeHysteresis, type HysteresisOptions } from './episodeHysteresis';
import { LSTM_FEATURES, presentCount, subjectFeatures, windowSize, writeWindow } from './featureWindows';
import type { WindowRunner } from './ortWorkerPool';

/**
 * Causal scoring with the LSTM autoencoder (issue 5, "Learned"):
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
export interface LstmScoringOptions extends HysteresisOptions {
  readonly errorDays: number;
  readonly adverseOnly: boolean;
  readonly errorOffset: number;
  readonly calibrationDays: number;
  readonly minCalibrationDays: number;
  /** Smallest spread of log error (engineering floor, like the metric spread floors). */
  readonly calibrationSpreadFloor: number;
  /** Windows per session.run call. */
  readonly batch: number;
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
interface DayError {
  readonly day: number;
  /** undefined when the window held no present value (nothing to compare). */
  readonly error: number | undefined;
  readonly reason: string;
}

/**
 * Scores every subject; the result is in the order of `subjects`. Windows of many subjects share a batch (throughput);
 * a window's output depends only on that window, so batching does not change any score.
 */
export async function scoreSubjectsLstm(
  subjects: readonly SubjectSeries[],
  runner: WindowRunner,
  window: number,
  options: LstmScoringOptions = DEFAULT_LSTM_SCORING_OPTIONS
): Promise<DayScore[][]> {
  const out: DayScore[][] = [];
  // Subjects are processed in chunks so that memory stays bounded for large cohorts.
  const chunkSubjects = 64;
  for (let i = 0; i < subjects.length; i += chunkSubjects) {
    const chunk = subjects.slice(i, i + chunkSubjects);
    const errors = await rawErrors(chunk, runner, window, options);
    for (const e of errors) {
      out.push(calibrate(dayErrors(e), options));
      await yieldToLoop();
    }
  }
  return out;
}

/**
 * One subject's raw errors as the workers' replies fill them in: typed arrays indexed by scored-day position, and
 * reasons only where there is one. No object per day while the replies come in: this runs on the server's main
 * thread, where objects that live across a whole chunk would lengthen every garbage-collection pause.
 */
interface SubjectErrors {
  readonly scoredDays: readonly number[];
  /** NaN: no window was run for that day (nothing present). */
  readonly errors: Float64Array;
  readonly reasons: Map<number, string>;
}

function dayErrors(e: SubjectErrors): DayError[] {
  return e.scoredDays.map((day, i) => {
    const error = e.errors[i];
    return { day, error: Number.isNaN(error) ? undefined : error, reason: e.reasons.get(i) ?? '' };
  });
}

async function rawErrors(
  subjects: readonly SubjectSeries[],
  runner: WindowRunner,
  window: number,
  options: LstmScoringOptions
): Promise<SubjectErrors[]> {
  const size = windowSize(window);
  const perSubject: SubjectErrors[] = [];
  // Bounded in flight: replies are handled on this thread, and a burst of queued replies would block it (and hold
  // memory); a few batches per worker keep every worker busy.
  const maxInFlight = 4;
  const jobs: Promise<void>[] = [];
  // Window k of the batch being filled belongs to subject partSubject[k], scored-day position partIndex[k].
  let partSubject = new Int32Array(options.batch);
  let partIndex = new Int32Array(options.batch);
  let filled = 0;
  let input = new Float32Array(options.batch * size);
  const dispatch = async (): Promise<void> => {
    const n = filled;
    const subjectOf = partSubject;
    const indexOf = partIndex;
    const batchInput = n === options.batch ? input : input.slice(0, n * size);
    // Kept for the error: the input buffer is transferred to the worker.
    const kept = batchInput.slice();
    filled = 0;
    partSubject = new Int32Array(options.batch);
    partIndex = new Int32Array(options.batch);
    input = new Float32Array(options.batch * size);
    const job = runner.run(batchInput, n).then((recon) => {
      for (let k = 0; k < n; k++) {
        const target = perSubject[subjectOf[k]];
        const { error, reason } = windowError(kept, recon, k, window, options);
        target.errors[indexOf[k]] = error;
        if (reason) {
          target.reasons.set(indexOf[k], reason);
        }
      }
    });
    // Awaited below (in order, or by Promise.all); this only stops a failure from counting as unhandled meanwhile.
    job.catch(() => undefined);
    jobs.push(job);
    if (jobs.length >= maxInFlight) {
      await jobs.shift();
    }
  };
  for (let s = 0; s < subjects.length; s++) {
    const f = subjectFeatures(subjects[s]);
    const errors = new Float64Array(f.scoredDays.length).fill(Number.NaN);
    perSubject.push({ scoredDays: f.scoredDays, errors, reasons: new Map() });
    for (let i = 0; i < f.scoredDays.length; i++) {
      const day = f.scoredDays[i];
      if (presentCount(f, day, window) === 0) {
        continue;
      }
      writeWindow(f, day, window, input, filled * size);
      partSubject[filled] = s;
      partIndex[filled] = i;
      filled++;
      if (filled === options.batch) {
        await dispatch();
      }
    }
    // Let the event loop run between subjects: this runs on the server's main thread (issue 5: <= 20 ms blocks).
    await yieldToLoop();
  }
  if (filled > 0) {
    await dispatch();
  }
  await Promise.all(jobs);
  return perSubject;
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Raw error and reason of window k of a batch. */
function windowError(
  input: Float32Array,
  recon: Float32Array,
  k: number,
  window: number,
  options: LstmScoringOptions
): { error: number; reason: string } {
  const F = LSTM_FEATURES.length;
  const inBase = k * window * 2 * F;
  const outBase = k * window * F;
  let sum = 0;
  let n = 0;
  for (let t = window - options.errorDays; t < window; t++) {
    for (let f = 0; f < F; f++) {
      if (input[inBase + t * 2 * F + F + f] === 0) {
        continue;
      }
      const r = input[inBase + t * 2 * F + f] - recon[outBase + t * F + f];
      const dir = LSTM_FEATURES[f].goodDirection;
      const adverse = options.adverseOnly && dir !== 0 ? Math.max(0, -dir * r) : r;
      sum += adverse * adverse;
      n++;
    }
  }
  // Reason: features of the last day that the model reconstructs far off, in the direction the value moved. `far`
  // means |z| >= 3 against the personal baseline, as in the statistical detectors' reasons, so a finding's note
  // ("at least 3 robust SD", episodeExplanation.ts) reads the same for every detector.
  const notable: { name: string; size: number; text: string }[] = [];
  const t = window - 1;
  for (let f = 0; f < F; f++) {
    if (input[inBase + t * 2 * F + F + f] === 0) {
      continue;
    }
    const z = input[inBase + t * 2 * F + f];
    const r = z - recon[outBase + t * F + f];
    const dir = LSTM_FEATURES[f].goodDirection;
    const adverse = dir === 0 ? Math.abs(r) : -dir * r;
    if (adverse >= 2 && Math.abs(z) >= 2) {
      const where = z > 0 ? 'above' : 'below';
      notable.push({
        name: LSTM_FEATURES[f].name,
        size: adverse,
        text: `${LSTM_FEATURES[f].name} ${Math.abs(z) >= 3 ? 'far ' : ''}${where} personal baseline, unlike the recent pattern`,
      });
    }
  }
  notable.sort((a, b) => b.size - a.size);
  return { error: n > 0 ? sum / n : 0, reason: notable.map((x) => x.text).join('; ') };
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
