import type { Device } from '@medplum/fhirtypes';
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../fhir/canonicalJson';
import { MODEL_SHA256_SYSTEM, TWIN_PROFILE, twinCoding } from '../../fhir/codes/twinCanonicals';
import type { DetectorName, DetectorOptions } from '../causalScorer';

/**
 * Version of the statistical detectors' code (src/detect/causalScorer.ts). Bump it when the scoring changes in a way
 * the options do not show: the Device identity (sha256 below) then changes, and findings name the new Device.
 */
export const STATISTICAL_DETECTOR_VERSION = '1.1.0';

/** The exact configuration a statistical detector runs with: what its Device's sha256 is taken over. */
export function detectorConfigurationJson(detector: DetectorName, options: DetectorOptions): string {
  return canonicalJson({
    algorithm: 'recovery-twin-statistical',
    version: STATISTICAL_DETECTOR_VERSION,
    detector,
    options,
  });
}

/**
 * The statistical detectors have no model file, so the model-device profile's sha256 (twin-md-1: lowercase hex, 64
 * characters) is taken over the canonical JSON of the configuration: algorithm version, detector and its
 * DetectorOptions. The detector name is part of it: zscore and ensemble with the same options are different models.
 */
export function detectorSha256(detector: DetectorName, options: DetectorOptions): string {
  return createHash('sha256').update(detectorConfigurationJson(detector, options), 'utf8').digest('hex');
}

/** The score at which a detector raises an alarm (the ensemble: the score that opens an episode). */
export function alarmThreshold(detector: DetectorName, options: DetectorOptions): number {
  switch (detector) {
    case 'zscore':
      return options.zThreshold;
    case 'cusum':
      return options.cusumThreshold;
    case 'ensemble':
      return options.onThreshold;
  }
}

const DETECTOR_TITLES: Readonly<Record<DetectorName, string>> = Object.freeze({
  ensemble: 'ensemble of robust z and CUSUM with hysteresis',
  zscore: 'robust z against the personal baseline',
  cusum: 'CUSUM of robust z per metric',
});

/** Model Device (profile model-device) of one statistical detector configuration. Pure. */
export function buildDetectorDevice(detector: DetectorName, options: DetectorOptions): Device {
  const sha256 = detectorSha256(detector, options);
  return {
    resourceType: 'Device',
    meta: { profile: [TWIN_PROFILE.modelDevice] },
    identifier: [{ system: MODEL_SHA256_SYSTEM, value: sha256 }],
    deviceName: [{ name: `recovery-twin statistical detector: ${detector}`, type: 'model-name' }],
    type: { coding: [twinCoding('twin-model')], text: 'Twin analytic model' },
    version: [{ value: `${STATISTICAL_DETECTOR_VERSION}+${sha256.slice(0, 12)}` }],
    note: [
      {
        text:
          `Statistical early-warning detector (${DETECTOR_TITLES[detector]}), strictly causal: the score of a day ` +
          'uses only that day and the days before it. No trained weights and no model card file: the method is ' +
          'src/detect/causalScorer.ts of recovery-twin; the sha256 identifier is taken over this configuration ' +
          `(canonical JSON): ${detectorConfigurationJson(detector, options)}`,
      },
    ],
  };
}
