import { OperationOutcomeError } from '@medplum/core';
import { parseScenarioSpec } from './scenarioSpec';

describe('parseScenarioSpec', () => {
  test('a protocol alone, and one with every lever', () => {
    expect(parseScenarioSpec('ankle-sprain')).toEqual({ protocol: 'ankle-sprain', levers: {} });
    expect(
      parseScenarioSpec(
        'acl-reconstruction:sleep=+1,sessions=2,progression=1.5,rest=3,illness=5+7x1.5,adherence=0.8,label=slow'
      )
    ).toEqual({
      protocol: 'acl-reconstruction',
      label: 'slow',
      levers: {
        sleepExtraHours: 1,
        sessionsPerWeek: 2,
        progressionRate: 1.5,
        restDays: 3,
        illness: { startDay: 5, days: 7, loadFactor: 1.5 },
        adherence: 0.8,
      },
    });
  });

  test('negative values pass through to validation; malformed ones are refused here', () => {
    expect(parseScenarioSpec('ankle-sprain:illness=2+-3').levers.illness).toEqual({
      startDay: 2,
      days: -3,
      loadFactor: 0,
    });
    for (const bad of [
      'ankle-sprain:colour=blue',
      'ankle-sprain:sleep=lots',
      'ankle-sprain:illness=soon',
      ':sleep=1',
    ]) {
      expect(() => parseScenarioSpec(bad)).toThrow(OperationOutcomeError);
    }
  });
});
