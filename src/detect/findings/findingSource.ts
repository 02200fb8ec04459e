import type { Device } from '@medplum/fhirtypes';
import { scoreSubject, type DayScore, type DetectorName, type DetectorOptions } from '../causalScorer';
import type { SubjectSeries } from '../detectionInput';
import { alarmThreshold, buildDetectorDevice } from './detectorDevice';
import type { ScoreCalibration } from './findingLikelihood';

/** A detector name of the registry (src/detect/detectorRegistry.ts): in identifiers, notes and Task text. */
export type FindingDetectorName = string;

/**
 * Where a run's findings come from: the detector's name (in identifiers, notes and Task text), the model Device that
 * findings name as performer, the score at which it raises an alarm (for findingLikelihood.ts), and its causal
 * day scores for one patient. findingsWriter.ts only needs this, so every detector shares one write path.
 */
export interface FindingSource {
  readonly detector: FindingDetectorName;
  /** The model Device (profile model-device), built before the run; written once by conditional update. */
  readonly device: Device;
  readonly alarmThreshold: number;
  /** Episodes close by hysteresis (the person back near baseline), not merely below the threshold for a day. */
  readonly hysteresis: boolean;
  /** A calibration of the peak score on labelled data; absent: findings carry no probability (findingLikelihood.ts). */
  readonly calibration?: ScoreCalibration;
  /** Day scores of one patient's series (scoreSubject's shape: one per day with data, ascending). */
  score(series: SubjectSeries): Promise<DayScore[]>;
}

/** A statistical detector (src/detect/causalScorer.ts) with its configuration as the Device's identity. */
export function statisticalFindingSource(detector: DetectorName, options: DetectorOptions): FindingSource {
  return {
    detector,
    device: buildDetectorDevice(detector, options),
    alarmThreshold: alarmThreshold(detector, options),
    hysteresis: detector === 'ensemble',
    score: (series) => Promise.resolve(scoreSubject(series, detector, options)),
  };
}
