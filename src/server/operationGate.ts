import { notFound, OperationOutcomeError } from '@medplum/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { findDeclaration, type OperationDeclaration } from './operations/operationModule';
import { StatusOutcomeError } from './statusOutcomeError';

/**
 * Only declared operations are served. Without this, `GET [base]/$foo` reached the router as a search and answered an
 * empty searchset, and `Patient/$foo` was read as a resource id. An unknown operation is 404 (FHIR R4
 * operations.html: the server does not know it); a known one invoked with a method it does not take is 405
 * (a POST-only operation with side effects cannot run on GET, operations.html#request).
 */
export function operationGate(
  declarations: readonly OperationDeclaration[],
  routedByRouter: (method: string, path: string, name: string) => boolean = (): boolean => false
): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const segments = req.path.split('/').filter((s) => s.length > 0);
    const at = segments.findIndex((s) => s.startsWith('$'));
    if (at < 0) {
      next();
      return;
    }
    const name = segments[at].slice(1);
    const level = at === 0 ? 'system' : at === 1 ? 'type' : 'instance';
    const declaration =
      at === segments.length - 1 && at <= 2 ? findDeclaration(declarations, segments[0], level, name) : undefined;
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    if (!declaration && routedByRouter(method, req.path, name)) {
      next(); // registered on the router directly by a caller assembling its own server
      return;
    }
    if (!declaration) {
      next(
        new OperationOutcomeError({
          ...notFound,
          issue: [{ severity: 'error', code: 'not-supported', details: { text: `Unknown operation $${name}` } }],
        })
      );
      return;
    }
    if (!(declaration.methods as readonly string[]).includes(method)) {
      next(new StatusOutcomeError(405, `$${name} is invoked with ${declaration.methods.join(' or ')}`));
      return;
    }
    next();
  };
}
