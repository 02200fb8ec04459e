import { loadDataType, OperationOutcomeError, parseStructureDefinition } from '@medplum/core';
import type {
  CarePlan,
  Device,
  Observation,
  ObservationComponent,
  OperationOutcomeIssue,
  Resource,
  RiskAssessment,
  StructureDefinition,
  Task,
} from '@medplum/fhirtypes';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRICS } from '../src/fhir/metricCatalogue';
import { conformanceFiles, serializeConformanceResource } from '../scripts/conformance/conformanceResources';
import {
  MODEL_SHA256_SYSTEM,
  TWIN_CANONICAL_BASE,
  TWIN_CONCEPT_SYSTEM,
  TWIN_CONCEPTS,
  TWIN_PROFILE,
  TWIN_REFRESH_OPERATION,
  TWIN_RESOURCE_SYSTEM,
  METRIC_DEVIATION_SYSTEM,
  twinCoding,
  UCUM_SYSTEM,
} from '../src/fhir/codes/twinCanonicals';
import { defaultProfileDir } from '../src/fhir/profileRegistry';
import { createValidator } from '../src/fhir/validation';
import * as twinCodes from '../src/fhir/codes/twinCodes';

const PROFILE_DIR = defaultProfileDir();

function committedFiles(): string[] {
  // protocols/ holds the protocol library: hand-authored content validated in test/protocols.library.test.ts.
  return readdirSync(PROFILE_DIR, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.json') && !name.replaceAll('\\', '/').startsWith('protocols/'))
    .sort();
}

function readCommitted<T extends Resource>(fileName: string): T {
  return JSON.parse(readFileSync(join(PROFILE_DIR, fileName), 'utf8')) as T;
}

/** The issues of the OperationOutcomeError `fn` throws; fails the test if it throws anything else or nothing. */
function issuesOf(fn: () => void): OperationOutcomeIssue[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OperationOutcomeError);
    return (err as OperationOutcomeError).outcome.issue ?? [];
  }
  throw new Error('expected validation to fail');
}

function errorPaths(issues: OperationOutcomeIssue[]): string[] {
  return issues.filter((i) => i.severity === 'error').flatMap((i) => i.expression ?? []);
}

// ---------------------------------------------------------------------------------------------------------------
// Samples, built exactly as docs/twin-data-contract.md shows

const PID = 'p-001';
const DAY = '2026-01-03';

function quantity(value: number, code: string): { value: number; unit: string; system: string; code: string } {
  return { value, unit: code, system: UCUM_SYSTEM, code };
}

function baseline(): Observation {
  const metric = METRICS['resting-heart-rate'];
  const centre = 52;
  const spread = 2.5;
  return {
    resourceType: 'Observation',
    meta: { profile: [TWIN_PROFILE.baseline] },
    identifier: [{ system: TWIN_RESOURCE_SYSTEM, value: `baseline/${PID}/${metric.name}` }],
    status: 'final',
    category: [{ coding: [{ system: TWIN_CONCEPT_SYSTEM, code: 'twin-baseline', display: 'Twin personal baseline' }] }],
    code: { coding: [twinCoding('personal-baseline')], text: `Personal baseline: ${metric.display}` },
    subject: { reference: `Patient/${PID}` },
    effectivePeriod: { start: '2025-12-06', end: '2026-01-02' },
    valueQuantity: { value: centre, unit: 'beats/minute', system: UCUM_SYSTEM, code: metric.unit },
    method: { coding: [{ system: TWIN_CONCEPT_SYSTEM, code: 'robust-median-mad' }] },
    referenceRange: [
      {
        low: { value: centre - 2 * spread, unit: 'beats/minute', system: UCUM_SYSTEM, code: metric.unit },
        high: { value: centre + 2 * spread, unit: 'beats/minute', system: UCUM_SYSTEM, code: metric.unit },
        text: 'personal normal band: centre ± 2 robust SD',
      },
    ],
    component: [
      {
        code: { coding: [twinCoding('baseline-metric')] },
        valueCodeableConcept: { coding: metric.codings.map((c) => ({ ...c })), text: metric.display },
      },
      {
        code: { coding: [twinCoding('baseline-spread')] },
        valueQuantity: { value: spread, unit: 'beats/minute', system: UCUM_SYSTEM, code: metric.unit },
      },
      { code: { coding: [twinCoding('baseline-sample-count')] }, valueInteger: 28 },
      { code: { coding: [twinCoding('baseline-window-days')] }, valueInteger: 28 },
      { code: { coding: [twinCoding('baseline-prior-weight')] }, valueQuantity: quantity(0.1, '1') },
    ],
    derivedFrom: [{ reference: 'Observation/rhr-1' }, { reference: 'Observation/rhr-2' }],
  };
}

/** Issue 11: too few personal values -> no centre, no band, and "not enough data" said in dataAbsentReason. */
function notEnoughData(): Observation {
  const o = baseline();
  delete o.valueQuantity;
  delete o.referenceRange;
  o.identifier = [{ system: TWIN_RESOURCE_SYSTEM, value: `baseline/${PID}/resting-heart-rate/${DAY}` }];
  o.dataAbsentReason = {
    coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'temp-unknown' }],
    text: 'not enough data: 3 personal day(s) in the window, at least 7 needed',
  };
  o.component = o.component
    ?.filter((c) =>
      c.code.coding?.some(
        (k) => k.code === 'baseline-metric' || k.code?.startsWith('baseline-s') || k.code === 'baseline-window-days'
      )
    )
    .filter((c) => !c.code.coding?.some((k) => k.code === 'baseline-spread'));
  return o;
}

function recoveryState(): Observation {
  const deviation = (name: 'resting-heart-rate' | 'hrv-rmssd' | 'heart-rate', z: number): ObservationComponent => ({
    code: { coding: [{ system: METRIC_DEVIATION_SYSTEM, code: name }] },
    valueQuantity: quantity(z, '1'),
  });
  return {
    resourceType: 'Observation',
    meta: { profile: [TWIN_PROFILE.recoveryState] },
    identifier: [{ system: TWIN_RESOURCE_SYSTEM, value: `state/${PID}/${DAY}` }],
    status: 'final',
    category: [{ coding: [{ system: TWIN_CONCEPT_SYSTEM, code: 'twin-recovery-state' }] }],
    code: { coding: [{ system: TWIN_CONCEPT_SYSTEM, code: 'recovery-index', display: 'Recovery index' }] },
    subject: { reference: `Patient/${PID}` },
    effectiveDateTime: DAY,
    valueQuantity: quantity(-0.8, '1'),
    component: [
      deviation('resting-heart-rate', 1.6),
      deviation('hrv-rmssd', -2.1),
      deviation('heart-rate', 0.2),
      { code: { coding: [twinCoding('data-completeness')] }, valueQuantity: quantity(75, '%') },
    ],
  };
}

function riskAssessment(): RiskAssessment {
  return {
    resourceType: 'RiskAssessment',
    meta: { profile: [TWIN_PROFILE.anomalyRiskAssessment] },
    status: 'final',
    subject: { reference: `Patient/${PID}` },
    occurrenceDateTime: '2026-01-03T06:00:00Z',
    performer: { reference: 'Device/robust-z-1.0.0' },
    basis: [{ reference: 'Observation/state-1' }, { reference: 'Observation/baseline-1' }],
    prediction: [{ outcome: { text: 'Recovery below personal baseline' }, probabilityDecimal: 0.82 }],
    note: [{ text: 'Resting heart rate 1.6 robust SD above the personal baseline for 3 days.' }],
  };
}

function carePlan(): CarePlan {
  return {
    resourceType: 'CarePlan',
    meta: { profile: [TWIN_PROFILE.carePlanProposal] },
    instantiatesCanonical: ['https://recovery-twin.dev/fhir/PlanDefinition/deload-week'],
    status: 'draft',
    intent: 'proposal',
    subject: { reference: `Patient/${PID}` },
  };
}

function task(): Task {
  return {
    resourceType: 'Task',
    meta: { profile: [TWIN_PROFILE.reviewTask] },
    status: 'requested',
    intent: 'order',
    focus: { reference: 'CarePlan/proposal-1' },
    for: { reference: `Patient/${PID}` },
    owner: { reference: 'Practitioner/dr-1' },
  };
}

function device(): Device {
  return {
    resourceType: 'Device',
    meta: { profile: [TWIN_PROFILE.modelDevice] },
    identifier: [{ system: MODEL_SHA256_SYSTEM, value: 'a'.repeat(64) }],
    deviceName: [{ name: 'robust-z detector', type: 'model-name' }],
    type: { coding: [twinCoding('twin-model')] },
    version: [{ value: '1.0.0' }],
    note: [{ text: 'Model card: models/robust-z/MODEL_CARD.md' }],
  };
}

const validSamples: [string, () => Resource][] = [
  ['twin-baseline', baseline],
  ['twin-baseline (not enough data)', notEnoughData],
  ['twin-recovery-state', recoveryState],
  ['anomaly-risk-assessment', riskAssessment],
  ['care-plan-proposal', carePlan],
  ['review-task', task],
  ['model-device', device],
];

/** A copy without `key` at all (a key present with value undefined still names a choice type). */
function without<T extends Resource>(resource: T, key: keyof T): T {
  const copy = { ...resource };
  delete copy[key];
  return copy;
}

function withProfileRemoved<T extends Resource>(resource: T): T {
  return { ...resource, meta: undefined };
}

// ---------------------------------------------------------------------------------------------------------------

describe('fhir-profiles/: generated, committed, valid FHIR R4', () => {
  test('the committed files are exactly the build script output (npm run profiles)', () => {
    const generated = conformanceFiles();
    expect(committedFiles()).toEqual(generated.map((f) => f.fileName).sort());
    for (const { fileName, resource } of generated) {
      const file = join(PROFILE_DIR, fileName);
      expect({ fileName, text: readFileSync(file, 'utf8') }).toEqual({
        fileName,
        text: serializeConformanceResource(resource),
      });
    }
  });

  test.each(committedFiles())('%s validates against base R4', (fileName) => {
    const baseOnly = createValidator({ profileDirs: [] });
    expect(() => baseOnly.validate(readCommitted(fileName))).not.toThrow();
  });

  test('the seven profiles load into the project validator and into @medplum/core', () => {
    const validator = createValidator({ profileDirs: [PROFILE_DIR] });
    expect(validator.knownProfiles()).toEqual(expect.arrayContaining(Object.values(TWIN_PROFILE)));
    const files = committedFiles().filter((f) => f.startsWith('StructureDefinition-'));
    expect(files).toHaveLength(7);
    for (const file of files) {
      const sd = readCommitted<StructureDefinition>(file);
      expect(sd).toMatchObject({ fhirVersion: '4.0.1', kind: 'resource', abstract: false, derivation: 'constraint' });
      expect(sd.baseDefinition).toBe(`http://hl7.org/fhir/StructureDefinition/${sd.type}`);
      expect(sd.snapshot?.element?.[0]?.path).toBe(sd.type);
      expect(sd.differential?.element?.length).toBeGreaterThan(0);
      expect(() => parseStructureDefinition(sd)).not.toThrow();
      expect(() => loadDataType({ ...sd, url: `${sd.url}-load-check` })).not.toThrow();
    }
  });

  test('CodeSystem twin-concept has every code of the contract, each with display and definition', () => {
    const cs = readCommitted<{ concept: { code: string; display: string; definition: string }[] } & Resource>(
      'CodeSystem-twin-concept.json'
    );
    const codes = cs.concept.map((c) => c.code);
    expect(codes).toEqual(
      expect.arrayContaining([
        'twin-baseline',
        'twin-recovery-state',
        'recovery-index',
        'personal-baseline',
        'baseline-metric',
        'robust-median-mad',
        'baseline-spread',
        'baseline-sample-count',
        'baseline-window-days',
        'baseline-prior-weight',
        'data-completeness',
      ])
    );
    for (const concept of cs.concept) {
      expect(concept.display.length).toBeGreaterThan(0);
      expect(concept.definition.length).toBeGreaterThan(0);
    }
  });

  test('CodeSystem recovery-metric holds exactly the project codes used in the metric catalogue', () => {
    const cs = readCommitted<{ concept: { code: string; display: string }[] } & Resource>(
      'CodeSystem-recovery-metric.json'
    );
    const used = Object.values(METRICS)
      .flatMap((m) => m.codings)
      .filter((c) => c.system === 'https://recovery-twin.dev/fhir/CodeSystem/recovery-metric')
      .map((c) => ({ code: c.code, display: c.display }));
    expect(cs.concept.map((c) => ({ code: c.code, display: c.display }))).toEqual(used);
  });

  test('src/fhir/codes/twinCodes.ts (used by the twin stages) has the same systems, profile URLs and codes', () => {
    expect(twinCodes.TWIN_CANONICAL_BASE).toBe(TWIN_CANONICAL_BASE);
    expect(twinCodes.TWIN_CONCEPT_SYSTEM).toBe(TWIN_CONCEPT_SYSTEM);
    expect(twinCodes.TWIN_RESOURCE_SYSTEM).toBe(TWIN_RESOURCE_SYSTEM);
    expect(twinCodes.TWIN_REFRESH_OPERATION).toBe(TWIN_REFRESH_OPERATION);
    expect({ ...twinCodes.TWIN_PROFILE }).toEqual({ ...TWIN_PROFILE });
    const published = Object.fromEntries(
      TWIN_CONCEPTS.filter((c) => c.code !== 'twin-model').map((c) => [c.code, c.display])
    );
    expect({ ...twinCodes.TWIN_CONCEPT_DISPLAY }).toEqual(published);
  });
});

describe('profiles constrain what they claim (project validator)', () => {
  const validator = createValidator({ profileDirs: [PROFILE_DIR] });

  test.each(validSamples)('a valid %s sample passes', (_name, sample) => {
    expect(() => validator.validate(sample())).not.toThrow();
  });

  /** [case, broken resource, the path an error must name] */
  const brokenSamples: [string, () => Resource, string][] = [
    ['baseline without referenceRange', () => ({ ...baseline(), referenceRange: undefined }), 'Observation'],
    [
      'baseline coded with the measurement code (it would answer a search for the measurement)',
      () => ({ ...baseline(), code: { coding: METRICS['resting-heart-rate'].codings.map((c) => ({ ...c })) } }),
      'Observation.code',
    ],
    [
      'baseline without the metric it describes',
      () => ({ ...baseline(), component: baseline().component?.slice(1) }),
      'Observation.component',
    ],
    [
      '"not enough data" baseline that still shows a band',
      () => ({ ...notEnoughData(), referenceRange: baseline().referenceRange }),
      'Observation',
    ],
    ['baseline without method', () => ({ ...baseline(), method: undefined }), 'Observation.method'],
    [
      'baseline with another method',
      () => ({ ...baseline(), method: { coding: [{ system: TWIN_CONCEPT_SYSTEM, code: 'recovery-index' }] } }),
      'Observation.method',
    ],
    [
      'baseline with a day instead of a window',
      () => ({ ...baseline(), effectivePeriod: undefined, effectiveDateTime: DAY }),
      'Observation.effectiveDateTime',
    ],
    [
      'baseline with a centre but without the prior-weight component',
      () => ({ ...baseline(), component: baseline().component?.slice(0, 4) }),
      'Observation',
    ],
    [
      'baseline with a sample count that is not an integer',
      () => {
        const o = baseline();
        o.component = o.component?.map((c, i) => (i === 2 ? { code: c.code, valueQuantity: quantity(28, '1') } : c));
        return o;
      },
      'Observation.component[2]',
    ],
    [
      'baseline with a prior weight above 1',
      () => {
        const o = baseline();
        o.component = o.component?.map((c, i) => (i === 4 ? { ...c, valueQuantity: quantity(1.5, '1') } : c));
        return o;
      },
      'Observation.component[4]',
    ],
    [
      'baseline with a sixth component',
      () => ({
        ...baseline(),
        component: [
          ...(baseline().component ?? []),
          { code: { coding: [twinCoding('data-completeness')] }, valueInteger: 1 },
        ],
      }),
      'Observation.component[5]',
    ],
    [
      'baseline whose normal band is in another unit',
      () => {
        const o = baseline();
        o.referenceRange = [{ ...o.referenceRange?.[0], low: quantity(47, '/s') }];
        return o;
      },
      'Observation',
    ],
    [
      'baseline whose metric is not a catalogue metric',
      () => {
        const o = baseline();
        o.component = o.component?.map((c, i) =>
          i === 0 ? { ...c, valueCodeableConcept: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] } } : c
        );
        return o;
      },
      'Observation.component[0]',
    ],
    [
      'baseline in a unit other than the metric unit',
      () => {
        const o = baseline();
        return { ...o, valueQuantity: { ...o.valueQuantity, code: '/s' } };
      },
      'Observation',
    ],
    [
      'baseline without the twin category',
      () => ({ ...baseline(), category: [{ coding: [twinCoding('twin-recovery-state')] }] }),
      'Observation.category',
    ],
    [
      'baseline with a malformed twin identifier',
      () => ({ ...baseline(), identifier: [{ system: TWIN_RESOURCE_SYSTEM, value: `state/${PID}/${DAY}` }] }),
      'Observation.identifier[0]',
    ],
    ['baseline with status preliminary', () => ({ ...baseline(), status: 'preliminary' }), 'Observation.status'],
    [
      'baseline whose subject is a Group',
      () => ({ ...baseline(), subject: { reference: 'Group/g-1' } }),
      'Observation.subject',
    ],
    [
      'state with the wrong code',
      () => ({ ...recoveryState(), code: { coding: [twinCoding('baseline-spread')] } }),
      'Observation.code',
    ],
    [
      'state without data completeness',
      () => ({ ...recoveryState(), component: recoveryState().component?.slice(0, 3) }),
      'Observation.component',
    ],
    [
      'state with a deviation in a unit other than 1',
      () => {
        const o = recoveryState();
        o.component = o.component?.map((c, i) => (i === 0 ? { ...c, valueQuantity: quantity(1.6, '/min') } : c));
        return o;
      },
      'Observation.component[0]',
    ],
    [
      'state with a deviation coded with the measurement code (it would answer a component-code search)',
      () => {
        const o = recoveryState();
        o.component = o.component?.map((c, i) =>
          i === 0 ? { ...c, code: { coding: METRICS['resting-heart-rate'].codings.map((k) => ({ ...k })) } } : c
        );
        return o;
      },
      'Observation.component[0]',
    ],
    [
      'state with a component for a code outside the catalogue',
      () => {
        const o = recoveryState();
        o.component = [{ code: { text: 'mystery' }, valueQuantity: quantity(1, '1') }, ...(o.component ?? [])];
        return o;
      },
      'Observation.component[0]',
    ],
    [
      'state with a period instead of a day',
      () => ({ ...recoveryState(), effectiveDateTime: undefined, effectivePeriod: { start: DAY, end: DAY } }),
      'Observation.effectivePeriod',
    ],
    [
      'state with a time of day',
      () => ({ ...recoveryState(), effectiveDateTime: `${DAY}T10:00:00Z` }),
      'Observation.effectiveDateTime',
    ],
    [
      'risk assessment without performer',
      () => ({ ...riskAssessment(), performer: undefined }),
      'RiskAssessment.performer',
    ],
    [
      'risk assessment performed by a Practitioner',
      () => ({ ...riskAssessment(), performer: { reference: 'Practitioner/dr-1' } }),
      'RiskAssessment.performer',
    ],
    ['risk assessment without basis', () => ({ ...riskAssessment(), basis: undefined }), 'RiskAssessment.basis'],
    ['risk assessment without note', () => ({ ...riskAssessment(), note: undefined }), 'RiskAssessment.note'],
    [
      // Issue 11: a qualitative likelihood alone is now valid (no uncalibrated probability); neither is not.
      'risk assessment with an outcome but neither a probability nor a qualitative likelihood',
      () => ({
        ...riskAssessment(),
        prediction: [{ outcome: { text: 'x' } }],
      }),
      'RiskAssessment.prediction[0]',
    ],
    [
      'risk assessment without outcome',
      () => ({ ...riskAssessment(), prediction: [{ probabilityDecimal: 0.5 }] }),
      'RiskAssessment.prediction[0]',
    ],
    [
      'risk assessment without occurrence',
      () => without(riskAssessment(), 'occurrenceDateTime'),
      'RiskAssessment.occurrence',
    ],
    ['care plan with status active', () => ({ ...carePlan(), status: 'active' }), 'CarePlan.status'],
    ['care plan with intent plan', () => ({ ...carePlan(), intent: 'plan' }), 'CarePlan.intent'],
    [
      'care plan without instantiatesCanonical',
      () => ({ ...carePlan(), instantiatesCanonical: undefined }),
      'CarePlan.instantiatesCanonical',
    ],
    ['care plan for a Group', () => ({ ...carePlan(), subject: { reference: 'Group/g-1' } }), 'CarePlan.subject'],
    ['task without focus', () => ({ ...task(), focus: undefined }), 'Task.focus'],
    [
      'task whose focus is not a CarePlan',
      () => ({ ...task(), focus: { reference: 'ServiceRequest/s-1' } }),
      'Task.focus',
    ],
    ['task without for', () => ({ ...task(), for: undefined }), 'Task.for'],
    ['task with intent proposal', () => ({ ...task(), intent: 'proposal' }), 'Task.intent'],
    ['task owned by a Patient', () => ({ ...task(), owner: { reference: `Patient/${PID}` } }), 'Task.owner'],
    [
      'device without checksum',
      () => ({ ...device(), identifier: [{ system: 'urn:x', value: 'y' }] }),
      'Device.identifier',
    ],
    [
      'device with a malformed checksum',
      () => ({ ...device(), identifier: [{ system: MODEL_SHA256_SYSTEM, value: 'ABC' }] }),
      'Device.identifier[0]',
    ],
    ['device without version', () => ({ ...device(), version: undefined }), 'Device.version'],
    ['device without model card note', () => ({ ...device(), note: undefined }), 'Device.note'],
    [
      'device of another type',
      () => ({ ...device(), type: { coding: [twinCoding('recovery-index')] } }),
      'Device.type',
    ],
  ];

  test.each(brokenSamples)('%s fails, naming the path', (_name, sample, path) => {
    const resource = sample();
    expect(errorPaths(issuesOf(() => validator.validate(resource)))).toContain(path);
    // The error comes from the profile, not from base R4.
    expect(() => validator.validate(withProfileRemoved(resource))).not.toThrow();
  });

  test('base validation is unchanged by validating against the profiles', () => {
    for (const [, sample] of validSamples) {
      validator.validate(sample());
    }
    // Backbone types (Observation.component, RiskAssessment.prediction) are shared with base R4 validation.
    const plain: Observation = {
      resourceType: 'Observation',
      status: 'preliminary',
      code: { text: 'x' },
      component: [{ code: { text: 'y' }, valueString: 'z' }],
    };
    expect(() => validator.validate(plain)).not.toThrow();
    const plainRisk: RiskAssessment = {
      resourceType: 'RiskAssessment',
      status: 'final',
      subject: { reference: 'Group/g-1' },
      prediction: [{ qualitativeRisk: { text: 'low' } }],
    };
    expect(() => validator.validate(plainRisk)).not.toThrow();
  });
});
