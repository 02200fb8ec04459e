import type { MetricName } from '../fhir/metricCatalogue';
import { DEFAULT_DETECTOR_OPTIONS, scoreSubject, type DetectorName } from './causalScorer';
import { readDetectionInput, type SubjectSeries } from './detectionInput';
import { evaluateDetection } from './detectionEvaluation';

/** Deterministic noise (LCG) so the tests do not depend on Math.random. */
function noise(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
}

function series(
  days: number,
  metrics: Partial<Record<MetricName, (day: number, r: () => number) => number | undefined>>
): SubjectSeries {
  const r = noise(42);
  const values = new Map<number, Map<MetricName, number>>();
  const dayLabels = new Map<number, string>();
  for (let d = 0; d < days; d++) {
    for (const [metric, f] of Object.entries(metrics) as [
      MetricName,
      (day: number, r: () => number) => number | undefined,
    ][]) {
      const v = f(d, r);
      if (v === undefined) {
        continue;
      }
      const day = values.get(d) ?? new Map<MetricName, number>();
      day.set(metric, v);
      values.set(d, day);
      dayLabels.set(d, String(d));
    }
  }
  return { subjectId: 's1', dayLabels, values };
}

const illness = (onset: number) => ({
  'resting-heart-rate': (d: number, r: () => number) => 55 + 2 * r() + (d >= onset - 3 && d < onset + 7 ? 9 : 0),
  'hrv-rmssd': (d: number, r: () => number) => 60 + 6 * r() - (d >= onset - 3 && d < onset + 7 ? 20 : 0),
});

describe('statistical detectors', () => {
  test.each<DetectorName>(['ensemble', 'zscore', 'cusum'])(
    '%s is causal: appending future days never changes past scores',
    (detector) => {
      const full = scoreSubject(series(120, illness(80)), detector);
      const cut = scoreSubject(series(70, illness(80)), detector);
      expect(full.slice(0, cut.length)).toEqual(cut);
    }
  );

  test('an illness-like rise in resting HR and fall in HRV raises one alarm episode around onset', () => {
    const scores = scoreSubject(series(120, illness(80)), 'ensemble');
    const alarmDays = scores.filter((s) => s.alarm).map((s) => s.day);
    expect(alarmDays.length).toBeGreaterThan(0);
    expect(Math.min(...alarmDays)).toBeGreaterThanOrEqual(73);
    expect(Math.min(...alarmDays)).toBeLessThanOrEqual(80);
    // one episode: consecutive days
    expect(alarmDays.every((d, i) => i === 0 || d === alarmDays[i - 1] + 1)).toBe(true);
    expect(scores.find((s) => s.alarm)?.reason).toMatch(/resting-heart-rate .*above personal baseline/);
    expect(scores.filter((s) => s.day < 70).some((s) => s.alarm)).toBe(false);
  });

  test('works with a single metric and with gaps', () => {
    const gappy = series(120, {
      'resting-heart-rate': (d, r) =>
        d % 5 === 0 || (d > 40 && d < 55) ? undefined : 55 + 2 * r() + (d >= 90 && d < 97 ? 10 : 0),
    });
    const scores = scoreSubject(gappy, 'ensemble');
    expect(scores.every((s) => gappy.values.has(s.day))).toBe(true);
    expect(scores.some((s) => s.alarm && s.day >= 88 && s.day <= 97)).toBe(true);
  });

  test('a sustained level shift ends the alarm after maxEpisodeDays but stays flagged as a pending shift, never as recovered', () => {
    const shifted = series(150, { 'resting-heart-rate': (d, r) => 55 + 2 * r() + (d >= 60 ? 8 : 0) });
    const scores = scoreSubject(shifted, 'ensemble');
    const alarmDays = scores.filter((s) => s.alarm).map((s) => s.day);
    expect(alarmDays.length).toBeGreaterThan(0); // the shift is seen...
    expect(alarmDays.length).toBeLessThanOrEqual(22); // ...the alarm ends at the episode limit...
    expect(scores.filter((s) => s.day >= 100).some((s) => s.alarm)).toBe(false);
    // ...and every later day says the shift is pending (still away from the earlier baseline), for a clinician.
    const after = scores.filter((s) => s.day > Math.max(...alarmDays));
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((s) => s.shiftSince === Math.min(...alarmDays))).toBe(true);
  });

  test('a pending shift resolves once the values are back within the earlier baseline', () => {
    const long = series(150, { 'resting-heart-rate': (d, r) => 55 + 2 * r() + (d >= 60 && d < 100 ? 8 : 0) });
    const scores = scoreSubject(long, 'ensemble');
    expect(scores.some((s) => s.shiftSince !== undefined && s.day < 100)).toBe(true);
    expect(scores.filter((s) => s.day >= 110).some((s) => s.shiftSince !== undefined)).toBe(false);
  });

  test('no stuck CUSUM: a spot metric that loses its baseline does not raise repeated alarms at a frozen score', () => {
    // Resting HR every day; spot heart rate daily for 40 days with a 6-day rise at the end, then only every 12th day
    // at its old level: its 28-day window soon holds fewer than 7 values, so it cannot be scored.
    const spot = series(200, {
      'resting-heart-rate': (_d, r) => 55 + 2 * r(),
      'heart-rate': (d, r) => (d < 40 ? 72 + 2 * r() + (d >= 34 ? 15 : 0) : d % 12 === 0 ? 72 + 2 * r() : undefined),
    });
    const scores = scoreSubject(spot, 'ensemble');
    // After the rise, alarms end once the person is quiet; no alarm in the two months that follow.
    expect(scores.filter((s) => s.day >= 80).some((s) => s.alarm)).toBe(false);
    const cusum = scoreSubject(spot, 'cusum');
    expect(cusum.filter((s) => s.day >= 80).every((s) => s.score < 1)).toBe(true);
  });

  test('sparse mode: a few spot readings are scored against a baseline widened by the population prior', () => {
    // Resting HR on 4 days in three weeks, then a reading 12 bpm up: too few days for the dense mode to score.
    const sparse = series(30, {
      'resting-heart-rate': (d) =>
        d === 0 ? 56 : d === 6 ? 57 : d === 13 ? 55 : d === 20 ? 56 : d === 27 ? 68 : undefined,
    });
    expect(scoreSubject(sparse, 'zscore').every((s) => s.score === 0)).toBe(true);
    const options = { ...DEFAULT_DETECTOR_OPTIONS, windowDays: 90, minBaselineDays: 3 };
    const own = scoreSubject(sparse, 'zscore', options).at(-1)?.score ?? 0;
    const pooled = scoreSubject(sparse, 'zscore', { ...options, priorSpreadDays: 7 }).at(-1)?.score ?? 0;
    expect(pooled).toBeGreaterThan(0);
    // Four readings alone give a spread near the floor and an overconfident z; the prior tempers it.
    expect(pooled).toBeLessThan(own);
  });

  test('long CSV input: ISO or integer days, unknown metrics named, bad rows with their line', () => {
    const input = readDetectionInput(
      'subject_id,day,metric,value\na,2026-01-01,resting-heart-rate,55\na,2026-01-01,resting-heart-rate,57\na,2026-01-02,colour,3\nb,x,steps,10\nb,3,steps,\n'
    );
    expect(input.subjects).toHaveLength(1);
    expect([...input.subjects[0].values.values()][0].get('resting-heart-rate')).toBe(56);
    expect(input.unknownMetrics).toEqual(['colour']);
    expect(input.rejectedRows.map((r) => r.line)).toEqual([5, 6]);
  });
});

describe('evaluation arithmetic', () => {
  test('detections, lead time, false alarms and precision on a hand-made case', () => {
    const alarm = (day: number, on: boolean) => ({ subjectId: 'a', day, alarm: on });
    // 100 scored days; event at 50; alarms on 45-47 (true, lead 5) and 10-11 (false) and 90 (false).
    const alarms = Array.from({ length: 100 }, (_, d) =>
      alarm(d, (d >= 45 && d <= 47) || d === 10 || d === 11 || d === 90)
    );
    const f = evaluateDetection(
      alarms,
      [{ subjectId: 'a', day: 50, event: 'illness_symptoms' }],
      new Set(['illness_symptoms'])
    );
    expect(f).toMatchObject({
      events: 1,
      detectedBeforeOnset: 1,
      detectedWithin: 1,
      medianLeadDays: 5,
      trueEpisodes: 1,
      falseEpisodes: 2,
    });
    // event-free days: 100 minus the 29 days of [43, 71]
    expect(f.eventFreeDays).toBe(71);
    expect(f.falseAlarmsPer30Days).toBeCloseTo(60 / 71);
    expect(f.precision).toBeCloseTo(1 / 3);
  });
});
