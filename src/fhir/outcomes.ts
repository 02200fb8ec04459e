import { getStatus, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/**
 * The engine's errors, as FHIR OperationOutcomes (FHIR R4 operationoutcome.html). Engine code throws one of these;
 * each door converts it once (HTTP status and body in the server, a message and exit code in the CLI, the bot's
 * result in a bot). The HTTP status follows the issue code (httpStatusOf), so an outcome built here never depends
 * on a magic `id` to get the right status.
 */

type IssueType = OperationOutcomeIssue['code'];

function outcome(code: IssueType, details: string, expression?: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [
      { severity: 'error', code, details: { text: details }, ...(expression ? { expression: [expression] } : {}) },
    ],
  };
}

/** Input that is malformed or out of range (HTTP 400): the caller can fix it. */
export function invalidInput(details: string, expression?: string): OperationOutcomeError {
  return new OperationOutcomeError(outcome('invalid', details, expression));
}

/** Input that is well formed but that a business rule refuses (HTTP 422), e.g. a review decision not allowed now. */
export function refusedByRule(details: string, expression?: string): OperationOutcomeError {
  return new OperationOutcomeError(outcome('business-rule', details, expression));
}

/** Something named that does not exist (HTTP 404). */
export function notFoundError(details: string, expression?: string): OperationOutcomeError {
  return new OperationOutcomeError(outcome('not-found', details, expression));
}

/** A feature or option that is not supported (HTTP 400, FHIR R4 http.html: an unsupported parameter is an error). */
export function notSupported(details: string, expression?: string): OperationOutcomeError {
  return new OperationOutcomeError(outcome('not-supported', details, expression));
}

/**
 * A fault of the engine or its environment, not of the input (HTTP 500): a broken invariant, a missing file of the
 * installation. The server never sends its text to a client (it may name paths); the CLI prints it.
 */
export function internalFault(details: string): OperationOutcomeError {
  return new OperationOutcomeError(outcome('exception', details));
}

/** HTTP status of each issue type (FHIR R4 http.html and valueset-issue-type); unlisted types answer 400. */
const STATUS_BY_ISSUE_CODE: Readonly<Partial<Record<IssueType, number>>> = Object.freeze({
  security: 401,
  login: 401,
  unknown: 401,
  expired: 401,
  forbidden: 403,
  suppressed: 403,
  'not-found': 404,
  deleted: 410,
  conflict: 409,
  duplicate: 409,
  'too-long': 413,
  'too-costly': 413,
  'business-rule': 422,
  throttled: 429,
  exception: 500,
  transient: 503,
  timeout: 504,
  informational: 200,
});

/**
 * The HTTP status of an outcome. Medplum's well-known outcomes (allOk, created, notFound, gone, conflict,
 * preconditionFailed, ...) are recognised by their `id`, as @medplum/core getStatus does; any other outcome by the
 * code of its first error issue.
 */
export function httpStatusOf(result: OperationOutcome): number {
  if (result.id) {
    return getStatus(result);
  }
  const first = result.issue?.find((i) => i.severity === 'error' || i.severity === 'fatal') ?? result.issue?.[0];
  if (!first) {
    return 200;
  }
  if (first.severity !== 'error' && first.severity !== 'fatal') {
    return 200;
  }
  return STATUS_BY_ISSUE_CODE[first.code] ?? 400;
}
