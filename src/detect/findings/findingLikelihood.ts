/**
 * How likely a finding's outcome is, as the RiskAssessment states it: a probability only when the
 * detector's scores were calibrated on labelled data (the calibration names its data and reliability figures,
 * as a model card would); otherwise a qualitative likelihood from the HL7 risk-probability code system with the score
 * and what it means. A score that is not calibrated never passes for a probability.
 *
 * Without calibration: `moderate` ("reasonable likelihood") when the peak score is at least 1.5 times the alarm
 * threshold and no recorded event explains the deviation, else `low` ("possible but unlikely"). Never `high` or
 * `certain`: at their operating points the detectors' alarms match a labelled event in a minority of cases on every
 * development set (precision in `twin eval detect`), so no uncalibrated alarm is "more likely than not".
 */

/** A calibration of a detector's peak score on labelled data (for example isotonic regression on held-out events). */
export interface ScoreCalibration {
  /** The data it was fitted on and its reliability figures (calibration slope, Brier score, bins), for the note. */
  readonly description: string;
  /** Probability of the outcome for a peak score, 0..1. */
  probability(peakScore: number): number;
}

/** HL7 risk-probability codes used here (R4 RiskAssessment.prediction.qualitativeRisk, example binding). */
export type QualitativeRisk = 'low' | 'moderate';

export interface FindingLikelihood {
  readonly qualitative: QualitativeRisk;
  /** Present only with a calibration. */
  readonly probability?: number;
  /** RiskAssessment.prediction.rationale: where the likelihood comes from. */
  readonly rationale: string;
  /** One sentence for the finding's note. */
  readonly sentence: string;
}

/** Peak score over alarm threshold at which an unexplained finding is `moderate`. */
export const MODERATE_RATIO = 1.5;

export function findingLikelihood(
  peakScore: number,
  alarmThreshold: number,
  explained: boolean,
  calibration?: ScoreCalibration
): FindingLikelihood {
  if (!(alarmThreshold > 0) || !Number.isFinite(peakScore)) {
    throw new RangeError('findingLikelihood needs a finite score and a positive alarm threshold');
  }
  const ratio = Math.round((Math.max(0, peakScore) / alarmThreshold) * 100) / 100;
  const qualitative: QualitativeRisk = !explained && ratio >= MODERATE_RATIO ? 'moderate' : 'low';
  if (calibration) {
    const p = Math.round(Math.min(1, Math.max(0, calibration.probability(peakScore))) * 100) / 100;
    return {
      qualitative,
      probability: p,
      rationale: `Calibrated probability: ${calibration.description}`,
      sentence: `Likelihood ${p} (calibrated: ${calibration.description}).`,
    };
  }
  const why = explained
    ? 'a recorded event explains the deviation'
    : `the peak detector score is ${ratio} times the alarm threshold`;
  return {
    qualitative,
    rationale:
      `Qualitative likelihood, not a probability: ${why}. The score measures how far and how long the person was ` +
      'from their own baseline, not how likely the outcome is; it has not been calibrated against outcomes.',
    sentence: `Likelihood ${qualitative} (${why}; not a calibrated probability).`,
  };
}

/** The HL7 risk-probability coding of a qualitative likelihood. */
export function qualitativeRiskCoding(risk: QualitativeRisk): { system: string; code: string; display: string } {
  // Code system http://terminology.hl7.org/CodeSystem/risk-probability, codes and displays as in the FHIR core
  // ValueSet risk-probability bound (example) to RiskAssessment.prediction.qualitativeRisk (hl7.fhir.r4.core /
  // r5.core; listed in GinoCanessa/fhir-cross-version-source docs/R5/ValueSets/RiskProbability.md).
  return {
    system: 'http://terminology.hl7.org/CodeSystem/risk-probability',
    code: risk,
    display: risk === 'low' ? 'Low likelihood' : 'Moderate likelihood',
  };
}
