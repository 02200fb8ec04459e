import type { RiskAssessment, Task } from '@medplum/fhirtypes';
import { TWIN_PROFILE } from '../fhir/codes/twinCodes';
import { patientViewCards, summaryOf } from './patientViewCards';

describe('CDS card summary', () => {
  test('stays under 140 characters, cut on a word', () => {
    const long = `Recovery twin proposes ${'a very long protocol title '.repeat(8)}: awaiting your review`;
    const summary = summaryOf(long);
    expect(summary.length).toBeLessThan(140);
    expect(summary.endsWith('…')).toBe(true);
    expect(summaryOf('short')).toBe('short');
  });
});

describe('the findings card', () => {
  const finding = (id: string, status: RiskAssessment['status'], day: string): RiskAssessment => ({
    resourceType: 'RiskAssessment',
    id,
    meta: { profile: [TWIN_PROFILE.anomalyRiskAssessment] },
    status,
    subject: { reference: 'Patient/p' },
    occurrenceDateTime: day,
  });
  const review = (focus: string, status: Task['status']): Task => ({
    resourceType: 'Task',
    meta: { profile: [TWIN_PROFILE.reviewTask] },
    status,
    intent: 'order',
    focus: { reference: focus },
  });
  const cards = (findings: RiskAssessment[], reviews: Task[]): string[] =>
    patientViewCards({ findings, reviews, carePlans: new Map(), appUrl: 'https://app', newId: () => 'x' }).map(
      (c) => c.summary
    );

  test('an ended episode whose review still waits is on the card; a reviewed one is not', () => {
    expect(cards([finding('a', 'final', '2026-09-06')], [review('RiskAssessment/a', 'requested')])).toEqual([
      'Recovery twin: an early-warning finding awaits review (episodes since 2026-09-06)',
    ]);
    expect(cards([finding('a', 'final', '2026-09-06')], [review('RiskAssessment/a', 'completed')])).toEqual([]);
    expect(
      cards(
        [finding('a', 'final', '2026-09-06'), finding('b', 'preliminary', '2026-11-20')],
        [review('RiskAssessment/a', 'requested')]
      )
    ).toEqual(['Recovery twin: an early-warning finding is open since 2026-11-20; 1 ended, awaiting review']);
  });
});
