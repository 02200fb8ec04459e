import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhirClient';
import { identifierSearch } from '../fhir/identifierSearch';
import { internalFault } from '../fhir/outcomes';
import { sameContent } from './sameContent';
import type { PlannedWrite, WritePlan } from './writePlan';

/** What writeBack did: which planned writes were sent (in plan order) and the server's answer to each. */
export interface WriteBackResult {
  /** The writes sent; an upsert whose content the server already holds is not among them. */
  readonly sent: readonly PlannedWrite[];
  readonly unchanged: number;
  /** The transaction-response entry of each sent write, same order as `sent` (FHIR R4 http.html#transaction-response). */
  readonly responses: readonly BundleEntry[];
}

/**
 * The deliver stage: sends a stage's plan as ONE transaction Bundle (FHIR R4 http.html#transaction, all or nothing),
 * every write conditional on the engine's deterministic identifier, so a replayed event, a retried bot or a repeated
 * cron run creates nothing new. An upsert whose content equals what the server holds is left out (sameContent.ts); a
 * plan with nothing left sends nothing. Validation is the client's (src/fhir/validatingClient.ts wraps a client of
 * another server once, at the door; the embedded store validates every write itself).
 */
export async function writeBack(client: FhirClient, plan: WritePlan): Promise<WriteBackResult> {
  const sent: PlannedWrite[] = [];
  let unchanged = 0;
  for (const write of plan.writes) {
    if (write.kind === 'upsert' && write.current && sameContent(write.current, write.resource)) {
      unchanged++;
    } else {
      sent.push(write);
    }
  }
  if (sent.length === 0) {
    return { sent, unchanged, responses: [] };
  }
  const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: sent.map(toEntry) };
  const response = await client.transaction(bundle);
  const responses = response.entry ?? [];
  if (responses.length !== sent.length) {
    throw internalFault(`The server answered ${responses.length} entries to a transaction of ${sent.length}`);
  }
  return { sent, unchanged, responses };
}

/** The transaction entry of one planned write (FHIR R4 http.html#cond-update, #ccreate, #concurrency, #cdelete). */
export function toEntry(write: PlannedWrite): BundleEntry {
  switch (write.kind) {
    case 'upsert':
      return {
        ...(write.fullUrl ? { fullUrl: write.fullUrl } : {}),
        resource: write.resource,
        request: {
          method: 'PUT',
          url: `${write.resource.resourceType}?${identifierSearch(write.identifier.system, write.identifier.value)}`,
        },
      };
    case 'create-once':
      return {
        ...(write.fullUrl ? { fullUrl: write.fullUrl } : {}),
        resource: write.resource,
        request: {
          method: 'POST',
          url: write.resource.resourceType,
          ifNoneExist: identifierSearch(write.identifier.system, write.identifier.value),
        },
      };
    case 'append':
      return {
        ...(write.fullUrl ? { fullUrl: write.fullUrl } : {}),
        resource: write.resource,
        request: { method: 'POST', url: write.resource.resourceType },
      };
    case 'versioned-update':
      return {
        resource: write.resource,
        request: {
          method: 'PUT',
          url: `${write.resource.resourceType}/${write.resource.id}`,
          ...(write.versionId ? { ifMatch: `W/"${write.versionId}"` } : {}),
        },
      };
    case 'remove':
      return {
        request: {
          method: 'DELETE',
          url: `${write.resourceType}?${identifierSearch(write.identifier.system, write.identifier.value)}`,
        },
      };
  }
}
