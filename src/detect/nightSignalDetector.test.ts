import type { MetricName } from '../fhir/metricCatalogue';
import type { SubjectSeries } from './detectionInput';
import { scoreNightSignal } from './nightSignalDetector';

function person(rhr: readonly (number | undefined)[]): SubjectSeries {
  const values = new Map<number, Map<MetricName, number>>();
  rhr.forEach((v, day) => v !== undefined && values.set(day, new Map<MetricName, number>([['resting-heart-rate', v]])));
  return { subjectId: 'p', values, dayLabels: new Map([...values.keys()].map((d) => [d, String(d)])) };
}

const steady = Array.from({ length: 20 }, (_, i) => 55 + (i % 3) - 1); // median 55

describe('NightSignal-style resting HR rule', () => {
  test('two consecutive nights >= 4 bpm over the running median raise an alarm on the second night', () => {
    const scores = scoreNightSignal(person([...steady, 60, 61]));
    expect(scores.at(-2)?.alarm).toBe(false);
    expect(scores.at(-1)).toMatchObject({
      alarm: true,
      score: 5,
      reason: 'resting-heart-rate above personal baseline',
    });
  });

  test('one high night, a gap between high nights, or an excess under 4 bpm raise nothing', () => {
    expect(scoreNightSignal(person([...steady, 62, 55])).some((s) => s.alarm)).toBe(false);
    expect(scoreNightSignal(person([...steady, 62, undefined, 62])).some((s) => s.alarm)).toBe(false);
    expect(scoreNightSignal(person([...steady, 58, 58])).some((s) => s.alarm)).toBe(false);
  });

  test('no alarm before 7 baseline nights', () => {
    expect(scoreNightSignal(person([55, 55, 55, 55, 55, 55, 70, 70])).some((s) => s.alarm)).toBe(false);
  });
});
