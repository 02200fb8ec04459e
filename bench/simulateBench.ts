import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createPrng } from '../src/cohort/prng';
import { loadProtocolLibrary } from '../src/protocols/protocolLibrary';
import { percentile } from './percentile';
import { naiveTrajectories } from '../src/simulate/naiveTrajectories';
import { fitPersonalModel, type SimulationHistory } from '../src/simulate/personalFit';
import type { SimulationRequest } from '../src/simulate/runSimulation';
import { buildSchedule, resolveScenarios, type ScenarioRequest } from '../src/simulate/scenarioSchedule';
import { summarise } from '../src/simulate/simulationSummary';
import { SimulationWorker } from '../src/simulate/simulationWorker';
import { kernelSeed, runTrajectories } from '../src/simulate/trajectoryKernel';

/**
 * `npm run bench -- simulate [--trajectories 10000] [--horizon 90] [--repeat 7] [--naive-repeat 1]`
 *
 * Issue 15: 10,000 trajectories x 5 scenarios x 90 days within 200 ms on one core, with a naive reference in the same
 * run. The person: 60 days of resting HR, HRV, readiness and training load, an ankle sprain 10 days ago (generated
 * here, seeded). Five scenarios of the ankle-sprain protocol: as planned, sleep +1 h, 2 sessions a week, progression
 * x1.5, an illness week with training on.
 * (a) the Monte Carlo of the five scenarios (kernel + summaries) on this thread, single-threaded: wall and CPU time
 *     per run (CPU time counts only this process's work, which matters on a shared machine);
 * (b) the naive reference (naiveTrajectories.ts: objects per trajectory, Box-Muller, Math.exp, sorting for
 *     quantiles) on the same five scenarios: its time and the ratio;
 * (c) the whole simulation (fit + five scenarios) in the worker thread, as $simulate runs it: time per request and
 *     the main thread's event-loop delay meanwhile (it stays free).
 */
interface Args {
  trajectories: number;
  horizon: number;
  repeat: number;
  naiveRepeat: number;
}

function parseArgs(args: string[]): Args {
  const out: Args = { trajectories: 10_000, horizon: 90, repeat: 7, naiveRepeat: 1 };
  for (let i = 0; i < args.length; i += 2) {
    const value = Number(args[i + 1]);
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`${args[i]} needs a positive integer`);
    }
    switch (args[i]) {
      case '--trajectories':
        out.trajectories = value;
        break;
      case '--horizon':
        out.horizon = value;
        break;
      case '--repeat':
        out.repeat = value;
        break;
      case '--naive-repeat':
        out.naiveRepeat = value;
        break;
      default:
        throw new Error(`unknown option ${args[i]}`);
    }
  }
  return out;
}

const TODAY = 20_000;

function benchHistory(): SimulationHistory {
  const prng = createPrng(2026, 'bench/simulate');
  const event = TODAY - 10;
  const days: number[] = [];
  const rhr: number[] = [];
  const hrv: number[] = [];
  const readiness: number[] = [];
  const load = { days: [] as number[], values: [] as number[] };
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

const SCENARIOS: ScenarioRequest[] = [
  { protocol: 'ankle-sprain', levers: {} },
  { protocol: 'ankle-sprain', levers: { sleepExtraHours: 1 } },
  { protocol: 'ankle-sprain', levers: { sessionsPerWeek: 2 } },
  { protocol: 'ankle-sprain', levers: { progressionRate: 1.5 } },
  { protocol: 'ankle-sprain', levers: { illness: { startDay: 5, days: 7, loadFactor: 1 } } },
];

function cpuMs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

export async function runSimulateBench(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const library = loadProtocolLibrary();
  const scenarios = resolveScenarios(SCENARIOS, library);
  const history = benchHistory();
  const posterior = fitPersonalModel(history, { expectedRecoveryDays: 42, draws: 1000, prng: createPrng(1) });
  const schedules = scenarios.map((s) => buildSchedule(s, posterior, args.horizon));
  const seed = kernelSeed(createPrng(1, 'bench'));
  const work = `${args.trajectories.toLocaleString('en')} trajectories x ${scenarios.length} scenarios x ${args.horizon} days`;

  // (a) fast path; the first run warms the JIT and is not counted.
  const fastOnce = (): void => {
    for (const schedule of schedules) {
      summarise(runTrajectories(posterior, schedule, args.trajectories, seed), posterior, 42);
    }
  };
  fastOnce();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < args.repeat; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fastOnce();
    wall.push(performance.now() - t0);
    cpu.push(cpuMs(c0));
  }
  wall.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  console.log(`(a) Monte Carlo kernel + summaries, ${work}, one thread, ${args.repeat} runs after one warm-up:`);
  console.log(
    `    wall min ${wall[0].toFixed(1)} ms, median ${percentile(wall, 0.5).toFixed(1)} ms; ` +
      `CPU min ${cpu[0].toFixed(1)} ms, median ${percentile(cpu, 0.5).toFixed(1)} ms (goal <= 200 ms)`
  );

  // (b) naive reference on the same work.
  const naiveWall: number[] = [];
  const naiveCpu: number[] = [];
  for (let r = 0; r < args.naiveRepeat; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    schedules.forEach((schedule, i) => {
      naiveTrajectories(posterior, schedule, args.trajectories, createPrng(1, `naive/${i}`));
    });
    naiveWall.push(performance.now() - t0);
    naiveCpu.push(cpuMs(c0));
  }
  naiveWall.sort((a, b) => a - b);
  naiveCpu.sort((a, b) => a - b);
  console.log(
    `(b) naive reference (objects, Box-Muller, Math.exp, sort per day), same work, ${args.naiveRepeat} run(s):`
  );
  console.log(
    `    wall min ${naiveWall[0].toFixed(1)} ms, CPU min ${naiveCpu[0].toFixed(1)} ms; ` +
      `naive / fast: ${(naiveWall[0] / percentile(wall, 0.5)).toFixed(1)}x wall (median fast), ` +
      `${(naiveCpu[0] / percentile(cpu, 0.5)).toFixed(1)}x CPU`
  );

  // (c) the whole request in the worker thread, main-thread event-loop delay meanwhile.
  const t0 = performance.now();
  const worker = SimulationWorker.start();
  const request: SimulationRequest = {
    history,
    scenarios,
    horizon: args.horizon,
    trajectories: args.trajectories,
    seed: 1,
  };
  try {
    await worker.run(request);
    const startup = performance.now() - t0;
    const delay = monitorEventLoopDelay({ resolution: 5 });
    const times: number[] = [];
    delay.enable();
    for (let r = 0; r < args.repeat; r++) {
      const s = performance.now();
      await worker.run(request);
      times.push(performance.now() - s);
    }
    delay.disable();
    times.sort((a, b) => a - b);
    console.log(`(c) fit + ${work} in the worker thread (what $simulate runs), ${args.repeat} requests:`);
    console.log(
      `    per request min ${times[0].toFixed(1)} ms, median ${percentile(times, 0.5).toFixed(1)} ms ` +
        `(worker start + first request ${startup.toFixed(0)} ms); main-thread event-loop delay max ` +
        `${(delay.max / 1e6).toFixed(1)} ms`
    );
  } finally {
    await worker.close();
  }
}
