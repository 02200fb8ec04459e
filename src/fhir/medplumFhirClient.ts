import { isNotFound, isGone, OperationOutcomeError, type MedplumClient } from '@medplum/core';
import type { Bundle, Resource, ResourceType } from '@medplum/fhirtypes';
import type { FhirClient } from './fhirClient';
import { FHIR_ID, readNotFound } from './readById';

/** A FhirClient over a MedplumClient: what a Medplum bot is handed, pointed at the Medplum project's FHIR API. */
export class MedplumFhirClient implements FhirClient {
  constructor(private readonly medplum: MedplumClient) {}

  async read<T extends Resource>(resourceType: T['resourceType'] & ResourceType, id: string): Promise<T> {
    if (!FHIR_ID.test(id)) {
      throw readNotFound(resourceType, id);
    }
    try {
      return (await this.medplum.readResource(resourceType, id)) as T;
    } catch (err) {
      if (err instanceof OperationOutcomeError && (isNotFound(err.outcome) || isGone(err.outcome))) {
        throw readNotFound(resourceType, id);
      }
      throw err;
    }
  }

  async searchAll<T extends Resource>(
    resourceType: T['resourceType'] & ResourceType,
    query: Record<string, string>
  ): Promise<T[]> {
    const out: T[] = [];
    // searchResourcePages follows the Bundle's `next` links (FHIR R4 http.html#paging).
    for await (const page of this.medplum.searchResourcePages(resourceType, { ...query, _count: '1000' })) {
      out.push(...(page as unknown as T[]));
    }
    return out;
  }

  async transaction(bundle: Bundle): Promise<Bundle> {
    return this.medplum.executeBatch(bundle);
  }
}
