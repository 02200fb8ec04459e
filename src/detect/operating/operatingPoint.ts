import { join } from 'node:path';
import { packageRoot } from '../../fhir/packageRoot';
import type { DetectionFigures } from '../detectionEvaluation';
import { invalidInput } from '../../fhir/outcomes';

/**
 * Operating points chosen by a false-alarm budget: instead of a fixed
 * alarm threshold, each detector runs at the lowest threshold whose false-alarm rate stays within a budget of
 * false-alarm episodes per 30 event-free days (src/detect/detectionEvaluation.ts counts both), on every tuning set.
 *
 * "Every tuning set" and "every higher threshold on the grid" make the choice conservative: a threshold that meets
 * the budget on synthetic data but not on a real cohort is not chosen, and a dip of the false-alarm curve at one
 * grid point (episodes merging) does not pick an isolated threshold. The budget is spent on development people only;
 * figures are reported on held-out people at the chosen point (twin eval detect --budget).
 */

/** The detectors an operating point exists for; `ensemble+lstm` alarms when either of the two does (union). */
export const BUDGETED_DETECTORS = ['ensemble', 'zscore', 'cusum', 'lstm', 'ensemble+lstm'] as const;
export type BudgetedDetector = (typeof BUDGETED_DETECTORS)[number];

/**
 * Threshold grid per detector, in the detector's own score units (ensemble: its combined score; zscore: robust z;
 * cusum: cumulative robust z; lstm: calibrated error z). `ensemble+lstm` sweeps one factor f: the ensemble at
 * f x 4 and the LSTM at f x 2.5 (their former default thresholds), so both move together.
 */
export function thresholdGrid(detector: BudgetedDetector): number[] {
  const range = (from: number, to: number, step: number): number[] => {
    const out: number[] = [];
    for (let x = from; x <= to + 1e-9; x += step) {
      out.push(Math.round(x * 1000) / 1000);
    }
    return out;
  };
  switch (detector) {
    case 'ensemble':
      return range(2, 14, 0.25);
    case 'zscore':
      return range(2, 14, 0.25);
    case 'cusum':
      return range(2, 40, 0.5);
    case 'lstm':
      return range(1, 10, 0.25);
    case 'ensemble+lstm':
      return range(0.5, 3.5, 0.05);
  }
}

/** Former default thresholds that `ensemble+lstm` scales (DEFAULT_DETECTOR_OPTIONS.onThreshold, lstm onThreshold). */
export const COMBINED_BASE = Object.freeze({ ensemble: 4, lstm: 2.5 });

/** One threshold's figures on one tuning set. */
export interface SweepPoint {
  readonly threshold: number;
  readonly figures: DetectionFigures;
}

/**
 * The lowest threshold of the grid at which the false-alarm rate is within `budget` on every set, at that threshold
 * and at every higher one; undefined when none is (the budget cannot be met on this grid). `sweeps[i]` is set i's
 * figures, one per grid threshold, in the same order on every set.
 */
export function chooseThreshold(sweeps: readonly (readonly SweepPoint[])[], budget: number): number | undefined {
  if (!(budget > 0)) {
    throw new RangeError('a false-alarm budget must be positive');
  }
  if (sweeps.length === 0) {
    return undefined;
  }
  const thresholds = sweeps[0].map((p) => p.threshold);
  for (const sweep of sweeps) {
    if (sweep.length !== thresholds.length || sweep.some((p, i) => p.threshold !== thresholds[i])) {
      throw new RangeError('every tuning set must be swept over the same thresholds');
    }
  }
  let chosen: number | undefined;
  for (let i = thresholds.length - 1; i >= 0; i--) {
    if (sweeps.every((sweep) => sweep[i].figures.falseAlarmsPer30Days <= budget)) {
      chosen = thresholds[i];
    } else {
      break;
    }
  }
  return chosen;
}

/** Stored operating points: models/detector-operating-points.json, written by `twin eval tune-detect`. */
export interface OperatingPointsFile {
  readonly description: string;
  readonly budgetUnit: string;
  readonly command: string;
  readonly tunedOn: readonly string[];
  /** mode -> detector -> budget (as written, e.g. "0.35") -> threshold, or null when no grid point met the budget. */
  readonly modes: Readonly<Record<string, Partial<Record<BudgetedDetector, Readonly<Record<string, number | null>>>>>>;
}

/** The stored threshold of a detector at a budget; throws a clear error when it was not tuned or not reachable. */
export function storedThreshold(
  file: OperatingPointsFile,
  mode: string,
  detector: BudgetedDetector,
  budget: number
): number {
  const point = file.modes[mode]?.[detector]?.[budgetKey(budget)];
  if (point === undefined) {
    throw invalidInput(
      `no operating point for ${detector} (mode ${mode}) at budget ${budgetKey(budget)}: run twin eval tune-detect`
    );
  }
  if (point === null) {
    throw invalidInput(`${detector} (mode ${mode}) met no budget of ${budgetKey(budget)} on its tuning sets`);
  }
  return point;
}

/** A budget as a stable key ("0.35", "0.5"). */
export function budgetKey(budget: number): string {
  return String(Math.round(budget * 1000) / 1000);
}

/** The operating points shipped with the engine (written by `twin eval tune-detect`, see its `command` field). */
export const DEFAULT_OPERATING_POINTS_FILE = (): string =>
  join(packageRoot(), 'models', 'detector-operating-points.json');

/** The false-alarm budget findings run at unless told otherwise (episodes per 30 event-free days). */
export const DEFAULT_FINDINGS_BUDGET = 0.35;
