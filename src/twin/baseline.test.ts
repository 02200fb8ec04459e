import { blendBaseline, medianAbsoluteDeviation, priorWeight, SortedWindow } from './baseline';
import { computeTwin, DEFAULT_TWIN_OPTIONS } from './computeTwin';
import { ExclusionCalendar } from './excludedDays';
import { POPULATION_PRIORS } from './populationPriors';
import { componentValue, dailyObservations, dayOf, PATIENT } from '../../test/twin.fixtures';

function windowOf(values: number[]): SortedWindow {
  const w = new SortedWindow();
  values.forEach((v) => w.insert(v));
  return w;
}

describe('robust statistics', () => {
  test('median and 1.4826 x MAD of a sorted window, odd and even sizes, after removals', () => {
    const w = windowOf([5, 1, 9, 3, 7]);
    expect(w.robust()).toEqual({ median: 5, sd: 1.4826 * 2 });
    w.insert(100); // 1 3 5 7 9 100: median 6, deviations 5 3 1 1 3 94 -> MAD 3
    expect(w.robust()).toEqual({ median: 6, sd: 1.4826 * 3 });
    w.remove(100);
    w.remove(1);
    expect(w.robust()?.median).toBe(6);
    expect(medianAbsoluteDeviation([2, 2, 2, 2], 2)).toBe(0);
    expect(() => w.remove(42)).toThrow();
  });

  test('prior weight is 1 with no data, decreasing, and 0 from N_min on', () => {
    const weights = [0, 1, 3, 7, 13, 14, 28].map((n) => priorWeight(n, DEFAULT_TWIN_OPTIONS));
    expect(weights[0]).toBe(1);
    for (let i = 1; i < weights.length; i++) {
      expect(weights[i]).toBeLessThanOrEqual(weights[i - 1]);
    }
    expect(weights[4]).toBeGreaterThan(0);
    expect(weights[5]).toBe(0);
    expect(weights[6]).toBe(0);
  });

  test('a flat series gets the spread floor, not zero', () => {
    const b = blendBaseline(windowOf(new Array<number>(28).fill(3)), POPULATION_PRIORS.mood, 0.5, DEFAULT_TWIN_OPTIONS);
    expect(b?.centre).toBe(3);
    expect(b?.spread).toBeGreaterThanOrEqual(0.5);
  });

  test('a vague prior gives no baseline without personal data, and does not move the personal centre', () => {
    expect(blendBaseline(new SortedWindow(), POPULATION_PRIORS.glucose, 3, DEFAULT_TWIN_OPTIONS)).toBeUndefined();
    const b = blendBaseline(windowOf([90, 95, 100]), POPULATION_PRIORS.glucose, 3, DEFAULT_TWIN_OPTIONS);
    expect(b?.centre).toBe(95);
    expect(b?.spread).toBeGreaterThan(20);
  });

  test('exclusion calendar merges overlapping periods and answers membership', () => {
    const cal = new ExclusionCalendar([
      { start: '2026-03-10', end: '2026-03-12', reason: 'post-injury' },
      { start: '2026-03-12', end: '2026-03-15', reason: 'flagged-abnormal' },
      { start: '2026-04-01', end: '2026-04-01', reason: 'flagged-abnormal' },
    ]);
    expect(cal.size).toBe(2);
    const day = (iso: string): number => Date.parse(`${iso}T00:00:00Z`) / 86_400_000;
    expect(cal.has(day('2026-03-09'))).toBe(false);
    expect(cal.has(day('2026-03-10'))).toBe(true);
    expect(cal.has(day('2026-03-15'))).toBe(true);
    expect(cal.has(day('2026-03-16'))).toBe(false);
    expect(cal.has(day('2026-04-01'))).toBe(true);
  });
});

describe('baselines in computeTwin', () => {
  const baselineOf = (observations: Parameters<typeof computeTwin>[0]['observations'], extra = {}) =>
    computeTwin({ patientId: PATIENT, observations, ...extra }).baselines.find((b) =>
      b.identifier?.[0].value?.endsWith('/resting-heart-rate')
    );

  test('excluded post-injury days do not shift the baseline', () => {
    const normal = dailyObservations('resting-heart-rate', 0, 30, 55, 2);
    const injured = dailyObservations('resting-heart-rate', 30, 10, 70, 2);
    const after = dailyObservations('resting-heart-rate', 40, 1, 55, 2);
    const excludedPeriods = [{ start: dayOf(30), end: dayOf(39), reason: 'post-injury' as const }];
    const withExclusion = baselineOf([...normal, ...injured, ...after], { excludedPeriods });
    const withoutInjuryData = baselineOf([...normal, ...after]);
    const notExcluded = baselineOf([...normal, ...injured, ...after]);
    expect(withExclusion).toEqual(withoutInjuryData);
    expect(Math.abs((withExclusion?.valueQuantity?.value ?? 0) - 55)).toBeLessThan(2);
    expect(notExcluded?.valueQuantity?.value).toBeGreaterThan((withExclusion?.valueQuantity?.value ?? 0) + 1);
  });

  test('with few days the prior is blended in and the band is wider', () => {
    const few = baselineOf(dailyObservations('resting-heart-rate', 0, 4, 50, 1));
    const many = baselineOf(dailyObservations('resting-heart-rate', 0, 29, 50, 1));
    const weight = (o: typeof few): number | undefined => componentValue(o!, 'baseline-prior-weight');
    const spread = (o: typeof few): number | undefined => componentValue(o!, 'baseline-spread');
    expect(componentValue(few!, 'baseline-sample-count')).toBe(3);
    expect(weight(few)).toBeGreaterThan(0);
    expect(weight(many)).toBe(0);
    // The centre moves toward the population prior (62/min) but not all the way.
    const centre = few?.valueQuantity?.value ?? 0;
    expect(centre).toBeGreaterThan(51);
    expect(centre).toBeLessThan(62);
    expect(spread(few)).toBeGreaterThan(2 * (spread(many) ?? Infinity));
    const band = (o: typeof few): number =>
      (o?.referenceRange?.[0].high?.value ?? 0) - (o?.referenceRange?.[0].low?.value ?? 0);
    expect(band(few)).toBeGreaterThan(band(many));
  });

  test('baseline of a metric seen only on the as-of day is the prior alone', () => {
    const b = baselineOf(dailyObservations('resting-heart-rate', 5, 1, 50, 0));
    expect(b?.valueQuantity?.value).toBe(POPULATION_PRIORS['resting-heart-rate'].centre);
    expect(componentValue(b!, 'baseline-prior-weight')).toBe(1);
    expect(componentValue(b!, 'baseline-sample-count')).toBe(0);
  });
});
