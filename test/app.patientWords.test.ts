import type { AuditEvent, CarePlan, Observation, RiskAssessment, Task } from '@medplum/fhirtypes';
import { accessList, dataSources, noticed, proposalStatuses, recentDays, usualRanges } from '../app/src/patientWords';

// The twin's shapes as docs/twin-data-contract.md gives them.
const TWIN = 'https://recovery-twin.dev/fhir/CodeSystem/twin-concept';
const TWIN_RESOURCE = 'https://recovery-twin.dev/fhir/NamingSystem/twin-resource';
const PROFILE = 'https://recovery-twin.dev/fhir/StructureDefinition';

function baseline(metric: string, low?: number, high?: number): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: TWIN, code: 'twin-baseline' }] }],
    code: { coding: [{ system: TWIN, code: 'personal-baseline' }] },
    identifier: [{ system: TWIN_RESOURCE, value: `baseline/p1/${metric}` }],
    effectivePeriod: { start: '2026-02-01', end: '2026-02-28' },
    ...(low !== undefined && high !== undefined
      ? {
          valueQuantity: { value: (low + high) / 2, unit: '/min' },
          referenceRange: [{ low: { value: low }, high: { value: high } }],
        }
      : { dataAbsentReason: { text: 'not enough data' } }),
    component: [{ code: { coding: [{ system: TWIN, code: 'baseline-sample-count' }] }, valueQuantity: { value: 26 } }],
  };
}

describe("the patient's page in plain words", () => {
  test('usual ranges: a band as a sentence, labelled an estimate with its basis; none without enough data', () => {
    const ranges = usualRanges([baseline('resting-heart-rate', 58.2, 63.7), baseline('body-weight')]);
    expect(ranges.map((r) => r.sentence)).toEqual([
      'Your usual resting heart rate is 58–64 bpm.',
      'There are not enough recent measurements to know your usual weight.',
    ]);
    expect(ranges[0]?.basis).toBe(
      'Estimate, worked out from 26 days of your own measurements (2026-02-01 to 2026-02-28).'
    );
    // As the twin writes them: counts as valueInteger, and why there is no band (baseline.ts).
    const written = (metric: string, reason?: string): Observation => {
      const o = baseline(metric, reason ? undefined : 50, reason ? undefined : 60);
      return {
        ...o,
        ...(reason ? { dataAbsentReason: { text: reason } } : {}),
        component: [
          { code: { coding: [{ system: TWIN, code: 'baseline-sample-count' }] }, valueInteger: 25 },
          { code: { coding: [{ system: TWIN, code: 'baseline-window-days' }] }, valueInteger: 28 },
        ],
      };
    };
    const asWritten = usualRanges([
      written('resting-heart-rate'),
      written(
        'mood',
        'not enough data: the day-to-day spread is so wide that the band would cover the whole plausible range'
      ),
      written('stress', 'not enough data: 4 personal day(s) in the window, at least 7 needed'),
    ]);
    expect(asWritten.map((r) => [r.sentence, r.basis])).toEqual([
      [
        'Your mood changes too much from day to day to work out a usual range yet.',
        'Looked at 25 days of your own measurements (2026-02-01 to 2026-02-28).',
      ],
      [
        'Your usual resting heart rate is 50–60 bpm.',
        'Estimate, worked out from 25 days of your own measurements (2026-02-01 to 2026-02-28).',
      ],
      [
        'There are not enough recent measurements to know your usual stress.',
        'The twin needs your own measurements on at least 7 days of the last 28.',
      ],
    ]);
  });

  test('recent days: latest first, in words', () => {
    const state = (day: string, value: number): Observation => ({
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: TWIN, code: 'twin-recovery-state' }] }],
      code: { text: 'recovery index' },
      effectiveDateTime: day,
      valueQuantity: { value },
    });
    expect(recentDays([state('2026-03-01', -1.4), state('2026-03-02', 0.2), state('2026-03-03', 1.5)])).toEqual([
      { day: '2026-03-03', score: 1.5, words: 'better than usual for you' },
      { day: '2026-03-02', score: 0.2, words: 'about usual for you' },
      { day: '2026-03-01', score: -1.4, words: 'more strain than usual for you' },
    ]);
  });

  test('findings and proposals with their review status', () => {
    const finding = (id: string): RiskAssessment => ({
      resourceType: 'RiskAssessment',
      id,
      status: 'preliminary',
      meta: { profile: [`${PROFILE}/anomaly-risk-assessment`] },
      subject: { reference: 'Patient/p1' },
      occurrenceDateTime: '2026-03-01',
      prediction: [{ outcome: { text: 'overreaching' } }],
    });
    const task = (focus: string, status: Task['status'], verdict?: string): Task => ({
      resourceType: 'Task',
      status,
      intent: 'order',
      focus: { reference: focus },
      ...(verdict ? { businessStatus: { text: verdict } } : {}),
    });
    const tasks = [
      task('RiskAssessment/f1', 'requested'),
      task('RiskAssessment/f2', 'completed', 'finding dismissed'),
      task('CarePlan/c1', 'requested'),
    ];
    expect(noticed([finding('f1'), finding('f2')], tasks).map((n) => n.review)).toEqual([
      'Waiting for your clinician to look at it.',
      'Reviewed by your clinician: they decided it needs no action.',
    ]);
    // No review Task (low likelihood), or one closed without a decision: not a clinician's review.
    const ended = { ...finding('f3'), status: 'final' as const };
    expect(noticed([ended, finding('f4')], [task('RiskAssessment/f4', 'cancelled')]).map((n) => n.review)).toEqual([
      'Not sent to your clinician for review: the program was not confident enough about it.',
      'Closed without a review by your clinician.',
    ]);
    // Only measurements are counted as measurements, not the twin's own estimates in the basis.
    const withBasis = {
      ...finding('f5'),
      basis: [{ reference: 'Observation/m1' }, { reference: 'Observation/state1' }],
    };
    expect(noticed([withBasis], [], new Set(['state1']))[0]?.measurements).toBe(1);
    const plan = (id: string, status: CarePlan['status']): CarePlan => ({
      resourceType: 'CarePlan',
      id,
      status,
      intent: 'proposal',
      subject: { reference: 'Patient/p1' },
      meta: { profile: [`${PROFILE}/care-plan-proposal`] },
      title: `Plan ${id}`,
    });
    expect(
      proposalStatuses([plan('c1', 'draft'), plan('c2', 'active'), plan('c3', 'revoked')], tasks).map((p) => p.status)
    ).toEqual([
      'Proposed: waiting for your clinician to decide.',
      'Approved by your clinician.',
      'Declined by your clinician.',
    ]);
    // Approved, as reviewDecision.ts leaves it: no longer a proposal (intent plan, no proposal profile), its starting
    // phase ordered (references), a past phase not ordered; found through its review Task.
    const approved: CarePlan = {
      resourceType: 'CarePlan',
      id: 'c4',
      status: 'active',
      intent: 'plan',
      subject: { reference: 'Patient/p1' },
      title: 'Plan c4',
      activity: [
        {
          detail: {
            status: 'not-started',
            code: { text: 'Early exercises' },
            scheduledString: 'Phase 1: already past, not ordered',
          },
        },
        { reference: { reference: 'ServiceRequest/s1' } },
        {
          detail: {
            status: 'not-started',
            code: { text: 'Running' },
            scheduledString: 'Phase 3: when its entry criteria are met',
          },
        },
      ],
    };
    expect(proposalStatuses([approved], [task('CarePlan/c4', 'completed')])).toEqual([
      { id: 'c4', title: 'Plan c4', status: 'Approved by your clinician.', activities: ['Running'], ordered: 1 },
    ]);
  });

  test('data sources: the device and the app it came through; who read the twin, the patient as "You"', () => {
    const measured = (day: string, device: string, source: string): Observation => ({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'steps' },
      effectiveDateTime: day,
      device: { display: device },
      identifier: [
        { system: 'https://recovery-twin.dev/fhir/NamingSystem/record-key', value: `${source}/s1/steps/${day}` },
      ],
    });
    expect(
      dataSources([
        measured('2026-03-01', 'watch', 'healthkit'),
        measured('2026-03-03', 'watch', 'healthkit'),
        measured('2026-03-02', 'ring', 'csv'),
      ])
    ).toEqual([
      { device: 'watch', via: 'Apple Health', measurements: 2, from: '2026-03-01', to: '2026-03-03' },
      { device: 'ring', via: 'an uploaded file', measurements: 1, from: '2026-03-02', to: '2026-03-02' },
    ]);
    const event = (who: string, display: string, code: string, end: string): AuditEvent => ({
      resourceType: 'AuditEvent',
      type: { code: 'rest' },
      subtype: [{ code }],
      recorded: end,
      period: { start: end, end },
      extension: [
        { url: 'https://recovery-twin.dev/fhir/StructureDefinition/audit-interaction-count', valueInteger: 4 },
      ],
      agent: [
        { who: { reference: who, display }, requestor: true },
        { who: { display: 'recovery-twin-app' }, requestor: false },
      ],
      source: { observer: { display: 'server' } },
    });
    const list = accessList(
      [
        event('Patient/p1', 'Ada Able', 'read', '2026-03-01T10:00:00Z'),
        event('Practitioner/d1', 'Dr Robin Review', 'search-type', '2026-03-02T10:00:00Z'),
      ],
      'Patient/p1'
    );
    expect(list.map((a) => `${a.day}: ${a.who} ${a.what} (${a.times}, ${a.app})`)).toEqual([
      '2026-03-02: Dr Robin Review, clinician looked through your record (4, recovery-twin-app)',
      '2026-03-01: You (Ada Able) opened part of your record (4, recovery-twin-app)',
    ]);
  });
});
