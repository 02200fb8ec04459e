import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dayNumber } from '../calendar/calendarDay';
import { generateCohort } from '../cohort/generateCohort';
import { createPrng } from '../cohort/prng';
import { parseFitbitExport, type SourceFile } from '../ingest/importers/fitbit';
import { parsePmsysExport } from '../ingest/importers/pmsys';
import { fitPersonalModel, type SimulationHistory } from './personalFit';
import { fromModelScale, type ScenarioSchedule, type SimulatedMetric } from './recoveryModel';
import { histogramBands } from './simulationSummary';
import { kernelSeed, runTrajectories } from './trajectoryKernel';

/** One person's daily data as the back-test reads it (day numbers). */
export interface PersonSeries {
  readonly id: string;
  readonly series: Partial<Record<SimulatedMetric, Map<number, number>>>;
  readonly load: Map<number, number>;
  /** Injury or operation day (synthetic recoveries). */
  readonly eventDay?: number;
  readonly firstDay: number;
  readonly lastDay: number;
}

/** Forecast quality of one metric over every cut and horizon day. */
export interface ForecastScore {
  readonly metric: SimulatedMetric;
  /** People and forecast points (observed values after a cut). */
  readonly people: number;
  readonly points: number;
  /** Share of observed values inside the model's 80% interval (goal 0.75-0.85). */
  readonly coverage80: number;
  /** Mean absolute error of the model's median. */
  readonly medianAbsError: number;
  /** Last value carried forward: its absolute error, and the coverage of its empirical 80% interval. */
  readonly naiveAbsError: number;
  readonly naiveCoverage80: number;
  /** Mean width of the model's and the naive 80% intervals. */
  readonly meanWidth: number;
  readonly naiveMeanWidth: number;
  /** Coverage of the 80% interval by week after the cut (days 1-7, 8-14, ...): drift shows as falling coverage. */
  readonly coverageByWeek: readonly number[];
}

export interface BacktestOptions {
  /** Days predicted after each cut. */
  readonly horizon: number;
  /** Days of data needed before the first cut. */
  readonly minHistory: number;
  /** Days between cuts. */
  readonly cutEvery: number;
  readonly trajectories: number;
  readonly seed: number;
}

export const DEFAULT_BACKTEST: Readonly<BacktestOptions> = Object.freeze({
  horizon: 21,
  minHistory: 28,
  cutEvery: 14,
  trajectories: 2000,
  seed: 1,
});

interface Accumulator {
  people: Set<string>;
  points: number;
  covered: number;
  absError: number;
  naiveAbsError: number;
  naiveCovered: number;
  width: number;
  naiveWidth: number;
  weekPoints: number[];
  weekCovered: number[];
}

/**
 * Back-test: for each person and each cut day, fit on the data up to the cut (at most 180 days back), predict the
 * next `horizon` days under the training load the person really recorded afterwards, and score every observed value:
 * inside the 80% interval or not, and the error of the median. The naive baseline in the same run is the last value
 * carried forward, with an 80% interval from the person's own changes over the same lag before the cut (10th and
 * 90th percentile of y(t + h) - y(t)), so both are judged on the same points with the same information.
 *
 * `cuts` chooses the cut days (default every `cutEvery` days from firstDay + minHistory to lastDay - 7).
 */
export function backtest(
  people: readonly PersonSeries[],
  metrics: readonly SimulatedMetric[],
  options: BacktestOptions = DEFAULT_BACKTEST,
  cuts: (person: PersonSeries) => number[] = (p) => defaultCuts(p, options)
): ForecastScore[] {
  const acc = new Map<SimulatedMetric, Accumulator>(
    metrics.map((m) => [
      m,
      {
        people: new Set(),
        points: 0,
        covered: 0,
        absError: 0,
        naiveAbsError: 0,
        naiveCovered: 0,
        width: 0,
        naiveWidth: 0,
        weekPoints: [],
        weekCovered: [],
      },
    ])
  );
  for (const person of people) {
    for (const cut of cuts(person)) {
      const history = historyAt(person, cut);
      const posterior = fitPersonalModel(history, {
        expectedRecoveryDays: 42,
        draws: 500,
        prng: createPrng(options.seed, `calibration/${person.id}/${cut}/posterior`),
      });
      const load = new Float64Array(options.horizon);
      for (let t = 0; t < options.horizon; t++) {
        load[t] = person.load.get(cut + 1 + t) ?? 0;
      }
      const schedule: ScenarioSchedule = {
        key: 'recorded',
        horizon: options.horizon,
        load,
        illness: new Uint8Array(options.horizon),
        sleepExtraHours: 0,
        adherence: 1,
      };
      const result = runTrajectories(
        posterior,
        schedule,
        options.trajectories,
        kernelSeed(createPrng(options.seed, `calibration/${person.id}/${cut}/trajectories`))
      );
      posterior.metrics.forEach((mp, i) => {
        const a = acc.get(mp.metric);
        const observed = person.series[mp.metric];
        if (!a || !observed) {
          return;
        }
        const bands = histogramBands(mp.metric, result.metricHistograms[i], options.horizon, mp.lo, mp.hi, (x) =>
          fromModelScale(mp.metric, x)
        );
        const last = lastValue(observed, cut);
        if (last === undefined) {
          return;
        }
        for (let h = 1; h <= options.horizon; h++) {
          const y = observed.get(cut + h);
          if (y === undefined) {
            continue;
          }
          const lo = bands.q10[h - 1];
          const hi = bands.q90[h - 1];
          a.people.add(person.id);
          a.points++;
          const inside = y >= lo && y <= hi ? 1 : 0;
          const week = Math.floor((h - 1) / 7);
          a.covered += inside;
          a.weekPoints[week] = (a.weekPoints[week] ?? 0) + 1;
          a.weekCovered[week] = (a.weekCovered[week] ?? 0) + inside;
          a.absError += Math.abs(bands.q50[h - 1] - y);
          a.width += hi - lo;
          const naive = naiveInterval(observed, cut, h, last.value);
          a.naiveAbsError += Math.abs(last.value - y);
          a.naiveCovered += y >= naive.lo && y <= naive.hi ? 1 : 0;
          a.naiveWidth += naive.hi - naive.lo;
        }
      });
    }
  }
  return metrics.map((metric) => {
    const a = acc.get(metric) as Accumulator;
    const n = Math.max(1, a.points);
    return {
      metric,
      people: a.people.size,
      points: a.points,
      coverage80: a.covered / n,
      medianAbsError: a.absError / n,
      naiveAbsError: a.naiveAbsError / n,
      naiveCoverage80: a.naiveCovered / n,
      meanWidth: a.width / n,
      naiveMeanWidth: a.naiveWidth / n,
      coverageByWeek: a.weekPoints.map((points, w) => (a.weekCovered[w] ?? 0) / Math.max(1, points)),
    };
  });
}

function defaultCuts(person: PersonSeries, options: BacktestOptions): number[] {
  const cuts: number[] = [];
  for (let cut = person.firstDay + options.minHistory; cut <= person.lastDay - 7; cut += options.cutEvery) {
    cuts.push(cut);
  }
  return cuts;
}

const HISTORY_DAYS = 180;

function historyAt(person: PersonSeries, cut: number): SimulationHistory {
  const from = cut - HISTORY_DAYS;
  const series: Partial<Record<SimulatedMetric, { days: number[]; values: number[] }>> = {};
  for (const [metric, values] of Object.entries(person.series) as [SimulatedMetric, Map<number, number>][]) {
    const days = [...values.keys()].filter((d) => d > from && d <= cut).sort((a, b) => a - b);
    series[metric] = { days, values: days.map((d) => values.get(d) as number) };
  }
  const loadDays = [...person.load.keys()].filter((d) => d > from && d <= cut).sort((a, b) => a - b);
  return {
    asOfDay: cut,
    series,
    load: { days: loadDays, values: loadDays.map((d) => person.load.get(d) as number) },
    ...(person.eventDay !== undefined && person.eventDay <= cut ? { eventDay: person.eventDay } : {}),
  };
}

function lastValue(values: ReadonlyMap<number, number>, cut: number): { day: number; value: number } | undefined {
  for (let d = cut; d > cut - 14; d--) {
    const v = values.get(d);
    if (v !== undefined) {
      return { day: d, value: v };
    }
  }
  return undefined;
}

/** Last value plus the 10th-90th percentile of the person's own lag-h changes before the cut (all lags if too few). */
function naiveInterval(
  values: ReadonlyMap<number, number>,
  cut: number,
  h: number,
  last: number
): { lo: number; hi: number } {
  const changes = (lag: number): number[] => {
    const out: number[] = [];
    for (const [day, v] of values) {
      const later = values.get(day + lag);
      if (later !== undefined && day + lag <= cut && day > cut - HISTORY_DAYS) {
        out.push(later - v);
      }
    }
    return out;
  };
  let diffs = changes(h);
  if (diffs.length < 10) {
    diffs = [];
    for (let lag = 1; lag <= 21; lag++) {
      diffs.push(...changes(lag));
    }
  }
  if (diffs.length === 0) {
    return { lo: last, hi: last };
  }
  diffs.sort((a, b) => a - b);
  const q = (p: number): number => diffs[Math.min(diffs.length - 1, Math.floor(p * diffs.length))];
  return { lo: last + q(0.1), hi: last + q(0.9) };
}

// ---------------------------------------------------------------------------------------------------------------
// The development data

/** PMData participants whose results were looked at while choosing the model's priors and noise settings. */
export const PMDATA_TUNING = ['p01', 'p02', 'p03', 'p04'] as const;

/** PMData people (resting HR from Fitbit, readiness and training load from PMSys), through the project's importers. */
export function readPmdata(dir: string, ids: readonly string[]): PersonSeries[] {
  const people: PersonSeries[] = [];
  for (const id of ids) {
    const read = (parts: string[]): SourceFile | undefined => {
      const file = join(dir, id, ...parts);
      return existsSync(file) ? { name: parts[parts.length - 1], text: readFileSync(file, 'utf8') } : undefined;
    };
    const fitbit = [read(['fitbit', 'resting_heart_rate.json'])].filter((f): f is SourceFile => f !== undefined);
    const pmsys = [read(['pmsys', 'wellness.csv']), read(['pmsys', 'srpe.csv'])].filter(
      (f): f is SourceFile => f !== undefined
    );
    const records = [...parseFitbitExport(fitbit, id).records, ...parsePmsysExport(pmsys, id).records];
    const rhr = new Map<number, number>();
    const readiness = new Map<number, number>();
    const load = new Map<number, number>();
    for (const r of records) {
      const day = dayNumber(r.day);
      if (r.metric === 'resting-heart-rate') {
        rhr.set(day, r.value);
      } else if (r.metric === 'readiness') {
        readiness.set(day, r.value);
      } else if (r.metric === 'training-load') {
        load.set(day, (load.get(day) ?? 0) + r.value);
      }
    }
    const days = [...rhr.keys(), ...readiness.keys()];
    if (days.length === 0) {
      continue;
    }
    people.push({
      id,
      series: { 'resting-heart-rate': rhr, readiness },
      load,
      firstDay: Math.min(...days),
      lastDay: Math.max(...days),
    });
  }
  return people;
}

/**
 * The synthetic cohort's injured athletes and post-surgical patients (src/cohort, what `twin seed` writes), with the
 * injury or operation day they were generated with: their known recoveries.
 */
export function syntheticRecoveries(patients: number, seed: number, days = 150): PersonSeries[] {
  const people: PersonSeries[] = [];
  for (const p of generateCohort({ patients, days, seed, startDate: '2025-01-01' })) {
    const eventDay = p.plan.injury?.day ?? p.plan.surgeryDay;
    if (eventDay === undefined) {
      continue;
    }
    const series: Record<SimulatedMetric, Map<number, number>> = {
      'resting-heart-rate': new Map(),
      'hrv-rmssd': new Map(),
      readiness: new Map(),
    };
    const load = new Map<number, number>();
    for (const record of p.daily) {
      for (const metric of Object.keys(series) as SimulatedMetric[]) {
        const v = record.values[metric];
        if (v !== undefined) {
          series[metric].set(record.day, v);
        }
      }
      const w = record.values['training-load'];
      if (w !== undefined) {
        load.set(record.day, w);
      }
    }
    people.push({ id: p.subjectKey, series, load, eventDay, firstDay: 0, lastDay: days - 1 });
  }
  return people;
}

// ---------------------------------------------------------------------------------------------------------------
// `twin eval simulate`

export interface CalibrationOptions {
  readonly pmdataDir: string;
  readonly cohortPatients: number;
  readonly cohortSeed: number;
  readonly trajectories: number;
  readonly split: 'tuning' | 'evaluation';
  readonly log?: (line: string) => void;
}

export interface CalibrationReport {
  readonly split: 'tuning' | 'evaluation';
  readonly pmdataPeople: readonly string[];
  readonly pmdata: readonly ForecastScore[];
  readonly syntheticSeed: number;
  readonly syntheticPeople: number;
  /** Cuts 7 and 21 days after the injury or operation: forecasts of the return toward baseline. */
  readonly synthetic: readonly ForecastScore[];
}

export async function runCalibration(options: CalibrationOptions): Promise<CalibrationReport> {
  const all = Array.from({ length: 16 }, (_, i) => `p${String(i + 1).padStart(2, '0')}`);
  const tuning: readonly string[] = PMDATA_TUNING;
  const ids = options.split === 'tuning' ? [...tuning] : all.filter((id) => !tuning.includes(id));
  const backtestOptions = { ...DEFAULT_BACKTEST, trajectories: options.trajectories };
  options.log?.(`twin eval simulate: PMData ${options.split} people ${ids.join(', ')}`);
  const pmdata = backtest(readPmdata(options.pmdataDir, ids), ['resting-heart-rate', 'readiness'], backtestOptions);
  await Promise.resolve();
  const recoveries = syntheticRecoveries(options.cohortPatients, options.cohortSeed);
  options.log?.(`twin eval simulate: synthetic seed ${options.cohortSeed}, ${recoveries.length} recoveries`);
  const synthetic = backtest(
    recoveries,
    ['resting-heart-rate', 'hrv-rmssd', 'readiness'],
    { ...backtestOptions, horizon: 28 },
    (p) => [7, 21].map((d) => (p.eventDay ?? 0) + d).filter((d) => d < p.lastDay - 7)
  );
  return {
    split: options.split,
    pmdataPeople: ids,
    pmdata,
    syntheticSeed: options.cohortSeed,
    syntheticPeople: recoveries.length,
    synthetic,
  };
}

/** The report as a plain-text table (figures only, no personal values). */
export function formatCalibration(report: CalibrationReport): string {
  const header =
    'metric              people  points  cover80  width   MAE(median)  | naive: cover80  width   MAE(last value)';
  const row = (s: ForecastScore): string =>
    [
      s.metric.padEnd(20),
      String(s.people).padStart(6),
      String(s.points).padStart(7),
      s.coverage80.toFixed(3).padStart(8),
      s.meanWidth.toFixed(2).padStart(7),
      s.medianAbsError.toFixed(3).padStart(12),
      '  |',
      s.naiveCoverage80.toFixed(3).padStart(14),
      s.naiveMeanWidth.toFixed(2).padStart(7),
      s.naiveAbsError.toFixed(3).padStart(16),
      `  | cover80 by week: ${s.coverageByWeek.map((c) => c.toFixed(2)).join(' ')}`,
    ].join(' ');
  return [
    `Simulator back-test (${report.split} split). 80% intervals; goal coverage 0.75-0.85.`,
    `PMData (${report.pmdataPeople.join(', ')}): cut every 14 days after 28 days of data, predict 21 days under the recorded training load`,
    header,
    ...report.pmdata.map(row),
    `Synthetic cohort seed ${report.syntheticSeed}: ${report.syntheticPeople} injured or operated patients, cut 7 and 21 days after the event, predict 28 days`,
    header,
    ...report.synthetic.map(row),
    `PMData people used for tuning: ${PMDATA_TUNING.join(', ')}; synthetic seed used for tuning: 7.`,
  ].join('\n');
}
