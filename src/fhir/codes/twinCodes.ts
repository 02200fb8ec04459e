/**
 * Codes, identifier systems and canonical URLs the twin writes (the shared contract: docs/twin-data-contract.md).
 *
 * src/fhir/codes/twinCanonicals.ts re-exports these for the conformance resources, so the published profiles and
 * the resources the twin writes cannot drift apart.
 */
export const TWIN_CANONICAL_BASE = 'https://recovery-twin.dev/fhir';

/** Project CodeSystem of the twin's own concepts (categories, method, components). */
export const TWIN_CONCEPT_SYSTEM = `${TWIN_CANONICAL_BASE}/CodeSystem/twin-concept`;

/**
 * Project CodeSystem of the per-metric deviations in a daily recovery state (code = the metric's stable name). A
 * deviation is not the measurement: it gets its own code so a search for the metric's LOINC code (code, combo-code,
 * component-code) never returns a twin state.
 */
export const METRIC_DEVIATION_SYSTEM = `${TWIN_CANONICAL_BASE}/CodeSystem/metric-deviation`;

/**
 * Identifier system of every twin resource: `baseline/{patientId}/{metric}` (the current baseline),
 * `baseline/{patientId}/{metric}/{YYYY-MM-DD}` (the baseline in force during the week starting that Monday) and
 * `state/{patientId}/{YYYY-MM-DD}`.
 */
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

/** OperationDefinition of `Patient/{id}/$twin-findings`. */
export const TWIN_FINDINGS_OPERATION = `${TWIN_CANONICAL_BASE}/OperationDefinition/Patient-twin-findings`;

/** OperationDefinition of `Patient/{id}/$twin-refresh`. */
export const TWIN_REFRESH_OPERATION = `${TWIN_CANONICAL_BASE}/OperationDefinition/Patient-twin-refresh`;

export type TwinConceptCode =
  | 'twin-baseline'
  | 'twin-recovery-state'
  | 'recovery-index'
  | 'personal-baseline'
  | 'robust-median-mad'
  | 'baseline-metric'
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
  'personal-baseline': 'Personal baseline of a metric',
  'robust-median-mad': 'Robust median and MAD',
  'baseline-metric': 'Metric the baseline describes',
  'baseline-spread': 'Baseline spread',
  'baseline-sample-count': 'Baseline sample count',
  'baseline-window-days': 'Baseline window (days)',
  'baseline-prior-weight': 'Baseline prior weight',
  'data-completeness': 'Data completeness',
});

/**
 * The identifier value of a baseline Observation: the current one (no day), or the one in force during the week
 * starting on Monday `day` (YYYY-MM-DD), kept as the record of the band that week's values were judged against.
 */
export function baselineIdentifierValue(patientId: string, metric: string, day?: string): string {
  return day === undefined ? `baseline/${patientId}/${metric}` : `baseline/${patientId}/${metric}/${day}`;
}

/** The identifier value of a daily recovery-state Observation. */
export function stateIdentifierValue(patientId: string, day: string): string {
  return `state/${patientId}/${day}`;
}
