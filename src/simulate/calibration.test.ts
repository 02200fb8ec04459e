import { backtest, syntheticRecoveries, type PersonSeries } from './calibration';

describe('backtest', () => {
  test('scores the model and the last value carried forward on the same points', () => {
    const people = syntheticRecoveries(12, 99).slice(0, 3);
    expect(people.length).toBeGreaterThan(0);
    const scores = backtest(
      people,
      ['resting-heart-rate'],
      { horizon: 14, minHistory: 28, cutEvery: 14, trajectories: 500, seed: 1 },
      (p) => [(p.eventDay ?? 0) + 10]
    );
    const [rhr] = scores;
    expect(rhr.points).toBeGreaterThan(20);
    expect(rhr.coverage80).toBeGreaterThan(0.5);
    expect(rhr.coverage80).toBeLessThanOrEqual(1);
    expect(rhr.naiveAbsError).toBeGreaterThan(0);
    expect(rhr.meanWidth).toBeGreaterThan(0);
  });

  test('a flat series with small noise: tight, covering intervals and a small error', () => {
    const rhr = new Map<number, number>();
    for (let d = 0; d < 120; d++) {
      rhr.set(d, 55 + ((d * 7919) % 11) / 10 - 0.5);
    }
    const person: PersonSeries = {
      id: 'flat',
      series: { 'resting-heart-rate': rhr },
      load: new Map(),
      firstDay: 0,
      lastDay: 119,
    };
    const [score] = backtest([person], ['resting-heart-rate'], {
      horizon: 14,
      minHistory: 60,
      cutEvery: 20,
      trajectories: 500,
      seed: 2,
    });
    expect(score.coverage80).toBeGreaterThan(0.75);
    expect(score.medianAbsError).toBeLessThan(0.5);
    expect(score.meanWidth).toBeLessThan(3);
  });
});
