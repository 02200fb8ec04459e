import { notFound, OperationOutcomeError } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { FhirClient } from './fhirClient';

/**
 * One resource by logical id through the engine's FhirClient (a `_id` search, FHIR R4 search.html#all), or an
 * OperationOutcomeError `not-found` naming it. An id that is not a valid FHIR id (R4 datatypes.html#id) is not found
 * rather than sent to the server.
 */
export async function readById<T extends Resource>(
  client: FhirClient,
  resourceType: T['resourceType'],
  id: string
): Promise<T> {
  const found = /^[A-Za-z0-9.-]{1,64}$/.test(id) ? await client.searchAll<T>(resourceType, { _id: id }) : [];
  if (!found[0]) {
    throw new OperationOutcomeError({
      ...notFound,
      issue: [{ severity: 'error', code: 'not-found', details: { text: `${resourceType}/${id} not found` } }],
    });
  }
  return found[0];
}
