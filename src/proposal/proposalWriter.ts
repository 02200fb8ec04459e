import { isRevokedByWithdrawal } from '../policy/consentWithdrawalMarks';
import { badRequest, OperationOutcomeError } from '@medplum/core';
import type {
  ActivityDefinition,
  CarePlan,
  Consent,
  Device,
  OperationOutcomeIssue,
  Resource,
  RiskAssessment,
  Task,
} from '@medplum/fhirtypes';
import { ensureModelDevice, idFromResponse, type ModelDeviceRef } from '../deliver/modelDevice';
import { buildMatcherDevice } from '../evidence/match/matcherDevice';
import { readPatientSituation } from '../evidence/match/patientSituation';
import type {
  MatchResult,
  ProtocolMatch,
  ProtocolMatcher,
  UnmatchedCondition,
} from '../evidence/match/protocolMatcher';
import type { FhirClient } from '../fhir/fhirClient';
import { readById } from '../fhir/readById';
import { MODEL_SHA256_SYSTEM } from '../fhir/codes/twinCanonicals';
import type { ProtocolLibrary } from '../protocols/protocolLibrary';
import { consentAllowsProcessing } from '../policy/consentPolicy';
import { AIAST } from '../policy/aiTransparency';
import { TWIN_RESOURCE_SYSTEM } from '../fhir/codes/twinCodes';
import { placePatient, recordVariables, type PhasePlacement } from './phaseCriteria';
import { applyProtocol, phaseIdOf, proposalIdentifierValue, stopRulesOf } from './planApplier';
import { loadProtocolDefinitions } from './protocolDefinitions';
import { writeBack } from '../deliver/writeBack';
import { append, createOnce, type PlannedWrite, type PlanIdentifier } from '../deliver/writePlan';

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

/** What was found for the best protocol, whether or not anything was written. */
export interface ProposalSummary {
  readonly match: MatchResult;
  readonly issues: readonly OperationOutcomeIssue[];
  /** Care-team Tasks for active conditions the library has no protocol for. */
  readonly careTeamTasks: readonly string[];
}

export type ProposalOutcome =
  | { readonly status: 'skipped-consent' }
  | ({ readonly status: 'no-match' } & ProposalSummary)
  | ({
      /**
       * created: a new proposal; progression-proposed: a plan in force can move on, a proposal for the next phase is
       * written; exists: a proposal awaits review, or this protocol was rejected and nothing has changed since;
       * in-force: the approved plan stands and the next phase is not yet reached.
       */
      readonly status: 'created' | 'progression-proposed' | 'exists' | 'in-force';
      readonly carePlan: string;
      readonly task?: string;
      /** "Phase 2: Strength and neuromuscular control"; absent when the clinician must choose. */
      readonly startPhase?: string;
      readonly phaseReason: string;
      readonly cautions: readonly string[];
      readonly overdue: readonly string[];
    } & ProposalSummary);

/** Definitions loaded on a client once per process (the server keeps them; a restart re-checks and writes nothing). */
const definitionsLoaded = new WeakSet<FhirClient>();

/**
 * From a patient's situation to a proposal on the server: matches the protocol library, places the patient on the
 * best protocol (phaseCriteria.ts), applies it (planApplier.ts) and writes CarePlan, review Task and Provenance in ONE
 * transaction (FHIR R4 http.html#transaction), each a conditional create on its identifier (http.html#ccreate).
 * - No protocol supported by the record: no proposal; an active injury the library has no protocol for gets a Task
 *   for the care team saying so ("No protocol for closed fracture of clavicle in the library"), once.
 * - A proposal awaiting review: nothing is written ("exists").
 * - A plan in force (approved): when the record places the patient in a later phase, a proposal for that phase is
 *   written for review (it `replaces` the plan in force, which is completed when the progression is approved);
 *   otherwise "in-force", with what is overdue.
 * - A rejected proposal is not proposed again for the same phase; a later phase is a new question and is proposed.
 * - A proposal revoked by a consent withdrawal (src/policy/consentWithdrawalMarks.ts) is not a rejection: once a new
 *   Consent permits processing, a fresh proposal is written, under an identifier of its own.
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
  const now = deps.now();
  const situation = await readPatientSituation(client, patientId, now);
  const match = await deps.matcher.match(situation);
  const careTeamTasks = await writeCareTeamTasks(
    client,
    patientId,
    match.unmatchedConditions,
    options.owner,
    now,
    deps.validate
  );
  const summary: ProposalSummary = { match, issues: situation.issues, careTeamTasks };
  const best = match.matches[0];
  if (!best) {
    return { status: 'no-match', ...summary };
  }
  if (!definitionsLoaded.has(client)) {
    await loadProtocolDefinitions(client, deps.library, deps.validate);
    definitionsLoaded.add(client);
  }
  const placement = placePatient(best.planDefinition, recordVariables(situation, best, now));
  const protocolId = best.planDefinition.id ?? '';
  const plans = (await client.searchAll<CarePlan>('CarePlan', { subject: patient })).filter((c) =>
    c.identifier?.some(
      (i) =>
        i.system === TWIN_RESOURCE_SYSTEM && (i.value ?? '').startsWith(proposalIdentifierValue(patientId, protocolId))
    )
  );
  const pending = plans.find((c) => c.status === 'draft');
  const describe = (
    carePlan: string,
    status: 'exists' | 'in-force',
    phaseText: string,
    phaseIndex: number | undefined = placement.start
  ): ProposalOutcome => ({
    status,
    carePlan,
    ...(phaseIndex !== undefined ? { startPhase: placement.phases[phaseIndex]?.label } : {}),
    phaseReason: phaseText,
    cautions: [
      ...match.cautions.map((c) => `Recorded in the notes: ${c}.`),
      ...stopRulesOf(best.planDefinition, phaseIndex),
    ],
    overdue: placement.overdue.map((o) => o.text),
    ...summary,
  });
  if (pending?.id) {
    return describe(`CarePlan/${pending.id}`, 'exists', 'A proposal for this protocol is awaiting review.');
  }
  const inForce = plans.find((c) => c.status === 'active');
  let replaces: string | undefined;
  if (inForce?.id) {
    const phaseIndex = (best.planDefinition.action ?? []).findIndex((a) => a.id === phaseIdOf(inForce));
    if (placement.start === undefined || placement.start <= phaseIndex) {
      const current = phaseIndex >= 0 ? placement.phases[phaseIndex]?.label : undefined;
      const next = phaseIndex >= 0 ? placement.phases[phaseIndex + 1] : undefined;
      return describe(
        `CarePlan/${inForce.id}`,
        'in-force',
        `The approved plan is in force${current ? ` at ${current}` : ''}.` +
          (next
            ? ` ${next.label} is not reached on the record${next.missingWords.length > 0 ? ` (not in the record: ${next.missingWords.join(', ')})` : ''}.`
            : ''),
        phaseIndex >= 0 ? phaseIndex : undefined
      );
    }
    replaces = `CarePlan/${inForce.id}`;
  } else {
    // A proposal revoked because the patient withdrew consent was never reviewed: it is not a rejection.
    const rejected = plans.filter((c) => c.status === 'revoked' && !isRevokedByWithdrawal(c));
    const rejectedSamePhase = rejected.find(
      (c) => phaseIdOf(c) === (placement.start !== undefined ? placement.phases[placement.start]?.id : undefined)
    );
    if (rejectedSamePhase?.id || (rejected.length > 0 && placement.start === undefined)) {
      return describe(
        `CarePlan/${(rejectedSamePhase ?? rejected[0])?.id ?? ''}`,
        'exists',
        'This protocol was rejected for this phase; it is not proposed again until the record places the patient elsewhere.'
      );
    }
  }
  const rejectedBefore = !inForce && plans.some((c) => c.status === 'revoked' && !isRevokedByWithdrawal(c));
  return writeProposal(patientId, deps, options, match, best, placement, summary, {
    replaces,
    byPhase: replaces !== undefined || rejectedBefore,
    withdrawnKeys: new Set(plans.filter(isRevokedByWithdrawal).flatMap((c) => twinValues(c))),
  });
}

async function writeProposal(
  patientId: string,
  deps: ProposeDeps,
  options: ProposeOptions,
  match: MatchResult,
  best: ProtocolMatch,
  placement: PhasePlacement,
  summary: ProposalSummary,
  how: { replaces?: string; byPhase: boolean; withdrawnKeys: ReadonlySet<string> }
): Promise<ProposalOutcome> {
  const { client } = deps;
  const matcher = await ensureModelDevice(client, buildMatcherDevice(deps.library, deps.denseModel), deps.validate);
  const findingRefs = best.agreeing.filter((r) => r.startsWith('RiskAssessment/'));
  const detectors = await detectorDevices(client, findingRefs);
  const now = deps.now();
  const proposal = applyProtocol(best, (canonical) => activityDefinition(deps.library, canonical), {
    patientId,
    matcher,
    detectors,
    findings: findingRefs,
    owner: options.owner,
    cautions: match.cautions,
    placement,
    ...(how.replaces ? { replaces: how.replaces } : {}),
    now,
  });
  // A proposal after a rejection is named by its phase even though it replaces nothing.
  if (how.byPhase && !how.replaces && placement.start !== undefined) {
    const value = proposalIdentifierValue(patientId, best.planDefinition.id ?? '', placement.start + 1);
    proposal.carePlan.identifier = [{ system: TWIN_RESOURCE_SYSTEM, value }];
    proposal.task.identifier = [
      { system: TWIN_RESOURCE_SYSTEM, value: value.replace(/^proposal\//, 'proposal-review/') },
    ];
  }
  // A fresh proposal after a consent withdrawal: the identifier the withdrawn proposal holds would make the create-once
  // below find that revoked plan and write nothing (R4 http.html#ccreate), so the new one is named apart from it.
  const base = twinIdentifier(proposal.carePlan).value;
  if (how.withdrawnKeys.has(base)) {
    let n = 1;
    while (how.withdrawnKeys.has(`${base}/renewed-${n}`)) {
      n++;
    }
    const value = `${base}/renewed-${n}`;
    proposal.carePlan.identifier = [{ system: TWIN_RESOURCE_SYSTEM, value }];
    proposal.task.identifier = [
      { system: TWIN_RESOURCE_SYSTEM, value: value.replace(/^proposal\//, 'proposal-review/') },
    ];
  }
  if (deps.validate) {
    deps.validate(proposal.carePlan);
    // The Task names the CarePlan by its urn:uuid until the server rewrites it (FHIR R4 http.html#trules); the
    // profile's literal-reference rule is checked on the shape it will have.
    deps.validate({ ...proposal.task, focus: { reference: 'CarePlan/pending' } });
    deps.validate(proposal.provenance);
  }
  // One transaction through the deliver stage: CarePlan and review Task created once on their identifiers, and the
  // Provenance of this proposal (an event that happens once: it is only written when the CarePlan is new).
  const { responses } = await writeBack(client, {
    writes: [
      createOnce(proposal.carePlan, twinIdentifier(proposal.carePlan), proposal.carePlanFullUrl),
      createOnce(proposal.task, twinIdentifier(proposal.task), proposal.taskFullUrl),
      append(proposal.provenance),
    ],
  });
  const response = { entry: responses };
  const carePlanId = idFromResponse(response.entry?.[0], 'CarePlan');
  const taskId = idFromResponse(response.entry?.[1], 'Task');
  if (!carePlanId) {
    throw new OperationOutcomeError(badRequest('The server did not return the id of the proposed CarePlan'));
  }
  return {
    status: how.replaces ? 'progression-proposed' : 'created',
    carePlan: `CarePlan/${carePlanId}`,
    ...(taskId ? { task: `Task/${taskId}` } : {}),
    ...(placement.start !== undefined ? { startPhase: placement.phases[placement.start]?.label } : {}),
    phaseReason: placement.reason,
    cautions: proposal.cautions,
    overdue: placement.overdue.map((o) => o.text),
    ...summary,
  };
}

export function careTeamTaskIdentifierValue(patientId: string, conditionReference: string): string {
  return `no-protocol/${patientId}/${conditionReference.replace('Condition/', '')}`;
}

/**
 * One Task per active injury or recovery condition that no protocol of the library covers, for the care team (the
 * review owner when given): the plain statement, focus the Condition. Conditional create on its identifier, so it is
 * raised once; a Task the team has closed is not reopened. Not a review-task: there is nothing to approve, only a gap
 * to plan for by hand.
 */
async function writeCareTeamTasks(
  client: FhirClient,
  patientId: string,
  unmatched: readonly UnmatchedCondition[],
  owner: string | undefined,
  now: string,
  validate?: (resource: Resource) => void
): Promise<string[]> {
  const gaps = unmatched.filter((u) => u.recoveryRelated);
  if (gaps.length === 0) {
    return [];
  }
  const entries: PlannedWrite[] = gaps.map((gap) => {
    const value = careTeamTaskIdentifierValue(patientId, gap.reference);
    const task: Task = {
      resourceType: 'Task',
      meta: { security: [{ ...AIAST }] },
      identifier: [{ system: TWIN_RESOURCE_SYSTEM, value }],
      status: 'requested',
      businessStatus: { text: 'no protocol in the library' },
      intent: 'order',
      priority: 'routine',
      code: { text: 'Plan recovery care: no protocol in the library' },
      description: `${gap.statement} Plan this patient's recovery care for "${gap.label}" without an engine proposal.`,
      focus: { reference: gap.reference },
      for: { reference: `Patient/${patientId}` },
      authoredOn: now,
      ...(owner ? { owner: { reference: owner } } : {}),
    };
    validate?.(task);
    return createOnce(task, { system: TWIN_RESOURCE_SYSTEM, value });
  });
  const { responses } = await writeBack(client, { writes: entries });
  return responses
    .map((e) => idFromResponse(e, 'Task'))
    .filter((id): id is string => !!id)
    .map((id) => `Task/${id}`);
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

export function activityDefinition(library: ProtocolLibrary, canonical: string): ActivityDefinition | undefined {
  const found = library.get(canonical);
  return found?.resourceType === 'ActivityDefinition' ? found : undefined;
}

/** The engine's identifier of a proposal resource (its conditional-create key). */
function twinIdentifier(resource: { identifier?: { system?: string; value?: string }[] }): PlanIdentifier {
  const found = resource.identifier?.find((i) => i.system === TWIN_RESOURCE_SYSTEM);
  return { system: TWIN_RESOURCE_SYSTEM, value: found?.value ?? '' };
}

/** The engine's identifier values on a resource (TWIN_RESOURCE_SYSTEM). */
function twinValues(resource: { identifier?: { system?: string; value?: string }[] }): string[] {
  return (resource.identifier ?? []).flatMap((i) => (i.system === TWIN_RESOURCE_SYSTEM && i.value ? [i.value] : []));
}
