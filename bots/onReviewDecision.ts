// Medplum bot: a clinician changed the status of a proposal's review Task in Medplum (Subscription on review Tasks
// with a FHIRPath criterion `%previous.status != %current.status`, so only status changes reach it). Carries the
// change through the review state machine (src/review): approving makes the CarePlan active and orders its first
// phase, rejecting revokes it, and an invalid transition (approving a proposal nobody accepted, approving twice) is
// refused and the Task is put back to its previous status, so the record never shows a decision that did not happen.
//
// Idempotent: only an event about the Task's latest version is acted on; a duplicated or late event finds a newer
// version (the bot's own write) and changes nothing.
import type { BotEvent, MedplumClient } from '@medplum/core';
import { normalizeErrorString, OperationOutcomeError } from '@medplum/core';
import type { Bundle, Task } from '@medplum/fhirtypes';
import type { FhirClient } from '../src/fhir/fhirClient';
import { TWIN_PROFILE } from '../src/fhir/codes/twinCodes';
import { applyReviewDecision, type ReviewResult } from '../src/review/reviewDecision';
import type { ReviewDecision } from '../src/review/reviewStateMachine';
import { botWorld } from './lib/botWorld';

export type ReviewBotResult =
  | { readonly status: 'ignored'; readonly reason: string }
  | { readonly status: 'applied'; readonly decision: ReviewDecision; readonly result: ReviewResult }
  | {
      readonly status: 'refused';
      readonly decision: ReviewDecision;
      readonly reason: string;
      readonly revertedTo: string;
    };

/** The decision a new Task status means (R4 task.html#statemachine, as reviewStateMachine.ts reads it). */
const DECISION_OF_STATUS: Readonly<Partial<Record<Task['status'], ReviewDecision>>> = Object.freeze({
  accepted: 'accept',
  'in-progress': 'start',
  completed: 'approve',
  rejected: 'reject',
  cancelled: 'cancel',
});

export async function handler(medplum: MedplumClient, event: BotEvent<Task>): Promise<ReviewBotResult> {
  const input = event.input;
  if (input?.resourceType !== 'Task' || !input.id) {
    return { status: 'ignored', reason: 'not a stored Task' };
  }
  if (!input.meta?.profile?.includes(TWIN_PROFILE.reviewTask) || !input.focus?.reference?.startsWith('CarePlan/')) {
    return { status: 'ignored', reason: 'not the review Task of a proposal' };
  }
  const history = (await medplum.readHistory('Task', input.id)) as Bundle<Task>;
  // _history is newest first (FHIR R4 http.html#history).
  const versions = (history.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
  const current = versions[0];
  if (!current || current.meta?.versionId !== input.meta?.versionId) {
    return { status: 'ignored', reason: 'a newer version of the Task exists (event already handled or superseded)' };
  }
  const previous = versions[1];
  if (!previous || previous.status === current.status) {
    return { status: 'ignored', reason: 'status unchanged' };
  }
  const decision = DECISION_OF_STATUS[current.status];
  if (!decision) {
    return { status: 'ignored', reason: `no review decision means status ${current.status}` };
  }
  const world = botWorld(medplum, event);
  const practitioner = practitionerOf(current, event);
  // The state machine judges the transition from the previous status; the Task written back is the clinician's
  // current version (with any other edits kept), version-checked against it (If-Match).
  const asBefore = taskAsBefore(world.client, current, previous.status);
  try {
    const result = await applyReviewDecision(
      asBefore,
      {
        taskId: input.id,
        decision,
        ...(practitioner ? { practitioner } : {}),
        ...(decision === 'reject' || decision === 'cancel'
          ? { reason: current.statusReason?.text ?? current.note?.at(-1)?.text ?? `${decision}ed in Medplum` }
          : {}),
      },
      world.now()
    );
    return { status: 'applied', decision, result };
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) {
      throw err;
    }
    const reason = normalizeErrorString(err);
    await medplum.updateResource<Task>(
      { ...current, status: previous.status, statusReason: { text: `Not carried out: ${reason}` } },
      { headers: { 'If-Match': `W/"${current.meta?.versionId ?? ''}"` } }
    );
    return { status: 'refused', decision, reason, revertedTo: previous.status };
  }
}

/** Who decided: the Task's owner when it is a Practitioner, else the user whose change triggered the bot. */
function practitionerOf(task: Task, event: BotEvent): string | undefined {
  const candidates = [task.owner?.reference, (event as { requester?: { reference?: string } }).requester?.reference];
  return candidates.find((r): r is string => typeof r === 'string' && /^Practitioner\/[A-Za-z0-9.-]{1,64}$/.test(r));
}

/** The client applyReviewDecision sees: this Task reads with its previous status, everything else as on the server. */
function taskAsBefore(client: FhirClient, current: Task, previousStatus: Task['status']): FhirClient {
  return {
    read: async (resourceType, id) =>
      resourceType === 'Task' && id === current.id
        ? ({ ...current, status: previousStatus } as never)
        : client.read(resourceType, id),
    searchAll: (resourceType, query) => client.searchAll(resourceType, query),
    transaction: (bundle) => client.transaction(bundle),
  };
}
