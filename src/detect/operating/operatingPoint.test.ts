import type { DetectionFigures } from '../detectionEvaluation';
import { chooseThreshold, storedThreshold, thresholdGrid, type SweepPoint } from './operatingPoint';

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
