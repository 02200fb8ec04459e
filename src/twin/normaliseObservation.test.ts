import type { Observation } from '@medplum/fhirtypes';
import { RECORD_KEY_SYSTEM } from '../ingest/importers/metricObservation';
import { dayNumber } from '../calendar/calendarDay';
import { dedupeMeasurements, measurementKey } from './measurementKey';
import { normaliseObservation, type Measurement, type Normalised } from './normaliseObservation';
import { obs, PATIENT } from '../../test/twin.fixtures';

function measurement(n: Normalised): Measurement {
  if (n.kind !== 'measurement') {
    throw new Error(`expected a measurement, got ${JSON.stringify(n)}`);
  }
  return n.m;
}

function reason(n: Normalised): string {
  if (n.kind !== 'rejected') {
    throw new Error(`expected a rejection, got ${JSON.stringify(n)}`);
  }
  return n.reason;
}

describe('normaliseObservation', () => {
  test('accepts a good Observation: metric from the coding, value in the catalogue unit, local day', () => {
    const m = measurement(
      normaliseObservation(
        obs({
          metric: 'resting-heart-rate',
          value: 52.4,
          time: '2026-03-01T23:30:00-02:00',
          id: 'o1',
          device: 'Device/w',
        })
      )
    );
    expect(m).toMatchObject({ metric: 'resting-heart-rate', value: 52.4, source: 'device:Device/w', sourceId: 'o1' });
    // 23:30 at UTC-2 is 01:30 UTC on the next calendar day, but the patient's day is still the 1st.
    expect(m.day).toBe(dayNumber('2026-03-01'));
    expect(m.time).toBe(String(Date.parse('2026-03-02T01:30:00Z')));
  });

  test('a bare date is its own day; the alternative SpO2 LOINC coding maps too', () => {
    const o = obs({ metric: 'oxygen-saturation', value: 97, day: 0 });
    o.code = { coding: [{ system: 'http://loinc.org', code: '59408-5' }] };
    const m = measurement(normaliseObservation(o));
    expect(m.metric).toBe('oxygen-saturation');
    expect(m.day).toBe(dayNumber('2026-03-01'));
    expect(m.time).toBe('2026-03-01');
  });

  test('converts °F to Cel through the UCUM table, by code or by display alias', () => {
    expect(
      measurement(normaliseObservation(obs({ metric: 'body-temperature', value: 98.6, unit: '[degF]' }))).value
    ).toBe(37);
    const byAlias = obs({ metric: 'body-temperature', value: 100.4 });
    byAlias.valueQuantity = { value: 100.4, unit: '°F' };
    expect(measurement(normaliseObservation(byAlias)).value).toBe(38);
  });

  test('rejects unknown codes, wrong or unknown units and impossible values, with reasons holding no value', () => {
    const unknown = obs({ metric: 'heart-rate', value: 60 });
    unknown.code = { coding: [{ system: 'http://loinc.org', code: '85354-9' }] };
    expect(reason(normaliseObservation(unknown))).toBe('code is not a catalogue metric');
    expect(reason(normaliseObservation(obs({ metric: 'heart-rate', value: 60, unit: 'kg' })))).toBe(
      'heart-rate: unit cannot be converted to /min'
    );
    expect(reason(normaliseObservation(obs({ metric: 'heart-rate', value: 60, unit: 'furlong' })))).toBe(
      'heart-rate: unknown unit'
    );
    const impossible = reason(normaliseObservation(obs({ metric: 'resting-heart-rate', value: 400 })));
    expect(impossible).toMatch(/outside the plausible range/);
    expect(impossible).not.toContain('400');
    const noValue = obs({ metric: 'steps', value: 1 });
    delete noValue.valueQuantity;
    expect(reason(normaliseObservation(noValue))).toBe('steps: no valueQuantity');
    const comparator = obs({ metric: 'glucose', value: 40 });
    comparator.valueQuantity = { ...comparator.valueQuantity, comparator: '<' };
    expect(reason(normaliseObservation(comparator))).toMatch(/comparator/);
  });

  test('rejects Observations without subject, with a non-Patient subject, or without a usable time', () => {
    const noSubject = obs({ metric: 'steps', value: 8000 });
    delete noSubject.subject;
    expect(reason(normaliseObservation(noSubject))).toBe('missing subject');
    const group = obs({ metric: 'steps', value: 8000 });
    group.subject = { reference: 'Group/1' };
    expect(reason(normaliseObservation(group))).toBe('subject is not a Patient');
    const noTime = obs({ metric: 'steps', value: 8000 });
    delete noTime.effectiveDateTime;
    expect(reason(normaliseObservation(noTime))).toBe('missing effective time');
    expect(reason(normaliseObservation(obs({ metric: 'steps', value: 8000, time: '2026-03' })))).toBe(
      'effective time is not precise to the day'
    );
    expect(reason(normaliseObservation(obs({ metric: 'steps', value: 8000, time: '2026-03-01T08:00:00' })))).toBe(
      'effective time has a time of day but no time zone'
    );
    expect(reason(normaliseObservation(obs({ metric: 'steps', value: 8000, time: '2026-02-30' })))).toBe(
      'effective time is not a calendar date'
    );
  });

  test('effectiveInstant and effectivePeriod.start are effective times too; urn:uuid subjects are accepted', () => {
    const instant = obs({ metric: 'steps', value: 8000 });
    delete instant.effectiveDateTime;
    instant.effectiveInstant = '2026-03-05T10:00:00.000Z';
    instant.subject = { reference: 'urn:uuid:0b0c3c4e-1111-5222-8333-444455556666' };
    expect(measurement(normaliseObservation(instant)).day).toBe(dayNumber('2026-03-05'));
    const period = obs({ metric: 'sleep-duration', value: 7 });
    delete period.effectiveDateTime;
    period.effectivePeriod = { start: '2026-03-05T23:00:00Z', end: '2026-03-06T06:00:00Z' };
    // A night counts for the morning it ends on (metricRules.ts); other metrics date a period by its start.
    expect(measurement(normaliseObservation(period)).day).toBe(dayNumber('2026-03-06'));
    const walk = obs({ metric: 'steps', value: 800 });
    delete walk.effectiveDateTime;
    walk.effectivePeriod = { start: '2026-03-05T23:00:00Z', end: '2026-03-06T00:30:00Z' };
    expect(measurement(normaliseObservation(walk)).day).toBe(dayNumber('2026-03-05'));
  });

  test('status: entered-in-error retracts, amended/corrected are used, preliminary/cancelled/registered refused', () => {
    expect(normaliseObservation(obs({ metric: 'steps', value: 1, id: 'x1', status: 'entered-in-error' }))).toEqual({
      kind: 'retraction',
      sourceId: 'x1',
    });
    expect(reason(normaliseObservation(obs({ metric: 'steps', value: 1, status: 'entered-in-error' })))).toMatch(
      /nothing to retract/
    );
    for (const status of ['amended', 'corrected'] as const) {
      expect(normaliseObservation(obs({ metric: 'steps', value: 1, status })).kind).toBe('measurement');
    }
    for (const status of ['preliminary', 'cancelled', 'registered'] as const) {
      expect(reason(normaliseObservation(obs({ metric: 'steps', value: 1, status })))).toBe(
        `status ${status} is not a usable result`
      );
    }
    expect(reason(normaliseObservation({ resourceType: 'Patient' } as unknown as Observation))).toBe(
      'not an Observation'
    );
  });

  test('source: device, else meta.source, else the record-key source label, else unknown', () => {
    const fromMeta = obs({ metric: 'steps', value: 1 });
    fromMeta.meta = { source: 'https://ehr.example/app' };
    expect(measurement(normaliseObservation(fromMeta)).source).toBe('meta:https://ehr.example/app');
    const fromKey = obs({ metric: 'steps', value: 1 });
    fromKey.identifier = [{ system: RECORD_KEY_SYSTEM, value: 'pmdata-fitbit/p01/steps/2026-03-01' }];
    expect(measurement(normaliseObservation(fromKey))).toMatchObject({
      source: 'record-key:pmdata-fitbit',
      sourceId: `${RECORD_KEY_SYSTEM}|pmdata-fitbit/p01/steps/2026-03-01`,
    });
    expect(measurement(normaliseObservation(obs({ metric: 'steps', value: 1 }))).source).toBe('unknown');
  });
});

/** An Observation exactly as a HealthKit / Health Connect bridge or an EHR flowsheet sends it. */
function sent(code: string, display: string, quantity: Observation['valueQuantity'], time: string): Observation {
  return {
    resourceType: 'Observation',
    id: `sent-${code}`,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code, display }] },
    subject: { reference: `Patient/${PATIENT}` },
    effectiveDateTime: time,
    valueQuantity: quantity,
  };
}

describe('standard codes and units as real systems send them', () => {
  const UCUM = 'http://unitsofmeasure.org';
  test('each LOINC code of the core wearable metrics is recognised, alone', () => {
    const cases: [string, string, Observation['valueQuantity'], string, number][] = [
      [
        '40443-4',
        'Heart rate --resting',
        { value: 58, unit: 'beats/minute', system: UCUM, code: '/min' },
        'resting-heart-rate',
        58,
      ],
      [
        '80404-7',
        'R-R interval.standard deviation (Heart rate variability)',
        { value: 48.2, unit: 'ms', system: UCUM, code: 'ms' },
        'hrv-sdnn',
        48.2,
      ],
      ['93832-4', 'Sleep duration', { value: 7.5, unit: 'h', system: UCUM, code: 'h' }, 'sleep-duration', 7.5],
      ['93832-4', 'Sleep duration', { value: 450, unit: 'min', system: UCUM, code: 'min' }, 'sleep-duration', 7.5],
      [
        '41950-7',
        'Number of steps in 24 hour Measured',
        { value: 7267, unit: '/d', system: UCUM, code: '/d' },
        'steps',
        7267,
      ],
      [
        '55423-8',
        'Number of steps in unspecified time Pedometer',
        { value: 812, unit: 'steps', system: UCUM, code: 'steps' },
        'steps',
        812,
      ],
      [
        '55423-8',
        'Number of steps in unspecified time Pedometer',
        { value: 812, unit: 'steps', system: UCUM, code: '{steps}' },
        'steps',
        812,
      ],
      [
        '59408-5',
        'Oxygen saturation in Arterial blood by Pulse oximetry',
        { value: 97, unit: '%', system: UCUM, code: '%' },
        'oxygen-saturation',
        97,
      ],
    ];
    for (const [code, display, quantity, metric, value] of cases) {
      const m = measurement(normaliseObservation(sent(code, display, quantity, '2026-03-05T07:00:00+09:00')));
      expect({ code, metric: m.metric, value: m.value }).toEqual({ code, metric, value });
    }
  });

  test('a valueQuantity with only a unit text: known texts are mapped, the rest refused with the unit named', () => {
    for (const unit of ['beats/minute', 'bpm', 'beats/min', '/min']) {
      const o = sent('40443-4', 'Heart rate --resting', { value: 61, unit }, '2026-03-05');
      expect({ unit, value: measurement(normaliseObservation(o)).value }).toEqual({ unit, value: 61 });
    }
    const odd = normaliseObservation(
      sent('40443-4', 'Heart rate --resting', { value: 61, unit: 'pulses' }, '2026-03-05')
    );
    expect(odd).toEqual({
      kind: 'rejected',
      reason: 'resting-heart-rate: unknown unit',
      code: 'http://loinc.org|40443-4',
      unit: 'pulses',
    });
    const wrong = normaliseObservation(
      sent('93832-4', 'Sleep duration', { value: 7, unit: 'kg', system: UCUM, code: 'kg' }, '2026-03-05')
    );
    expect(wrong).toMatchObject({ reason: 'sleep-duration: unit cannot be converted to h', unit: 'kg' });
    const unknownCode = normaliseObservation(
      sent('8480-6', 'Systolic blood pressure', { value: 120, unit: 'mm[Hg]' }, '2026-03-05')
    );
    expect(unknownCode).toEqual({
      kind: 'rejected',
      reason: 'code is not a catalogue metric',
      code: 'http://loinc.org|8480-6',
    });
  });

  test("the day is the patient's local day: the recorded offset, else the configured time zone", () => {
    const day = (time: string, timeZone?: string): string =>
      new Date(
        measurement(
          normaliseObservation(sent('40443-4', 'Heart rate --resting', { value: 55, unit: 'bpm' }, time), { timeZone })
        ).day * 86_400_000
      )
        .toISOString()
        .slice(0, 10);
    // 07:00 in Tokyo is 22:00 UTC the day before; an evening in New York is the next UTC day.
    expect(day('2026-03-05T07:00:00+09:00')).toBe('2026-03-05');
    expect(day('2026-03-05T21:30:00-05:00')).toBe('2026-03-05');
    // A UTC time says nothing about where the patient was: the configured zone decides (default UTC).
    expect(day('2026-03-05T22:00:00Z')).toBe('2026-03-05');
    expect(day('2026-03-05T22:00:00Z', 'Asia/Tokyo')).toBe('2026-03-06');
    expect(day('2026-03-06T02:30:00Z', 'America/New_York')).toBe('2026-03-05');
    expect(day('2026-03-05T22:00:00+00:00', 'Asia/Tokyo')).toBe('2026-03-05');
  });
});

describe('dedupe', () => {
  const m = (o: Observation): Measurement => measurement(normaliseObservation(o));

  test('same patient, metric, time and source is one measurement; another source or time is another', () => {
    const a = m(obs({ metric: 'resting-heart-rate', value: 50, id: 'a', device: 'Device/1' }));
    const b = m(obs({ metric: 'resting-heart-rate', value: 50, id: 'b', device: 'Device/1' }));
    const otherDevice = m(obs({ metric: 'resting-heart-rate', value: 51, id: 'c', device: 'Device/2' }));
    const otherTime = m(obs({ metric: 'resting-heart-rate', value: 52, id: 'd', device: 'Device/1', day: 1 }));
    expect(measurementKey(PATIENT, a)).toBe(measurementKey(PATIENT, b));
    const result = dedupeMeasurements(PATIENT, [a, b, otherDevice, otherTime]);
    expect(result.kept).toHaveLength(3);
    expect(result.duplicates).toBe(1);
  });

  test('the newer copy wins, whatever the order (lastUpdated, then numeric versionId)', () => {
    const old = m(obs({ metric: 'steps', value: 1000, id: 'a', device: 'Device/1', versionId: '2' }));
    const newer = m(obs({ metric: 'steps', value: 1200, id: 'b', device: 'Device/1', versionId: '10' }));
    expect(dedupeMeasurements(PATIENT, [old, newer]).kept[0].value).toBe(1200);
    expect(dedupeMeasurements(PATIENT, [newer, old]).kept[0].value).toBe(1200);
    const stamped = m(
      obs({ metric: 'steps', value: 900, id: 'c', device: 'Device/1', lastUpdated: '2026-03-02T00:00:00Z' })
    );
    expect(dedupeMeasurements(PATIENT, [newer, stamped, old]).kept[0].value).toBe(900);
  });
});
