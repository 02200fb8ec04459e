import type { CarePlan, Task } from '@medplum/fhirtypes';

/**
 * How a withdrawal of consent marks what it stops (src/withdrawal/withdrawalPlan.ts), so that the stages that write
 * again once a new Consent permits processing can tell "stopped because the patient withdrew consent" from a
 * clinician's decision: a proposal revoked by withdrawal was never rejected, and a finding's review cancelled by
 * withdrawal was never done. The marks are the plain-language texts the withdrawal writes (R4 Annotation.text on the
 * CarePlan, Task.statusReason.text), read back exactly.
 */

/**
 * The note on a CarePlan the twin no longer supports. Its text is the marker a rerun recognises (so the note is added
 * once); it says what happened in plain words for the clinician who reads the plan.
 */
export const WITHDRAWAL_NOTE =
  'The patient withdrew consent to processing by the recovery twin: this plan is no longer supported by the twin. ' +
  'It stays in the record as clinical history.';

/** Task.statusReason of a review Task cancelled because its finding or proposal was withdrawn. */
export const WITHDRAWN_TASK_REASON = 'Withdrawn: the patient withdrew consent to processing by the recovery twin.';

/** A proposal revoked by a consent withdrawal (not by a clinician's rejection: R4 valueset-request-status revoked). */
export function isRevokedByWithdrawal(carePlan: CarePlan): boolean {
  return carePlan.status === 'revoked' && (carePlan.note ?? []).some((n) => n.text === WITHDRAWAL_NOTE);
}

/** A Task cancelled by a consent withdrawal (R4 task.html#statemachine: cancelled, with this statusReason). */
export function isCancelledByWithdrawal(task: Task): boolean {
  return task.status === 'cancelled' && task.statusReason?.text === WITHDRAWN_TASK_REASON;
}
