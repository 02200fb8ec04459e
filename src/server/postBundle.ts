import { OperationOutcomeError } from '@medplum/core';
import { httpStatusOf } from '../fhir/outcomes';
import type { FhirRepository, FhirRouter } from '@medplum/fhir-router';
import type { Bundle } from '@medplum/fhirtypes';

/**
 * Runs a batch or transaction Bundle through the router exactly as `POST [base]` would (FHIR R4
 * http.html#transaction), without HTTP: used to load the seed cohort through the same code path as clients.
 * Throws the router's OperationOutcome if the Bundle as a whole fails.
 */
export async function postBundle(router: FhirRouter, repo: FhirRepository, bundle: Bundle): Promise<Bundle> {
  const [outcome, result] = await router.handleRequest(
    { method: 'POST', url: '/', pathname: '', body: bundle, params: {}, query: {}, config: { transactions: true } },
    repo
  );
  if (httpStatusOf(outcome) >= 400 || result?.resourceType !== 'Bundle') {
    throw new OperationOutcomeError(outcome);
  }
  return result;
}
