import { allOk, badRequest, getStatus, isOk, normalizeOperationOutcome, OperationOutcomeError } from '@medplum/core';
import {
  FhirRouter,
  processBatch,
  type FhirRepository,
  type FhirRequest,
  type FhirResponse,
} from '@medplum/fhir-router';
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { parseFhirInstant } from '../fhir/fhirInstant';
import { internalFault } from '../fhir/outcomes';
import { SqliteRepository } from './sqliteRepository';
import { checkBundleRules, resolveConditionalReferences } from './transactionRules';

/**
 * Runs a `transaction` Bundle atomically (FHIR R4 http.html#transaction: "all or nothing").
 *
 * Medplum's BatchProcessor, tuned for PostgreSQL, refuses transactions with more than 8 entries when any entry is
 * conditional (If-None-Exist, conditional update) and with more than 50 updates. The engine's idempotent write-back
 * is exactly that: many conditional creates and updates per patient in one transaction. The embedded store
 * serialises every write transaction, so the stronger isolation those limits protect is already there.
 * We therefore run the entries with the BatchProcessor's `batch` semantics (same ordering, same `urn:uuid`
 * reference rewriting, same conditional handling) inside one repository transaction, and roll the whole
 * transaction back when any entry fails.
 */
export async function processTransactionBundle(
  req: FhirRequest,
  repo: FhirRepository,
  router: FhirRouter,
  bundle: Bundle
): Promise<Bundle> {
  if (bundle.type !== 'transaction') {
    throw new OperationOutcomeError(badRequest('Not a transaction bundle'));
  }
  checkBundleRules(bundle);
  return repo.withTransaction(
    async (txRepo) => {
      const resolved = await resolveConditionalReferences(txRepo, bundle);
      const response = await processBatch(req, txRepo, router, { ...resolved, type: 'batch' });
      const entries = response.entry ?? [];
      for (let i = 0; i < entries.length; i++) {
        const status = Number.parseInt(entries[i].response?.status ?? '500', 10);
        if (!(status >= 200 && status < 300)) {
          throw new OperationOutcomeError(failedEntryOutcome(i, entries[i].response?.outcome, status));
        }
      }
      return { ...response, type: 'transaction-response' };
    },
    { resourceTypes: [] }
  );
}

function failedEntryOutcome(index: number, outcome: unknown, status: number): OperationOutcome {
  const base = outcome
    ? normalizeOperationOutcome(outcome)
    : badRequest(`Transaction entry failed with status ${status}`);
  return {
    ...base,
    issue: (base.issue ?? []).map((issue) => ({
      ...issue,
      diagnostics: `Bundle.entry[${index}] failed; the transaction was rolled back`,
      expression: issue.expression?.length ? issue.expression : [`Bundle.entry[${index}]`],
    })),
  };
}

/**
 * A FhirRouter whose `POST [base]` handler runs transaction Bundles through {@link processTransactionBundle};
 * batch Bundles keep Medplum's handler.
 */
export function createEmbeddedRouter(): FhirRouter {
  const router = new FhirRouter();
  const route = router.router.routes.find((r) => r.method === 'POST' && r.path.length === 0);
  if (!route) {
    throw internalFault('FhirRouter has no POST [base] route to extend');
  }
  const batchHandler = route.handler;
  route.handler = async (req, repo, r, options): Promise<FhirResponse> => {
    const bundle = req.body as Bundle | undefined;
    if (bundle?.resourceType === 'Bundle' && bundle.type === 'batch') {
      try {
        checkBundleRules(bundle);
      } catch (err) {
        return [normalizeOperationOutcome(err)];
      }
    }
    if (bundle?.resourceType === 'Bundle' && bundle.type === 'transaction') {
      try {
        return [allOk, await processTransactionBundle(req, repo, r, bundle)];
      } catch (err) {
        const outcome = normalizeOperationOutcome(err);
        return [isOk(outcome) || getStatus(outcome) < 400 ? badRequest('Transaction failed') : outcome];
      }
    }
    return batchHandler(req, repo, r, options);
  };
  // @medplum/core's search parser throws a plain Error for some malformed queries (e.g. a composite parameter),
  // which the router would report as 500. A search URL the server cannot parse is the client's error (400).
  for (const search of router.router.routes.filter(
    (r) => (r.method === 'GET' && r.path.length === 1) || (r.method === 'POST' && r.path[1]?.value === '_search')
  )) {
    const handler = search.handler;
    search.handler = async (req, repo, r, options): Promise<FhirResponse> => {
      try {
        return await handler(req, repo, r, options);
      } catch (err) {
        if (err instanceof OperationOutcomeError) {
          throw err;
        }
        return [badRequest(err instanceof Error ? err.message : 'Invalid search')];
      }
    };
  }
  // History with `_since` (FHIR R4 http.html#history): type history (`GET [type]/_history`, which the plain router reads
  // as the id "_history") and instance history, whose plain handler would ignore `_since` and answer everything.
  const historyOptions = (req: FhirRequest): { limit?: number; offset?: number; since?: number } => {
    const text = (name: string): string | undefined => {
      const v = req.query[name];
      return Array.isArray(v) ? v.at(-1) : v;
    };
    const since = text('_since');
    const sinceMs = since === undefined ? undefined : parseFhirInstant(since);
    if (since !== undefined && sinceMs === undefined) {
      throw new OperationOutcomeError(badRequest('_since must be an instant, e.g. 2024-02-01T00:00:00Z', '_since'));
    }
    const number = (name: string): number | undefined => {
      const v = text(name);
      return v === undefined ? undefined : Number.parseInt(v, 10);
    };
    return { limit: number('_count'), offset: number('_offset'), since: sinceMs };
  };
  router.add(
    'GET',
    ':resourceType/_history',
    async (req, repo): Promise<FhirResponse> => {
      if (!(repo instanceof SqliteRepository)) {
        return [badRequest('Type history is not supported by this store')];
      }
      return [allOk, await repo.readTypeHistory(req.params.resourceType, historyOptions(req))];
    },
    'history-type'
  );
  const instanceHistory = router.router.routes.find(
    (r) => r.method === 'GET' && r.path.length === 3 && r.path[2].value === '_history' && !r.path[2].param
  );
  if (!instanceHistory) {
    throw internalFault('FhirRouter has no GET [type]/[id]/_history route to extend');
  }
  const plainHistory = instanceHistory.handler;
  instanceHistory.handler = async (req, repo, r, options): Promise<FhirResponse> => {
    if (!(repo instanceof SqliteRepository)) {
      return plainHistory(req, repo, r, options);
    }
    return [allOk, await repo.readHistory(req.params.resourceType, req.params.id, historyOptions(req))];
  };
  return router;
}
