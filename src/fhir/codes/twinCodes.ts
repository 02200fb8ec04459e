/**
 * Codes, identifier systems and canonical URLs the twin writes (the shared contract in notes/twin-model.md).
 *
 * src/fhir/codes/twinCanonicals.ts re-exports these for the conformance resources, so the published profiles and
 * the resources the twin writes cannot drift apart.
 */
export const TWIN_CANONICAL_BASE = 'https://recovery-twin.dev/fhir';

/** Project CodeSystem of the twin's own concepts (categories, method, components). */
export const TWIN_CONCEPT_SYSTEM = `${TWIN_CANONICAL_BASE}/CodeSystem/twin-concept`;

/** Identifier system of every twin resource: `baseline/{patientId}/{metric}` and `state/{patientId}/{YYYY-MM-DD}`. */
export const TWIN_RESOURCE_SYSTEM = `${TWIN_CANONICAL_BASE}/NamingSystem/twin-resource`;

export const TWIN_PROFILE = Object.freeze({
  baseline: `${TWIN_CANONICAL_BASE}/StructureDefinition/twin-baseline`,
  recoveryState: `${TWIN_CANONICAL_BASE}/StructureDefinition/twin-recovery-state`,
  anomalyRiskAssessment: `${TWIN_CANONICAL_BASE}/StructureDefinition/anomaly-risk-assessment`,
  carePlanProposal: `${TWIN_CANONICAL_BASE}/StructureDefinition/care-plan-proposal`,
  reviewTask: `${TWIN_CANONICAL_BASE}/StructureDefinition/review-task`,
  modelDevice: `${TWIN_CANONICAL_BASE}/StructureDefinition/model-device`,
  simulatedRecovery: `${TWIN_CANONICAL_BASE}/StructureDefinition/simulated-recovery-risk-assessment`,
} as const);

/** OperationDefinition of `Patient/{id}/$simulate`. */
export const SIMULATE_OPERATION = `${TWIN_CANONICAL_BASE}/OperationDefinition/Patient-simulate`;

/** OperationDefinition of `Patient/{id}/$match-evidence`. */
export const MATCH_EVIDENCE_OPERATION = `${TWIN_CANONICAL_BASE}/OperationDefinition/Patient-match-evidence`;

/** OperationDefinition of `Task/{id}/$review`. */
export const REVIEW_OPERATION = `${TWIN_CANONICAL_BASE}/OperationDefinition/Task-review`;

/** OperationDefinition of `Patient/{id}/$twin-refresh`. */
export const TWIN_REFRESH_OPERATION = `${TWIN_CANONICAL_BASE}/OperationDefinition/Patient-twin-refresh`;

export type TwinConceptCode =
  | 'twin-baseline'
  | 'twin-recovery-state'
  | 'recovery-index'
  | 'robust-median-mad'
  | 'baseline-spread'
  | 'baseline-sample-count'
  | 'baseline-window-days'
  | 'baseline-prior-weight'
  | 'data-completeness';

/** Displays of the twin-concept codes (the same text the published CodeSystem carries). */
export const TWIN_CONCEPT_DISPLAY: Readonly<Record<TwinConceptCode, string>> = Object.freeze({
  'twin-baseline': 'Twin personal baseline',
  'twin-recovery-state': 'Twin daily recovery state',
  'recovery-index': 'Recovery index',
  'robust-median-mad': 'Robust median and MAD',
  'baseline-spread': 'Baseline spread',
  'baseline-sample-count': 'Baseline sample count',
  'baseline-window-days': 'Baseline window (days)',
  'baseline-prior-weight': 'Baseline prior weight',
  'data-completeness': 'Data completeness',
});

/** The identifier value of a baseline Observation. */
export function baselineIdentifierValue(patientId: string, metric: string): string {
  return `baseline/${patientId}/${metric}`;
}

/** The identifier value of a daily recovery-state Observation. */
export function stateIdentifierValue(patientId: string, day: string): string {
  return `state/${patientId}/${day}`;
}
