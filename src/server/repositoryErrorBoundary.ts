import { OperationOutcomeError } from '@medplum/core';
import type { FhirRepository } from '@medplum/fhir-router';
import { INTERNAL_ERROR_OUTCOME, errorSite } from './errorHandler';

function toServerError(err: unknown, method: string, log: (line: string) => void): unknown {
  if (err instanceof OperationOutcomeError) {
    return err;
  }
  log(`repository error in ${method}: ${errorSite(err)}`);
  return new OperationOutcomeError(INTERNAL_ERROR_OUTCOME, { cause: err });
}

/**
 * Wraps a repository so that anything it throws other than an OperationOutcomeError becomes a 500.
 *
 * Why: @medplum/fhir-router's handleRequest passes handler errors through normalizeOperationOutcome(), which
 * turns a plain Error into a 400 *carrying the error's message*. A store bug would then be reported as the
 * client's fault, and a message quoting resource content would be sent back. Errors the store raises on purpose
 * are OperationOutcomeErrors (notFound, preconditionFailed, badRequest...) and pass through untouched.
 *
 * Methods run with the real repository as `this` (not the proxy), so private fields keep working.
 */
export function withRepositoryErrorBoundary<T extends FhirRepository>(repo: T, log: (line: string) => void): T {
  return new Proxy(repo, {
    get(target, property, receiver): unknown {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') {
        return value;
      }
      const method = String(property);
      const fn = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]): unknown => {
        let result: unknown;
        try {
          result = fn.apply(target, args);
        } catch (err) {
          throw toServerError(err, method, log);
        }
        if (result instanceof Promise) {
          return result.catch((err: unknown) => {
            throw toServerError(err, method, log);
          });
        }
        return result;
      };
    },
  });
}
