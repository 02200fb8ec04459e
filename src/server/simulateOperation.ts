import { allOk, badRequest, normalizeOperationOutcome, OperationOutcomeError } from '@medplum/core';
import type { FhirRequest, FhirResponse, FhirRouter } from '@medplum/fhir-router';
import type {
  OperationDefinition,
  OperationOutcomeIssue,
  Parameters,
  ParametersParameter,
  Resource,
} from '@medplum/fhirtypes';
import type { ProtocolLibrary } from '../protocols/protocolLibrary';
import { SIMULATE_OPERATION, TWIN_PROFILE } from '../fhir/codes/twinCodes';
import { inProcessClient, type OperationClient } from './operations/operationClient';
import type { ScenarioLevers, ScenarioRequest } from '../simulate/scenarioSchedule';
import type { SimulationOutcome, SimulationRequest } from '../simulate/runSimulation';
import { simulatePatient, type SimulateInput, type SimulateResult } from '../simulate/simulateWriter';

export interface SimulateOperationDeps {
  readonly library: ProtocolLibrary;
  readonly validate?: (resource: Resource) => void;
  /** Today (YYYY-MM-DD). */
  readonly today: () => string;
  /** Where simulations run (default: a worker thread per request). */
  readonly run?: (request: SimulationRequest) => Promise<SimulationOutcome>;
  /** Where the patient's data is (default: this server's store). */
  readonly clientOf?: OperationClient;
}

/** What the CapabilityStatement declares for Patient (name and canonical of the OperationDefinition). */
export const SIMULATE_OPERATION_DECLARATION = Object.freeze({ name: 'simulate', definition: SIMULATE_OPERATION });

/**
 * Registers `POST [base]/Patient/{id}/$simulate` (OperationDefinition Patient-simulate in fhir-profiles/, generated
 * by scripts/conformance/twinOperations.ts). Input and output are Parameters (FHIR R4 operations.html#request,
 * #response); a bad request is a 400 OperationOutcome listing every problem; an unknown patient is 404.
 */
export function registerSimulateOperation(router: FhirRouter, deps: SimulateOperationDeps): void {
  router.add(
    'POST',
    ':resourceType/:id/$simulate',
    async (req, repo, r): Promise<FhirResponse> => {
      if (req.params.resourceType !== 'Patient') {
        return [badRequest('$simulate is defined on Patient only')];
      }
      try {
        const { input, bands } = simulateInput(req);
        const result = await simulatePatient(req.params.id, input, {
          ...deps,
          client: (deps.clientOf ?? inProcessClient)(repo, r),
        });
        return [allOk, simulateParameters(result, bands)];
      } catch (err) {
        return [err instanceof OperationOutcomeError ? err.outcome : normalizeOperationOutcome(err)];
      }
    },
    'operation'
  );
}

type Bands = 'index' | 'all' | 'none';

const LEVER_PARTS: Readonly<Record<string, 'decimal' | 'integer'>> = Object.freeze({
  sleepExtraHours: 'decimal',
  sessionsPerWeek: 'integer',
  progressionRate: 'decimal',
  restDays: 'integer',
  illnessStartDay: 'integer',
  illnessDays: 'integer',
  illnessLoadFactor: 'decimal',
  adherence: 'decimal',
});

/** The request's Parameters as SimulateInput; every malformed parameter is reported at once (400). */
export function simulateInput(req: Pick<FhirRequest, 'body'>): { input: SimulateInput; bands: Bands } {
  const body = req.body as Partial<Parameters> | undefined;
  const empty = body === undefined || body === null || (typeof body === 'object' && Object.keys(body).length === 0);
  if (!empty && body.resourceType !== 'Parameters') {
    throw new OperationOutcomeError(badRequest('The request body must be a Parameters resource'));
  }
  const parameters: ParametersParameter[] = empty ? [] : (body.parameter ?? []);
  const issues: OperationOutcomeIssue[] = [];
  const problem = (text: string, expression: string): void => {
    issues.push({ severity: 'error', code: 'invalid', details: { text }, expression: [expression] });
  };
  const scenarios: ScenarioRequest[] = [];
  let horizonDays: number | undefined;
  let trajectories: number | undefined;
  let seed: number | undefined;
  let eventDate: string | undefined;
  let write: boolean | undefined;
  let bands: Bands = 'index';
  parameters.forEach((p, i) => {
    const at = `Parameters.parameter[${i}]`;
    switch (p.name) {
      case 'scenario':
        scenarios.push(scenarioOf(p, `${at}.part`, problem));
        break;
      case 'horizonDays':
        horizonDays = numberOf(p, 'integer', at, problem);
        break;
      case 'trajectories':
        trajectories = numberOf(p, 'integer', at, problem);
        break;
      case 'seed':
        seed = numberOf(p, 'integer', at, problem);
        break;
      case 'eventDate':
        eventDate = p.valueDate ?? p.valueString;
        if (eventDate === undefined) {
          problem('eventDate must be a date', at);
        }
        break;
      case 'write':
        write = p.valueBoolean;
        if (write === undefined) {
          problem('write must be a boolean', at);
        }
        break;
      case 'bands': {
        const value = p.valueCode ?? p.valueString;
        if (value === 'index' || value === 'all' || value === 'none') {
          bands = value;
        } else {
          problem('bands must be index, all or none', at);
        }
        break;
      }
      default:
        problem(`Unknown parameter '${p.name}' for $simulate`, at);
    }
  });
  if (issues.length > 0) {
    throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
  }
  return { input: { scenarios, horizonDays, trajectories, seed, eventDate, write }, bands };
}

function scenarioOf(
  p: ParametersParameter,
  at: string,
  problem: (text: string, expression: string) => void
): ScenarioRequest {
  let protocol: string | undefined;
  let label: string | undefined;
  const values: Record<string, number | undefined> = {};
  (p.part ?? []).forEach((part, j) => {
    const where = `${at}[${j}]`;
    if (part.name === 'protocol') {
      protocol = part.valueString ?? part.valueCanonical ?? part.valueCode;
    } else if (part.name === 'label') {
      label = part.valueString;
    } else if (LEVER_PARTS[part.name ?? ''] !== undefined) {
      values[part.name ?? ''] = numberOf(part, LEVER_PARTS[part.name ?? ''], where, problem);
    } else {
      problem(`Unknown scenario part '${part.name}'`, where);
    }
  });
  if (!protocol) {
    problem('A scenario needs a protocol (PlanDefinition id or canonical)', at);
  }
  const levers: ScenarioLevers = {
    sleepExtraHours: values.sleepExtraHours,
    sessionsPerWeek: values.sessionsPerWeek,
    progressionRate: values.progressionRate,
    restDays: values.restDays,
    adherence: values.adherence,
    ...(values.illnessStartDay !== undefined ||
    values.illnessDays !== undefined ||
    values.illnessLoadFactor !== undefined
      ? {
          illness: {
            startDay: values.illnessStartDay ?? 1,
            days: values.illnessDays ?? 7,
            loadFactor: values.illnessLoadFactor ?? 0,
          },
        }
      : {}),
  };
  return { protocol: protocol ?? '', label, levers };
}

function numberOf(
  p: ParametersParameter,
  type: 'decimal' | 'integer',
  at: string,
  problem: (text: string, expression: string) => void
): number | undefined {
  const value = type === 'integer' ? p.valueInteger : (p.valueDecimal ?? p.valueInteger);
  if (value === undefined) {
    problem(`${p.name} must be ${type === 'integer' ? 'an integer (valueInteger)' : 'a decimal (valueDecimal)'}`, at);
  }
  return value;
}

/** The operation's output Parameters (see the OperationDefinition). */
export function simulateParameters(result: SimulateResult, bands: Bands): Parameters {
  if (result.status === 'skipped-consent') {
    return { resourceType: 'Parameters', parameter: [{ name: 'status', valueCode: 'skipped-consent' }] };
  }
  const { outcome, assessments } = result;
  const parameter: ParametersParameter[] = [
    { name: 'status', valueCode: 'simulated' },
    { name: 'horizonDays', valueInteger: outcome.horizon },
  ];
  outcome.results.forEach((r, i) => {
    const s = r.summary;
    const part: ParametersParameter[] = [
      { name: 'scenario', valueString: r.scenario.label },
      { name: 'protocol', valueCanonical: r.scenario.protocol.url },
      { name: 'rank', valueInteger: r.rank },
      { name: 'description', valueString: assessments[i]?.resource.note?.[0]?.text ?? r.scenario.key },
      { name: 'targetDays', valueInteger: s.targetDaysFromToday },
      { name: 'probabilityWithinTarget', valueDecimal: round(s.probabilityWithinTarget, 3) },
    ];
    if (s.daysToBaseline.median !== undefined) {
      part.push({ name: 'medianDaysToBaseline', valueInteger: s.daysToBaseline.median });
    }
    if (s.daysToBaseline.p10 !== undefined) {
      part.push({ name: 'daysToBaselineLow', valueInteger: s.daysToBaseline.p10 });
    }
    if (s.daysToBaseline.p90 !== undefined) {
      part.push({ name: 'daysToBaselineHigh', valueInteger: s.daysToBaseline.p90 });
    }
    part.push({ name: 'probabilitySetback', valueDecimal: round(s.probabilitySetback, 3) });
    const reference = assessments[i]?.reference;
    if (reference) {
      part.push({ name: 'riskAssessment', valueReference: { reference } });
    }
    for (const band of s.bands) {
      if (bands === 'none' || (bands === 'index' && band.series !== 'recovery-index')) {
        continue;
      }
      band.q50.forEach((q50, t) => {
        part.push({
          name: 'band',
          part: [
            { name: 'series', valueString: band.series },
            { name: 'day', valueInteger: t + 1 },
            { name: 'q10', valueDecimal: round(band.q10[t], 2) },
            { name: 'q50', valueDecimal: round(q50, 2) },
            { name: 'q90', valueDecimal: round(band.q90[t], 2) },
          ],
        });
      });
    }
    parameter.push({ name: 'result', part });
  });
  for (const a of assessments) {
    const id = a.reference?.split('/')[1];
    parameter.push({ name: 'riskAssessment', resource: id ? { ...a.resource, id } : a.resource });
  }
  return { resourceType: 'Parameters', parameter };
}

function round(x: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(x * f) / f;
}

/**
 * The OperationDefinition of `$simulate` (FHIR R4 operationdefinition.html), without version and publisher, which
 * scripts/conformance/twinOperations.ts adds when it publishes it in fhir-profiles/ (`npm run profiles`).
 */
export function simulateOperationDefinition(): OperationDefinition {
  const lever = (
    name: string,
    type: 'string' | 'decimal' | 'integer',
    documentation: string,
    min = 0
  ): NonNullable<OperationDefinition['parameter']>[number] => ({ name, use: 'in', min, max: '1', type, documentation });
  return {
    resourceType: 'OperationDefinition',
    id: 'Patient-simulate',
    url: SIMULATE_OPERATION,
    name: 'Simulate',
    title: 'Simulate recovery under candidate protocols (in silico what-if)',
    status: 'active',
    kind: 'operation',
    experimental: false,
    description:
      "Fits the personalised recovery model to the patient's history (population priors where it is thin) and runs " +
      'a Monte Carlo over its parameters and daily noise for each scenario: a protocol of the library with optional ' +
      'levers (sleep, sessions a week, load progression, rest days, an illness). Returns, per scenario, the days to ' +
      'return to the personal baseline (median and 80% interval), the probability of return within the protocol target ' +
      'time, the probability of a setback, daily quantile bands and the rank; and writes one RiskAssessment per ' +
      'scenario by conditional create on a digest of the inputs (labelled AIAST): the same inputs and seed give the ' +
      "same results and write nothing new. Without scenario, the protocols of the patient's draft proposals are " +
      'simulated. Invalid input (unknown protocol, negative duration, ...) is refused with a 400 OperationOutcome ' +
      'listing every problem.',
    affectsState: true,
    code: 'simulate',
    resource: ['Patient'],
    system: false,
    type: false,
    instance: true,
    parameter: [
      {
        name: 'scenario',
        use: 'in',
        min: 0,
        max: '10',
        documentation: "A protocol with what-if levers; none = the protocols of the patient's draft proposals.",
        part: [
          lever('protocol', 'string', 'PlanDefinition id or canonical of the protocol library.', 1),
          lever('label', 'string', 'Name of the scenario (default: protocol and levers).'),
          lever('sleepExtraHours', 'decimal', 'Extra sleep per night, hours (-4 to 4).'),
          lever('sessionsPerWeek', 'integer', 'Sessions a week, 1 to 7 (default 3).'),
          lever('progressionRate', 'decimal', 'Speed of load progression through the phases (1 = as planned).'),
          lever('restDays', 'integer', 'Full rest days before the first session (0 or more).'),
          lever('illnessStartDay', 'integer', 'An illness starting on this day (1 = tomorrow).'),
          lever('illnessDays', 'integer', 'Length of the illness in days (default 7).'),
          lever('illnessLoadFactor', 'decimal', 'Share of the planned load kept while ill (0 = rest; default 0).'),
          lever('adherence', 'decimal', 'Share of planned sessions done, 0 to 1 (default 1).'),
        ],
      },
      { name: 'horizonDays', use: 'in', min: 0, max: '1', type: 'integer', documentation: 'Days to simulate, 7-365.' },
      {
        name: 'trajectories',
        use: 'in',
        min: 0,
        max: '1',
        type: 'integer',
        documentation: 'Monte Carlo trajectories per scenario, 100-100000 (default 10000).',
      },
      { name: 'seed', use: 'in', min: 0, max: '1', type: 'integer', documentation: 'Random seed (default 1).' },
      {
        name: 'eventDate',
        use: 'in',
        min: 0,
        max: '1',
        type: 'date',
        documentation: 'Day of the injury, operation or illness onset (default: latest Condition onset or Procedure).',
      },
      {
        name: 'write',
        use: 'in',
        min: 0,
        max: '1',
        type: 'boolean',
        documentation: 'Write the RiskAssessments (default true).',
      },
      {
        name: 'bands',
        use: 'in',
        min: 0,
        max: '1',
        type: 'code',
        documentation:
          'Daily quantile bands returned: index (the recovery index, default), all (and each metric), none.',
      },
      {
        name: 'status',
        use: 'out',
        min: 1,
        max: '1',
        type: 'code',
        documentation: 'simulated | skipped-consent',
      },
      { name: 'horizonDays', use: 'out', min: 0, max: '1', type: 'integer', documentation: 'Days simulated.' },
      {
        name: 'result',
        use: 'out',
        min: 0,
        max: '*',
        documentation: 'One per scenario, in request order.',
        part: [
          { name: 'scenario', use: 'out', min: 1, max: '1', type: 'string' },
          { name: 'protocol', use: 'out', min: 1, max: '1', type: 'canonical' },
          { name: 'rank', use: 'out', min: 1, max: '1', type: 'integer', documentation: '1 = best.' },
          { name: 'description', use: 'out', min: 1, max: '1', type: 'string' },
          { name: 'targetDays', use: 'out', min: 1, max: '1', type: 'integer', documentation: 'From today.' },
          { name: 'probabilityWithinTarget', use: 'out', min: 1, max: '1', type: 'decimal' },
          {
            name: 'medianDaysToBaseline',
            use: 'out',
            min: 0,
            max: '1',
            type: 'integer',
            documentation: 'Absent: beyond the horizon.',
          },
          {
            name: 'daysToBaselineLow',
            use: 'out',
            min: 0,
            max: '1',
            type: 'integer',
            documentation: '10th percentile.',
          },
          {
            name: 'daysToBaselineHigh',
            use: 'out',
            min: 0,
            max: '1',
            type: 'integer',
            documentation: '90th percentile.',
          },
          { name: 'probabilitySetback', use: 'out', min: 1, max: '1', type: 'decimal' },
          { name: 'riskAssessment', use: 'out', min: 0, max: '1', type: 'Reference' },
          {
            name: 'band',
            use: 'out',
            min: 0,
            max: '*',
            documentation: 'Quantiles of one simulated series on one day (day 1 = tomorrow).',
            part: [
              { name: 'series', use: 'out', min: 1, max: '1', type: 'string' },
              { name: 'day', use: 'out', min: 1, max: '1', type: 'integer' },
              { name: 'q10', use: 'out', min: 1, max: '1', type: 'decimal' },
              { name: 'q50', use: 'out', min: 1, max: '1', type: 'decimal' },
              { name: 'q90', use: 'out', min: 1, max: '1', type: 'decimal' },
            ],
          },
        ],
      },
      {
        name: 'riskAssessment',
        use: 'out',
        min: 0,
        max: '*',
        type: 'RiskAssessment',
        documentation: `The RiskAssessments, one per scenario (profile ${TWIN_PROFILE.simulatedRecovery}).`,
      },
    ],
  };
}
