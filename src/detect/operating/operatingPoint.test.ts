import { readFileSync } from 'node:fs';
import type { MetricName } from '../../fhir/metricCatalogue';
import { DEFAULT_DETECTOR_OPTIONS } from '../causalScorer';
import type { DetectionFigures } from '../detectionEvaluation';
import { scoreAtThreshold } from './budgetScoring';
import {
  BUDGETED_DETECTORS,
  chooseThreshold,
  DEFAULT_OPERATING_POINTS_FILE,
  storedThreshold,
  thresholdGrid,
  type OperatingPointsFile,
  type SweepPoint,
} from './operatingPoint';

const point = (threshold: number, fa: number): SweepPoint => ({
  threshold,
  figures: { falseAlarmsPer30Days: fa } as DetectionFigures,
});

describe('operating points by false-alarm budget', () => {
  test('lowest threshold within budget on every set, at it and every higher one', () => {
    const a = [point(2, 1.2), point(3, 0.3), point(4, 0.5), point(5, 0.2), point(6, 0.1)];
    const b = [point(2, 0.9), point(3, 0.2), point(4, 0.2), point(5, 0.3), point(6, 0.1)];
    // At 3 set a is within 0.35 but at 4 it is not: a dip, not an operating point.
    expect(chooseThreshold([a, b], 0.35)).toBe(5);
    expect(chooseThreshold([a, b], 0.5)).toBe(3);
    expect(chooseThreshold([a], 0.05)).toBeUndefined();
  });

  test('refuses a non-positive budget and sets swept on different grids', () => {
    expect(() => chooseThreshold([[point(2, 0)]], 0)).toThrow(RangeError);
    expect(() => chooseThreshold([[point(2, 0)], [point(3, 0)]], 0.5)).toThrow(RangeError);
  });

  test('grids rise, and a stored point is found by its budget key', () => {
    const grid = thresholdGrid('ensemble');
    expect(grid.every((t, i) => i === 0 || t > grid[i - 1])).toBe(true);
    const file = {
      description: '',
      budgetUnit: '',
      command: '',
      tunedOn: [],
      modes: { dense: { ensemble: { '0.35': 6.5, '0.5': null } } },
    };
    expect(storedThreshold(file, 'dense', 'ensemble', 0.35)).toBe(6.5);
    expect(() => storedThreshold(file, 'dense', 'ensemble', 0.5)).toThrow(/met no budget/);
    expect(() => storedThreshold(file, 'dense', 'zscore', 0.35)).toThrow(/tune-detect/);
  });
});

describe('shipped operating points and budget scoring', () => {
  test('every detector has a dense operating point at both budgets; the statistical ones a sparse one too', () => {
    const file = JSON.parse(readFileSync(DEFAULT_OPERATING_POINTS_FILE(), 'utf8')) as OperatingPointsFile;
    for (const detector of BUDGETED_DETECTORS) {
      for (const budget of [0.35, 0.5]) {
        expect(storedThreshold(file, 'dense', detector, budget)).toBeGreaterThan(0);
        if (!detector.includes('lstm')) {
          expect(storedThreshold(file, 'sparse', detector, budget)).toBeGreaterThan(0);
        }
      }
      // A smaller budget never has a lower threshold.
      expect(storedThreshold(file, 'dense', detector, 0.35)).toBeGreaterThanOrEqual(
        storedThreshold(file, 'dense', detector, 0.5)
      );
    }
  });

  test('a higher threshold never alarms on more days; ensemble+lstm alarms when either does', () => {
    const values = new Map<number, Map<MetricName, number>>();
    for (let d = 0; d < 60; d++) {
      values.set(d, new Map([['resting-heart-rate', 55 + ((d * 7) % 5) - 2 + (d >= 40 && d < 45 ? 12 : 0)]]));
    }
    const subject = { subjectId: 's', dayLabels: new Map(), values };
    const alarmDays = (t: number): number =>
      scoreAtThreshold('ensemble', t, [subject], DEFAULT_DETECTOR_OPTIONS)[0].filter((s) => s.alarm).length;
    expect(alarmDays(4)).toBeGreaterThan(0);
    expect(alarmDays(8)).toBeLessThanOrEqual(alarmDays(4));
    // LSTM errors that alarm on days 10-12 only (a spike in an otherwise flat error).
    const errors = [...values.keys()].map((day) => ({ day, error: day >= 10 && day < 13 ? 5 : 0.1, reason: '' }));
    const union = scoreAtThreshold('ensemble+lstm', 1, [subject], DEFAULT_DETECTOR_OPTIONS, [errors])[0];
    const ensemble = scoreAtThreshold('ensemble', 4, [subject], DEFAULT_DETECTOR_OPTIONS)[0];
    const lstm = scoreAtThreshold('lstm', 2.5, [subject], DEFAULT_DETECTOR_OPTIONS, [errors])[0];
    expect(lstm.some((s) => s.alarm)).toBe(true);
    union.forEach((u, i) => expect(u.alarm).toBe(ensemble[i].alarm || lstm[i].alarm));
  });
});
