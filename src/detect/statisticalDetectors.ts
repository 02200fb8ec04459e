import { scoreSubject, type DetectorName } from './causalScorer';
import type { Detector } from './detector';
import { statisticalFindingSource } from './findings/findingSource';
import { MODE_OPTIONS, optionsAt } from './operating/budgetScoring';

/**
 * A statistical detector of causalScorer.ts: the mode's options, at the operating point's threshold when one is
 * given. Pure and synchronous; nothing to close.
 */
function statisticalDetector(name: DetectorName, description: string): Detector {
  return {
    name,
    description,
    open: async ({ mode, threshold }) => {
      const base = MODE_OPTIONS[mode ?? 'dense'];
      const options = threshold === undefined ? base : optionsAt(name, base, threshold);
      return {
        source: statisticalFindingSource(name, options),
        scoreAll: async (subjects) => subjects.map((s) => scoreSubject(s, name, options)),
        close: async () => undefined,
      };
    },
  };
}

export const ensembleDetector: Detector = statisticalDetector(
  'ensemble',
  'robust z and CUSUM over several metrics moving together, one alarm per episode (hysteresis); the default'
);

export const zscoreDetector: Detector = statisticalDetector(
  'zscore',
  'robust z of each metric against its personal 28-day median/MAD baseline'
);

export const cusumDetector: Detector = statisticalDetector('cusum', 'one-sided CUSUM of robust z per metric');
