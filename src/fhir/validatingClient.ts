import { OperationOutcomeError } from '@medplum/core';
import type { Bundle, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import type { FhirClient } from './fhirClient';

/**
 * A FhirClient that validates every resource it is asked to write (transaction entries with a resource, FHIR R4
 * http.html#transaction) before anything is sent, by composition: the engine wraps a client once, at the door, and no
 * stage needs to remember to validate. Every invalid entry is reported in one OperationOutcomeError, each issue's
 * expression prefixed with its place in the Bundle, and nothing is written (collect, then fail once).
 *
 * The embedded store validates every write itself against the same profiles, so in-process clients need no wrapper;
 * a client of another server (which may not know the project's profiles) does.
 */
export function validatingClient(client: FhirClient, validate: (resource: Resource) => void): FhirClient {
  return {
    read: (resourceType, id) => client.read(resourceType, id),
    searchAll: (resourceType, query) => client.searchAll(resourceType, query),
    transaction: async (bundle: Bundle): Promise<Bundle> => {
      const issues: OperationOutcomeIssue[] = [];
      const placeholders = fullUrlPlaceholders(bundle);
      (bundle.entry ?? []).forEach((entry, i) => {
        if (!entry.resource) {
          return;
        }
        try {
          validate(placeholders.size > 0 ? withPlaceholders(entry.resource, placeholders) : entry.resource);
        } catch (err) {
          if (!(err instanceof OperationOutcomeError)) {
            throw err;
          }
          for (const issue of err.outcome.issue ?? []) {
            issues.push({
              ...issue,
              expression: (issue.expression ?? [entry.resource.resourceType]).map(
                (e) => `Bundle.entry[${i}].resource.${e}`
              ),
            });
          }
        }
      });
      if (issues.length > 0) {
        throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
      }
      return client.transaction(bundle);
    },
  };
}

/**
 * A reference to another entry's `urn:uuid:` fullUrl is rewritten by the server to `Type/id` when it runs the
 * transaction (FHIR R4 http.html#trules); profiles that require a literal `Type/id` reference are checked on that
 * shape, with a placeholder id.
 */
function fullUrlPlaceholders(bundle: Bundle): Map<string, string> {
  const map = new Map<string, string>();
  (bundle.entry ?? []).forEach((entry, i) => {
    if (entry.fullUrl?.startsWith('urn:uuid:') && entry.resource) {
      map.set(entry.fullUrl, `${entry.resource.resourceType}/pending-entry-${i}`);
    }
  });
  return map;
}

function withPlaceholders<T extends Resource>(resource: T, placeholders: ReadonlyMap<string, string>): T {
  return JSON.parse(
    JSON.stringify(resource, (key, value: unknown) =>
      key === 'reference' && typeof value === 'string' ? (placeholders.get(value) ?? value) : value
    )
  ) as T;
}
