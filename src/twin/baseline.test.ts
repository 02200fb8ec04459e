import { medianAbsoluteDeviation, personalBaseline, priorWeight, SortedWindow } from './baseline';
import { METRICS } from '../fhir/metricCatalogue';
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
    const b = personalBaseline(
      windowOf(new Array<number>(28).fill(3)),
      POPULATION_PRIORS.mood,
      0.5,
      DEFAULT_TWIN_OPTIONS,
      METRICS.mood
    );
    expect(b).toMatchObject({ kind: 'baseline', centre: 3 });
    expect(b.kind === 'baseline' && b.spread).toBeGreaterThanOrEqual(0.5);
  });

  // Issue 11: a population prior alone is never published as the patient's baseline.
  test('too few personal days is "not enough data", never the population prior', () => {
    const none = personalBaseline(
      new SortedWindow(),
      POPULATION_PRIORS['resting-heart-rate'],
      1,
      DEFAULT_TWIN_OPTIONS,
      {
        min: 25,
        max: 140,
      }
    );
    expect(none).toMatchObject({ kind: 'not-enough-data', n: 0 });
    const six = personalBaseline(
      windowOf([50, 51, 52, 50, 49, 51]),
      POPULATION_PRIORS['resting-heart-rate'],
      1,
      DEFAULT_TWIN_OPTIONS,
      {
        min: 25,
        max: 140,
      }
    );
    expect(six.kind).toBe('not-enough-data');
    expect(six.kind === 'not-enough-data' && six.reason).toMatch(/^not enough data: 6 personal day/);
  });

  // Issue 11: weight bands of -160 to 297 kg, pain bands of -4.9 to 5.9, 1-5 scales at -0.1 to 6.1.
  test("the band uses the person's own spread and stays inside the plausible range", () => {
    const weight = personalBaseline(
      windowOf([80.1, 80.4, 79.8, 80.0, 80.6, 80.2, 79.9, 80.3]),
      POPULATION_PRIORS['body-weight'],
      0.2,
      DEFAULT_TWIN_OPTIONS,
      METRICS['body-weight']
    );
    expect(weight.kind).toBe('baseline');
    if (weight.kind === 'baseline') {
      expect(weight.centre).toBeCloseTo(80.15, 5);
      expect(weight.low).toBeGreaterThan(78);
      expect(weight.high).toBeLessThan(82);
    }
    const pain = personalBaseline(
      windowOf([0, 0, 0, 1, 0, 0, 0, 0, 2, 0]),
      POPULATION_PRIORS['pain-severity'],
      0.5,
      DEFAULT_TWIN_OPTIONS,
      METRICS['pain-severity']
    );
    expect(pain).toMatchObject({ kind: 'baseline', centre: 0, low: 0 });
    expect(pain.kind === 'baseline' && pain.high).toBeLessThanOrEqual(2);
    // A 1-5 scale reported as 3 on 25 days: the band is 2 to 4, a 1 or a 5 leaves it.
    const mood = personalBaseline(
      windowOf(new Array<number>(25).fill(3)),
      POPULATION_PRIORS.mood,
      0.5,
      DEFAULT_TWIN_OPTIONS,
      METRICS.mood
    );
    expect(mood.kind).toBe('baseline');
    if (mood.kind === 'baseline') {
      expect(mood.low).toBeGreaterThan(1.9);
      expect(mood.low).toBeLessThan(2.1);
      expect(mood.high).toBeGreaterThan(3.9);
      expect(mood.high).toBeLessThan(4.1);
    }
  });

  test('a band that would cover the whole scale is "not enough data", not a band no value can leave', () => {
    const scattered = personalBaseline(
      windowOf([1, 5, 1, 5, 2, 4, 1, 5, 3, 5, 1, 4]),
      POPULATION_PRIORS.stress,
      0.5,
      DEFAULT_TWIN_OPTIONS,
      METRICS.stress
    );
    expect(scattered).toMatchObject({ kind: 'not-enough-data' });
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
    // The window of 7 usable days before 2026-03-20 reaches back over the 6 excluded days 10..15 March.
    expect(cal.windowStart(day('2026-03-20'), 7)).toBe(day('2026-03-07'));
    expect(cal.windowStart(day('2026-03-10'), 7)).toBe(day('2026-03-03'));
    expect(new ExclusionCalendar([]).windowStart(100, 28)).toBe(72);
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
    // Same centre as if the injured days had never been recorded; the window reaches further back over the excluded
    // days (28 usable days), so it holds more of the normal days than the calendar window without them.
    expect(
      Math.abs((withExclusion?.valueQuantity?.value ?? 0) - (withoutInjuryData?.valueQuantity?.value ?? 0))
    ).toBeLessThan(1);
    expect(componentValue(withExclusion!, 'baseline-sample-count')).toBe(28);
    expect(JSON.stringify(withExclusion?.derivedFrom)).not.toMatch(/resting-heart-rate-3\d"/);
    expect(Math.abs((withExclusion?.valueQuantity?.value ?? 0) - 55)).toBeLessThan(2);
    expect(notExcluded?.valueQuantity?.value).toBeGreaterThan((withExclusion?.valueQuantity?.value ?? 0) + 1);
  });

  // Issue 11: the centre is the person's own median; the population only shrinks the day-to-day spread while the
  // person has few days, and its between-person spread never widens the band.
  // During and after an injury the baseline is the person's pre-injury normal: the window reaches back over the
  // excluded weeks instead of running dry (and never falls back on a population prior).
  test('an excluded period longer than the window keeps the pre-injury baseline in force', () => {
    const normal = dailyObservations('resting-heart-rate', 0, 30, 55, 2);
    const injured = dailyObservations('resting-heart-rate', 30, 35, 70, 2);
    const excludedPeriods = [{ start: dayOf(30), end: dayOf(57), reason: 'post-injury' as const }];
    const result = computeTwin({ patientId: PATIENT, observations: [...normal, ...injured], excludedPeriods });
    // Every day of the excluded period has a state, judged against the pre-injury baseline.
    const inPeriod = result.states.filter(
      (s) => s.effectiveDateTime! >= dayOf(30) && s.effectiveDateTime! <= dayOf(57)
    );
    expect(inPeriod).toHaveLength(28);
    const late = result.baselinesInForce.filter(
      (b) => (b.identifier?.[0].value ?? '') > `baseline/${PATIENT}/resting-heart-rate/${dayOf(50)}`
    );
    expect(late.length).toBeGreaterThan(0);
    for (const b of late) {
      expect(Math.abs((b.valueQuantity?.value ?? 0) - 55)).toBeLessThan(2);
      // Its window reached back over the excluded days: it ends before the injury.
      const end = b.effectivePeriod?.end ?? '';
      expect(end < dayOf(30) || end > dayOf(57)).toBe(true);
    }
  });

  test('with few days there is no band; with some, the centre is personal and only the spread is shrunk', () => {
    const few = baselineOf(dailyObservations('resting-heart-rate', 0, 4, 50, 1));
    const some = baselineOf(dailyObservations('resting-heart-rate', 0, 10, 50, 1));
    const many = baselineOf(dailyObservations('resting-heart-rate', 0, 29, 50, 1));
    const weight = (o: typeof few): number | undefined => componentValue(o!, 'baseline-prior-weight');
    const spread = (o: typeof few): number | undefined => componentValue(o!, 'baseline-spread');
    expect(componentValue(few!, 'baseline-sample-count')).toBe(3);
    expect(few?.valueQuantity).toBeUndefined();
    expect(few?.referenceRange).toBeUndefined();
    expect(few?.dataAbsentReason?.text).toMatch(/^not enough data: 3 personal day/);
    expect(weight(some)).toBeGreaterThan(0);
    expect(weight(many)).toBe(0);
    const centre = some?.valueQuantity?.value ?? 0;
    expect(Math.abs(centre - 50)).toBeLessThan(1.5); // not pulled toward the population's 62/min
    expect(spread(some)).toBeGreaterThan(spread(many) ?? Infinity);
    const band = (o: typeof few): number =>
      (o?.referenceRange?.[0].high?.value ?? 0) - (o?.referenceRange?.[0].low?.value ?? 0);
    expect(band(some)).toBeGreaterThan(band(many));
    expect(band(some)).toBeLessThan(4 * 2 * POPULATION_PRIORS['resting-heart-rate'].within);
  });

  test('a metric seen only on the as-of day says "not enough data", never the prior', () => {
    const b = baselineOf(dailyObservations('resting-heart-rate', 5, 1, 50, 0));
    expect(b?.valueQuantity).toBeUndefined();
    expect(b?.dataAbsentReason?.coding?.[0].code).toBe('temp-unknown');
    expect(componentValue(b!, 'baseline-prior-weight')).toBeUndefined();
    expect(componentValue(b!, 'baseline-sample-count')).toBe(0);
  });

  test('effectivePeriod is the window actually used: first to last day with a value', () => {
    // Values on days 10..19 only; as of day 20 the 28-day window [day -8, day 19] used days 10..19.
    const b = baselineOf(dailyObservations('resting-heart-rate', 10, 11, 55, 2));
    expect(b?.effectivePeriod).toEqual({ start: dayOf(10), end: dayOf(19) });
    expect(b?.derivedFrom).toHaveLength(10);
    expect(b?.derivedFrom?.[0]).toEqual({ reference: 'Observation/resting-heart-rate-10' });
  });
});
