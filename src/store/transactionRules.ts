import { badRequest, isResourceType, OperationOutcomeError, parseSearchRequest } from '@medplum/core';
import type { FhirRepository } from '@medplum/fhir-router';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { FHIR_ETAG } from '../fhir/etag';

/** Types the store does not hold as resources of their own (storeCapabilities.ts), so no Bundle entry may write them. */
const NOT_STORED: ReadonlySet<string> = new Set(['Bundle', 'Binary', 'Parameters']);
/** `Type?query`: a conditional reference (FHIR R4 http.html#trules). */
const CONDITIONAL_REFERENCE = /^([A-Z][A-Za-z]+)\?(.+)$/;

function refuse(text: string, expression: string): OperationOutcomeError {
  return new OperationOutcomeError(badRequest(text, expression));
}

/** The resource type an entry's request URL addresses (`Patient`, `Patient/1`, `Patient?identifier=x`). */
function targetType(url: string): string {
  return url.replace(/^\//, '').split(/[/?]/, 1)[0] ?? '';
}

/**
 * Checks a batch or transaction Bundle before any entry runs. For both: every entry targets a stored resource type
 * (a Bundle entry that is itself a batch/transaction, or that POSTs to the base, is a nested transaction: refused),
 * and If-Match values are ETags. For a transaction, FHIR R4 http.html#trules in addition: no two entries share a
 * `fullUrl` or modify the same resource, and every `urn:uuid:`/`urn:oid:` reference names an entry's fullUrl.
 */
export function checkBundleRules(bundle: Bundle): void {
  const entries = bundle.entry ?? [];
  const transaction = bundle.type === 'transaction';
  const fullUrls = new Set<string>();
  const targets = new Set<string>();
  entries.forEach((entry, i) => {
    const at = `Bundle.entry[${i}]`;
    const url = entry.request?.url ?? '';
    const type = targetType(url);
    if (type === '' || type.startsWith('$') || entry.resource?.resourceType === 'Bundle') {
      throw refuse('A Bundle entry cannot be a nested batch or transaction, nor an operation', `${at}.request.url`);
    }
    if (!isResourceType(type) || NOT_STORED.has(type)) {
      throw refuse('The entry does not address a resource type this server stores', `${at}.request.url`);
    }
    if (entry.request?.ifMatch !== undefined && !FHIR_ETAG.test(entry.request.ifMatch)) {
      throw refuse('ifMatch must be one ETag of the form W/"<versionId>"', `${at}.request.ifMatch`);
    }
    if (!transaction) {
      return;
    }
    if (entry.fullUrl !== undefined) {
      if (fullUrls.has(entry.fullUrl)) {
        throw refuse('Two entries of a transaction have the same fullUrl', `${at}.fullUrl`);
      }
      fullUrls.add(entry.fullUrl);
    }
    const method = entry.request?.method;
    if ((method === 'PUT' || method === 'PATCH' || method === 'DELETE') && !url.includes('?')) {
      const target = url.replace(/^\//, '');
      if (targets.has(target)) {
        throw refuse('Two entries of a transaction modify the same resource', `${at}.request.url`);
      }
      targets.add(target);
    }
  });
  if (!transaction) {
    return;
  }
  entries.forEach((entry, i) => {
    forEachReference(entry.resource, `Bundle.entry[${i}].resource`, (reference, path) => {
      if ((reference.startsWith('urn:uuid:') || reference.startsWith('urn:oid:')) && !fullUrls.has(reference)) {
        throw refuse('The reference names no entry of this transaction (no entry has it as fullUrl)', path);
      }
    });
  });
}

/**
 * Resolves the conditional references of a transaction (`Organization?identifier=x|y`, FHIR R4 http.html#trules) by
 * searching the store: exactly one match replaces the reference by `Type/id`; none or several fail the whole
 * transaction. Runs inside the transaction, so what it reads is what the entries will see. Returns a copy.
 */
export async function resolveConditionalReferences(repo: FhirRepository, bundle: Bundle): Promise<Bundle> {
  const pending: { entry: number; path: string; reference: string }[] = [];
  (bundle.entry ?? []).forEach((entry, i) => {
    forEachReference(entry.resource, `Bundle.entry[${i}].resource`, (reference, path) => {
      if (CONDITIONAL_REFERENCE.test(reference)) {
        pending.push({ entry: i, path, reference });
      }
    });
  });
  if (pending.length === 0) {
    return bundle;
  }
  const resolved = new Map<string, string>();
  for (const { path, reference } of pending) {
    if (resolved.has(reference)) {
      continue;
    }
    const [, type] = CONDITIONAL_REFERENCE.exec(reference) as RegExpExecArray;
    if (!isResourceType(type)) {
      throw refuse('The conditional reference names no resource type', path);
    }
    const request = parseSearchRequest(reference);
    const matches = await repo.searchResources({ ...request, count: 2, offset: 0, sortRules: undefined });
    if (matches.length !== 1) {
      throw refuse(`The conditional reference matched ${matches.length === 0 ? 'no' : 'more than one'} resource`, path);
    }
    resolved.set(reference, `${type}/${matches[0].id}`);
  }
  return {
    ...bundle,
    entry: (bundle.entry ?? []).map((entry): BundleEntry =>
      entry.resource ? { ...entry, resource: rewriteReferences(entry.resource, resolved) } : entry
    ),
  };
}

/** Calls `visit` for each `reference` string of a Reference anywhere in the resource (contained ones included). */
function forEachReference(value: unknown, path: string, visit: (reference: string, path: string) => void): void {
  const stack: { value: unknown; path: string }[] = [{ value, path }];
  while (stack.length > 0) {
    const { value: current, path: at } = stack.pop() as { value: unknown; path: string };
    if (Array.isArray(current)) {
      current.forEach((item, i) => stack.push({ value: item, path: `${at}[${i}]` }));
    } else if (typeof current === 'object' && current !== null) {
      for (const [key, child] of Object.entries(current)) {
        if (key === 'reference' && typeof child === 'string') {
          visit(child, `${at}.reference`);
        } else {
          stack.push({ value: child, path: `${at}.${key}` });
        }
      }
    }
  }
}

function rewriteReferences<T extends Resource>(resource: T, resolved: ReadonlyMap<string, string>): T {
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) {
      return value.map(rewrite);
    }
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(
        Object.entries(value).map(([key, child]) => [
          key,
          key === 'reference' && typeof child === 'string' && resolved.has(child)
            ? resolved.get(child)
            : rewrite(child),
        ])
      );
    }
    return value;
  };
  return rewrite(resource) as T;
}
