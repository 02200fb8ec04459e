import type { Resource } from '@medplum/fhirtypes';
import { notFoundError } from './outcomes';

/** FHIR R4 datatypes.html#id: 1 to 64 of A-Z, a-z, 0-9, '-' and '.'. */
export const FHIR_ID = /^[A-Za-z0-9.-]{1,64}$/;

/** The not-found error every client raises for a read that finds nothing (names the reference, nothing else). */
export function readNotFound(resourceType: string, id: string): Error {
  return notFoundError(`${resourceType}/${FHIR_ID.test(id) ? id : '(invalid id)'} not found`);
}

/** One resource by logical id through a client's `read`: kept as a function for the stages that take a client. */
export async function readById<T extends Resource>(
  client: { read<R extends Resource>(resourceType: R['resourceType'], id: string): Promise<R> },
  resourceType: T['resourceType'],
  id: string
): Promise<T> {
  return client.read<T>(resourceType, id);
}
