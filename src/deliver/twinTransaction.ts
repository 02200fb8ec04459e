import { badRequest, OperationOutcomeError } from '@medplum/core';
import { identifierSearch } from '../fhir/identifierSearch';
import type { Bundle, BundleEntry, Observation, Resource } from '@medplum/fhirtypes';

/**
 * One transaction per patient that makes the server's twin equal to `resources`:
 * every resource by conditional update on its deterministic identifier (FHIR R4 http.html#cond-update), so a replay
 * changes nothing and never duplicates, and every twin resource that should no longer exist (its data was retracted)
 * by conditional delete on its identifier. All or nothing (http.html#transaction).
 *
 * `validate` runs on every resource before anything is sent: the engine never writes what its profiles refuse.
 */
export function buildTwinTransaction(
  resources: readonly Observation[],
  staleIdentifiers: readonly { system: string; value: string }[],
  validate?: (resource: Resource) => void
): Bundle | undefined {
  const entry: BundleEntry[] = [];
  for (const resource of resources) {
    const id = resource.identifier?.[0];
    if (!id?.system || !id.value) {
      throw new OperationOutcomeError(badRequest('Twin resource without an identifier', 'Observation.identifier'));
    }
    validate?.(resource);
    entry.push({ resource, request: { method: 'PUT', url: `Observation?${identifierSearch(id.system, id.value)}` } });
  }
  for (const id of staleIdentifiers) {
    entry.push({ request: { method: 'DELETE', url: `Observation?${identifierSearch(id.system, id.value)}` } });
  }
  return entry.length > 0 ? { resourceType: 'Bundle', type: 'transaction', entry } : undefined;
}
