import { badRequest, OperationOutcomeError } from '@medplum/core';
import type {
  CarePlan,
  CarePlanActivity,
  Goal,
  Practitioner,
  Provenance,
  Reference,
  Resource,
  Task,
} from '@medplum/fhirtypes';
import { idFromResponse } from '../deliver/modelDevice';
import { loadProtocolLibrary, type ProtocolLibrary } from '../protocols/protocolLibrary';
import type { FhirClient } from '../fhir/fhirClient';
import { readById } from '../fhir/readById';
import { AIAST, DATA_OPERATION_SYSTEM, PARTICIPANT_TYPE_SYSTEM } from '../policy/aiTransparency';
import { orderForActivity } from '../proposal/phaseOrders';
import {
  NOT_IN_FORCE_NOTE,
  phaseExtension,
  phaseIdOf,
  PROTOCOL_PHASE_EXTENSION,
  scheduleText,
} from '../proposal/planApplier';
import { activityDefinition } from '../proposal/proposalWriter';
import { TWIN_PROFILE } from '../fhir/codes/twinCodes';
import { BUSINESS_STATUS, nextReviewStatus, type ReviewDecision } from './reviewStateMachine';
import { writeBack } from '../deliver/writeBack';
import { append, versionedUpdate, type PlannedWrite } from '../deliver/writePlan';

export interface ReviewRequest {
  readonly taskId: string;
  readonly decision: ReviewDecision;
  /** `Practitioner/{id}`: who decides; required except to cancel. */
  readonly practitioner?: string;
  /** Why (required to reject; recorded for modify and cancel). */
  readonly reason?: string;
  /** modify: indexes (0-based) of CarePlan.activity to drop. */
  readonly removeActivities?: readonly number[];
  /** modify: a note added to the CarePlan. */
  readonly note?: string;
  /** approve: the phase to start from (its number, 1-based, or its id); needed when the record could not decide. */
  readonly phase?: string;
}

export interface ReviewResult {
  readonly task: string;
  readonly taskStatus: Task['status'];
  readonly carePlan: string;
  readonly carePlanStatus: CarePlan['status'];
  /** Requests created on approval (ServiceRequest/..., Task/..., CommunicationRequest/...). */
  readonly requested: readonly string[];
  /** Goals created on approval. */
  readonly goals: readonly string[];
  /** approve: the phase now in force. */
  readonly phase?: string;
  /** The Provenance of this decision. */
  readonly provenance?: string;
}

/**
 * Carries out one review decision on a proposal, in ONE transaction (FHIR R4 http.html#transaction) with version
 * checks (If-Match, http.html#concurrency), so two clinicians deciding at once cannot both win:
 * - approve: CarePlan active, intent plan, in force from the starting phase (the clinician's choice or the record's);
 *   every activity of that phase becomes the request it stands for (phaseOrders.ts), the protocol's goals become
 *   Goals, the "not in force" note goes; Task completed. A progression's approval completes the plan it replaces.
 * - modify: a new CarePlan version with the edits (activities dropped, note added); Task in-progress.
 * - reject: CarePlan revoked with the reason in a note; Task rejected with statusReason.
 * - accept / start: Task only. cancel: Task cancelled, CarePlan revoked.
 * approve, modify, reject and cancel each write their own Provenance (decisionProvenance). Invalid transitions are
 * refused by reviewStateMachine.ts before anything is written.
 */
export async function applyReviewDecision(
  client: FhirClient,
  request: ReviewRequest,
  now: string,
  validate?: (resource: Resource) => void,
  protocolLibrary?: ProtocolLibrary
): Promise<ReviewResult> {
  const task = await readById<Task>(client, 'Task', request.taskId);
  if (!task.meta?.profile?.includes(TWIN_PROFILE.reviewTask)) {
    throw new OperationOutcomeError(badRequest('This Task is not a twin review Task', 'Task.meta.profile'));
  }
  const focus = task.focus?.reference ?? '';
  if (!focus.startsWith('CarePlan/')) {
    throw new OperationOutcomeError(badRequest('This review Task is not about a proposed CarePlan', 'Task.focus'));
  }
  const carePlan = await readById<CarePlan>(client, 'CarePlan', focus.slice('CarePlan/'.length));
  const next = nextReviewStatus(request.decision, task, carePlan, request.practitioner);
  if (request.practitioner) {
    await readById<Practitioner>(client, 'Practitioner', request.practitioner.slice('Practitioner/'.length));
  }
  if (request.decision === 'reject' && !request.reason?.trim()) {
    throw new OperationOutcomeError(
      badRequest('A rejection must say why (reason); it is recorded on the CarePlan and the Task', 'reason')
    );
  }

  const entries: PlannedWrite[] = [];
  const newTask: Task = {
    ...task,
    status: next,
    businessStatus: { text: BUSINESS_STATUS[request.decision] },
    lastModified: now,
    ...(request.practitioner && !task.owner ? { owner: { reference: request.practitioner } } : {}),
    ...(request.decision === 'reject' || request.decision === 'cancel'
      ? { statusReason: { text: request.reason ?? 'withdrawn' } }
      : {}),
  };
  let newCarePlan: CarePlan | undefined;
  let phaseLabel: string | undefined;
  const practitioner = request.practitioner;

  switch (request.decision) {
    case 'accept':
    case 'start':
      break;
    case 'approve': {
      const approval = approvedPlan(carePlan, request, practitioner ?? '', now, protocolLibrary ?? library());
      entries.push(...approval.entries);
      newCarePlan = approval.carePlan;
      phaseLabel = approval.phaseLabel;
      const replaced = carePlan.replaces?.[0]?.reference;
      if (replaced?.startsWith('CarePlan/')) {
        const old = await readById<CarePlan>(client, 'CarePlan', replaced.slice('CarePlan/'.length));
        if (old.status === 'active') {
          entries.push(
            versionedUpdate(
              {
                ...old,
                id: old.id ?? '',
                status: 'completed',
                period: { ...old.period, end: now },
                note: [
                  ...(old.note ?? []),
                  { text: `Superseded by CarePlan/${carePlan.id ?? ''} (${approval.phaseLabel}).`, time: now },
                ],
              },
              old.meta?.versionId
            )
          );
        }
      }
      break;
    }
    case 'modify': {
      const drop = new Set(request.removeActivities ?? []);
      const count = carePlan.activity?.length ?? 0;
      const bad = [...drop].filter((i) => !Number.isInteger(i) || i < 0 || i >= count);
      if (bad.length > 0 || (drop.size === 0 && !request.note)) {
        throw new OperationOutcomeError(
          badRequest(
            bad.length > 0
              ? `No activity at index ${bad.join(', ')} (the plan has ${count})`
              : 'A modification must remove activities or add a note',
            'removeActivity'
          )
        );
      }
      newCarePlan = {
        ...carePlan,
        activity: (carePlan.activity ?? []).filter((_, i) => !drop.has(i)),
        note: [
          ...(carePlan.note ?? []),
          ...(request.note || request.reason
            ? [{ text: [request.note, request.reason].filter(Boolean).join(' — '), time: now }]
            : []),
        ],
      };
      break;
    }
    case 'reject':
    case 'cancel':
      newCarePlan = {
        ...carePlan,
        status: 'revoked',
        note: [
          ...(carePlan.note ?? []),
          {
            text: `${request.decision === 'reject' ? 'Rejected' : 'Withdrawn'}: ${request.reason ?? ''}`.trim(),
            time: now,
          },
        ],
      };
      break;
  }

  if (newCarePlan && practitioner) {
    entries.push(append(decisionProvenance(request, carePlan, task, practitioner, now, entries)));
  }
  if (newCarePlan) {
    validate?.(newCarePlan);
    entries.unshift(versionedUpdate({ ...newCarePlan, id: carePlan.id ?? '' }, carePlan.meta?.versionId));
  }
  validate?.(newTask);
  entries.unshift(versionedUpdate({ ...newTask, id: task.id ?? '' }, task.meta?.versionId));

  // One transaction through the deliver stage; every update is checked against the version read (If-Match).
  const written = await writeBack(client, { writes: entries });
  const response = { entry: written.responses };
  const requested: string[] = [];
  const goals: string[] = [];
  let provenance: string | undefined;
  for (const [i, e] of written.sent.entries()) {
    if (e.kind !== 'append') {
      continue;
    }
    const type = e.resource.resourceType;
    const id = idFromResponse(response.entry?.[i], type);
    if (!id) {
      continue;
    }
    if (type === 'Provenance') {
      provenance = `Provenance/${id}`;
    } else if (type === 'Goal') {
      goals.push(`Goal/${id}`);
    } else {
      requested.push(`${type}/${id}`);
    }
  }
  return {
    task: `Task/${task.id ?? ''}`,
    taskStatus: next,
    carePlan: `CarePlan/${carePlan.id ?? ''}`,
    carePlanStatus: newCarePlan?.status ?? carePlan.status,
    requested,
    goals,
    ...(phaseLabel ? { phase: phaseLabel } : {}),
    ...(provenance ? { provenance } : {}),
  };
}

function participant(code: string, display: string): Provenance['agent'][number]['type'] {
  return { coding: [{ system: PARTICIPANT_TYPE_SYSTEM, code, display }] };
}

/**
 * The Provenance of one decision (FHIR R4 provenance.html). activity: v3-DataOperation UPDATE (every decision updates
 * the CarePlan; the decision is the activity's text); agents: the clinician as author (who decided) and verifier (who
 * checked what the engine proposed, HL7 AI Transparency on FHIR); entities: the CarePlan version that was reviewed
 * (role revision) and the PlanDefinition it instantiates. Targets: the CarePlan and the Task by plain reference, so
 * `Provenance?target=CarePlan/{id}` finds every decision, and whatever the decision created in the same transaction
 * (requests, Goals) by their fullUrls, which the server rewrites to their ids. Never edits the proposal's Provenance.
 */
function decisionProvenance(
  request: ReviewRequest,
  carePlan: CarePlan,
  task: Task,
  practitioner: string,
  now: string,
  entries: readonly PlannedWrite[]
): Provenance {
  const created = entries
    .filter((e) => e.kind === 'append' && e.fullUrl)
    .map((e) => ({ reference: (e.kind === 'append' && e.fullUrl) || '' }));
  const protocol = carePlan.instantiatesCanonical?.[0]?.split('|')[0]?.split('/').pop();
  return {
    resourceType: 'Provenance',
    target: [{ reference: `CarePlan/${carePlan.id ?? ''}` }, { reference: `Task/${task.id ?? ''}` }, ...created],
    occurredDateTime: now,
    recorded: now,
    activity: {
      coding: [{ system: DATA_OPERATION_SYSTEM, code: 'UPDATE', display: 'revise' }],
      text: request.decision,
    },
    agent: [
      { type: participant('author', 'Author'), who: { reference: practitioner } },
      { type: participant('verifier', 'Verifier'), who: { reference: practitioner } },
    ],
    entity: [
      {
        role: 'revision',
        what: { reference: `CarePlan/${carePlan.id ?? ''}/_history/${carePlan.meta?.versionId ?? ''}` },
      },
      ...(protocol ? [{ role: 'source' as const, what: { reference: `PlanDefinition/${protocol}` } }] : []),
    ],
    ...(request.reason ? { reason: [{ text: request.reason }] } : {}),
  };
}

let cachedLibrary: ProtocolLibrary | undefined;
function library(): ProtocolLibrary {
  cachedLibrary ??= loadProtocolLibrary();
  return cachedLibrary;
}

/**
 * Approval: the CarePlan in force, and every activity of its starting phase ordered as the request it stands for
 * (phaseOrders.ts). The phase is the clinician's choice when given (request.phase: its number, 1-based, or its id),
 * else the one the proposal found on the record; with neither, approval is refused: a plan in force with nothing
 * ordered helps nobody. The CarePlan gets status active, intent plan, period from now, addresses (the Conditions it
 * treats), goals (Goal resources from the protocol: active for the starting phase, planned for later ones), the phase
 * extension, and loses its "not in force" note; the stop rules and sources stay.
 */
function approvedPlan(
  carePlan: CarePlan,
  request: ReviewRequest,
  practitioner: string,
  now: string,
  lib: ProtocolLibrary
): { carePlan: CarePlan; entries: PlannedWrite[]; phaseLabel: string } {
  const canonical = carePlan.instantiatesCanonical?.[0] ?? '';
  const pd = lib.get(canonical);
  if (pd?.resourceType !== 'PlanDefinition') {
    throw new OperationOutcomeError(
      badRequest(`The protocol ${canonical} of this proposal is not in the library`, 'CarePlan.instantiatesCanonical')
    );
  }
  const phases = pd.action ?? [];
  const wanted = request.phase?.trim() || undefined;
  const index = wanted
    ? /^\d+$/.test(wanted)
      ? Number(wanted) - 1
      : phases.findIndex((p) => p.id === wanted)
    : phases.findIndex((p) => p.id === phaseIdOf(carePlan));
  const phase = index >= 0 ? phases[index] : undefined;
  if (!phase) {
    throw new OperationOutcomeError(
      badRequest(
        wanted
          ? `No phase "${wanted}" in this protocol (phases 1 to ${phases.length})`
          : `The record does not show which phase applies: approve with a phase (1 to ${phases.length}) to choose it`,
        'phase'
      )
    );
  }
  const phaseId = phase.id ?? `phase-${index + 1}`;
  const label = [phase.prefix, phase.title].filter(Boolean).join(': ') || `Phase ${index + 1}`;
  const carePlanRef = `CarePlan/${carePlan.id ?? ''}`;
  const conditions = (carePlan.addresses ?? []).length
    ? (carePlan.addresses ?? [])
    : (carePlan.supportingInfo ?? []).filter((r) => r.reference?.startsWith('Condition/'));
  const otherReasons = (carePlan.supportingInfo ?? []).filter((r) => r.reference?.startsWith('DocumentReference/'));
  const entries: PlannedWrite[] = [];
  const activity: CarePlanActivity[] = [];
  for (const a of carePlan.activity ?? []) {
    const detail = a.detail;
    if (!detail || a.reference || phaseIdOf(detail) !== phaseId || detail.status === 'cancelled') {
      // The other phases' activities stay as plans: earlier phases are marked past (not ordered), later ones wait for
      // their entry criteria, whatever the proposal said before the clinician chose the phase.
      const at = detail ? phases.findIndex((p) => p.id === phaseIdOf(detail)) : -1;
      activity.push(
        detail && !a.reference && at >= 0
          ? {
              ...a,
              detail: {
                ...detail,
                scheduledString: scheduleText(
                  [phases[at]?.prefix, phases[at]?.title].filter(Boolean).join(': '),
                  at < index ? 'past' : 'later'
                ),
              },
            }
          : a
      );
      continue;
    }
    const order = orderForActivity(detail, {
      carePlan,
      requester: practitioner,
      conditions,
      otherReasons,
      reasonText: pd.topic?.[0]?.text ?? pd.title ?? 'Recovery care plan',
      phase,
      activityDefinitions: (c) => activityDefinition(lib, c),
      now,
    });
    const fullUrl = `urn:uuid:${crypto.randomUUID()}`;
    entries.push(append(order, fullUrl));
    // R4 CarePlan.activity: a reference or a detail, not both (cpl-3).
    activity.push({ ...a, detail: undefined, reference: { reference: fullUrl } });
  }
  if (entries.length === 0) {
    throw new OperationOutcomeError(
      badRequest(
        `${label} has no activity left on this plan to order; modify the plan or choose another phase`,
        'phase'
      )
    );
  }
  const goalRefs: Reference<Goal>[] = [];
  for (const g of pd.goal ?? []) {
    const fullUrl = `urn:uuid:${crypto.randomUUID()}`;
    const goal: Goal = {
      resourceType: 'Goal',
      meta: { security: [{ ...AIAST }] },
      lifecycleStatus: phase.goalId?.includes(g.id ?? '') ? 'active' : 'planned',
      description: { text: g.description?.text ?? 'Recovery goal' },
      subject: carePlan.subject ?? {},
      startDate: now.slice(0, 10),
      expressedBy: { reference: practitioner },
      ...(conditions.length > 0 ? { addresses: conditions.map((c) => ({ reference: c.reference })) } : {}),
      note: [{ text: `Goal of the protocol "${pd.title ?? pd.id ?? ''}" (${carePlanRef}).` }],
    };
    entries.push(append(goal, fullUrl));
    goalRefs.push({ reference: fullUrl });
  }
  const chosenByClinician = wanted !== undefined && phaseIdOf(carePlan) !== phaseId;
  const approved: CarePlan = {
    ...carePlan,
    meta: { ...carePlan.meta, profile: undefined, security: carePlan.meta?.security },
    extension: [
      ...(carePlan.extension ?? []).filter((e) => e.url !== PROTOCOL_PHASE_EXTENSION),
      phaseExtension(phaseId),
    ],
    status: 'active',
    intent: 'plan',
    period: { start: now },
    ...(conditions.length > 0 ? { addresses: conditions.map((c) => ({ reference: c.reference })) } : {}),
    goal: goalRefs,
    contributor: [...(carePlan.contributor ?? []), { reference: practitioner }],
    activity,
    note: [
      ...(carePlan.note ?? []).filter((n) => !n.text.startsWith(NOT_IN_FORCE_NOTE)),
      {
        text: `In force from ${label}${chosenByClinician ? ' (phase chosen by the approving clinician)' : ''}, approved by ${practitioner}.`,
        time: now,
      },
    ],
  };
  return { carePlan: approved, entries, phaseLabel: label };
}
