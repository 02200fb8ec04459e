import { NOT_CLINICAL } from '../detectionEvaluation';
import type { DetectionInput } from '../detectionInput';
import { presentCount, subjectFeatures, windowSize, writeWindow } from './featureWindows';

/**
 * The windows the LSTM autoencoder is trained and held-out-scored on, built with the same feature code the engine
 * serves with (featureWindows.ts), so train.py never re-implements the features. Pure: models/lstm-detector/
 * exportWindows.mjs does the file I/O.
 *
 * Labels per window: 0 = normal (no clinical event within [event - 7, event + 28] of any day of the window),
 * 1 = the window ends within 3 days of an illness_symptoms onset, 2 = near another clinical event. Data gaps and device
 * changes are not clinical: the autoencoder must learn them as normal. Windows with no present value are left out.
 */
export interface TrainingWindows {
  readonly windows: Float32Array;
  readonly labels: Uint8Array;
}

export interface TruthRow {
  readonly subject: string;
  readonly day: number;
  readonly event: string;
}

const BEFORE = 7;
const AFTER = 28;

export function trainingWindows(input: DetectionInput, truth: readonly TruthRow[], window: number): TrainingWindows {
  const size = windowSize(window);
  const chunks: Float32Array[] = [];
  const labels: number[] = [];
  for (const subject of input.subjects) {
    const events = truth.filter((t) => t.subject === subject.subjectId && !NOT_CLINICAL.has(t.event));
    const feats = subjectFeatures(subject);
    const buf = new Float32Array(feats.scoredDays.length * size);
    let n = 0;
    for (const day of feats.scoredDays) {
      if (presentCount(feats, day, window) === 0) {
        continue;
      }
      const start = day - window + 1;
      const near = events.some((e) => day >= e.day - BEFORE && start <= e.day + AFTER);
      const illness = events.some((e) => e.event === 'illness_symptoms' && Math.abs(day - e.day) <= 3);
      writeWindow(feats, day, window, buf, n * size);
      labels.push(illness ? 1 : near ? 2 : 0);
      n++;
    }
    chunks.push(buf.subarray(0, n * size));
  }
  const windows = new Float32Array(chunks.reduce((s, c) => s + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    windows.set(c, offset);
    offset += c.length;
  }
  return { windows, labels: Uint8Array.from(labels) };
}
