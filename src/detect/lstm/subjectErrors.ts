import type { SubjectSeries } from '../detectionInput';
import {
  LSTM_FEATURES,
  PACKED_METRICS,
  packSeries,
  packedFeatures,
  presentCount,
  windowSize,
  writeWindow,
} from './featureWindows';

/**
 * Raw reconstruction errors of the LSTM autoencoder for a group of subjects (models/lstm-detector/MODEL_CARD.md, step 2 of
 * lstmScorer.ts). This runs inside the scoring workers (lstmWorkerThread.ts): the main thread only packs each series
 * into typed arrays, sends them, and calibrates the errors that come back, so the server's event loop stays free
 * (docs/ARCHITECTURE.md, performance goals: never blocked more than 20 ms).
 */
export interface WindowErrorOptions {
  readonly errorDays: number;
  readonly adverseOnly: boolean;
  /** Windows per session.run call. */
  readonly batch: number;
}

/** Several subjects' packed series, concatenated: subject s owns days[dayStart[s] .. dayStart[s + 1] - 1]. */
export interface PackedGroup {
  readonly days: Int32Array<ArrayBuffer>;
  /** dayStart.length = subjects + 1. */
  readonly dayStart: Int32Array<ArrayBuffer>;
  /** values[i * PACKED_METRICS.length + m] for day i of `days`; NaN when missing. */
  readonly values: Float64Array<ArrayBuffer>;
}

/**
 * Per day of a group (same positions as PackedGroup.days): the raw error, NaN when the window held no present value,
 * and the reason codes of that day, reasonCodes[reasonStart[i] .. reasonStart[i + 1] - 1], largest deviation first.
 */
export interface GroupErrors {
  readonly errors: Float64Array<ArrayBuffer>;
  readonly reasonStart: Int32Array<ArrayBuffer>;
  readonly reasonCodes: Uint8Array<ArrayBuffer>;
}

/** Runs `n` windows; may not keep or detach `input` (the caller reads it again). */
export type RunWindows = (input: Float32Array, n: number) => Promise<Float32Array>;

export function packGroup(subjects: readonly SubjectSeries[]): PackedGroup {
  const packed = subjects.map((s) => packSeries(s));
  const dayStart = new Int32Array(subjects.length + 1);
  for (let s = 0; s < packed.length; s++) {
    dayStart[s + 1] = dayStart[s] + packed[s].days.length;
  }
  const total = dayStart[subjects.length];
  const days = new Int32Array(total);
  const values = new Float64Array(total * PACKED_METRICS.length);
  for (let s = 0; s < packed.length; s++) {
    days.set(packed[s].days, dayStart[s]);
    values.set(packed[s].values, dayStart[s] * PACKED_METRICS.length);
  }
  return { days, dayStart, values };
}

/**
 * Raw errors of every day of the group. Windows of consecutive subjects share a batch (throughput); a window's output
 * depends only on that window, so the grouping and batching change no error.
 */
export async function groupErrors(
  group: PackedGroup,
  window: number,
  options: WindowErrorOptions,
  run: RunWindows
): Promise<GroupErrors> {
  const M = PACKED_METRICS.length;
  const size = windowSize(window);
  const total = group.days.length;
  const errors = new Float64Array(total).fill(Number.NaN);
  const reasonStart = new Int32Array(total + 1);
  // Codes per day, filled as batches return (batches complete in day order, but only reasons of their own days).
  const dayCodes: (number[] | undefined)[] = new Array<number[] | undefined>(total);
  const input = new Float32Array(options.batch * size);
  // Window k of the batch belongs to group day position dayOf[k].
  const dayOf = new Int32Array(options.batch);
  let filled = 0;
  const flush = async (): Promise<void> => {
    const recon = await run(filled === options.batch ? input : input.subarray(0, filled * size), filled);
    for (let k = 0; k < filled; k++) {
      const codes: number[] = [];
      errors[dayOf[k]] = windowError(input, recon, k, window, options, codes);
      if (codes.length > 0) {
        dayCodes[dayOf[k]] = codes;
      }
    }
    filled = 0;
  };
  for (let s = 0; s + 1 < group.dayStart.length; s++) {
    const from = group.dayStart[s];
    const to = group.dayStart[s + 1];
    const f = packedFeatures({ days: group.days.subarray(from, to), values: group.values.subarray(from * M, to * M) });
    for (let i = 0; i < f.scoredDays.length; i++) {
      const day = f.scoredDays[i];
      if (presentCount(f, day, window) === 0) {
        continue;
      }
      writeWindow(f, day, window, input, filled * size);
      dayOf[filled] = from + i;
      filled++;
      if (filled === options.batch) {
        await flush();
      }
    }
  }
  if (filled > 0) {
    await flush();
  }
  let codeCount = 0;
  for (let i = 0; i < total; i++) {
    reasonStart[i] = codeCount;
    codeCount += dayCodes[i]?.length ?? 0;
  }
  reasonStart[total] = codeCount;
  const reasonCodes = new Uint8Array(codeCount);
  for (let i = 0; i < total; i++) {
    const codes = dayCodes[i];
    if (codes) {
      reasonCodes.set(codes, reasonStart[i]);
    }
  }
  return { errors, reasonStart, reasonCodes };
}

/**
 * Raw error of window k of a batch: mean squared (adverse) residual over the present values of its last `errorDays`
 * days. Pushes the reason codes of its last day onto `codes`: features that the model reconstructs far off, in the
 * direction the value moved, largest first.
 */
function windowError(
  input: Float32Array,
  recon: Float32Array,
  k: number,
  window: number,
  options: WindowErrorOptions,
  codes: number[]
): number {
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
  const notable: { code: number; size: number }[] = [];
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
      notable.push({ code: reasonCode(f, Math.abs(z) >= 3, z > 0), size: adverse });
    }
  }
  // Stable sort: ties keep feature order.
  notable.sort((a, b) => b.size - a.size);
  for (const x of notable) {
    codes.push(x.code);
  }
  return n > 0 ? sum / n : 0;
}

function reasonCode(feature: number, far: boolean, above: boolean): number {
  return feature * 4 + (far ? 2 : 0) + (above ? 1 : 0);
}

/**
 * The reason text of some codes. `far` means |z| >= 3 against the personal baseline, as in the statistical detectors'
 * reasons, so a finding's note ("at least 3 robust SD", episodeExplanation.ts) reads the same for every detector.
 */
export function reasonText(codes: ArrayLike<number>): string {
  const parts: string[] = [];
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i];
    const name = LSTM_FEATURES[code >> 2].name;
    const far = (code & 2) !== 0 ? 'far ' : '';
    const where = (code & 1) !== 0 ? 'above' : 'below';
    parts.push(`${name} ${far}${where} personal baseline, unlike the recent pattern`);
  }
  return parts.join('; ');
}
