import type { Condition, Observation, Procedure } from '@medplum/fhirtypes';
import { dayNumber } from '../calendar/calendarDay';
import { TWIN_RESOURCE_SYSTEM } from '../fhir/codes/twinCodes';
import { buildMetricObservation } from '../ingest/importers/metricObservation';
import { historyDigest, simulationHistory } from './simulationInput';

const TODAY = dayNumber('2026-03-01');

function rhr(day: string, value: number): Observation {
  return buildMetricObservation({
    source: 'test',
    subjectKey: 's-1',
    subject: { reference: 'Patient/p1' },
    metric: 'resting-heart-rate',
    day,
    value,
  });
}

describe('simulationHistory', () => {
  test('daily values up to today; twin outputs, later days and withdrawn values are not inputs', () => {
    const withdrawn = { ...rhr('2026-02-26', 90), status: 'entered-in-error' as const };
    const twinOutput: Observation = {
      ...rhr('2026-02-25', 70),
      identifier: [{ system: TWIN_RESOURCE_SYSTEM, value: 'x' }],
    };
    const history = simulationHistory(
      'p1',
      TODAY,
      [
        rhr('2026-02-27', 56),
        rhr('2026-02-28', 58),
        rhr('2026-03-02', 99),
        rhr('2026-02-26', 57),
        withdrawn,
        twinOutput,
      ],
      {}
    );
    expect(history.series['resting-heart-rate']).toEqual({
      days: [TODAY - 2, TODAY - 1],
      values: [56, 58],
    });
    expect(history.eventDay).toBeUndefined();
    expect(historyDigest(history)).toBe(
      historyDigest(simulationHistory('p1', TODAY, [rhr('2026-02-28', 58), rhr('2026-02-27', 56)], {}))
    );
  });

  test('the index event is the latest Condition onset or Procedure on or before today, unless given', () => {
    const condition: Condition = {
      resourceType: 'Condition',
      subject: { reference: 'Patient/p1' },
      onsetDateTime: '2026-02-10',
    };
    const refuted: Condition = {
      ...condition,
      onsetDateTime: '2026-02-25',
      verificationStatus: { coding: [{ code: 'refuted' }] },
    };
    const procedure: Procedure = {
      resourceType: 'Procedure',
      status: 'completed',
      subject: { reference: 'Patient/p1' },
      performedDateTime: '2026-02-20T10:00:00Z',
    };
    const future: Procedure = { ...procedure, performedDateTime: '2026-03-10' };
    const context = { conditions: [condition, refuted], procedures: [procedure, future] };
    expect(simulationHistory('p1', TODAY, [], context).eventDay).toBe(dayNumber('2026-02-20'));
    expect(simulationHistory('p1', TODAY, [], { ...context, eventDay: TODAY - 1 }).eventDay).toBe(TODAY - 1);
  });
});
