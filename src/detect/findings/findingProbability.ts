/**
 * The probability a finding carries (RiskAssessment.prediction.probabilityDecimal), from the episode's peak score.
 *
 * It is NOT a calibrated probability: the detectors' scores have not been calibrated against outcomes (too few
 * labelled events in the development data). It is a documented, monotone rescaling of the score, so that a higher
 * score always gives a higher figure and one review threshold fits every detector:
 *
 *   r = peakScore / alarmThreshold        (1 = the score at which the detector raises an alarm)
 *   p = 1 / (1 + exp(-4 (r - 1.5)))       rounded to 2 decimals
 *
 * An episode that only grazes the alarm threshold (r = 1) gets 0.12, one whose peak is half again the threshold
 * (r = 1.5) gets 0.5, twice the threshold 0.88. So the default review threshold (0.5) asks the care team to look at
 * the clearer episodes, and the faint ones stay in the record. Rounding keeps a replay byte-identical.
 */
export function findingProbability(peakScore: number, alarmThreshold: number): number {
  if (!(alarmThreshold > 0) || !Number.isFinite(peakScore)) {
    throw new RangeError('findingProbability needs a finite score and a positive alarm threshold');
  }
  const r = Math.max(0, peakScore) / alarmThreshold;
  const p = 1 / (1 + Math.exp(-PROBABILITY_SLOPE * (r - PROBABILITY_MIDPOINT)));
  return Math.round(p * 100) / 100;
}

/** r at which the figure is 0.5. */
export const PROBABILITY_MIDPOINT = 1.5;
/** Steepness in units of r. */
export const PROBABILITY_SLOPE = 4;
