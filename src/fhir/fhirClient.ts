import type { Bundle, Resource, ResourceType } from '@medplum/fhirtypes';

/**
 * The few FHIR interactions the engine needs from a server, whichever server it is: the embedded store in-process,
 * or any FHIR R4 server over HTTP. The engine's stages take one of these (pass the world in), so the same refresh
 * code runs in the CLI, in the `$twin-refresh` operation and in tests.
 */
export interface FhirClient {
  /**
   * One resource by logical id (FHIR R4 http.html#read); an OperationOutcomeError `not-found` when there is none, it
   * was deleted, or the id is not a valid FHIR id (R4 datatypes.html#id: such an id is never sent to a server).
   */
  read<T extends Resource>(resourceType: T['resourceType'] & ResourceType, id: string): Promise<T>;
  /** Every match of a search, following `next` links (FHIR R4 http.html#paging). */
  searchAll<T extends Resource>(
    resourceType: T['resourceType'] & ResourceType,
    query: Record<string, string>
  ): Promise<T[]>;
  /** Runs a transaction Bundle; throws an OperationOutcomeError if it fails (FHIR R4 http.html#transaction). */
  transaction(bundle: Bundle): Promise<Bundle>;
}
