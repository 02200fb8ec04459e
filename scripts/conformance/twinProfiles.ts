import type { CodeableConcept, ElementDefinitionConstraint, StructureDefinition } from '@medplum/fhirtypes';
import { METRIC_NAMES } from '../../src/fhir/metricCatalogue';
import type { DifferentialElement } from './snapshotGenerator';
import { baseResourceDefinition, generateSnapshot } from './snapshotGenerator';
import type { TwinConceptCode } from '../../src/fhir/codes/twinCanonicals';
import {
  METRIC_DEVIATION_SYSTEM,
  MODEL_SHA256_SYSTEM,
  TWIN_CONCEPT_SYSTEM,
  TWIN_PROFILE,
  TWIN_RESOURCE_SYSTEM,
  TWIN_VALUE_SET,
  UCUM_SYSTEM,
} from '../../src/fhir/codes/twinCanonicals';
import { catalogueMetrics, CONFORMANCE_VERSION, primaryMetricCodings, PUBLISHER } from './twinTerminology';

/**
 * The twin's six profiles, authored as differentials (FHIR R4 profiling.html) and turned into full
 * StructureDefinitions with generated snapshots.
 *
 * How the rules are written follows what Medplum's validator (the project's validator) actually enforces, checked in
 * test/profiles.test.ts:
 * - cardinality and type restrictions on top-level elements, fixed/pattern values on single-valued elements, and
 *   slice cardinality with a `pattern` discriminator on `$this` or `code`: enforced.
 * - a pattern on a repeating element, rules on the children of a slice (other than the discriminator), closed slicing,
 *   bindings on CodeableConcept, Reference target types (only a warning), and rules on children of data types or
 *   backbone elements: NOT enforced. Each such rule is therefore (also) stated as an invariant (FHIRPath
 *   `constraint`, severity error) on the element itself, which Medplum evaluates for every value with its path.
 * - children of backbone elements (Observation.component.*, RiskAssessment.prediction.*) are never constrained
 *   directly: the project validator compiles each profile into Medplum's global schema, and a constrained backbone
 *   child would replace the base definition of that backbone type for every resource (see the report in
 *   test/profiles.test.ts, "base validation is unchanged").
 */

interface ProfileSource {
  url: string;
  id: string;
  name: string;
  title: string;
  description: string;
  type: 'Observation' | 'RiskAssessment' | 'CarePlan' | 'Task' | 'Device';
  differential: DifferentialElement[];
}

/** Every profile of the project, with snapshot, in a stable order. */
export function twinProfiles(): StructureDefinition[] {
  return [
    baselineProfile(),
    recoveryStateProfile(),
    anomalyRiskAssessmentProfile(),
    simulatedRecoveryProfile(),
    carePlanProposalProfile(),
    reviewTaskProfile(),
    modelDeviceProfile(),
  ].map(toStructureDefinition);
}

function toStructureDefinition(source: ProfileSource): StructureDefinition {
  const base = baseResourceDefinition(source.type);
  return {
    resourceType: 'StructureDefinition',
    id: source.id,
    url: source.url,
    version: CONFORMANCE_VERSION,
    name: source.name,
    title: source.title,
    status: 'active',
    experimental: false,
    publisher: PUBLISHER,
    description: source.description,
    fhirVersion: '4.0.1',
    kind: 'resource',
    abstract: false,
    type: source.type,
    baseDefinition: base.url,
    derivation: 'constraint',
    snapshot: { element: generateSnapshot(base, source.differential, source.url) },
    differential: { element: source.differential },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Small builders for differential elements and FHIRPath

function el(path: string, props: Omit<DifferentialElement, 'id' | 'path'> = {}): DifferentialElement {
  return { id: path, path, ...props };
}

function slice(
  path: string,
  sliceName: string,
  props: Omit<DifferentialElement, 'id' | 'path' | 'sliceName'>
): DifferentialElement {
  return { id: `${path}:${sliceName}`, path, sliceName, ...props };
}

function invariant(key: string, human: string, expression: string): ElementDefinitionConstraint {
  return { key, severity: 'error', human, expression };
}

/** FHIRPath string literal (FHIRPath N1 §lexical elements: `\` and `'` are escaped). */
function str(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

function twinConcept(code: TwinConceptCode): CodeableConcept {
  return { coding: [{ system: TWIN_CONCEPT_SYSTEM, code }] };
}

/** FHIRPath: the CodeableConcept in context carries the twin-concept code. */
function hasTwinCode(code: TwinConceptCode): string {
  return `code.coding.where(system = ${str(TWIN_CONCEPT_SYSTEM)} and code = ${str(code)}).exists()`;
}

/** FHIRPath on a CodeableConcept: it carries the primary coding of a catalogue metric. */
function isCatalogueMetric(): string {
  const bySystem = new Map<string, string[]>();
  for (const coding of primaryMetricCodings()) {
    const codes = bySystem.get(coding.system ?? '') ?? [];
    codes.push(coding.code ?? '');
    bySystem.set(coding.system ?? '', codes);
  }
  const clauses = [...bySystem.entries()].map(
    ([system, codes]) => `(system = ${str(system)} and code in (${codes.map(str).join(' | ')}))`
  );
  return `coding.where(${clauses.join(' or ')}).exists()`;
}

const ID = '[A-Za-z0-9.-]{1,64}';

/** FHIRPath on a Reference: a literal reference to a resource of one of `types` (relative or absolute URL). */
function referencesOneOf(types: string[]): string {
  return `reference.matches(${str(`^(https?://[^ ]+/)?(${types.join('|')})/${ID}(/_history/${ID})?$`)})`;
}

function referenceRule(key: string, types: string[]): ElementDefinitionConstraint {
  return invariant(key, `A literal reference to ${types.join(' or ')}`, referencesOneOf(types));
}

function referenceType(...types: string[]): DifferentialElement['type'] {
  return [{ code: 'Reference', targetProfile: types.map((t) => `http://hl7.org/fhir/StructureDefinition/${t}`) }];
}

/** Statuses a computed twin Observation can carry: a result, its revisions, or its withdrawal (R4 observation-status). */
const RESULT_STATUSES = ['final', 'amended', 'corrected', 'entered-in-error'];

function twinIdentifier(prefix: string, key: string, valuePattern: string, example: string): DifferentialElement[] {
  return [
    el('Observation.identifier', {
      min: 1,
      mustSupport: true,
      slicing: { discriminator: [{ type: 'pattern', path: '$this' }], rules: 'open' },
      constraint: [
        invariant(
          key,
          `The twin identifier's value is ${prefix}/{patientId}/..., e.g. ${example}`,
          `system = ${str(TWIN_RESOURCE_SYSTEM)} implies value.matches(${str(valuePattern)})`
        ),
      ],
    }),
    slice('Observation.identifier', 'twinResource', {
      min: 1,
      max: '1',
      short: 'Deterministic twin identifier (conditional update key)',
      patternIdentifier: { system: TWIN_RESOURCE_SYSTEM },
      mustSupport: true,
    }),
  ];
}

function twinCategory(code: TwinConceptCode): DifferentialElement[] {
  return [
    el('Observation.category', {
      min: 1,
      mustSupport: true,
      slicing: { discriminator: [{ type: 'pattern', path: '$this' }], rules: 'open' },
    }),
    slice('Observation.category', 'twin', {
      min: 1,
      max: '1',
      patternCodeableConcept: twinConcept(code),
      binding: { strength: 'required', valueSet: TWIN_VALUE_SET.category },
      mustSupport: true,
    }),
  ];
}

function observationStatus(key: string): DifferentialElement {
  return el('Observation.status', {
    mustSupport: true,
    short: RESULT_STATUSES.join(' | '),
    constraint: [
      invariant(
        key,
        `A twin Observation is a computed result: status is one of ${RESULT_STATUSES.join(', ')}`,
        `${RESULT_STATUSES.map((s) => `$this = ${str(s)}`).join(' or ')}`
      ),
    ],
  });
}

function patientSubject(path: string, key: string): DifferentialElement {
  return el(path, {
    min: 1,
    type: referenceType('Patient'),
    mustSupport: true,
    constraint: [referenceRule(key, ['Patient'])],
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Observation: personal baseline (one per patient x metric)

function baselineProfile(): ProfileSource {
  const metricNames = METRIC_NAMES.join('|');
  const metricComponent = `component.where(${hasTwinCode('baseline-metric')})`;
  const units = catalogueMetrics().map((m) => {
    const primary = m.codings[0];
    return (
      `(${metricComponent}.value.coding.where(system = ${str(primary.system ?? '')} and code = ${str(primary.code ?? '')}).exists() ` +
      `implies (value.empty() or value.code = ${str(m.unit)}))`
    );
  });
  const spread = `component.where(${hasTwinCode('baseline-spread')})`;
  const priorWeight = `component.where(${hasTwinCode('baseline-prior-weight')})`;
  return {
    url: TWIN_PROFILE.baseline,
    id: 'twin-baseline',
    name: 'TwinBaseline',
    title: 'Twin personal baseline Observation',
    description:
      "A patient's personal baseline for one metric, computed from the patient's own values: robust centre (value), " +
      'personal normal band within the plausible range (referenceRange), the metric described, spread, sample count, ' +
      'window and population-prior weight (components), the input Observations (derivedFrom). Its code is ' +
      "twin-concept#personal-baseline, never the metric's own code, so a search for a measurement never returns it. " +
      'With too few personal values there is no value and no band, and dataAbsentReason says "not enough data". ' +
      'Identifier baseline/{patient}/{metric} is the current baseline; baseline/{patient}/{metric}/{Monday} the one ' +
      'in force during the week starting that Monday (docs/twin-data-contract.md).',
    type: 'Observation',
    differential: [
      el('Observation', {
        constraint: [
          invariant(
            'twin-bl-1',
            'The centre is in the UCUM unit of the metric the baseline-metric component names (metric catalogue)',
            units.join(' and ')
          ),
          invariant(
            'twin-bl-2',
            'The normal band and the spread are in the unit of the centre',
            'referenceRange.all(low.code = %resource.value.code and high.code = %resource.value.code) and ' +
              `${spread}.all(value.code = %resource.value.code)`
          ),
          invariant(
            'twin-bl-11',
            'Either a centre with its band, spread and prior weight, or no centre and a dataAbsentReason ' +
              '("not enough data") with no band',
            `(value.exists() and dataAbsentReason.empty() and referenceRange.exists() and ${spread}.exists() and ` +
              `${priorWeight}.exists()) or (value.empty() and dataAbsentReason.exists() and referenceRange.empty())`
          ),
        ],
      }),
      ...twinIdentifier(
        'baseline',
        'twin-bl-3',
        `^baseline/${ID}/(${metricNames})(/[0-9]{4}-[0-9]{2}-[0-9]{2})?$`,
        'baseline/p1/heart-rate or baseline/p1/heart-rate/2026-01-03'
      ),
      observationStatus('twin-bl-4'),
      ...twinCategory('twin-baseline'),
      el('Observation.code', {
        short: 'twin-concept#personal-baseline: a computed baseline, not a measurement',
        patternCodeableConcept: twinConcept('personal-baseline'),
        mustSupport: true,
      }),
      patientSubject('Observation.subject', 'twin-bl-6'),
      el('Observation.effective[x]', {
        short: 'The window actually used: first to last day whose values entered the baseline',
        min: 1,
        type: [{ code: 'Period' }],
        mustSupport: true,
        constraint: [invariant('twin-bl-7', 'The window has a start and an end', 'start.exists() and end.exists()')],
      }),
      el('Observation.value[x]', {
        short: "Robust centre (median of the patient's own values), in the UCUM unit of the metric",
        type: [{ code: 'Quantity' }],
        mustSupport: true,
        constraint: [
          invariant(
            'twin-bl-8',
            'The centre is a UCUM quantity',
            `value.exists() and system = ${str(UCUM_SYSTEM)} and code.exists()`
          ),
        ],
      }),
      el('Observation.dataAbsentReason', {
        short: 'Why there is no baseline: not enough personal data (text says how much)',
        mustSupport: true,
      }),
      el('Observation.method', {
        min: 1,
        patternCodeableConcept: twinConcept('robust-median-mad'),
        mustSupport: true,
      }),
      el('Observation.referenceRange', {
        short: 'Personal normal band: centre ± 2 SD of own day-to-day values, within the plausible range',
        max: '1',
        mustSupport: true,
        constraint: [
          invariant(
            'twin-bl-9',
            'The band has a low and a high value, low <= high',
            'low.value.exists() and high.value.exists() and low.value <= high.value'
          ),
        ],
      }),
      el('Observation.derivedFrom', {
        short: 'The Observations the baseline was computed from',
        mustSupport: true,
      }),
      el('Observation.component', {
        min: 3,
        mustSupport: true,
        slicing: {
          discriminator: [{ type: 'pattern', path: 'code' }],
          rules: 'closed',
          description: 'One component per baseline-component code, nothing else',
        },
        constraint: [
          invariant(
            'twin-bl-10',
            'A component is one of the five baseline components, with the value type it needs: the metric a ' +
              'CodeableConcept with a catalogue coding, spread and prior weight a Quantity (prior weight in [0,1], ' +
              'unit 1), sample count an integer >= 0, window days an integer >= 1',
            [
              `(${hasTwinCode('baseline-metric')} and value is CodeableConcept and value.${isCatalogueMetric()})`,
              `(${hasTwinCode('baseline-spread')} and value is Quantity and value.value >= 0)`,
              `(${hasTwinCode('baseline-sample-count')} and value is integer and value >= 0)`,
              `(${hasTwinCode('baseline-window-days')} and value is integer and value >= 1)`,
              `(${hasTwinCode('baseline-prior-weight')} and value is Quantity and value.system = ${str(UCUM_SYSTEM)} and value.code = '1' and value.value >= 0 and value.value <= 1)`,
            ].join(' or ')
          ),
        ],
      }),
      ...componentSlice('metric', 'baseline-metric', 'CodeableConcept', 'The metric the baseline describes'),
      ...componentSlice('spread', 'baseline-spread', 'Quantity', 'Robust spread (scaled MAD), unit of the centre', 0),
      ...componentSlice('sampleCount', 'baseline-sample-count', 'integer', 'Number of values in the baseline'),
      ...componentSlice('windowDays', 'baseline-window-days', 'integer', 'Window length in days'),
      ...componentSlice(
        'priorWeight',
        'baseline-prior-weight',
        'Quantity',
        "Weight of the population's within-person spread, 0..1",
        0
      ),
    ],
  };
}

/**
 * One component slice (min..1) recognised by its code, with the value type it needs. The slice's value type is for
 * readers and other validators: Medplum checks only the slice count, so the profile repeats it as an invariant.
 */
function componentSlice(
  name: string,
  code: TwinConceptCode,
  valueType: string,
  short: string,
  min = 1
): DifferentialElement[] {
  return [
    slice('Observation.component', name, { short, min, max: '1', mustSupport: true }),
    {
      id: `Observation.component:${name}.code`,
      path: 'Observation.component.code',
      patternCodeableConcept: twinConcept(code),
    },
    {
      id: `Observation.component:${name}.value[x]`,
      path: 'Observation.component.value[x]',
      min: 1,
      type: [{ code: valueType }],
    },
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Observation: daily recovery state (one per patient x day with data)

function recoveryStateProfile(): ProfileSource {
  const ucumOne = `value is Quantity and value.system = ${str(UCUM_SYSTEM)} and value.code = '1'`;
  return {
    url: TWIN_PROFILE.recoveryState,
    id: 'twin-recovery-state',
    name: 'TwinRecoveryState',
    title: 'Twin daily recovery state Observation',
    description:
      "A patient's recovery state for one (local) day: the recovery index (value), one component per metric with a " +
      'value that day and a personal baseline, holding its signed deviation from that baseline in robust units ' +
      '(coded in the metric-deviation CodeSystem, not with the measurement code), the data completeness, and ' +
      "derivedFrom the day's measurements and the baselines in force that day.",
    type: 'Observation',
    differential: [
      ...twinIdentifier('state', 'twin-rs-1', `^state/${ID}/[0-9]{4}-[0-9]{2}-[0-9]{2}$`, 'state/p1/2026-01-03'),
      observationStatus('twin-rs-2'),
      ...twinCategory('twin-recovery-state'),
      el('Observation.code', {
        patternCodeableConcept: twinConcept('recovery-index'),
        mustSupport: true,
      }),
      patientSubject('Observation.subject', 'twin-rs-3'),
      el('Observation.effective[x]', {
        short: 'The day (YYYY-MM-DD)',
        min: 1,
        type: [{ code: 'dateTime' }],
        mustSupport: true,
        constraint: [
          invariant(
            'twin-rs-4',
            'The state is for one day: a date, YYYY-MM-DD',
            `toString().matches('^[0-9]{4}-[0-9]{2}-[0-9]{2}$')`
          ),
        ],
      }),
      el('Observation.value[x]', {
        short: 'Recovery index (dimensionless, UCUM 1)',
        min: 1,
        type: [{ code: 'Quantity' }],
        mustSupport: true,
        constraint: [
          invariant(
            'twin-rs-5',
            'The index is a dimensionless UCUM quantity (code 1)',
            `value.exists() and system = ${str(UCUM_SYSTEM)} and code = '1'`
          ),
        ],
      }),
      el('Observation.component', {
        min: 1,
        mustSupport: true,
        slicing: {
          discriminator: [{ type: 'pattern', path: 'code' }],
          rules: 'open',
          description: 'Data completeness once; the other components are the per-metric deviations',
        },
        constraint: [
          invariant(
            'twin-rs-6',
            'A component is the data completeness (a percentage in [0,100], UCUM %) or the deviation of a catalogue ' +
              'metric, coded in the metric-deviation CodeSystem (never the measurement code), as a dimensionless ' +
              'UCUM quantity, code 1',
            `(${hasTwinCode('data-completeness')} and value is Quantity and value.system = ${str(UCUM_SYSTEM)} and ` +
              `value.code = '%' and value.value >= 0 and value.value <= 100) or ` +
              `(code.coding.where(system = ${str(METRIC_DEVIATION_SYSTEM)} and code in (${METRIC_NAMES.map(str).join(' | ')})).exists() and ` +
              `${ucumOne} and value.value.exists())`
          ),
        ],
      }),
      slice('Observation.component', 'dataCompleteness', {
        short: 'Percentage of the expected metrics with a value that day',
        min: 1,
        max: '1',
        mustSupport: true,
      }),
      {
        id: 'Observation.component:dataCompleteness.code',
        path: 'Observation.component.code',
        patternCodeableConcept: twinConcept('data-completeness'),
      },
      {
        id: 'Observation.component:dataCompleteness.value[x]',
        path: 'Observation.component.value[x]',
        min: 1,
        type: [{ code: 'Quantity' }],
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// RiskAssessment: an anomaly finding, authored by a model Device

function anomalyRiskAssessmentProfile(): ProfileSource {
  return {
    url: TWIN_PROFILE.anomalyRiskAssessment,
    id: 'anomaly-risk-assessment',
    name: 'AnomalyRiskAssessment',
    title: 'Twin anomaly finding (RiskAssessment)',
    description:
      'A deviation the twin detected: the predicted outcome with its likelihood (a probability only when calibrated), the Observations it rests on ' +
      '(basis), the model Device that found it (performer) and the reason in plain language (note).',
    type: 'RiskAssessment',
    differential: [
      el('RiskAssessment.status', { mustSupport: true }),
      patientSubject('RiskAssessment.subject', 'twin-ra-1'),
      el('RiskAssessment.occurrence[x]', {
        short: 'When the finding was made',
        min: 1,
        type: [{ code: 'dateTime' }],
        mustSupport: true,
      }),
      el('RiskAssessment.performer', {
        short: 'The model (Device) that made the finding',
        min: 1,
        type: referenceType('Device'),
        mustSupport: true,
        constraint: [referenceRule('twin-ra-2', ['Device'])],
      }),
      el('RiskAssessment.basis', {
        short: 'The Observations the finding rests on',
        min: 1,
        mustSupport: true,
      }),
      el('RiskAssessment.prediction', {
        min: 1,
        mustSupport: true,
        constraint: [
          // Issue 11: a probability only when calibrated on labelled data; otherwise a qualitative likelihood (HL7
          // risk-probability), with the score and its meaning in the rationale. Never a bare outcome.
          invariant(
            'twin-ra-3',
            'Each prediction has an outcome and a likelihood: a calibrated probabilityDecimal or a qualitativeRisk',
            'outcome.exists() and (probability.ofType(decimal).exists() or qualitativeRisk.exists())'
          ),
        ],
      }),
      el('RiskAssessment.note', {
        short: 'Why, in plain language',
        min: 1,
        mustSupport: true,
      }),
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// RiskAssessment: one simulated scenario of the in silico what-if (src/simulate/)

function simulatedRecoveryProfile(): ProfileSource {
  const inDays = (bound: 'low' | 'high'): string =>
    `when.ofType(Range).${bound}.exists() implies (when.ofType(Range).${bound}.system = ${str(UCUM_SYSTEM)} and ` +
    `when.ofType(Range).${bound}.code = 'd' and when.ofType(Range).${bound}.value >= 0)`;
  return {
    url: TWIN_PROFILE.simulatedRecovery,
    id: 'simulated-recovery-risk-assessment',
    name: 'SimulatedRecoveryRiskAssessment',
    title: 'Twin simulated recovery under a candidate protocol (RiskAssessment)',
    description:
      'The result of simulating one scenario (a protocol of the library with what-if levers) for a patient: each ' +
      'prediction is an outcome (back at personal baseline within the target time, within the 80% interval, by the ' +
      'median day; a setback) with the share of simulated trajectories in which it happens (probabilityDecimal) and ' +
      'when, as a range of days from occurrenceDateTime (whenRange, UCUM d). Computed by the simulator Device ' +
      '(performer), never measured; labelled AI-asserted (AIAST); the scenario is described in the note.',
    type: 'RiskAssessment',
    differential: [
      el('RiskAssessment.meta', {
        min: 1,
        constraint: [
          invariant(
            'twin-sim-1',
            'Labelled as asserted by an AI (security label AIAST, HL7 AI Transparency on FHIR)',
            "security.where(system = 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue' and code = 'AIAST').exists()"
          ),
        ],
      }),
      el('RiskAssessment.identifier', {
        short: 'simulation/{patientId}/{digest of the inputs}: the conditional-create key',
        min: 1,
        mustSupport: true,
        constraint: [
          invariant(
            'twin-sim-2',
            "The twin identifier's value is simulation/{patientId}/{24 hex digits}",
            `system = ${str(TWIN_RESOURCE_SYSTEM)} implies value.matches(${str(`^simulation/${ID}/[0-9a-f]{24}$`)})`
          ),
        ],
      }),
      el('RiskAssessment.status', { mustSupport: true }),
      el('RiskAssessment.method', {
        short: 'The simulator, trajectories, horizon and seed',
        min: 1,
        mustSupport: true,
      }),
      el('RiskAssessment.code', { short: 'The scenario simulated', min: 1, mustSupport: true }),
      patientSubject('RiskAssessment.subject', 'twin-sim-3'),
      el('RiskAssessment.occurrence[x]', {
        short: 'Day 0 of the simulation (whenRange counts days from it)',
        min: 1,
        type: [{ code: 'dateTime' }],
        mustSupport: true,
      }),
      el('RiskAssessment.performer', {
        short: 'The simulator (Device)',
        min: 1,
        type: referenceType('Device'),
        mustSupport: true,
        constraint: [referenceRule('twin-sim-4', ['Device'])],
      }),
      el('RiskAssessment.prediction', {
        min: 1,
        mustSupport: true,
        constraint: [
          invariant(
            'twin-sim-5',
            'Each prediction has an outcome, a probability as a decimal from 0 to 1 and a whenRange',
            'outcome.exists() and probability.ofType(decimal).exists() and probability.ofType(decimal) >= 0 and ' +
              'probability.ofType(decimal) <= 1 and when.ofType(Range).exists()'
          ),
          invariant('twin-sim-6', 'whenRange.low is a number of days (UCUM d) from occurrenceDateTime', inDays('low')),
          invariant(
            'twin-sim-7',
            'whenRange.high is a number of days (UCUM d) from occurrenceDateTime',
            inDays('high')
          ),
        ],
      }),
      el('RiskAssessment.note', {
        short: 'The scenario in plain language, and that the result is computed, not measured',
        min: 1,
        mustSupport: true,
      }),
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// CarePlan: a proposal for a clinician to review; nothing acts on the patient until it is approved

function carePlanProposalProfile(): ProfileSource {
  return {
    url: TWIN_PROFILE.carePlanProposal,
    id: 'care-plan-proposal',
    name: 'CarePlanProposal',
    title: 'Twin care-plan proposal',
    description:
      'A recovery protocol the twin proposes for a patient: a draft proposal (not yet in force) instantiating a ' +
      'PlanDefinition of the protocol library, waiting for a clinician to approve, modify or reject it (revoked).',
    type: 'CarePlan',
    differential: [
      el('CarePlan.instantiatesCanonical', {
        short: 'The protocol (PlanDefinition) proposed',
        min: 1,
        mustSupport: true,
      }),
      // R4 request-status: draft = "not yet actionable"; the review Task, not the engine, moves it on. A rejected
      // proposal stays a proposal, revoked (kept for audit); an approved one becomes intent=plan, active, and no
      // longer claims this profile.
      el('CarePlan.status', {
        mustSupport: true,
        constraint: [
          invariant(
            'twin-cp-2',
            'A proposal is draft (awaiting review) or revoked (rejected)',
            "$this = 'draft' or $this = 'revoked'"
          ),
        ],
      }),
      // R4 request-intent: proposal = "a suggestion ... without providing an authorization to act".
      el('CarePlan.intent', { fixedCode: 'proposal', mustSupport: true }),
      patientSubject('CarePlan.subject', 'twin-cp-1'),
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Task: the clinician's review of a proposal

function reviewTaskProfile(): ProfileSource {
  const owners = ['Practitioner', 'PractitionerRole', 'Organization', 'CareTeam'];
  return {
    url: TWIN_PROFILE.reviewTask,
    id: 'review-task',
    name: 'ReviewTask',
    title: 'Twin proposal review Task',
    description:
      'Asks a clinician to review what the twin proposes or found (focus) for a patient (for): a proposed CarePlan ' +
      '(accept, modify or reject it) or an anomaly RiskAssessment (acknowledge or dismiss it). The CarePlan carries ' +
      'intent=proposal; the Task is the actionable request to review it (intent=order).',
    type: 'Task',
    differential: [
      el('Task.status', { mustSupport: true }),
      // FHIR R4 Task.intent (task.html, StructureDefinition Task.intent comment): "In most cases, Tasks will have an
      // intent of 'order'". The review is a request to act (review the proposal), so `order`; the suggestion itself
      // is the CarePlan (intent=proposal). A Task with intent=proposal would only suggest that a review might happen.
      el('Task.intent', { fixedCode: 'order', mustSupport: true }),
      el('Task.focus', {
        short: 'The proposed CarePlan or the anomaly finding (RiskAssessment) to review',
        min: 1,
        type: referenceType('CarePlan', 'RiskAssessment'),
        mustSupport: true,
        constraint: [referenceRule('twin-tk-1', ['CarePlan', 'RiskAssessment'])],
      }),
      el('Task.for', {
        short: 'The patient the proposal is for',
        min: 1,
        type: referenceType('Patient'),
        mustSupport: true,
        constraint: [referenceRule('twin-tk-2', ['Patient'])],
      }),
      // Not required: R4 Task.owner comment, "Tasks may be created with an owner not yet identified".
      el('Task.owner', {
        short: 'The clinician (or team/organisation) who reviews',
        type: referenceType(...owners),
        mustSupport: true,
        constraint: [referenceRule('twin-tk-3', owners)],
      }),
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Device: one version of a model the twin runs

function modelDeviceProfile(): ProfileSource {
  return {
    url: TWIN_PROFILE.modelDevice,
    id: 'model-device',
    name: 'ModelDevice',
    title: 'Twin model Device',
    description:
      'One version of a model the twin runs (detector, forecaster), as the Device that authors its findings: name, ' +
      'version, the SHA-256 of the model file, and a reference to its model card.',
    type: 'Device',
    differential: [
      el('Device.identifier', {
        min: 1,
        mustSupport: true,
        slicing: { discriminator: [{ type: 'pattern', path: '$this' }], rules: 'open' },
        constraint: [
          invariant(
            'twin-md-1',
            'The model checksum is a lowercase hex SHA-256 (64 characters)',
            `system = ${str(MODEL_SHA256_SYSTEM)} implies value.matches('^[0-9a-f]{64}$')`
          ),
        ],
      }),
      slice('Device.identifier', 'sha256', {
        short: 'SHA-256 of the model file (lowercase hex)',
        min: 1,
        max: '1',
        patternIdentifier: { system: MODEL_SHA256_SYSTEM },
        mustSupport: true,
      }),
      el('Device.deviceName', { short: 'Model name', min: 1, mustSupport: true }),
      el('Device.type', { min: 1, patternCodeableConcept: twinConcept('twin-model'), mustSupport: true }),
      el('Device.version', { short: 'Model version', min: 1, mustSupport: true }),
      el('Device.note', {
        short: 'Model card: where it is (path or URL) and what it covers',
        min: 1,
        mustSupport: true,
      }),
    ],
  };
}
