import { DEFAULT_DETECTOR_OPTIONS, scoreSubject, type DayScore, type DetectorOptions } from '../causalScorer';
import type { SubjectSeries } from '../detectionInput';
import { calibrate, DEFAULT_LSTM_SCORING_OPTIONS, type DayError } from '../lstm/lstmScorer';
import { COMBINED_BASE, type BudgetedDetector } from './operatingPoint';
import { internalFault } from '../../fhir/outcomes';

/**
 * Detector modes. `dense`: daily wearable data (the defaults). `sparse`: spot measurements a few times a week
 * (Welltory-like): a 90-day baseline window, 3 personal values before a metric is scored (so a person with a handful
 * of readings is scored at all), and the population's within-person spread as a prior worth 7 days (so a baseline of
 * three readings is not overconfident). Operating points are tuned per mode.
 */
export const DETECTOR_MODES = ['dense', 'sparse'] as const;
export type DetectorMode = (typeof DETECTOR_MODES)[number];

export const MODE_OPTIONS: Readonly<Record<DetectorMode, DetectorOptions>> = Object.freeze({
  dense: DEFAULT_DETECTOR_OPTIONS,
  sparse: Object.freeze({ ...DEFAULT_DETECTOR_OPTIONS, windowDays: 90, minBaselineDays: 3, priorSpreadDays: 7 }),
});

/** The statistical options of a detector run at `threshold` (its alarm threshold, in its own score units). */
export function optionsAt(
  detector: 'ensemble' | 'zscore' | 'cusum',
  base: DetectorOptions,
  threshold: number
): DetectorOptions {
  switch (detector) {
    case 'ensemble':
      return { ...base, onThreshold: threshold };
    case 'zscore':
      return { ...base, zThreshold: threshold };
    case 'cusum':
      return { ...base, cusumThreshold: threshold };
  }
}

/**
 * Day scores of every subject for a detector at one threshold. The LSTM's raw day errors are computed once by the
 * caller (the model is the slow part) and calibrated here at the threshold; `ensemble+lstm` is the union of the
 * ensemble's and the LSTM's alarms at threshold x their former defaults (COMBINED_BASE), its score the larger of the
 * two scores relative to their thresholds.
 */
export function scoreAtThreshold(
  detector: BudgetedDetector,
  threshold: number,
  subjects: readonly SubjectSeries[],
  base: DetectorOptions,
  lstmErrors?: readonly (readonly DayError[])[]
): DayScore[][] {
  const lstmAt = (t: number): DayScore[][] => {
    if (!lstmErrors) {
      throw internalFault('the lstm detector needs its day errors');
    }
    const options = { ...DEFAULT_LSTM_SCORING_OPTIONS, onThreshold: t, maxEpisodeDays: base.maxEpisodeDays };
    return lstmErrors.map((errors) => calibrate(errors, options));
  };
  switch (detector) {
    case 'ensemble':
    case 'zscore':
    case 'cusum':
      return subjects.map((s) => scoreSubject(s, detector, optionsAt(detector, base, threshold)));
    case 'lstm':
      return lstmAt(threshold);
    case 'ensemble+lstm': {
      const eOn = threshold * COMBINED_BASE.ensemble;
      const lOn = threshold * COMBINED_BASE.lstm;
      const lstm = lstmAt(lOn);
      return subjects.map((s, i) => {
        const byDay = new Map(lstm[i].map((d) => [d.day, d]));
        return scoreSubject(s, 'ensemble', optionsAt('ensemble', base, eOn)).map((e) => {
          const l = byDay.get(e.day);
          const alarm = e.alarm || (l?.alarm ?? false);
          const score = Math.max(e.score / eOn, (l?.score ?? 0) / lOn);
          return { ...e, alarm, score: Math.round(score * 1000) / 1000, reason: e.reason || (l?.reason ?? '') };
        });
      });
    }
  }
}
