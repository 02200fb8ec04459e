import { OperationOutcomeError } from '@medplum/core';
import type {
  CarePlan,
  Condition,
  Consent,
  Observation,
  OperationOutcomeIssue,
  Patient,
  Procedure,
  Reference,
  Resource,
  RiskAssessment,
} from '@medplum/fhirtypes';
import { dayNumber, parseDay } from '../calendar/calendarDay';
import { TWIN_RESOURCE_SYSTEM } from '../fhir/codes/twinCodes';
import type { FhirClient } from '../fhir/fhirClient';
import { readById } from '../fhir/readById';
import { ensureModelDevice, idFromResponse } from '../deliver/modelDevice';
import type { ProtocolLibrary } from '../protocols/protocolLibrary';
import { consentAllowsProcessing } from '../policy/consentPolicy';
import { DEFAULT_TRAJECTORIES, type SimulationOutcome, type SimulationRequest } from './runSimulation';
import { checkHorizon, resolveScenarios, type ResolvedScenario, type ScenarioRequest } from './scenarioSchedule';
import { historyDigest, simulationHistory } from './simulationInput';
import { buildSimulationRiskAssessment, buildSimulatorDevice, type SimulationIdentity } from './simulationResources';
import { simulateOffThread } from './simulationWorker';
import { writeBack } from '../deliver/writeBack';
import { createOnce } from '../deliver/writePlan';

export interface SimulateDeps {
  readonly client: FhirClient;
  readonly library: ProtocolLibrary;
  /** Profile validation of every resource before it is sent (the embedded store validates again on write). */
  readonly validate?: (resource: Resource) => void;
  /** Today (YYYY-MM-DD): day 0 of the simulation and the consent date. */
  readonly today: () => string;
  /** Where the simulation runs; default a worker thread (simulateOffThread). Tests may run it in-process. */
  readonly run?: (request: SimulationRequest) => Promise<SimulationOutcome>;
}

/** What a caller asks for (from $simulate's Parameters or the CLI flags). */
export interface SimulateInput {
  /** Scenarios; none = one per protocol of the patient's draft proposals (CarePlan intent=proposal). */
  readonly scenarios: readonly ScenarioRequest[];
  readonly horizonDays?: number;
  readonly trajectories?: number;
  readonly seed?: number | string;
  /** Day of the index event (YYYY-MM-DD), overriding the latest Condition onset / Procedure date. */
  readonly eventDate?: string;
  /** Write the RiskAssessments (default true); false = answer only. */
  readonly write?: boolean;
}

export interface WrittenAssessment {
  readonly resource: RiskAssessment;
  /** `RiskAssessment/{id}` once on the server. */
  readonly reference?: string;
}

export type SimulateResult =
  | { readonly status: 'skipped-consent' }
  | {
      readonly status: 'simulated';
      readonly outcome: SimulationOutcome;
      readonly assessments: readonly WrittenAssessment[];
      /** RiskAssessments sent in this run (0 on a rerun with the same inputs). */
      readonly written: number;
    };

export const MIN_TRAJECTORIES = 100;
export const MAX_TRAJECTORIES = 100_000;

/**
 * `$simulate` for one patient: validates the request (every problem at once, 400), reads the patient's history,
 * fits and runs every scenario off the main thread, and writes one RiskAssessment per scenario (profile
 * simulated-recovery-risk-assessment) by conditional create on its identifier in one transaction (FHIR R4
 * http.html#ccreate, #transaction): same inputs, same identifiers, nothing new written on a rerun.
 */
export async function simulatePatient(
  patientId: string,
  input: SimulateInput,
  deps: SimulateDeps
): Promise<SimulateResult> {
  const { client } = deps;
  await readById<Patient>(client, 'Patient', patientId);
  const subject = `Patient/${patientId}`;
  const today = deps.today();
  const consents = await client.searchAll<Consent>('Consent', { patient: subject });
  if (!consentAllowsProcessing(consents, today)) {
    return { status: 'skipped-consent' };
  }
  const requests = input.scenarios.length > 0 ? input.scenarios : await proposedProtocols(client, subject);
  const { scenarios, trajectories, eventDay } = validate(input, requests, deps.library);
  const asOfDay = dayNumber(today);
  const [observations, conditions, procedures] = await Promise.all([
    client.searchAll<Observation>('Observation', { subject }),
    client.searchAll<Condition>('Condition', { subject }),
    client.searchAll<Procedure>('Procedure', { subject }),
  ]);
  const history = simulationHistory(patientId, asOfDay, observations, { conditions, procedures, eventDay });
  const seed = input.seed ?? 1;
  const request: SimulationRequest = { history, scenarios, horizon: input.horizonDays, trajectories, seed };
  const outcome = await (deps.run ?? simulateOffThread)(request);

  const identity: SimulationIdentity = {
    patientId,
    asOfDay,
    seed,
    trajectories,
    historyDigest: historyDigest(history),
  };
  const write = input.write ?? true;
  const device = write ? await ensureModelDevice(client, buildSimulatorDevice(), deps.validate) : undefined;
  const basis = await baselineBasis(client, subject);
  const resources = outcome.results.map((result) =>
    buildSimulationRiskAssessment(
      identity,
      outcome,
      result,
      // Not written (write=false): no Device on the server to point at, so the model is named, not referenced.
      device ? { reference: device.reference } : { display: 'recovery-twin recovery simulator' },
      basis
    )
  );
  if (!write) {
    return { status: 'simulated', outcome, assessments: resources.map((resource) => ({ resource })), written: 0 };
  }
  const existing = await client.searchAll<RiskAssessment>('RiskAssessment', {
    subject,
    identifier: `${TWIN_RESOURCE_SYSTEM}|`,
  });
  const onServer = new Map<string, string>();
  for (const ra of existing) {
    const value = ra.identifier?.find((i) => i.system === TWIN_RESOURCE_SYSTEM)?.value;
    if (value && ra.id) {
      onServer.set(value, ra.id);
    }
  }
  const assessments: WrittenAssessment[] = [];
  const toSend: { index: number; resource: RiskAssessment }[] = [];
  resources.forEach((resource, index) => {
    const key = resource.identifier?.[0]?.value ?? '';
    const id = onServer.get(key);
    assessments.push({ resource, reference: id ? `RiskAssessment/${id}` : undefined });
    if (!id) {
      deps.validate?.(resource);
      toSend.push({ index, resource });
    }
  });
  if (toSend.length > 0) {
    const { responses } = await writeBack(client, {
      writes: toSend.map(({ resource }) =>
        createOnce(resource, { system: TWIN_RESOURCE_SYSTEM, value: resource.identifier?.[0]?.value ?? '' })
      ),
    });
    const response = { entry: responses };
    toSend.forEach(({ index, resource }, i) => {
      const id = idFromResponse(response.entry?.[i], 'RiskAssessment');
      assessments[index] = { resource, reference: id ? `RiskAssessment/${id}` : undefined };
    });
  }
  return { status: 'simulated', outcome, assessments, written: toSend.length };
}

/** The protocols of the patient's draft proposals (src/proposal writes them), as default scenarios. */
async function proposedProtocols(client: FhirClient, subject: string): Promise<ScenarioRequest[]> {
  const plans = await client.searchAll<CarePlan>('CarePlan', { subject, intent: 'proposal', status: 'draft' });
  const canonicals = [...new Set(plans.flatMap((p) => p.instantiatesCanonical ?? []))].sort();
  return canonicals.map((protocol) => ({ protocol, levers: {} }));
}

/** The twin's baseline Observations of the patient (what "personal baseline" refers to), as basis. */
async function baselineBasis(client: FhirClient, subject: string): Promise<Reference[]> {
  const baselines = await client.searchAll<Observation>('Observation', {
    subject,
    identifier: `${TWIN_RESOURCE_SYSTEM}|`,
  });
  return baselines
    .filter((o) => o.identifier?.some((i) => i.system === TWIN_RESOURCE_SYSTEM && i.value?.startsWith('baseline/')))
    .filter((o) => /(resting-heart-rate|hrv-rmssd|readiness)$/.test(o.identifier?.[0]?.value ?? ''))
    .map((o) => ({ reference: `Observation/${o.id ?? ''}` }))
    .filter((r) => r.reference !== 'Observation/')
    .sort((a, b) => a.reference.localeCompare(b.reference));
}

/** Every input problem at once (STYLE.md 5), as one 400 OperationOutcome. */
function validate(
  input: SimulateInput,
  requests: readonly ScenarioRequest[],
  library: ProtocolLibrary
): { scenarios: ResolvedScenario[]; trajectories: number; eventDay?: number } {
  const issues: OperationOutcomeIssue[] = [];
  const problem = (text: string, expression: string): void => {
    issues.push({ severity: 'error', code: 'invalid', details: { text }, expression: [expression] });
  };
  const trajectories = input.trajectories ?? DEFAULT_TRAJECTORIES;
  if (!Number.isInteger(trajectories) || trajectories < MIN_TRAJECTORIES || trajectories > MAX_TRAJECTORIES) {
    problem(
      `trajectories must be a whole number from ${MIN_TRAJECTORIES} to ${MAX_TRAJECTORIES} (got ${trajectories})`,
      'trajectories'
    );
  }
  if (input.horizonDays !== undefined) {
    try {
      checkHorizon(input.horizonDays);
    } catch (err) {
      issues.push(...outcomeIssues(err));
    }
  }
  let eventDay: number | undefined;
  if (input.eventDate !== undefined) {
    eventDay = parseDay(input.eventDate);
    if (eventDay === undefined) {
      problem(`eventDate must be a calendar date YYYY-MM-DD (got '${input.eventDate}')`, 'eventDate');
    }
  }
  if (requests.length === 0) {
    problem('No scenario given and the patient has no draft proposal to take the protocols from', 'scenario');
  }
  let scenarios: ResolvedScenario[] = [];
  if (requests.length > 0) {
    try {
      scenarios = resolveScenarios(requests, library);
    } catch (err) {
      issues.push(...outcomeIssues(err));
    }
  }
  if (issues.length > 0) {
    throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
  }
  return { scenarios, trajectories, eventDay };
}

function outcomeIssues(err: unknown): OperationOutcomeIssue[] {
  if (err instanceof OperationOutcomeError) {
    return err.outcome.issue ?? [];
  }
  throw err;
}
