import type { CarePlan, Observation } from '@medplum/fhirtypes';
import { bandOn, bandVersions, dailyDeviation, orderedOnApproval } from '../app/src/twinData';

const HR = 'https://recovery-twin.dev/fhir/CodeSystem/recovery-metric|resting-heart-rate';

function state(day: string, z: number): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { text: 'Recovery index' },
    effectiveDateTime: day,
    component: [
      { code: { coding: [{ system: HR.split('|')[0], code: 'resting-heart-rate' }] }, valueQuantity: { value: z } },
    ],
  };
}

function baselineVersion(asOf: string, low: number, high: number): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { text: 'Resting heart rate' },
    effectivePeriod: { start: '2026-01-01', end: asOf },
    valueQuantity: { value: (low + high) / 2 },
    referenceRange: [{ low: { value: low }, high: { value: high } }],
  };
}

describe("the app's reading of the twin", () => {
  test('the band in force on a day is the latest recorded by then, never a later one', () => {
    const versions = bandVersions([baselineVersion('2026-02-10', 50, 60), baselineVersion('2026-02-01', 48, 58)]);
    expect(bandOn('2026-01-31', versions)).toBeUndefined();
    expect(bandOn('2026-02-05', versions)?.low).toBe(48);
    expect(bandOn('2026-02-10', versions)?.low).toBe(50);
  });

  test("each day's deviation comes from that day's state, for the metric asked", () => {
    const z = dailyDeviation([state('2026-02-01', 0.4), state('2026-02-02', 2.6)], HR);
    expect([...z.entries()]).toEqual([
      ['2026-02-01', 0.4],
      ['2026-02-02', 2.6],
    ]);
    expect(dailyDeviation([state('2026-02-01', 3)], 'http://loinc.org|8867-4').size).toBe(0);
  });

  test('what approval orders: the starting phase requests only', () => {
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
        { detail: { status: 'not-started', kind: 'Appointment', scheduledString: 'Phase 1 — from approval' } },
      ],
    };
    expect(orderedOnApproval(plan)).toHaveLength(1);
  });
});
