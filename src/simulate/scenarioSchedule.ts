import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcomeIssue, PlanDefinition, PlanDefinitionAction } from '@medplum/fhirtypes';
import type { ProtocolLibrary } from '../protocols/protocolLibrary';
import type { PersonalPosterior, ScenarioSchedule } from './recoveryModel';

/** What a clinician can change about a candidate protocol (the what-if levers). */
export interface ScenarioLevers {
  /** Extra sleep per night, hours (e.g. +1). */
  readonly sleepExtraHours?: number;
  /** Training or rehabilitation sessions a week, 1-7 (default 3). */
  readonly sessionsPerWeek?: number;
  /** Speed of the load progression through the phases: 1 = as planned, 1.5 = phases 1.5 times shorter. */
  readonly progressionRate?: number;
  /** Full rest days before the first session. */
  readonly restDays?: number;
  /** An illness: first day (1 = tomorrow), length in days, and the load kept while ill (0 = rest, 1 = as planned). */
  readonly illness?: { readonly startDay: number; readonly days: number; readonly loadFactor: number };
  /** Share of planned sessions done, 0-1 (default 1). */
  readonly adherence?: number;
}

/** A requested scenario: a protocol of the library and levers. */
export interface ScenarioRequest {
  /** PlanDefinition id, relative reference or canonical of the protocol library. */
  readonly protocol: string;
  readonly label?: string;
  readonly levers: ScenarioLevers;
}

/** One phase of a protocol as the simulator uses it. */
export interface SimulatedPhase {
  readonly id: string;
  readonly title: string;
  /** Planned days in the phase (undefined: open-ended, the last phase). */
  readonly plannedDays?: number;
  /** Session load as a share of the person's reference training-day load. */
  readonly loadShare: number;
}

/** A validated scenario. */
export interface ResolvedScenario {
  /** Stable key from the protocol and the levers that differ from their defaults. */
  readonly key: string;
  readonly label: string;
  readonly protocol: PlanDefinition;
  readonly phases: readonly SimulatedPhase[];
  /** Planned time to the protocol's last phase (days from the event): the target time. */
  readonly targetDays: number;
  readonly levers: Required<Omit<ScenarioLevers, 'illness'>> & Pick<ScenarioLevers, 'illness'>;
}

export const DEFAULT_SESSIONS_PER_WEEK = 3;
/** Share of the reference load in the first and last phase; the phases in between step up evenly. */
const FIRST_PHASE_LOAD = 0.2;
const MAX_HORIZON = 365;
export const MAX_SCENARIOS = 10;

/**
 * Resolves and validates requested scenarios against the protocol library. Collects every problem first and fails
 * once (STYLE.md 5) with an OperationOutcome naming each parameter: an unknown protocol, a negative or non-integer
 * duration, a share outside 0-1, a duplicate label. The door turns it into 400.
 */
export function resolveScenarios(requests: readonly ScenarioRequest[], library: ProtocolLibrary): ResolvedScenario[] {
  const issues: OperationOutcomeIssue[] = [];
  const problem = (text: string, expression: string): void => {
    issues.push({ severity: 'error', code: 'invalid', details: { text }, expression: [expression] });
  };
  if (requests.length === 0) {
    problem('At least one scenario is needed (a protocol of the library, with optional levers)', 'scenario');
  }
  if (requests.length > MAX_SCENARIOS) {
    problem(`At most ${MAX_SCENARIOS} scenarios per request`, 'scenario');
  }
  const resolved: ResolvedScenario[] = [];
  const keys = new Set<string>();
  requests.forEach((request, i) => {
    const at = (part: string): string => `scenario[${i}].${part}`;
    const found = library.get(request.protocol);
    const protocol = found?.resourceType === 'PlanDefinition' ? found : undefined;
    if (!protocol) {
      problem(
        `Unknown scenario protocol '${request.protocol}': not a PlanDefinition of the protocol library`,
        at('protocol')
      );
    }
    const l = request.levers;
    const nonNegativeInt = (value: number | undefined, name: string, max: number): void => {
      if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > max)) {
        problem(`${name} must be a whole number of days from 0 to ${max} (got ${value})`, at(name));
      }
    };
    nonNegativeInt(l.restDays, 'restDays', MAX_HORIZON);
    if (
      l.sessionsPerWeek !== undefined &&
      (!Number.isInteger(l.sessionsPerWeek) || l.sessionsPerWeek < 1 || l.sessionsPerWeek > 7)
    ) {
      problem(`sessionsPerWeek must be a whole number from 1 to 7 (got ${l.sessionsPerWeek})`, at('sessionsPerWeek'));
    }
    if (l.progressionRate !== undefined && !(l.progressionRate >= 0.25 && l.progressionRate <= 4)) {
      problem(`progressionRate must be between 0.25 and 4 (got ${l.progressionRate})`, at('progressionRate'));
    }
    if (l.sleepExtraHours !== undefined && !(l.sleepExtraHours >= -4 && l.sleepExtraHours <= 4)) {
      problem(`sleepExtraHours must be between -4 and 4 hours (got ${l.sleepExtraHours})`, at('sleepExtraHours'));
    }
    if (l.adherence !== undefined && !(l.adherence >= 0 && l.adherence <= 1)) {
      problem(`adherence must be a share from 0 to 1 (got ${l.adherence})`, at('adherence'));
    }
    if (l.illness) {
      if (!Number.isInteger(l.illness.startDay) || l.illness.startDay < 1 || l.illness.startDay > MAX_HORIZON) {
        problem(
          `illnessStartDay must be a whole day from 1 (tomorrow) to ${MAX_HORIZON} (got ${l.illness.startDay})`,
          at('illnessStartDay')
        );
      }
      nonNegativeInt(l.illness.days, 'illnessDays', MAX_HORIZON);
      if (!(l.illness.loadFactor >= 0 && l.illness.loadFactor <= 3)) {
        problem(`illnessLoadFactor must be between 0 and 3 (got ${l.illness.loadFactor})`, at('illnessLoadFactor'));
      }
    }
    if (!protocol) {
      return;
    }
    const levers = {
      sleepExtraHours: l.sleepExtraHours ?? 0,
      sessionsPerWeek: l.sessionsPerWeek ?? DEFAULT_SESSIONS_PER_WEEK,
      progressionRate: l.progressionRate ?? 1,
      restDays: l.restDays ?? 0,
      adherence: l.adherence ?? 1,
      ...(l.illness ? { illness: l.illness } : {}),
    };
    const phases = phasesOf(protocol);
    const key = scenarioKey(protocol.id ?? '', levers);
    const label = request.label ?? key;
    if (keys.has(label)) {
      problem(`Two scenarios have the same label '${label}'`, at('label'));
    }
    keys.add(label);
    const targetDays = phases.reduce((sum, p, idx) => sum + (idx < phases.length - 1 ? (p.plannedDays ?? 0) : 0), 0);
    resolved.push({ key, label, protocol, phases, targetDays, levers });
  });
  if (issues.length > 0) {
    throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
  }
  return resolved;
}

/** The horizon every scenario of a run shares: long enough to reach the latest target, at least 90 days. */
export function defaultHorizon(scenarios: readonly ResolvedScenario[], daysSinceEvent: number | undefined): number {
  const remaining = Math.max(0, ...scenarios.map((s) => s.targetDays - (daysSinceEvent ?? 0)));
  return Math.min(MAX_HORIZON, Math.max(90, remaining + 28));
}

/** Checks a requested horizon (whole days, 7 to 365). */
export function checkHorizon(horizon: number): void {
  if (!Number.isInteger(horizon) || horizon < 7 || horizon > MAX_HORIZON) {
    throw new OperationOutcomeError(
      badRequest(`horizonDays must be a whole number from 7 to ${MAX_HORIZON} (got ${horizon})`, 'horizonDays')
    );
  }
}

/**
 * The phases of a protocol (its top-level actions, in order) with planned days from timingDuration (UCUM wk, d, h;
 * an hour-long phase takes a day) and a session load that steps up evenly from 20% of the person's reference load in
 * the first phase to 100% in the last. The library's phases carry no numeric load, so this even step is the
 * simulator's assumption (model card); the levers scale it.
 */
export function phasesOf(protocol: PlanDefinition): SimulatedPhase[] {
  const actions: PlanDefinitionAction[] = protocol.action ?? [];
  const n = actions.length;
  return actions.map((action, i) => ({
    id: action.id ?? `phase-${i + 1}`,
    title: action.title ?? action.prefix ?? `Phase ${i + 1}`,
    plannedDays: durationDays(action),
    loadShare: n <= 1 ? 1 : FIRST_PHASE_LOAD + ((1 - FIRST_PHASE_LOAD) * i) / (n - 1),
  }));
}

function durationDays(action: PlanDefinitionAction): number | undefined {
  const d = action.timingDuration;
  if (d?.value === undefined) {
    return undefined;
  }
  switch (d.code ?? d.unit) {
    case 'wk':
      return Math.round(d.value * 7);
    case 'd':
      return Math.round(d.value);
    case 'h':
      return Math.max(1, Math.ceil(d.value / 24));
    default:
      return undefined;
  }
}

function scenarioKey(protocolId: string, levers: ResolvedScenario['levers']): string {
  const parts = [protocolId];
  if (levers.sessionsPerWeek !== DEFAULT_SESSIONS_PER_WEEK) {
    parts.push(`sessions=${levers.sessionsPerWeek}`);
  }
  if (levers.sleepExtraHours !== 0) {
    parts.push(`sleep=${levers.sleepExtraHours > 0 ? '+' : ''}${levers.sleepExtraHours}`);
  }
  if (levers.progressionRate !== 1) {
    parts.push(`progression=${levers.progressionRate}`);
  }
  if (levers.restDays !== 0) {
    parts.push(`rest=${levers.restDays}`);
  }
  if (levers.adherence !== 1) {
    parts.push(`adherence=${levers.adherence}`);
  }
  if (levers.illness) {
    parts.push(`illness=${levers.illness.startDay}+${levers.illness.days}x${levers.illness.loadFactor}`);
  }
  return parts.join(';');
}

/**
 * The scenario as daily kernel inputs. Day t (0 = tomorrow) sits at protocol time (days since event + t + 1) x
 * progressionRate, which picks the phase; sessions fall on evenly spread weekdays; rest days come first; an illness
 * multiplies the load of its days by its load factor.
 */
export function buildSchedule(
  scenario: ResolvedScenario,
  posterior: PersonalPosterior,
  horizon: number
): ScenarioSchedule {
  const { levers, phases } = scenario;
  const load = new Float64Array(horizon);
  const illness = new Uint8Array(horizon);
  const since = posterior.daysSinceEvent ?? 0;
  const bounds: number[] = [];
  let end = 0;
  for (const phase of phases) {
    end += phase.plannedDays ?? Infinity;
    bounds.push(end);
  }
  const s = levers.sessionsPerWeek;
  for (let t = 0; t < horizon; t++) {
    if (t < levers.restDays) {
      continue;
    }
    const w = (t - levers.restDays) % 7;
    if (Math.floor(((w + 1) * s) / 7) === Math.floor((w * s) / 7)) {
      continue;
    }
    const protocolDay = (since + t + 1 - levers.restDays) * levers.progressionRate;
    let phase = bounds.findIndex((b) => protocolDay < b);
    if (phase < 0) {
      phase = phases.length - 1;
    }
    load[t] = (phases[phase]?.loadShare ?? 1) * posterior.loadReference;
  }
  if (levers.illness) {
    const from = levers.illness.startDay - 1;
    for (let t = from; t < Math.min(horizon, from + levers.illness.days); t++) {
      illness[t] = 1;
      load[t] *= levers.illness.loadFactor;
    }
  }
  return {
    key: scenario.key,
    horizon,
    load,
    illness,
    sleepExtraHours: levers.sleepExtraHours,
    adherence: levers.adherence,
  };
}

/** The scenario in plain language, for the RiskAssessment note and the CLI. */
export function describeScenario(scenario: ResolvedScenario): string {
  const { levers } = scenario;
  const phases = scenario.phases
    .map(
      (p) =>
        `${p.title}${p.plannedDays !== undefined ? ` (${p.plannedDays} d)` : ''} at ${Math.round(p.loadShare * 100)}% load`
    )
    .join('; ');
  const parts = [
    `${scenario.protocol.title ?? scenario.protocol.id}: ${phases}`,
    `${levers.sessionsPerWeek} sessions a week`,
  ];
  if (levers.progressionRate !== 1) {
    parts.push(`load progression x${levers.progressionRate}`);
  }
  if (levers.sleepExtraHours !== 0) {
    parts.push(`sleep ${levers.sleepExtraHours > 0 ? '+' : ''}${levers.sleepExtraHours} h a night`);
  }
  if (levers.restDays > 0) {
    parts.push(`${levers.restDays} rest day(s) first`);
  }
  if (levers.adherence !== 1) {
    parts.push(`${Math.round(levers.adherence * 100)}% of sessions done`);
  }
  if (levers.illness) {
    const { startDay, days, loadFactor } = levers.illness;
    parts.push(
      `an illness on days ${startDay}-${startDay + days - 1} with ${Math.round(loadFactor * 100)}% of the planned load`
    );
  }
  return parts.join(', ');
}
