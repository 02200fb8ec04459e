/**
 * Canonical URLs and codes of the twin's conformance resources (the shared contract: docs/twin-data-contract.md).
 *
 * The URLs and systems are defined once, in src/twin/twinCodes.ts (the stages that write the resources), and
 * re-exported here; test/profiles.test.ts checks the concept displays of both agree.
 */
import {
  TWIN_CANONICAL_BASE,
  TWIN_CONCEPT_DISPLAY,
  TWIN_CONCEPT_SYSTEM,
  type TwinConceptCode as CoreTwinConceptCode,
} from './twinCodes';

// One definition of each string, in the twin core; the conformance resources publish exactly those.
export {
  METRIC_DEVIATION_SYSTEM,
  TWIN_CANONICAL_BASE,
  TWIN_CONCEPT_SYSTEM,
  TWIN_PROFILE,
  TWIN_REFRESH_OPERATION,
  TWIN_RESOURCE_SYSTEM,
} from './twinCodes';
import { internalFault } from '../outcomes';

/** Identifier system of a model Device's file checksum: the value is the lowercase hex SHA-256 of the model file. */
export const MODEL_SHA256_SYSTEM = `${TWIN_CANONICAL_BASE}/NamingSystem/model-sha256`;

export { UCUM_SYSTEM } from '../ucum';

export const TWIN_VALUE_SET = Object.freeze({
  category: `${TWIN_CANONICAL_BASE}/ValueSet/twin-category`,
  baselineComponent: `${TWIN_CANONICAL_BASE}/ValueSet/twin-baseline-component`,
  metric: `${TWIN_CANONICAL_BASE}/ValueSet/twin-metric`,
} as const);

/** A concept of the twin-concept CodeSystem. */
export interface TwinConcept {
  readonly code: TwinConceptCode;
  readonly display: string;
  readonly definition: string;
}

/** The twin core's codes, plus `twin-model` (the Device.type of a model-device, used only by the profiles). */
export type TwinConceptCode = CoreTwinConceptCode | 'twin-model';

/**
 * Every code of the twin-concept CodeSystem. All but `twin-model` come from docs/twin-data-contract.md; `twin-model` is the
 * Device.type of a model-device (the contract asks for a type coding from the project CodeSystem but names none).
 */
export const TWIN_CONCEPTS: readonly TwinConcept[] = Object.freeze([
  {
    code: 'twin-baseline',
    display: TWIN_CONCEPT_DISPLAY['twin-baseline'],
    definition:
      "Category of an Observation holding a patient's personal baseline for one metric: a robust centre, the " +
      'personal normal band and how it was estimated.',
  },
  {
    code: 'twin-recovery-state',
    display: TWIN_CONCEPT_DISPLAY['twin-recovery-state'],
    definition:
      "Category of an Observation holding a patient's recovery state for one day: the recovery index and, per " +
      'metric, the signed deviation from the personal baseline.',
  },
  {
    code: 'recovery-index',
    display: TWIN_CONCEPT_DISPLAY['recovery-index'],
    definition:
      'Dimensionless daily summary of how far a patient is from their personal baselines, combining the per-metric ' +
      'deviations in robust units.',
  },
  {
    code: 'personal-baseline',
    display: TWIN_CONCEPT_DISPLAY['personal-baseline'],
    definition:
      "Code of an Observation holding a patient's personal baseline of one metric (named in its baseline-metric " +
      "component): a computed summary of the patient's own values, never a measurement. Its own code keeps it out of " +
      'searches for the metric.',
  },
  {
    code: 'robust-median-mad',
    display: TWIN_CONCEPT_DISPLAY['robust-median-mad'],
    definition:
      'Baseline method: the centre is the median of the values in the trailing window and the spread is the ' +
      'median absolute deviation scaled to estimate a standard deviation, blended with a population prior while ' +
      'the person has too little data.',
  },
  {
    code: 'baseline-metric',
    display: TWIN_CONCEPT_DISPLAY['baseline-metric'],
    definition:
      'Component of a baseline Observation whose value (a CodeableConcept) is the metric the baseline describes, with ' +
      'the codings of the metric catalogue (LOINC where one exists, and the project code).',
  },
  {
    code: 'baseline-spread',
    display: TWIN_CONCEPT_DISPLAY['baseline-spread'],
    definition: 'Robust spread of the baseline (scaled MAD), in the unit of the metric.',
  },
  {
    code: 'baseline-sample-count',
    display: TWIN_CONCEPT_DISPLAY['baseline-sample-count'],
    definition: 'Number of values the baseline was estimated from.',
  },
  {
    code: 'baseline-window-days',
    display: TWIN_CONCEPT_DISPLAY['baseline-window-days'],
    definition: 'Length in days of the trailing window the baseline covers.',
  },
  {
    code: 'baseline-prior-weight',
    display: TWIN_CONCEPT_DISPLAY['baseline-prior-weight'],
    definition:
      'Weight (0 to 1) of the population prior in the baseline; 1 means the baseline is the prior alone, 0 that ' +
      'it is the personal estimate alone.',
  },
  {
    code: 'data-completeness',
    display: TWIN_CONCEPT_DISPLAY['data-completeness'],
    definition: 'Percentage of the expected metrics that had a value on the day of a recovery state.',
  },
  {
    code: 'twin-model',
    display: 'Twin analytic model',
    definition:
      'Type of a Device that stands for one version of a model the twin runs (detector, forecaster): the software ' +
      'that authors RiskAssessments and proposals.',
  },
] satisfies TwinConcept[]);

/** The twin-concept Coding for a code, display included. */
export function twinCoding(code: TwinConceptCode): { system: string; code: string; display: string } {
  const concept = TWIN_CONCEPTS.find((c) => c.code === code);
  if (!concept) {
    throw internalFault(`twin-concept has no code ${code}`);
  }
  return { system: TWIN_CONCEPT_SYSTEM, code, display: concept.display };
}
