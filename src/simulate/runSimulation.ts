import { createPrng } from '../cohort/prng';
import { fitPersonalModel, type SimulationHistory } from './personalFit';
import type { PersonalPosterior } from './recoveryModel';
import { buildSchedule, defaultHorizon, type ResolvedScenario } from './scenarioSchedule';
import { rankScenarios, summarise, type ScenarioSummary } from './simulationSummary';
import { kernelSeed, runTrajectories } from './trajectoryKernel';

/** Everything one simulation needs; structured-cloneable, so it crosses to a worker thread as is. */
export interface SimulationRequest {
  readonly history: SimulationHistory;
  readonly scenarios: readonly ResolvedScenario[];
  /** Days to simulate (default: defaultHorizon). */
  readonly horizon?: number;
  readonly trajectories: number;
  /** Same seed, same inputs: same output, bit for bit. */
  readonly seed: number | string;
  /** Centre of the recovery-time prior (default: the first scenario's target time, else 42 days). */
  readonly expectedRecoveryDays?: number;
  /** Posterior draws (default 1,000). */
  readonly posteriorDraws?: number;
}

/** What the fit found, in figures safe to show (no health values beyond the model's own). */
export interface PosteriorSummary {
  readonly daysSinceEvent?: number;
  readonly medianTimeConstantDays: number;
  /** Days of the person's own data per metric (0 = population prior only). */
  readonly observedDays: Readonly<Record<string, number>>;
  readonly loadReference: number;
}

export interface ScenarioResult {
  readonly scenario: ResolvedScenario;
  readonly summary: ScenarioSummary;
  /** 1 = best. */
  readonly rank: number;
}

export interface SimulationOutcome {
  readonly horizon: number;
  readonly posterior: PosteriorSummary;
  readonly results: readonly ScenarioResult[];
}

export const DEFAULT_POSTERIOR_DRAWS = 1000;
export const DEFAULT_TRAJECTORIES = 10_000;

/**
 * Fits the person's model once and runs every scenario on it. Every scenario uses the same seed words (common random
 * numbers): trajectory j of each scenario starts from the same parameter draw and noise, so the differences between
 * scenarios come from the scenarios, not from sampling luck.
 */
export function runSimulation(request: SimulationRequest): SimulationOutcome {
  const expected =
    request.expectedRecoveryDays ?? (request.scenarios[0]?.targetDays ? request.scenarios[0].targetDays : 42);
  const posterior = fitPersonalModel(request.history, {
    expectedRecoveryDays: expected,
    draws: request.posteriorDraws ?? DEFAULT_POSTERIOR_DRAWS,
    prng: createPrng(request.seed, 'simulate/posterior'),
  });
  const horizon = request.horizon ?? defaultHorizon(request.scenarios, posterior.daysSinceEvent);
  const seedWords = kernelSeed(createPrng(request.seed, 'simulate/trajectories'));
  const summaries = request.scenarios.map((scenario) => {
    const schedule = buildSchedule(scenario, posterior, horizon);
    const result = runTrajectories(posterior, schedule, request.trajectories, seedWords);
    return summarise(result, posterior, Math.max(0, scenario.targetDays - (posterior.daysSinceEvent ?? 0)));
  });
  const order = rankScenarios(summaries);
  const rank = new Array<number>(summaries.length);
  order.forEach((index, position) => {
    rank[index] = position + 1;
  });
  return {
    horizon,
    posterior: posteriorSummary(posterior),
    results: request.scenarios.map((scenario, i) => ({ scenario, summary: summaries[i], rank: rank[i] })),
  };
}

function posteriorSummary(posterior: PersonalPosterior): PosteriorSummary {
  return {
    daysSinceEvent: posterior.daysSinceEvent,
    medianTimeConstantDays: Math.round(posterior.rateSummary.medianTimeConstant * 10) / 10,
    observedDays: Object.fromEntries(posterior.metrics.map((m) => [m.metric, m.observedDays])),
    loadReference: Math.round(posterior.loadReference),
  };
}
