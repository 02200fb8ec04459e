import { createPrng } from '../cohort/prng';
import { loadProtocolLibrary } from '../protocols/protocolLibrary';
import { naiveTrajectories } from './naiveTrajectories';
import { fitPersonalModel, type SimulationHistory } from './personalFit';
import { runSimulation, type SimulationRequest } from './runSimulation';
import { buildSchedule, resolveScenarios } from './scenarioSchedule';
import { summarise } from './simulationSummary';
import { kernelSeed, runTrajectories } from './trajectoryKernel';

const library = loadProtocolLibrary();
const TODAY = 20_000;

/** 60 days of resting HR, HRV and readiness; an ankle sprain 10 days ago raised resting HR by 6 bpm, decaying (tau 12 d). */
function historyWithData(): SimulationHistory {
  const prng = createPrng(7, 'history');
  const days: number[] = [];
  const rhr: number[] = [];
  const hrv: number[] = [];
  const readiness: number[] = [];
  const load = { days: [] as number[], values: [] as number[] };
  const event = TODAY - 10;
  for (let d = TODAY - 60; d <= TODAY; d++) {
    const deficit = d >= event ? Math.exp(-(d - event) / 12) : 0;
    days.push(d);
    rhr.push(55 + 6 * deficit + prng.normal(0, 1.5));
    hrv.push(60 - 15 * deficit + prng.normal(0, 6));
    readiness.push(7 - 2.5 * deficit + prng.normal(0, 0.8));
    if (d < event && d % 7 !== 0 && d % 7 !== 3) {
      load.days.push(d);
      load.values.push(300 + prng.normal(0, 40));
    }
  }
  return {
    asOfDay: TODAY,
    series: {
      'resting-heart-rate': { days, values: rhr },
      'hrv-rmssd': { days, values: hrv },
      readiness: { days, values: readiness },
    },
    load,
    eventDay: event,
  };
}

/** A patient with no data at all, injured today. */
const NO_HISTORY: SimulationHistory = { asOfDay: TODAY, series: {}, load: { days: [], values: [] }, eventDay: TODAY };

function request(history: SimulationHistory, extra: Partial<SimulationRequest> = {}): SimulationRequest {
  return {
    history,
    scenarios: resolveScenarios([{ protocol: 'ankle-sprain', levers: {} }], library),
    horizon: 60,
    trajectories: 4000,
    seed: 11,
    ...extra,
  };
}

const width = (q10: readonly number[], q90: readonly number[], day: number): number => q90[day] - q10[day];

describe('runSimulation', () => {
  test('a patient with no history gets the population prior: much wider intervals than a patient with 60 days of data', () => {
    const none = runSimulation(request(NO_HISTORY)).results[0].summary;
    const known = runSimulation(request(historyWithData())).results[0].summary;
    const rhrNone = none.bands.find((b) => b.series === 'resting-heart-rate');
    const rhrKnown = known.bands.find((b) => b.series === 'resting-heart-rate');
    if (!rhrNone || !rhrKnown) {
      throw new Error('resting HR band missing');
    }
    // Population prior of resting HR: centre 62, between-person SD 11 bpm -> an 80% band of about 28 bpm or more.
    expect(width(rhrNone.q10, rhrNone.q90, 0)).toBeGreaterThan(25);
    expect(width(rhrKnown.q10, rhrKnown.q90, 0)).toBeLessThan(10);
    expect(width(rhrNone.q10, rhrNone.q90, 0)).toBeGreaterThan(3 * width(rhrKnown.q10, rhrKnown.q90, 0));
    // Day of return: without data, the 80% interval is wide and honest, not a point guess.
    const spread = (s: typeof none): number => (s.daysToBaseline.p90 ?? 61) - (s.daysToBaseline.p10 ?? 0);
    expect(spread(none)).toBeGreaterThan(25);
    expect(spread(none)).toBeGreaterThan(spread(known));
  });

  test('the same inputs and seed give the same outputs; another seed gives other draws', () => {
    const history = historyWithData();
    const a = runSimulation(request(history));
    const b = runSimulation(request(history));
    expect(b).toEqual(a);
    const c = runSimulation(request(history, { seed: 12 }));
    expect(c.results[0].summary.bands[0].q50).not.toEqual(a.results[0].summary.bands[0].q50);
  });

  test('training on through an illness week ranks worse than resting through it, with more setbacks', () => {
    const scenarios = resolveScenarios(
      [
        {
          protocol: 'ankle-sprain',
          label: 'rest while ill',
          levers: { illness: { startDay: 3, days: 7, loadFactor: 0 } },
        },
        {
          protocol: 'ankle-sprain',
          label: 'more load while ill',
          levers: { illness: { startDay: 3, days: 7, loadFactor: 1.5 } },
        },
      ],
      library
    );
    const outcome = runSimulation({ ...request(NO_HISTORY), scenarios });
    const [rest, load] = outcome.results;
    expect(load.rank).toBeGreaterThan(rest.rank);
    expect(load.summary.probabilitySetback).toBeGreaterThan(rest.summary.probabilitySetback + 0.05);
    expect(load.summary.probabilityWithinTarget).toBeLessThan(rest.summary.probabilityWithinTarget);
  });

  test('more sleep helps and two sessions a week load less than three', () => {
    const scenarios = resolveScenarios(
      [
        { protocol: 'ankle-sprain', levers: {} },
        { protocol: 'ankle-sprain', levers: { sleepExtraHours: 1 } },
        { protocol: 'ankle-sprain', levers: { sessionsPerWeek: 2 } },
      ],
      library
    );
    const [plain, sleep, two] = runSimulation({ ...request(historyWithData()), scenarios }).results;
    expect(sleep.summary.probabilityWithinTarget).toBeGreaterThanOrEqual(plain.summary.probabilityWithinTarget);
    expect(sleep.summary.daysToBaseline.median ?? 99).toBeLessThanOrEqual(plain.summary.daysToBaseline.median ?? 99);
    const weekly = (s: (typeof scenarios)[number]): number =>
      buildSchedule(
        s,
        fitPersonalModel(historyWithData(), { expectedRecoveryDays: 42, draws: 10, prng: createPrng(1) }),
        28
      ).load.reduce((x, y) => x + y, 0);
    expect(weekly(scenarios[2])).toBeLessThan(weekly(scenarios[0]));
    expect(two.scenario.key).toBe('ankle-sprain;sessions=2');
  });

  test('the fast kernel and the plain reference agree in distribution', () => {
    const posterior = fitPersonalModel(NO_HISTORY, { expectedRecoveryDays: 42, draws: 1000, prng: createPrng(3) });
    const [scenario] = resolveScenarios(
      [{ protocol: 'ankle-sprain', levers: { illness: { startDay: 5, days: 7, loadFactor: 1 }, adherence: 0.8 } }],
      library
    );
    const schedule = buildSchedule(scenario, posterior, 60);
    const n = 8000;
    const fast = summarise(runTrajectories(posterior, schedule, n, kernelSeed(createPrng(5))), posterior, 42);
    const naive = naiveTrajectories(posterior, schedule, n, createPrng(6));
    const sorted = [...naive.returnDays].sort((a, b) => a - b);
    expect(Math.abs((fast.daysToBaseline.median ?? 0) - sorted[n / 2])).toBeLessThanOrEqual(2);
    expect(Math.abs(fast.probabilitySetback - naive.setbacks / n)).toBeLessThan(0.03);
    for (const day of [0, 10, 30, 59]) {
      expect(Math.abs(fast.bands[0].q50[day] - naive.indexBands.q50[day])).toBeLessThan(0.1);
      expect(Math.abs(fast.bands[0].q10[day] - naive.indexBands.q10[day])).toBeLessThan(0.15);
    }
  });
});
