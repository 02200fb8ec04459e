import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Parameters, ParametersParameter, Practitioner, Resource, RiskAssessment, Task } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhirClient';
import { readById } from '../fhir/readById';
import { TWIN_PROFILE } from '../fhir/codes/twinCodes';
import { writeBack } from '../deliver/writeBack';
import { versionedUpdate } from '../deliver/writePlan';

/**
 * A clinician's review of an early-warning finding: the review Task whose focus is an anomaly
 * RiskAssessment (src/detect/findings/) is confirmed or dismissed, with the reason recorded. The finding itself is
 * not changed: it stays the algorithm's assertion (AIAST), and the clinician's judgement is recorded on the Task
 * (output, note with author and time, businessStatus), so both remain visible side by side.
 *
 * - confirm: the care team agrees the finding needs attention (for a "sustained change (new normal?)" finding: the
 *   shift is confirmed as the person's new normal). The reason is optional and recorded when given.
 * - dismiss: the finding does not need attention (explained, artefact, already known). A reason is required.
 * Both complete the Task (R4 task.html#statemachine: the review was done) from requested, received, accepted or
 * in-progress; a Task already completed, cancelled (its finding withdrawn), rejected or failed is refused. A withdrawn
 * finding (entered-in-error) cannot be confirmed. Written in one transaction with If-Match (http.html#concurrency),
 * so two clinicians deciding at once cannot both win.
 */
export type FindingReviewDecision = 'confirm' | 'dismiss';
export const FINDING_REVIEW_DECISIONS: readonly FindingReviewDecision[] = ['confirm', 'dismiss'];

export interface FindingReviewRequest {
  readonly taskId: string;
  readonly decision: FindingReviewDecision;
  /** `Practitioner/{id}` of the deciding clinician (must exist). */
  readonly practitioner: string;
  /** Why (required to dismiss). */
  readonly reason?: string;
}

export interface FindingReviewResult {
  readonly task: string;
  readonly taskStatus: Task['status'];
  readonly finding: string;
  readonly decision: 'confirmed' | 'dismissed';
}

const FROM: ReadonlySet<Task['status']> = new Set(['requested', 'received', 'accepted', 'in-progress']);

/** The Task's focus when it is an anomaly finding (`RiskAssessment/{id}`), else undefined. */
export function findingFocus(task: Task): string | undefined {
  const focus = task.focus?.reference ?? '';
  return task.meta?.profile?.includes(TWIN_PROFILE.reviewTask) && focus.startsWith('RiskAssessment/')
    ? focus
    : undefined;
}

export async function applyFindingReview(
  client: FhirClient,
  request: FindingReviewRequest,
  now: string,
  validate?: (resource: Resource) => void
): Promise<FindingReviewResult> {
  const task = await readById<Task>(client, 'Task', request.taskId);
  const focus = findingFocus(task);
  if (!focus) {
    throw new OperationOutcomeError(
      badRequest('This Task is not the review of an early-warning finding', 'Task.focus')
    );
  }
  if (!(FINDING_REVIEW_DECISIONS as readonly string[]).includes(request.decision)) {
    throw new OperationOutcomeError(
      badRequest(`A finding's review is decided by ${FINDING_REVIEW_DECISIONS.join(' or ')}`, 'decision')
    );
  }
  if (!/^Practitioner\/[A-Za-z0-9.-]{1,64}$/.test(request.practitioner)) {
    throw new OperationOutcomeError(
      badRequest('To confirm or dismiss a finding, name the clinician as a Practitioner reference', 'practitioner')
    );
  }
  const reason = request.reason?.trim();
  if (request.decision === 'dismiss' && !reason) {
    throw new OperationOutcomeError(
      badRequest('A dismissal must say why (reason); it is recorded on the Task', 'reason')
    );
  }
  if (!FROM.has(task.status)) {
    throw new OperationOutcomeError(
      badRequest(`This review is ${task.status}: it can no longer be confirmed or dismissed`, 'Task.status')
    );
  }
  const finding = await readById<RiskAssessment>(client, 'RiskAssessment', focus.slice('RiskAssessment/'.length));
  if (finding.status === 'entered-in-error' && request.decision === 'confirm') {
    throw new OperationOutcomeError(badRequest('This finding was withdrawn; it cannot be confirmed', 'Task.focus'));
  }
  await readById<Practitioner>(client, 'Practitioner', request.practitioner.slice('Practitioner/'.length));

  const decision = request.decision === 'confirm' ? 'confirmed' : 'dismissed';
  const newNormal = finding.prediction?.some((p) => p.outcome?.text === 'sustained change (new normal?)') ?? false;
  const business = decision === 'confirmed' && newNormal ? 'confirmed as new normal' : decision;
  const updated: Task = {
    ...task,
    status: 'completed',
    businessStatus: { text: business },
    lastModified: now,
    owner: task.owner ?? { reference: request.practitioner },
    output: [
      ...(task.output ?? []),
      { type: { text: 'review decision' }, valueCode: decision },
      ...(reason ? [{ type: { text: 'review reason' }, valueString: reason }] : []),
    ],
    note: [
      ...(task.note ?? []),
      {
        authorReference: { reference: request.practitioner },
        time: now,
        text: `Finding ${business}${reason ? `: ${reason}` : ''}.`,
      },
    ],
  };
  validate?.(updated);
  // Version-checked (If-Match): a Task someone changed since it was read fails rather than being overwritten.
  await writeBack(client, { writes: [versionedUpdate({ ...updated, id: task.id ?? '' }, task.meta?.versionId)] });
  return { task: `Task/${task.id ?? ''}`, taskStatus: 'completed', finding: focus, decision };
}

/**
 * The one dispatch point for `$review` and `twin review`: when the Task reviews a finding, carry out the
 * finding review and return its Parameters; otherwise undefined, and the caller goes on with the proposal review
 * (src/review/reviewDecision.ts). `input` is the operation's Parameters (decision, practitioner, reason).
 */
export async function dispatchFindingReview(
  client: FhirClient,
  taskId: string,
  input: readonly ParametersParameter[],
  now: string,
  validate?: (resource: Resource) => void
): Promise<Parameters | undefined> {
  const task = await readById<Task>(client, 'Task', taskId);
  if (!findingFocus(task)) {
    return undefined;
  }
  const decision = input.find((p) => p.name === 'decision')?.valueCode ?? '';
  if (!(FINDING_REVIEW_DECISIONS as readonly string[]).includes(decision)) {
    throw new OperationOutcomeError(
      badRequest(
        `decision must be ${FINDING_REVIEW_DECISIONS.join(' or ')} for a finding's review`,
        'Parameters.parameter'
      )
    );
  }
  const result = await applyFindingReview(
    client,
    {
      taskId,
      decision: decision as FindingReviewDecision,
      practitioner: input.find((p) => p.name === 'practitioner')?.valueReference?.reference ?? '',
      reason: input.find((p) => p.name === 'reason')?.valueString,
    },
    now,
    validate
  );
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'taskStatus', valueCode: result.taskStatus },
      { name: 'findingDecision', valueCode: result.decision },
    ],
  };
}
