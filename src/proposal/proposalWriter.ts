import { badRequest, OperationOutcomeError } from '@medplum/core';
import type {
  ActivityDefinition,
  Bundle,
  CarePlan,
  Consent,
  Device,
  OperationOutcomeIssue,
  Resource,
  RiskAssessment,
} from '@medplum/fhirtypes';
import { identifierSearch } from '../fhir/identifierSearch';
import { ensureModelDevice, idFromResponse, type ModelDeviceRef } from '../deliver/modelDevice';
import { buildMatcherDevice } from '../evidence/match/matcherDevice';
import { readPatientSituation } from '../evidence/match/patientSituation';
import type { MatchResult, ProtocolMatcher } from '../evidence/match/protocolMatcher';
import type { FhirClient } from '../fhir/fhirClient';
import { readById } from '../fhir/readById';
import { MODEL_SHA256_SYSTEM } from '../fhir/codes/twinCanonicals';
import type { ProtocolLibrary } from '../protocols/protocolLibrary';
import { consentAllowsProcessing } from '../policy/consentPolicy';
import { TWIN_RESOURCE_SYSTEM } from '../fhir/codes/twinCodes';
import { assessPhases, currentPhase, recordVariables } from './phaseCriteria';
import { applyProtocol, proposalIdentifierValue } from './planApplier';

export interface ProposeDeps {
  readonly client: FhirClient;
  readonly library: ProtocolLibrary;
  readonly matcher: ProtocolMatcher;
  /** Name of the dense model taking part, if any (part of the matcher Device's identity). */
  readonly denseModel?: string;
  readonly validate?: (resource: Resource) => void;
  /** The clock (ISO instant). */
  readonly now: () => string;
}

export interface ProposeOptions {
  /** Review Task owner (Practitioner/..., PractitionerRole/..., Organization/..., CareTeam/...). */
  readonly owner?: string;
}

export type ProposalOutcome =
  | { readonly status: 'no-match'; readonly match: MatchResult; readonly issues: readonly OperationOutcomeIssue[] }
  | { readonly status: 'skipped-consent' }
  | {
      readonly status: 'created' | 'exists';
      readonly match: MatchResult;
      readonly carePlan: string;
      readonly task?: string;
      readonly issues: readonly OperationOutcomeIssue[];
    };

/**
 * From a patient's situation to a proposal on the server: matches the protocol library, applies the best protocol
 * (planApplier.ts) and writes CarePlan, review Task and Provenance in ONE transaction (FHIR R4 http.html#transaction).
 * Idempotent: the CarePlan and Task are conditional creates on their identifiers (http.html#ccreate) and nothing is
 * sent when the proposal for that protocol already exists, whatever its review state (a rejected proposal is not
 * proposed again by the next run). No match -> no proposal, and the outcome says why.
 */
export async function proposeCarePlan(
  patientId: string,
  deps: ProposeDeps,
  options: ProposeOptions = {}
): Promise<ProposalOutcome> {
  const { client } = deps;
  const patient = `Patient/${patientId}`;
  // A mistyped id must not read as "no matching protocol".
  await readById(client, 'Patient', patientId);
  const consents = await client.searchAll<Consent>('Consent', { patient });
  if (!consentAllowsProcessing(consents, deps.now().slice(0, 10))) {
    return { status: 'skipped-consent' };
  }
  const situation = await readPatientSituation(client, patientId, deps.now());
  const match = await deps.matcher.match(situation);
  const best = match.matches[0];
  if (!best) {
    return { status: 'no-match', match, issues: situation.issues };
  }
  const protocolId = best.planDefinition.id ?? '';
  const identifier = `${TWIN_RESOURCE_SYSTEM}|${proposalIdentifierValue(patientId, protocolId)}`;
  const existing = await client.searchAll<CarePlan>('CarePlan', { identifier });
  if (existing[0]?.id) {
    return { status: 'exists', match, carePlan: `CarePlan/${existing[0].id}`, issues: situation.issues };
  }

  const matcher = await ensureModelDevice(client, buildMatcherDevice(deps.library, deps.denseModel), deps.validate);
  const findingRefs = situation.findings.slice(0, 3).map((f) => f.reference);
  const detectors = await detectorDevices(client, findingRefs);
  const now = deps.now();
  const phases = assessPhases(best.planDefinition, recordVariables(situation, best, now));
  const proposal = applyProtocol(best, (canonical) => activityDefinition(deps.library, canonical), {
    patientId,
    matcher,
    detectors,
    findings: findingRefs,
    owner: options.owner,
    cautions: match.cautions,
    phases,
    startPhase: currentPhase(phases),
    now,
  });
  if (deps.validate) {
    deps.validate(proposal.carePlan);
    // The Task names the CarePlan by its urn:uuid until the server rewrites it (FHIR R4 http.html#trules); the
    // profile's literal-reference rule is checked on the shape it will have.
    deps.validate({ ...proposal.task, focus: { reference: 'CarePlan/pending' } });
    deps.validate(proposal.provenance);
  }
  const ifNoneExist = (value: string): string => identifierSearch(TWIN_RESOURCE_SYSTEM, value);
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: proposal.carePlanFullUrl,
        resource: proposal.carePlan,
        request: {
          method: 'POST',
          url: 'CarePlan',
          ifNoneExist: ifNoneExist(proposalIdentifierValue(patientId, protocolId)),
        },
      },
      {
        fullUrl: proposal.taskFullUrl,
        resource: proposal.task,
        request: { method: 'POST', url: 'Task', ifNoneExist: ifNoneExist(proposal.task.identifier?.[0]?.value ?? '') },
      },
      { resource: proposal.provenance, request: { method: 'POST', url: 'Provenance' } },
    ],
  };
  const response = await client.transaction(bundle);
  const carePlanId = idFromResponse(response.entry?.[0], 'CarePlan');
  const taskId = idFromResponse(response.entry?.[1], 'Task');
  if (!carePlanId) {
    throw new OperationOutcomeError(badRequest('The server did not return the id of the proposed CarePlan'));
  }
  return {
    status: 'created',
    match,
    carePlan: `CarePlan/${carePlanId}`,
    ...(taskId ? { task: `Task/${taskId}` } : {}),
    issues: situation.issues,
  };
}

/** The Devices that performed the findings, with their sha256 (for the Provenance's model-card entities). */
async function detectorDevices(client: FhirClient, findingRefs: readonly string[]): Promise<ModelDeviceRef[]> {
  if (findingRefs.length === 0) {
    return [];
  }
  const ids = findingRefs.map((r) => r.split('/')[1] ?? '').filter(Boolean);
  const findings = await client.searchAll<RiskAssessment>('RiskAssessment', { _id: ids.join(',') });
  const deviceIds = [
    ...new Set(
      findings
        .map((f) => f.performer?.reference)
        .filter((r): r is string => typeof r === 'string' && r.startsWith('Device/'))
        .map((r) => r.slice('Device/'.length))
    ),
  ];
  if (deviceIds.length === 0) {
    return [];
  }
  const devices = await client.searchAll<Device>('Device', { _id: deviceIds.join(',') });
  return devices.map((d) => ({
    reference: `Device/${d.id ?? ''}`,
    version: d.version?.[0]?.value ?? '',
    sha256: d.identifier?.find((i) => i.system === MODEL_SHA256_SYSTEM)?.value ?? '',
  }));
}

function activityDefinition(library: ProtocolLibrary, canonical: string): ActivityDefinition | undefined {
  const found = library.get(canonical);
  return found?.resourceType === 'ActivityDefinition' ? found : undefined;
}
