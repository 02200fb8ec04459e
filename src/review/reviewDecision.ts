import { badRequest, OperationOutcomeError } from '@medplum/core';
import type {
  BundleEntry,
  CarePlan,
  CarePlanActivity,
  Practitioner,
  Provenance,
  Resource,
  ServiceRequest,
  Task,
} from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhirClient';
import { readById } from '../fhir/readById';
import { AIAST, DATA_OPERATION_SYSTEM, PARTICIPANT_TYPE_SYSTEM } from '../policy/aiTransparency';
import { FROM_APPROVAL } from '../proposal/planApplier';
import { TWIN_PROFILE } from '../fhir/codes/twinCodes';
import { BUSINESS_STATUS, nextReviewStatus, type ReviewDecision } from './reviewStateMachine';

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
}

export interface ReviewResult {
  readonly task: string;
  readonly taskStatus: Task['status'];
  readonly carePlan: string;
  readonly carePlanStatus: CarePlan['status'];
  /** Requests created on approval (ServiceRequest/..., Task/...). */
  readonly requested: readonly string[];
}

/**
 * Carries out one review decision on a proposal, in ONE transaction (FHIR R4 http.html#transaction) with version
 * checks (If-Match, http.html#concurrency), so two clinicians deciding at once cannot both win:
 * - approve: CarePlan active, intent plan (no longer claims the proposal profile), the clinician as contributor; the
 *   starting phase's activities become requests (ServiceRequest / Task, basedOn the CarePlan); Task completed; the
 *   proposal's Provenance gains the clinician as `verifier` agent (HL7 AI Transparency on FHIR).
 * - modify: a new CarePlan version with the edits (activities dropped, note added) and a Provenance of the update with
 *   the clinician as author; Task in-progress.
 * - reject: CarePlan revoked with the reason in a note; Task rejected with statusReason.
 * - accept / start: Task only. cancel: Task cancelled, CarePlan revoked.
 * Invalid transitions are refused by reviewStateMachine.ts before anything is written.
 */
export async function applyReviewDecision(
  client: FhirClient,
  request: ReviewRequest,
  now: string,
  validate?: (resource: Resource) => void
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

  const entries: BundleEntry[] = [];
  const requested: string[] = [];
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
  const practitionerRef = request.practitioner ? { reference: request.practitioner } : undefined;

  switch (request.decision) {
    case 'accept':
    case 'start':
      break;
    case 'approve': {
      const activity: CarePlanActivity[] = [];
      for (const a of carePlan.activity ?? []) {
        const detail = a.detail;
        const startPhase = detail?.scheduledString?.endsWith(FROM_APPROVAL) ?? false;
        if (!detail || !startPhase || (detail.kind !== 'ServiceRequest' && detail.kind !== 'Task')) {
          activity.push(a);
          continue;
        }
        const fullUrl = `urn:uuid:${crypto.randomUUID()}`;
        const common = {
          meta: { security: [{ ...AIAST }] },
          intent: 'order' as const,
          basedOn: [{ reference: `CarePlan/${carePlan.id ?? ''}` }],
          requester: practitionerRef,
          authoredOn: now,
        };
        const resource: ServiceRequest | Task =
          detail.kind === 'ServiceRequest'
            ? {
                resourceType: 'ServiceRequest',
                ...common,
                ...(detail.instantiatesCanonical ? { instantiatesCanonical: detail.instantiatesCanonical } : {}),
                status: 'active',
                subject: carePlan.subject,
                code: detail.code,
                note: detail.description ? [{ text: detail.description }] : undefined,
              }
            : {
                resourceType: 'Task',
                ...common,
                // R4 Task.instantiatesCanonical is a single canonical (to an ActivityDefinition).
                ...(detail.instantiatesCanonical?.[0]
                  ? { instantiatesCanonical: detail.instantiatesCanonical[0] }
                  : {}),
                status: 'requested',
                for: carePlan.subject,
                code: detail.code,
                description: detail.description,
              };
        entries.push({ fullUrl, resource, request: { method: 'POST', url: resource.resourceType } });
        // R4 CarePlan.activity: a reference or a detail, not both (cpl-3).
        activity.push({ ...a, detail: undefined, reference: { reference: fullUrl } });
      }
      newCarePlan = {
        ...carePlan,
        meta: { ...carePlan.meta, profile: undefined, security: carePlan.meta?.security },
        status: 'active',
        intent: 'plan',
        contributor: [...(carePlan.contributor ?? []), ...(practitionerRef ? [practitionerRef] : [])],
        activity,
      };
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
      entries.push({
        resource: {
          resourceType: 'Provenance',
          target: [{ reference: `CarePlan/${carePlan.id ?? ''}/_history/${nextVersion(carePlan)}` }],
          recorded: now,
          activity: { coding: [{ system: DATA_OPERATION_SYSTEM, code: 'UPDATE', display: 'revise' }] },
          agent: [{ type: participant('author', 'Author'), who: practitionerRef ?? {} }],
          entity: [
            {
              role: 'revision',
              what: { reference: `CarePlan/${carePlan.id ?? ''}/_history/${carePlan.meta?.versionId ?? ''}` },
            },
          ],
          ...(request.reason ? { reason: [{ text: request.reason }] } : {}),
        } satisfies Provenance,
        request: { method: 'POST', url: 'Provenance' },
      });
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

  if (request.decision === 'approve' && practitionerRef) {
    // The proposal's Provenance gains the approving clinician as verifier (AI Transparency on FHIR: a human verified
    // what the AI asserted).
    const provenances = await client.searchAll<Provenance>('Provenance', { target: `CarePlan/${carePlan.id ?? ''}` });
    for (const p of provenances.filter((x) => x.reason?.some((r) => r.coding?.some((c) => c.code === AIAST.code)))) {
      entries.push({
        resource: { ...p, agent: [...p.agent, { type: participant('verifier', 'Verifier'), who: practitionerRef }] },
        request: { method: 'PUT', url: `Provenance/${p.id ?? ''}`, ifMatch: weakEtag(p) },
      });
    }
  }

  if (newCarePlan) {
    validate?.(newCarePlan);
    entries.unshift({
      resource: newCarePlan,
      request: { method: 'PUT', url: `CarePlan/${carePlan.id ?? ''}`, ifMatch: weakEtag(carePlan) },
    });
  }
  validate?.(newTask);
  entries.unshift({
    resource: newTask,
    request: { method: 'PUT', url: `Task/${task.id ?? ''}`, ifMatch: weakEtag(task) },
  });

  const response = await client.transaction({ resourceType: 'Bundle', type: 'transaction', entry: entries });
  for (const [i, e] of entries.entries()) {
    if (e.request?.method === 'POST' && e.resource?.resourceType !== 'Provenance') {
      const location = response.entry?.[i]?.response?.location ?? '';
      const match = /(ServiceRequest|Task)\/[A-Za-z0-9.-]{1,64}/.exec(location);
      if (match) {
        requested.push(match[0]);
      }
    }
  }
  return {
    task: `Task/${task.id ?? ''}`,
    taskStatus: next,
    carePlan: `CarePlan/${carePlan.id ?? ''}`,
    carePlanStatus: newCarePlan?.status ?? carePlan.status,
    requested,
  };
}

function participant(code: string, display: string): Provenance['agent'][number]['type'] {
  return { coding: [{ system: PARTICIPANT_TYPE_SYSTEM, code, display }] };
}

/** FHIR R4 http.html#concurrency: If-Match carries the version as a weak ETag. */
function weakEtag(resource: Resource): string | undefined {
  return resource.meta?.versionId ? `W/"${resource.meta.versionId}"` : undefined;
}

function nextVersion(resource: Resource): string {
  const v = Number(resource.meta?.versionId);
  return Number.isInteger(v) ? String(v + 1) : 'next';
}
