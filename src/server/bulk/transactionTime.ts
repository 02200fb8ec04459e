import type { FhirRepository } from '@medplum/fhir-router';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long to wait, at most, for the clock to move past the chosen instant (a frozen test clock never does). */
const MAX_WAIT_MS = 50;

/**
 * Picks an export's transactionTime. Bulk Data Access IG v2.0.0 export.html#response---complete-status: the export
 * "SHALL include any matching resources modified up to and including this instant", and "a FHIR server might need
 * to wait for any pending transactions to resolve in its database before starting the export process".
 *
 * So the instant is read inside a (write) transaction: the store runs one write transaction at a time, so every
 * write stamped at or before the instant has committed when we get in. Before leaving, we wait until the clock has
 * moved past the instant, so every later write is stamped strictly after it. Hence `lastUpdated <= transactionTime`
 * is exactly the writes committed before the export began, and the next export's `_since=transactionTime`
 * (`lastUpdated > _since`) starts exactly where this one ended: no gap, no overlap.
 *
 * `now` must be the store's own clock.
 */
export async function takeTransactionTime(repo: FhirRepository, now: () => Date): Promise<Date> {
  return repo.withTransaction(
    async () => {
      const instant = now();
      for (let waited = 0; now().getTime() <= instant.getTime() && waited < MAX_WAIT_MS; waited++) {
        await sleep(1);
      }
      return instant;
    },
    { resourceTypes: [] }
  );
}
