import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * POST [base] with a batch or transaction Bundle (FHIR R4 http.html#transaction) is served only when the
 * CapabilityStatement declares that system interaction. Without this, @medplum/fhir-router would run a
 * `transaction` Bundle entry by entry when transactions are off, which is not the all-or-nothing the client
 * asked for.
 */
export function bundleInteractionGate(declaredSystemInteractions: ReadonlySet<string>): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const isBase = req.path === '/' || req.path === '';
    const body: unknown = req.body;
    if (req.method !== 'POST' || !isBase || typeof body !== 'object' || body === null) {
      next();
      return;
    }
    const bundleType = (body as { type?: unknown }).type;
    if ((bundleType === 'batch' || bundleType === 'transaction') && !declaredSystemInteractions.has(bundleType)) {
      next(new OperationOutcomeError(badRequest(`This server does not support ${bundleType} Bundles`, 'Bundle.type')));
      return;
    }
    next();
  };
}
