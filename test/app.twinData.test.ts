import type { CarePlan, Observation, RiskAssessment, Task } from '@medplum/fhirtypes';
import {
  bandOn,
  bandVersions,
  baselineMetric,
  basisCounts,
  citationsNotInNotes,
  dailyDeviation,
  driverSentence,
  drivers,
  findingsToShow,
  isApprovedReview,
  isCurrentBaseline,
  metricLabel,
  metricToken,
  orderedOnApproval,
  orderKindWords,
  otherOpenTasks,
  personName,
} from '../app/src/twinData';

// The twin's shapes as docs/twin-data-contract.md gives them.
const TWIN_RESOURCE = 'https://recovery-twin.dev/fhir/NamingSystem/twin-resource';
const METRIC_DEVIATION = 'https://recovery-twin.dev/fhir/CodeSystem/metric-deviation';

function state(day: string, z: number): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    identifier: [{ system: TWIN_RESOURCE, value: `state/p/${day}` }],
    code: { text: 'Recovery index' },
    effectiveDateTime: day,
    component: [
      { code: { coding: [{ system: METRIC_DEVIATION, code: 'resting-heart-rate' }] }, valueQuantity: { value: z } },
    ],
  };
}

/** The baseline in force during the week that starts on Monday `monday`. */
function baselineInForce(monday: string, low: number, high: number): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    identifier: [{ system: TWIN_RESOURCE, value: `baseline/p/resting-heart-rate/${monday}` }],
    code: { text: 'Personal baseline' },
    component: [
      {
        code: { coding: [{ code: 'baseline-metric' }] },
        valueCodeableConcept: { coding: [{ system: 'http://loinc.org', code: '40443-4' }], text: 'Resting heart rate' },
      },
    ],
    effectivePeriod: { start: '2026-01-01', end: monday },
    valueQuantity: { value: (low + high) / 2 },
    referenceRange: [{ low: { value: low }, high: { value: high } }],
  };
}

describe("the app's reading of the twin", () => {
  test('the band in force on a day is the latest recorded by then, never a later one', () => {
    const versions = bandVersions([baselineInForce('2026-02-09', 50, 60), baselineInForce('2026-02-02', 48, 58)]);
    expect(bandOn('2026-02-01', versions)).toBeUndefined();
    expect(bandOn('2026-02-05', versions)?.low).toBe(48);
    expect(bandOn('2026-02-09', versions)?.low).toBe(50);
    // A week whose baseline says "not enough data" has no band.
    const notEnough: Observation = {
      ...baselineInForce('2026-02-16', 0, 0),
      valueQuantity: undefined,
      referenceRange: undefined,
    };
    expect(bandVersions([notEnough])).toEqual([]);
  });

  test("each day's deviation comes from that day's state, for the metric asked", () => {
    const z = dailyDeviation([state('2026-02-01', 0.4), state('2026-02-02', 2.6)], 'resting-heart-rate');
    expect([...z.entries()]).toEqual([
      ['2026-02-01', 0.4],
      ['2026-02-02', 2.6],
    ]);
    expect(dailyDeviation([state('2026-02-01', 3)], 'heart-rate').size).toBe(0);
  });

  test('a baseline names its metric in its baseline-metric component, searched by the standard code', () => {
    const current: Observation = {
      ...baselineInForce('2026-02-09', 50, 60),
      identifier: [{ system: TWIN_RESOURCE, value: 'baseline/p/resting-heart-rate' }],
    };
    expect(isCurrentBaseline(current)).toBe(true);
    expect(isCurrentBaseline(baselineInForce('2026-02-09', 50, 60))).toBe(false);
    expect(baselineMetric(current)).toBe('resting-heart-rate');
    expect(metricToken(current)).toBe('http://loinc.org|40443-4');
    expect(metricLabel(current)).toBe('Resting heart rate');
  });

  test('what approval orders: every activity of the starting phase, whatever its kind; no later phase', () => {
    const plan: CarePlan = {
      resourceType: 'CarePlan',
      status: 'draft',
      intent: 'proposal',
      subject: { reference: 'Patient/p' },
      activity: [
        { detail: { status: 'not-started', kind: 'ServiceRequest', scheduledString: 'Phase 1 — from approval' } },
        {
          detail: {
            status: 'not-started',
            kind: 'ServiceRequest',
            scheduledString: 'Phase 2 — when its entry criteria are met',
          },
        },
        { detail: { status: 'not-started', kind: 'CommunicationRequest', scheduledString: 'Phase 1 — from approval' } },
      ],
    };
    expect(orderedOnApproval(plan).map((a) => a.detail?.kind)).toEqual(['ServiceRequest', 'CommunicationRequest']);
  });

  test('findings shown: ongoing ones, and ended ones whose review still waits; not reviewed ones', () => {
    const profile = 'https://recovery-twin.dev/fhir/StructureDefinition/';
    const finding = (id: string, status: RiskAssessment['status']): RiskAssessment => ({
      resourceType: 'RiskAssessment',
      id,
      meta: { profile: [`${profile}anomaly-risk-assessment`] },
      status,
      subject: { reference: 'Patient/p' },
    });
    const review = (focus: string, status: Task['status']): Task => ({
      resourceType: 'Task',
      meta: { profile: [`${profile}review-task`] },
      status,
      intent: 'order',
      focus: { reference: focus },
    });
    const findings = [finding('ongoing', 'preliminary'), finding('waiting', 'final'), finding('reviewed', 'final')];
    const tasks = [review('RiskAssessment/waiting', 'requested'), review('RiskAssessment/reviewed', 'completed')];
    expect(findingsToShow(findings, tasks).map((f) => f.id)).toEqual(['ongoing', 'waiting']);
  });

  test('the signed-in clinician by name, not by reference', () => {
    expect(personName([{ prefix: ['Dr'], given: ['Robin'], family: 'Review' }])).toBe('Dr Robin Review');
    expect(personName([{ text: 'Demo clinician (local simulator)' }])).toBe('Demo clinician (local simulator)');
    expect(personName(undefined)).toBeUndefined();
    expect(personName([{}])).toBeUndefined();
  });

  test("a finding's basis: measurements counted apart from the twin's computed states and baselines", () => {
    const finding: RiskAssessment = {
      resourceType: 'RiskAssessment',
      status: 'preliminary',
      subject: { reference: 'Patient/p' },
      basis: [
        { reference: 'Observation/m1' },
        { reference: 'Observation/m2' },
        { reference: 'Observation/state1' },
        { reference: 'Observation/baseline1' },
      ],
    };
    expect(basisCounts(finding, new Set(['state1', 'baseline1']))).toEqual({ measured: 2, computed: 2 });
  });

  test("what drives the index: each metric's effect signed by its good direction; a metric without one is left out", () => {
    const latest: Observation = {
      resourceType: 'Observation',
      status: 'final',
      category: [
        { coding: [{ system: 'https://recovery-twin.dev/fhir/CodeSystem/twin-concept', code: 'twin-recovery-state' }] },
      ],
      code: { text: 'Recovery index' },
      effectiveDateTime: '2026-12-01',
      component: [
        {
          code: {
            coding: [
              {
                system: METRIC_DEVIATION,
                code: 'resting-heart-rate',
                display: 'Resting heart rate: deviation from personal baseline',
              },
            ],
          },
          valueQuantity: { value: -1.55 },
        },
        {
          code: {
            coding: [
              {
                system: METRIC_DEVIATION,
                code: 'training-load',
                display: 'Training load (sRPE x min): deviation from personal baseline',
              },
            ],
          },
          valueQuantity: { value: 3.2 },
        },
        {
          code: {
            coding: [
              {
                system: METRIC_DEVIATION,
                code: 'sleep-duration',
                display: 'Sleep duration: deviation from personal baseline',
              },
            ],
          },
          valueQuantity: { value: -2.5 },
        },
      ],
    };
    expect(drivers([latest]).map(driverSentence)).toEqual([
      'Sleep duration: -2.5 SD (pulls the index down)',
      'Resting heart rate: -1.55 SD (pulls the index up)',
      'Training load (sRPE x min): +3.2 SD (no better or worse direction: not part of the index)',
    ]);
  });

  test('orders in words, and the sources the plan notes already quote are not listed twice', () => {
    expect(orderKindWords('ServiceRequest')).toBe('Referral or service request');
    expect(orderKindWords('CommunicationRequest')).toBe('Information for the patient');
    const plan: CarePlan = {
      resourceType: 'CarePlan',
      status: 'draft',
      intent: 'proposal',
      subject: { reference: 'Patient/p' },
      note: [{ text: 'Sources of this protocol: Smith J. A trial. 2020. | Doe A. A review. 2021.' }],
    };
    expect(citationsNotInNotes(['Smith J. A trial. 2020.', 'Roe B. Another. 2022.'], plan)).toEqual([
      'Roe B. Another. 2022.',
    ]);
  });

  test('open tasks that are no finding or proposal review are shown (the care-team list counts them)', () => {
    const task = (id: string, focus: string, status: Task['status']): Task => ({
      resourceType: 'Task',
      id,
      status,
      intent: 'order',
      focus: { reference: focus },
    });
    const tasks = [
      task('plan-care', 'Condition/c1', 'requested'),
      task('done', 'Condition/c2', 'completed'),
      task('finding', 'RiskAssessment/r1', 'requested'),
      task('proposal', 'CarePlan/p1', 'requested'),
    ];
    // A check-in an approved plan ordered for the patient is theirs to do, not a care-team review.
    const checkIn: Task = {
      ...task('check-in', 'Patient/p', 'requested'),
      focus: undefined,
      owner: { reference: 'Patient/p' },
      basedOn: [{ reference: 'CarePlan/p1' }],
    };
    expect(otherOpenTasks([...tasks, checkIn]).map((t) => t.id)).toEqual(['plan-care']);
  });

  test('a phase the clinician must choose: approval orders that phase, not nothing', () => {
    const phaseExt = (id: string) => [
      { url: 'https://recovery-twin.dev/fhir/StructureDefinition/protocol-phase', valueString: id },
    ];
    const plan: CarePlan = {
      resourceType: 'CarePlan',
      status: 'draft',
      intent: 'proposal',
      subject: { reference: 'Patient/p' },
      activity: [
        {
          detail: {
            status: 'not-started',
            extension: phaseExt('acute'),
            code: { text: 'Fracture screen' },
            scheduledString: 'Phase 1: when its entry criteria are met',
          },
        },
        {
          detail: {
            status: 'not-started',
            extension: phaseExt('loading'),
            code: { text: 'Exercise therapy' },
            scheduledString: 'Phase 2: when its entry criteria are met',
          },
        },
        {
          detail: {
            status: 'cancelled',
            extension: phaseExt('loading'),
            code: { text: 'Dropped' },
            scheduledString: 'Phase 2: when its entry criteria are met',
          },
        },
      ],
    };
    expect(orderedOnApproval(plan)).toEqual([]);
    expect(orderedOnApproval(plan, 'loading').map((a) => a.detail?.code?.text)).toEqual(['Exercise therapy']);
  });

  test('an approved proposal is found through its completed review Task', () => {
    const review = (status: Task['status'], verdict: string): Task => ({
      resourceType: 'Task',
      meta: { profile: ['https://recovery-twin.dev/fhir/StructureDefinition/review-task'] },
      status,
      intent: 'order',
      focus: { reference: 'CarePlan/c1' },
      businessStatus: { text: verdict },
    });
    expect(
      [review('completed', 'approved'), review('completed', 'rejected'), review('requested', '')].map(isApprovedReview)
    ).toEqual([true, false, false]);
  });
});
