import type { Resource } from '@medplum/fhirtypes';
import { contentOf } from '../deliver/sameContent';
import { writeBack } from '../deliver/writeBack';
import { versionedUpdate, type PlannedWrite } from '../deliver/writePlan';
import type { FhirClient } from '../fhir/fhirClient';
import type { ProtocolLibrary } from '../protocols/protocolLibrary';

export interface DefinitionsLoad {
  /** Resources written (new, or a changed version of the library). */
  readonly written: readonly string[];
  /** Resources already on the server with the same content. */
  readonly unchanged: number;
}

/**
 * Puts the protocol library on the server: every PlanDefinition, ActivityDefinition and CodeSystem under its own id
 * (update as create, FHIR R4 http.html#upsert), so a proposal's `instantiatesCanonical` (url|version) and its
 * Provenance entity `PlanDefinition/{id}` resolve there. Idempotent: a resource whose content is already on the server
 * is not sent, so a restart writes nothing; a new library version is written as a new server version of the same id
 * (the old one stays in its history, which is what older proposals' url|version named). One transaction.
 */
export async function loadProtocolDefinitions(
  client: FhirClient,
  library: ProtocolLibrary,
  validate?: (resource: Resource) => void
): Promise<DefinitionsLoad> {
  const all: Resource[] = [...library.codeSystems, ...library.activityDefinitions, ...library.planDefinitions];
  const entries: PlannedWrite[] = [];
  const written: string[] = [];
  let unchanged = 0;
  for (const type of ['CodeSystem', 'ActivityDefinition', 'PlanDefinition'] as const) {
    const ofType = all.filter((r) => r.resourceType === type);
    if (ofType.length === 0) {
      continue;
    }
    const onServer = await client.searchAll<Resource>(type, { _id: ofType.map((r) => r.id ?? '').join(',') });
    const byId = new Map(onServer.map((r) => [r.id ?? '', r]));
    for (const resource of ofType) {
      const existing = byId.get(resource.id ?? '');
      if (existing && contentOf(existing) === contentOf(resource)) {
        unchanged++;
        continue;
      }
      validate?.(resource);
      // Update as create under the library's own id, with no version check: the library is the source of truth.
      entries.push(versionedUpdate({ ...resource, id: resource.id ?? '' }));
      written.push(`${type}/${resource.id ?? ''}`);
    }
  }
  await writeBack(client, { writes: entries });
  return { written, unchanged };
}
