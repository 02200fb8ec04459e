import { createHash } from 'node:crypto';
import type {
  ActivityDefinition,
  CarePlan,
  CarePlanActivity,
  PlanDefinitionAction,
  Provenance,
  ProvenanceAgent,
  ProvenanceEntity,
  Reference,
  Task,
} from '@medplum/fhirtypes';
import { MODEL_SHA256_SYSTEM } from '../fhir/codes/twinCanonicals';
import type { ProtocolMatch } from '../evidence/match/protocolMatcher';
import type { ModelDeviceRef } from '../deliver/modelDevice';
import { TWIN_PROFILE, TWIN_RESOURCE_SYSTEM } from '../fhir/codes/twinCodes';
import { AIAST, DATA_OPERATION_SYSTEM, PARTICIPANT_TYPE_SYSTEM } from '../policy/aiTransparency';
import type { PhaseAssessment } from './phaseCriteria';

/** The kinds a CarePlan activity.detail may have (R4 care-plan-activity-kind). */
const DETAIL_KINDS = new Set([
  'Appointment',
  'CommunicationRequest',
  'DeviceRequest',
  'MedicationRequest',
  'NutritionOrder',
  'Task',
  'ServiceRequest',
  'VisionPrescription',
]);

export interface ProposalContext {
  readonly patientId: string;
  /** The matcher's Device, author of the proposal. */
  readonly matcher: ModelDeviceRef;
  /** Detector Devices whose findings support the proposal (their RiskAssessments' performers). */
  readonly detectors: readonly ModelDeviceRef[];
  /** The twin's findings (RiskAssessment references) the proposal rests on. */
  readonly findings: readonly string[];
  /** Who reviews: a Practitioner, PractitionerRole, Organization or CareTeam reference; none = unassigned. */
  readonly owner?: string;
  readonly cautions: readonly string[];
  /** Each phase's entry criteria on the record (phaseCriteria.ts) and the phase to start from (none: clinician picks). */
  readonly phases: readonly PhaseAssessment[];
  readonly startPhase: number | undefined;
  /** The clock, passed in (ISO instant). */
  readonly now: string;
}

export interface Proposal {
  readonly carePlan: CarePlan;
  readonly task: Task;
  readonly provenance: Provenance;
  /** fullUrls the transaction uses, so the Task and Provenance can point to the CarePlan before it has an id. */
  readonly carePlanFullUrl: string;
  readonly taskFullUrl: string;
}

export function proposalIdentifierValue(patientId: string, protocolId: string): string {
  return `proposal/${patientId}/${protocolId}`;
}

export function proposalReviewIdentifierValue(patientId: string, protocolId: string): string {
  return `proposal-review/${patientId}/${protocolId}`;
}

/**
 * Applies a protocol (PlanDefinition) to a patient with the semantics of FHIR R4 $apply (plandefinition-operation-
 * apply.html): the result is a CarePlan that instantiates the PlanDefinition, with an activity per action; here it is
 * a *proposal* (status draft, intent proposal, profile care-plan-proposal) and comes with the review Task (profile
 * review-task) and a Provenance in the shape of HL7 AI Transparency on FHIR: the model Devices as author agents, the
 * inputs as `derivation` entities, the model cards as `source` entities, reason AIAST. Every resource carries the
 * AIAST security label. Pure: the clock and the Devices are passed in; fullUrls derive from the identifiers, so the
 * same input gives the same Bundle.
 */
export function applyProtocol(
  match: ProtocolMatch,
  activityDefinitions: (canonical: string) => ActivityDefinition | undefined,
  context: ProposalContext
): Proposal {
  const pd = match.planDefinition;
  const protocolId = pd.id ?? '';
  const patient = `Patient/${context.patientId}`;
  const carePlanFullUrl = `urn:uuid:${deterministicUuid(proposalIdentifierValue(context.patientId, protocolId))}`;
  const taskFullUrl = `urn:uuid:${deterministicUuid(proposalReviewIdentifierValue(context.patientId, protocolId))}`;
  const supportingInfo: Reference[] = [...new Set([...context.findings, ...match.supportedBy])].map((reference) => ({
    reference,
  }));
  const cautions =
    context.cautions.length > 0
      ? ` Cautions found in the notes, to weigh before approving: ${context.cautions.join(', ')}.`
      : '';
  const start = context.startPhase !== undefined ? context.phases[context.startPhase] : undefined;
  const phaseText = start
    ? ` Start at ${start.label} (${start.status === 'met' ? 'its entry criteria are met on the record' : 'nothing recorded yet to place the patient further on'}).`
    : ' The record does not show which phase applies (the first phase no longer does and no later phase is confirmed): choose it when reviewing.';
  const unknown = context.phases.filter((p) => p.status === 'unknown' && p.index !== context.startPhase);
  const unknownText =
    unknown.length > 0
      ? ` Not assessable from the record: ${unknown.map((p) => `${p.label.split(':')[0]} (needs ${p.missing.join(', ')})`).join('; ')}.`
      : '';
  const rationale =
    `Proposed protocol "${pd.title ?? protocolId}" (match score ${match.score.toFixed(2)}). ${match.rationale}` +
    phaseText +
    unknownText +
    cautions;

  const carePlan: CarePlan = {
    resourceType: 'CarePlan',
    meta: { profile: [TWIN_PROFILE.carePlanProposal], security: [{ ...AIAST }] },
    identifier: [{ system: TWIN_RESOURCE_SYSTEM, value: proposalIdentifierValue(context.patientId, protocolId) }],
    instantiatesCanonical: [pd.version ? `${pd.url}|${pd.version}` : (pd.url ?? '')],
    status: 'draft',
    intent: 'proposal',
    title: pd.title,
    description: rationale,
    subject: { reference: patient },
    created: context.now,
    author: { reference: context.matcher.reference },
    supportingInfo,
    activity: (pd.action ?? []).flatMap((phase, i) =>
      phaseActivities(phase, i === context.startPhase, activityDefinitions)
    ),
    note: [
      {
        text:
          'Generated by recovery-twin. Not in force: nothing here is to be acted on until a clinician approves it ' +
          'through its review Task.' +
          cautions,
      },
    ],
  };

  const task: Task = {
    resourceType: 'Task',
    meta: { profile: [TWIN_PROFILE.reviewTask], security: [{ ...AIAST }] },
    identifier: [{ system: TWIN_RESOURCE_SYSTEM, value: proposalReviewIdentifierValue(context.patientId, protocolId) }],
    status: 'requested',
    // R4 Task.businessStatus: the review's own stage, beside the generic workflow status.
    businessStatus: { text: 'awaiting review' },
    intent: 'order',
    priority: context.cautions.length > 0 ? 'urgent' : 'routine',
    code: { text: 'Review proposed recovery care plan' },
    description: `Approve, modify or reject the proposed care plan "${pd.title ?? protocolId}".`,
    focus: { reference: carePlanFullUrl },
    for: { reference: patient },
    authoredOn: context.now,
    ...(context.owner ? { owner: { reference: context.owner } } : {}),
  };

  const devices = [context.matcher, ...context.detectors];
  const agent: ProvenanceAgent[] = devices.map((d) => ({
    type: { coding: [{ system: PARTICIPANT_TYPE_SYSTEM, code: 'author', display: 'Author' }] },
    who: { reference: d.reference },
  }));
  const entity: ProvenanceEntity[] = [
    ...supportingInfo.map((what) => ({ role: 'derivation' as const, what })),
    { role: 'derivation', what: { reference: `PlanDefinition/${protocolId}`, display: pd.title } },
    // The model card of each Device: its sha256 identifies the exact model (or configuration) the card describes.
    ...devices.map((d) => ({
      role: 'source' as const,
      what: {
        identifier: { system: MODEL_SHA256_SYSTEM, value: d.sha256 },
        display: `Model card of ${d.reference} (version ${d.version})`,
      },
    })),
  ];
  const provenance: Provenance = {
    resourceType: 'Provenance',
    meta: { security: [{ ...AIAST }] },
    target: [{ reference: carePlanFullUrl }, { reference: taskFullUrl }],
    recorded: context.now,
    activity: { coding: [{ system: DATA_OPERATION_SYSTEM, code: 'CREATE', display: 'create' }] },
    reason: [{ coding: [{ ...AIAST }] }],
    agent,
    entity,
  };
  return { carePlan, task, provenance, carePlanFullUrl, taskFullUrl };
}

/**
 * Said in `detail.scheduledString` of the starting phase's activities: on approval these become requests
 * (reviewDecision.ts); the other phases wait until their entry criteria are met and a clinician moves the plan on.
 */
export const FROM_APPROVAL = 'from approval';

/** A phase (top-level action) becomes one activity per nested action, labelled with the phase and its entry criteria. */
function phaseActivities(
  phase: PlanDefinitionAction,
  startPhase: boolean,
  activityDefinitions: (canonical: string) => ActivityDefinition | undefined
): CarePlanActivity[] {
  const label = [phase.prefix, phase.title].filter(Boolean).join(': ');
  const entry = (phase.condition ?? [])
    .filter((c) => c.kind === 'applicability' || c.kind === 'start')
    .map((c) => c.expression?.description ?? c.expression?.expression)
    .filter(Boolean)
    .join('; ');
  const actions = phase.action?.length ? phase.action : [phase];
  return actions.map((action) => {
    const template = action.definitionCanonical ? activityDefinitions(action.definitionCanonical) : undefined;
    const kind = template?.kind && DETAIL_KINDS.has(template.kind) ? template.kind : undefined;
    return {
      detail: {
        ...(kind ? { kind: kind as NonNullable<CarePlanActivity['detail']>['kind'] } : {}),
        ...(action.definitionCanonical ? { instantiatesCanonical: [action.definitionCanonical] } : {}),
        code: { text: action.title ?? template?.title ?? 'Activity' },
        status: 'not-started',
        scheduledString: `${label || 'Phase'} — ${startPhase ? FROM_APPROVAL : 'when its entry criteria are met'}`,
        description: [label, action.description, entry ? `Starts when: ${entry}` : undefined]
          .filter(Boolean)
          .join(' — '),
      },
    };
  });
}

/** A UUID-shaped value derived from a key (its sha256), so the same proposal always gets the same fullUrl. */
function deterministicUuid(key: string): string {
  const s = createHash('sha256').update(key, 'utf8').digest('hex');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-8${s.slice(17, 20)}-${s.slice(20, 32)}`;
}
