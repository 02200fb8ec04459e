import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';

/**
 * An OperationOutcomeError for the HTTP statuses @medplum/core's getStatus() has no outcome for (405, 406). The
 * status travels with the error rather than being guessed from an outcome id.
 */
export class StatusOutcomeError extends OperationOutcomeError {
  constructor(
    readonly status: number,
    text: string,
    code: 'not-supported' | 'invalid' | 'too-costly' = 'not-supported'
  ) {
    super(outcomeOf(code, text));
  }
}

function outcomeOf(code: string, text: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: code as 'not-supported', details: { text } }],
  };
}
