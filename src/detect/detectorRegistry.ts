import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Detector } from './detector';
import { lstmDetector } from './lstm/lstmDetectorEntry';
import { nightSignalDetector } from './nightSignalDetector';
import { cusumDetector, ensembleDetector, zscoreDetector } from './statisticalDetectors';

/** Every early-warning detector, the default first. A new detector: one file exporting a Detector, one line here. */
export const DETECTORS: readonly Detector[] = [
  ensembleDetector,
  zscoreDetector,
  cusumDetector,
  lstmDetector,
  nightSignalDetector,
];

export const DEFAULT_DETECTOR_NAME: string = DETECTORS[0].name;

/** The detector of a name, or a bad-request OperationOutcomeError listing the known ones. */
export function detectorFor(name: string): Detector {
  const detector = DETECTORS.find((d) => d.name === name);
  if (!detector) {
    throw new OperationOutcomeError(
      badRequest(`Unknown detector "${name}"; known: ${DETECTORS.map((d) => d.name).join(', ')}`, 'detector')
    );
  }
  return detector;
}
