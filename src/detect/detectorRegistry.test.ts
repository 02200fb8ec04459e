import { isOperationOutcome, OperationOutcomeError } from '@medplum/core';
import fc from 'fast-check';
import type { MetricName } from '../fhir/metricCatalogue';
import type { SubjectSeries } from './detectionInput';
import { DEFAULT_DETECTOR_NAME, DETECTORS, detectorFor } from './detectorRegistry';

const METRICS: readonly MetricName[] = ['resting-heart-rate', 'hrv-rmssd', 'sleep-duration', 'steps'];

/** A random person: up to 90 days, some days missing, some metrics missing on a day; values in plausible ranges. */
const seriesArbitrary = fc
  .array(
    fc.record({
      present: fc.boolean(),
      rhr: fc.option(fc.integer({ min: 40, max: 90 }), { nil: undefined }),
      hrv: fc.option(fc.integer({ min: 15, max: 120 }), { nil: undefined }),
      sleep: fc.option(fc.double({ min: 3, max: 10, noNaN: true }), { nil: undefined }),
      steps: fc.option(fc.integer({ min: 500, max: 20000 }), { nil: undefined }),
    }),
    { minLength: 30, maxLength: 90 }
  )
  .map((days): SubjectSeries => {
    const values = new Map<number, Map<MetricName, number>>();
    const dayLabels = new Map<number, string>();
    days.forEach((d, i) => {
      if (!d.present && i % 3 !== 0) {
        return;
      }
      const m = new Map<MetricName, number>();
      const raw = [d.rhr, d.hrv, d.sleep, d.steps];
      raw.forEach((v, k) => v !== undefined && m.set(METRICS[k], v));
      if (m.size > 0) {
        values.set(i, m);
        dayLabels.set(i, String(i));
      }
    });
    return { subjectId: 's', values, dayLabels };
  });

function prefix(series: SubjectSeries, lastDay: number): SubjectSeries {
  return {
    subjectId: series.subjectId,
    values: new Map([...series.values].filter(([day]) => day <= lastDay)),
    dayLabels: new Map([...series.dayLabels].filter(([day]) => day <= lastDay)),
  };
}

describe('detector registry', () => {
  test('names are unique, the default is the ensemble, an unknown name is a bad request', () => {
    const names = DETECTORS.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    expect(DEFAULT_DETECTOR_NAME).toBe('ensemble');
    let caught: unknown;
    try {
      detectorFor('gan');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(OperationOutcomeError);
    const outcome = (caught as OperationOutcomeError).outcome;
    expect(isOperationOutcome(outcome) && outcome.issue[0].code).toBe('invalid');
  });

  // Causality (property): for every registered detector, the scores of days up to d are the same whether or not
  // later days exist. The learned detector runs fewer cases: each one is a round trip to its worker thread.
  test.each(DETECTORS.map((d) => [d.name]))(
    '%s is causal: appending future days never changes past scores',
    async (name) => {
      const opened = await detectorFor(name).open({ workers: 1 });
      try {
        await fc.assert(
          fc.asyncProperty(seriesArbitrary, fc.double({ min: 0.2, max: 0.9, noNaN: true }), async (series, frac) => {
            const days = [...series.values.keys()].sort((a, b) => a - b);
            const cut = days[Math.floor(days.length * frac)] ?? 0;
            const [full, head] = await opened.scoreAll([series, prefix(series, cut)]);
            const fullUpToCut = full.filter((s) => s.day <= cut);
            expect(head).toEqual(fullUpToCut);
          }),
          { numRuns: name === 'lstm' ? 8 : 40, seed: 20261202 }
        );
      } finally {
        await opened.close();
      }
    }
  );
});
