import type { Device } from '@medplum/fhirtypes';
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../fhir/canonicalJson';
import { MODEL_SHA256_SYSTEM, TWIN_PROFILE, twinCoding } from '../../fhir/codes/twinCanonicals';
import type { ProtocolLibrary } from '../../protocols/protocolLibrary';

/** Version of the matcher's code (src/evidence/match/). Bump when ranking changes in a way the configuration hides. */
export const EVIDENCE_MATCHER_VERSION = '1.0.0';

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
    version: [{ value: `${EVIDENCE_MATCHER_VERSION}+${sha256.slice(0, 12)}` }],
    note: [
      {
        text:
          'Ranks the recovery protocol library against a patient: concepts of Conditions, Procedures and notes ' +
          '(negated, uncertain and historical mentions excluded) matched to protocol indications, plus BM25F ranking ' +
          `of the protocol texts${denseModel ? ` fused with sentence embeddings (${denseModel})` : ''}. Method: ` +
          `src/evidence/match/ of recovery-twin; the sha256 identifier is over this configuration: ${json}`,
      },
    ],
  };
}
