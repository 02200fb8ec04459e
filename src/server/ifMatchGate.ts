import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { FHIR_ETAG } from '../fhir/etag';

/**
 * If-Match must be one valid ETag (FHIR R4 http.html#concurrency, RFC 9110 §13.1.1). Anything else (`1`, `W/1`,
 * a list) was silently ignored by the router, so an update meant to be guarded ran unguarded; it is now a 400.
 */
export function ifMatchGate(): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const value = req.headers['if-match'];
    if (value !== undefined && !FHIR_ETAG.test(value.trim())) {
      next(new OperationOutcomeError(badRequest('If-Match must be one ETag of the form W/"<versionId>"')));
      return;
    }
    next();
  };
}
