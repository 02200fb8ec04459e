import type { Device, Quantity, Reference, RiskAssessment, RiskAssessmentPrediction } from '@medplum/fhirtypes';
import { createHash } from 'node:crypto';
import { isoDay } from '../calendar/calendarDay';
import { canonicalJson } from '../fhir/canonicalJson';
import {
  MODEL_SHA256_SYSTEM,
  TWIN_PROFILE,
  TWIN_RESOURCE_SYSTEM,
  twinCoding,
  UCUM_SYSTEM,
} from '../fhir/codes/twinCanonicals';
import { AIAST } from '../policy/aiTransparency';
import { LEVER_PRIORS, RETURN_BAND_SD, SIMULATED_METRICS } from './recoveryModel';
import type { ScenarioResult, SimulationOutcome } from './runSimulation';
import { describeScenario } from './scenarioSchedule';

/**
 * Version of the simulator (model, kernel, summary). Bump it when results change for the same inputs: the Device
 * identity and every simulation identifier then change, so old and new results are never confused.
 */
export const SIMULATOR_VERSION = '1.0.0';

/** The configuration the simulator Device's sha256 is taken over (no model file: the method is the code). */
export function simulatorConfigurationJson(): string {
  return canonicalJson({
    algorithm: 'recovery-twin-simulator',
    version: SIMULATOR_VERSION,
    metrics: SIMULATED_METRICS,
    returnBandSd: RETURN_BAND_SD,
    leverPriors: LEVER_PRIORS,
  });
}

/** Model Device (profile model-device) of the simulator. Pure. */
export function buildSimulatorDevice(): Device {
  const sha256 = createHash('sha256').update(simulatorConfigurationJson(), 'utf8').digest('hex');
  return {
    resourceType: 'Device',
    meta: { profile: [TWIN_PROFILE.modelDevice] },
    identifier: [{ system: MODEL_SHA256_SYSTEM, value: sha256 }],
    deviceName: [{ name: 'recovery-twin recovery simulator', type: 'model-name' }],
    type: { coding: [twinCoding('twin-model')], text: 'Twin analytic model' },
    version: [{ value: `${SIMULATOR_VERSION}+${sha256.slice(0, 12)}` }],
    note: [
      {
        text:
          'In silico recovery simulator: a personalised fitness-fatigue and recovery-deficit model fitted by Bayesian ' +
          'partial pooling, Monte Carlo over parameters and daily noise. Model card: models/simulator/MODEL_CARD.md ' +
          'of recovery-twin (method src/simulate/). The sha256 identifier is taken over this configuration ' +
          `(canonical JSON): ${simulatorConfigurationJson()}`,
      },
    ],
  };
}

/** What makes a simulation the same simulation: equal inputs give equal results (the model is seeded). */
export interface SimulationIdentity {
  readonly patientId: string;
  readonly asOfDay: number;
  readonly seed: number | string;
  readonly trajectories: number;
  /** sha256 of the history the fit read (canonical JSON). */
  readonly historyDigest: string;
}

/**
 * Identifier value of one scenario's RiskAssessment: `simulation/{patientId}/{digest}`, the digest over the
 * simulator version, the scenario, horizon, seed, trajectories, the day and the history. Same inputs, same
 * identifier: a rerun's conditional create (If-None-Exist) finds it and writes nothing. New data or another scenario
 * make a new assessment; the earlier ones stay as the record of what was predicted when.
 */
export function simulationIdentifierValue(
  identity: SimulationIdentity,
  result: ScenarioResult,
  horizon: number
): string {
  const digest = createHash('sha256')
    .update(
      canonicalJson({
        version: SIMULATOR_VERSION,
        scenario: { key: result.scenario.key, label: result.scenario.label, protocol: result.scenario.protocol.url },
        horizon,
        seed: identity.seed,
        trajectories: identity.trajectories,
        asOf: identity.asOfDay,
        history: identity.historyDigest,
      }),
      'utf8'
    )
    .digest('hex');
  return `simulation/${identity.patientId}/${digest.slice(0, 24)}`;
}

function eventText(daysSinceEvent: number | undefined): string {
  return daysSinceEvent === undefined
    ? 'No injury, operation or illness onset on record (nor given as eventDate): the person starts at baseline, so ' +
        'only the setback risk and the daily bands say something.'
    : `Index event ${daysSinceEvent} days ago.`;
}

function days(value: number): Quantity {
  return { value, unit: 'd', system: UCUM_SYSTEM, code: 'd' };
}

function share(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * One scenario's result as a RiskAssessment (profile simulated-recovery-risk-assessment). Every prediction is "this
 * outcome happens within whenRange", whenRange in days from occurrenceDateTime (today):
 * - back at baseline within the protocol's target time: probabilityDecimal = share of trajectories;
 * - back at baseline between the 10th and 90th percentile day (the 80% interval), and by the median day;
 * - a setback within the horizon.
 * Computed by simulation, never measured: the note says so, the method names the model, the AIAST label marks it.
 */
export function buildSimulationRiskAssessment(
  identity: SimulationIdentity,
  outcome: SimulationOutcome,
  result: ScenarioResult,
  performer: Reference<Device>,
  basis: readonly Reference[] = []
): RiskAssessment {
  const { summary, scenario } = result;
  const horizon = outcome.horizon;
  const d = summary.daysToBaseline;
  const prediction: RiskAssessmentPrediction[] = [
    {
      outcome: {
        text: `Back at personal baseline within the protocol's target time (${summary.targetDaysFromToday} days from today)`,
      },
      probabilityDecimal: share(summary.probabilityWithinTarget),
      whenRange: { low: days(0), high: days(summary.targetDaysFromToday) },
      rationale: summary.targetBeyondHorizon
        ? `The target lies beyond the ${horizon}-day horizon; the probability is a lower bound.`
        : `Share of ${summary.trajectories} simulated trajectories back at baseline by then.`,
    },
  ];
  if (d.p10 !== undefined) {
    prediction.push({
      outcome: {
        text:
          d.p90 !== undefined
            ? `Back at personal baseline: 80% interval ${d.p10}-${d.p90} days, median ${d.median ?? `beyond ${horizon}`} days`
            : `Back at personal baseline: 80% interval from ${d.p10} days to beyond the ${horizon}-day horizon`,
      },
      probabilityDecimal: 0.8,
      whenRange: d.p90 !== undefined ? { low: days(d.p10), high: days(d.p90) } : { low: days(d.p10) },
      rationale: '10th to 90th percentile of the simulated day of return.',
    });
  }
  if (d.median !== undefined) {
    prediction.push({
      outcome: { text: `Back at personal baseline by the median day (${d.median} days)` },
      probabilityDecimal: 0.5,
      whenRange: { low: days(0), high: days(d.median) },
      rationale: 'Median of the simulated day of return.',
    });
  }
  prediction.push({
    outcome: { text: 'Setback: the recovery deficit pushed back up by overload or by training while ill' },
    probabilityDecimal: share(summary.probabilitySetback),
    whenRange: { low: days(0), high: days(horizon) },
    rationale: `Share of trajectories with at least one setback within the ${horizon}-day horizon.`,
  });
  const fitted = Object.entries(outcome.posterior.observedDays)
    .map(([metric, n]) => `${metric} ${n} days`)
    .join(', ');
  return {
    resourceType: 'RiskAssessment',
    // AI Transparency on FHIR: a simulation is asserted by an algorithm, and says so in its security label.
    meta: { profile: [TWIN_PROFILE.simulatedRecovery], security: [{ ...AIAST }] },
    identifier: [{ system: TWIN_RESOURCE_SYSTEM, value: simulationIdentifierValue(identity, result, horizon) }],
    status: 'final',
    method: {
      text:
        `recovery-twin simulator ${SIMULATOR_VERSION}: ${summary.trajectories} Monte Carlo trajectories over ` +
        `${horizon} days, seed ${identity.seed}`,
    },
    code: { text: `Simulated recovery: ${scenario.label}` },
    subject: { reference: `Patient/${identity.patientId}` },
    occurrenceDateTime: isoDay(identity.asOfDay),
    performer,
    ...(basis.length > 0 ? { basis: [...basis] } : {}),
    prediction,
    note: [
      {
        text:
          `Scenario: ${describeScenario(scenario)}. ${eventText(outcome.posterior.daysSinceEvent)} ` +
          `Ranked ${result.rank} of ${outcome.results.length} simulated ` +
          `options. Computed by simulation, not measured: "back at personal baseline" means the simulated ` +
          `injury-related shift of resting heart rate, HRV and readiness is within ${RETURN_BAND_SD} personal SD of ` +
          `the baseline; it is not clearance for sport, which stays a clinician's criterion-based decision. Personal ` +
          `data in the fit: ${fitted} (0 days = population prior only, hence wide intervals). Lever effects (load, ` +
          'sleep, illness) are model assumptions, not measured effects; see the model card.',
      },
    ],
  };
}
