import type { Device } from '@medplum/fhirtypes';
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../fhir/canonicalJson';
import { MODEL_SHA256_SYSTEM, TWIN_PROFILE, twinCoding } from '../../fhir/codes/twinCanonicals';
import type { ProtocolLibrary } from '../../protocols/protocolLibrary';

/** Version of the matcher's code (src/evidence/match/). Bump when ranking changes in a way the configuration hides. */
export const EVIDENCE_MATCHER_VERSION = '1.1.0';

/** Where the model card lives (HL7 AI Transparency on FHIR: a Device says what it is and links its model card). */
export const MATCHER_MODEL_CARD = 'src/evidence/match/MODEL_CARD.md (recovery-twin repository)';

/**
 * The evidence matcher as a model Device (profile model-device). It has no trained weights; its identity is the sha256
 * of its configuration: code version, the protocol library it ranks (every PlanDefinition url|version) and whether a
 * dense model took part (and which). A new library version is a new Device, so a proposal names exactly what made it.
 */
export function matcherConfigurationJson(library: ProtocolLibrary, denseModel: string | undefined): string {
  return canonicalJson({
    algorithm: 'recovery-twin-evidence-matcher',
    version: EVIDENCE_MATCHER_VERSION,
    protocols: library.planDefinitions.map((p) => `${p.url}|${p.version}`).sort(),
    dense: denseModel ?? null,
  });
}

export function buildMatcherDevice(library: ProtocolLibrary, denseModel: string | undefined): Device {
  const json = matcherConfigurationJson(library, denseModel);
  const sha256 = createHash('sha256').update(json, 'utf8').digest('hex');
  return {
    resourceType: 'Device',
    meta: { profile: [TWIN_PROFILE.modelDevice] },
    identifier: [{ system: MODEL_SHA256_SYSTEM, value: sha256 }],
    deviceName: [{ name: 'recovery-twin evidence matcher', type: 'model-name' }],
    type: { coding: [twinCoding('twin-model')], text: 'Twin analytic model' },
    status: 'active',
    version: [{ value: `${EVIDENCE_MATCHER_VERSION}+${sha256.slice(0, 12)}` }],
    // The model card in Device.note, as in the AI Transparency on FHIR example "Device with Model-Card in
    // Device.note.text": what it is, version, status, intended use, and where the full card is.
    note: [
      {
        text:
          `Model card. What: recovery-twin evidence matcher ${EVIDENCE_MATCHER_VERSION}, a rule-and-ranking model ` +
          '(no trained weights). Status: active; experimental as a clinical tool. Intended use: to draft recovery ' +
          'care-plan proposals from current Conditions, Procedures and clinical notes, for a clinician to approve, ' +
          'modify or reject; twin findings only raise the rank of a protocol the record supports. Not for diagnosis ' +
          'or unreviewed treatment. Method: concepts of Conditions, Procedures and notes (negated, uncertain and ' +
          'historical mentions excluded) matched to protocol indications, plus BM25F ranking of the protocol texts' +
          `${denseModel ? ` fused with sentence embeddings (${denseModel})` : ''}. Full model card: ${MATCHER_MODEL_CARD}. ` +
          `The sha256 identifier is over this configuration: ${json}`,
      },
    ],
  };
}
