import { DEFAULT_DETECTOR_OPTIONS, scoreSubject, type DetectorName } from './causalScorer';
import type { Detector } from './detector';
import { statisticalFindingSource } from './findings/findingSource';

/** A statistical detector of causalScorer.ts with its default options: pure, synchronous, nothing to close. */
function statisticalDetector(name: DetectorName, description: string): Detector {
  return {
    name,
    description,
    open: async () => ({
      source: statisticalFindingSource(name, DEFAULT_DETECTOR_OPTIONS),
      scoreAll: async (subjects) => subjects.map((s) => scoreSubject(s, name, DEFAULT_DETECTOR_OPTIONS)),
      close: async () => undefined,
    }),
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
