import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { CarePlan, Task } from '@medplum/fhirtypes';

/** What a clinician (or the care team's workflow) does with a proposal's review Task. */
export type ReviewDecision = 'accept' | 'start' | 'approve' | 'modify' | 'reject' | 'cancel';

export const REVIEW_DECISIONS: readonly ReviewDecision[] = ['accept', 'start', 'approve', 'modify', 'reject', 'cancel'];

type TaskStatus = Task['status'];

/**
 * The review's valid transitions, on FHIR R4 Task.status (task.html#statemachine: requested -> received/accepted ->
 * in-progress -> completed, or rejected/cancelled on the way):
 * - accept:  requested | received -> accepted          (a clinician takes the review)
 * - start:   accepted -> in-progress                   (the review is under way)
 * - modify:  accepted | in-progress -> in-progress     (a new CarePlan version with the clinician's edits)
 * - approve: accepted | in-progress -> completed       (the CarePlan becomes active)
 * - reject:  requested | received | accepted | in-progress -> rejected (the CarePlan is revoked, with the reason)
 * - cancel:  requested | received | accepted | in-progress | on-hold -> cancelled (withdrawn, e.g. superseded)
 * Every other pair is refused: approving twice, approving a rejected review, approving before anyone accepted it.
 */
const TRANSITIONS: Readonly<Record<ReviewDecision, { from: readonly TaskStatus[]; to: TaskStatus }>> = Object.freeze({
  accept: { from: ['requested', 'received'], to: 'accepted' },
  start: { from: ['accepted'], to: 'in-progress' },
  modify: { from: ['accepted', 'in-progress'], to: 'in-progress' },
  approve: { from: ['accepted', 'in-progress'], to: 'completed' },
  reject: { from: ['requested', 'received', 'accepted', 'in-progress'], to: 'rejected' },
  cancel: { from: ['requested', 'received', 'accepted', 'in-progress', 'on-hold'], to: 'cancelled' },
});

/** The Task.businessStatus text after each decision (R4 Task.businessStatus: the domain's own stage). */
export const BUSINESS_STATUS: Readonly<Record<ReviewDecision, string>> = Object.freeze({
  accept: 'under review',
  start: 'under review',
  modify: 'modified, awaiting approval',
  approve: 'approved',
  reject: 'rejected',
  cancel: 'withdrawn',
});

/** Decisions that must name the clinician who takes them (a Practitioner). */
const NEEDS_PRACTITIONER: ReadonlySet<ReviewDecision> = new Set(['accept', 'start', 'approve', 'modify', 'reject']);

/**
 * Checks a decision against the Task and its CarePlan and returns the Task's next status; throws an
 * OperationOutcomeError (business-rule / required) naming what is wrong. Pure.
 */
export function nextReviewStatus(
  decision: ReviewDecision,
  task: Pick<Task, 'status'>,
  carePlan: Pick<CarePlan, 'status' | 'intent'>,
  practitioner: string | undefined
): TaskStatus {
  const transition = TRANSITIONS[decision];
  if (NEEDS_PRACTITIONER.has(decision) && !/^Practitioner\/[A-Za-z0-9.-]{1,64}$/.test(practitioner ?? '')) {
    throw new OperationOutcomeError(
      outcome('required', `To ${decision} a proposal, name the clinician as a Practitioner reference`, 'practitioner')
    );
  }
  if (!transition.from.includes(task.status)) {
    const hint =
      task.status === 'completed'
        ? 'it has already been approved'
        : task.status === 'rejected' || task.status === 'cancelled'
          ? `the review was ${task.status}`
          : `valid from ${transition.from.join(' or ')}`;
    throw new OperationOutcomeError(
      outcome('business-rule', `Cannot ${decision} a review whose Task is ${task.status}: ${hint}`, 'Task.status')
    );
  }
  if (decision !== 'cancel' && (carePlan.status !== 'draft' || carePlan.intent !== 'proposal')) {
    throw new OperationOutcomeError(
      outcome(
        'business-rule',
        `Cannot ${decision} a care plan that is ${carePlan.status} (${carePlan.intent}); only a draft proposal is reviewed`,
        'CarePlan.status'
      )
    );
  }
  return transition.to;
}

function outcome(code: 'required' | 'business-rule', text: string, expression: string): ReturnType<typeof badRequest> {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, details: { text }, expression: [expression] }],
  };
}
