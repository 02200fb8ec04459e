import type { Device } from '@medplum/fhirtypes';
import { MODEL_SHA256_SYSTEM, TWIN_PROFILE, twinCoding } from '../../fhir/codes/twinCanonicals';
import type { LstmModelCard } from './modelCard';

/**
 * The learned detector as a model Device (profile model-device: each model version is a FHIR Device
 * that findings name as their performer). Built only from a card that loadVerifiedModel has checked, so
 * the sha256 identifier is the checksum of the ONNX bytes the workers run, not merely what the card claims.
 *
 * Pure: the same card gives the same Device byte for byte, so ensureModelDevice sends nothing on a rerun, and a new
 * model file (new sha256) is a new Device while findings of the old one keep naming the old one. The note carries no
 * path of this machine (the model folder can be moved): it names the card by its place in the package.
 */
export function buildLstmModelDevice(card: LstmModelCard): Device {
  const trainedOn = card.trainingData.map((d) => `${d.source} (licence: ${d.licence})`).join('; ');
  return {
    resourceType: 'Device',
    meta: { profile: [TWIN_PROFILE.modelDevice] },
    identifier: [{ system: MODEL_SHA256_SYSTEM, value: card.sha256 }],
    deviceName: [{ name: card.name, type: 'model-name' }],
    type: { coding: [twinCoding('twin-model')], text: 'Twin analytic model' },
    version: [{ value: card.version }],
    note: [
      {
        text:
          `Model card: models/lstm-detector/model-card.json of recovery-twin (human-readable: MODEL_CARD.md beside ` +
          `it); model file ${card.file}, sha256 as identifier, window ${card.window} days, features ` +
          `${card.features.join(', ')}. Intended use: ${card.intendedUse} Trained on: ${trainedOn}.`,
      },
    ],
  };
}
