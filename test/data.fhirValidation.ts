import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import type { ResourceValidator } from '../src/fhir/validation';
import { createValidator } from '../src/fhir/validation';

/**
 * Test helper for the data tests: runs the project validator (base R4 + every known profile in meta.profile, incl.
 * the base R4 vital-signs profiles, + required bindings) and returns its issues instead of throwing. A claimed
 * profile the validator does not know is reported as an issue here, so no claim goes unchecked.
 */
let validator: ResourceValidator | undefined;
let unknownProfiles: string[] = [];

export function validationIssues(resource: Resource): OperationOutcomeIssue[] {
  validator ??= createValidator({ onUnknownProfile: (url) => unknownProfiles.push(url) });
  unknownProfiles = [];
  const issues: OperationOutcomeIssue[] = [];
  try {
    validator.validate(resource);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) {
      throw err;
    }
    issues.push(...(err.outcome.issue ?? []));
  }
  for (const url of unknownProfiles) {
    issues.push({ severity: 'error', code: 'not-found', diagnostics: `profile ${url} not known to the validator` });
  }
  return issues;
}
