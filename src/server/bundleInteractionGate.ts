import { badRequest, contentTooLarge, OperationOutcomeError } from '@medplum/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * POST [base] takes a batch or transaction Bundle (FHIR R4 http.html#transaction), served only when the
 * CapabilityStatement declares that system interaction: without this, @medplum/fhir-router would run a `transaction`
 * Bundle entry by entry when transactions are off, which is not the all-or-nothing the client asked for.
 *
 * The Bundle's shape is checked here, before any entry runs: `entry` an array of objects (an `entry: [null]` reached the
 * router as a TypeError, a 500) and no more entries than `maxEntries`, so one request cannot hold the single SQLite
 * writer for seconds (a 60,000-entry transaction blocked every request, /healthz included, for 11.7 s).
 */
export function bundleInteractionGate(
  declaredSystemInteractions: ReadonlySet<string>,
  maxEntries = Number.POSITIVE_INFINITY
): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const isBase = req.path === '/' || req.path === '';
    const body: unknown = req.body;
    if (req.method !== 'POST' || !isBase || typeof body !== 'object' || body === null) {
      next();
      return;
    }
    const bundle = body as { resourceType?: unknown; type?: unknown; entry?: unknown };
    if (bundle.resourceType !== 'Bundle') {
      next(new OperationOutcomeError(badRequest('POST to the base takes a batch or transaction Bundle')));
      return;
    }
    const bundleType = bundle.type;
    if (bundleType !== 'batch' && bundleType !== 'transaction') {
      next(new OperationOutcomeError(badRequest('Bundle.type must be batch or transaction', 'Bundle.type')));
      return;
    }
    if (!declaredSystemInteractions.has(bundleType)) {
      next(new OperationOutcomeError(badRequest(`This server does not support ${bundleType} Bundles`, 'Bundle.type')));
      return;
    }
    if (bundle.entry !== undefined && !Array.isArray(bundle.entry)) {
      next(new OperationOutcomeError(badRequest('Bundle.entry must be an array', 'Bundle.entry')));
      return;
    }
    const entries = (bundle.entry ?? []) as unknown[];
    if (entries.length > maxEntries) {
      next(
        new OperationOutcomeError(
          contentTooLarge(
            `The Bundle has ${entries.length} entries; this server takes at most ${maxEntries} per ${bundleType} ` +
              '(TWIN_MAX_BUNDLE_ENTRIES). Split it into several Bundles.'
          )
        )
      );
      return;
    }
    const bad = entries.findIndex(
      (e) =>
        typeof e !== 'object' ||
        e === null ||
        Array.isArray(e) ||
        typeof (e as { request?: { method?: unknown } }).request?.method !== 'string' ||
        typeof (e as { request?: { url?: unknown } }).request?.url !== 'string'
    );
    if (bad >= 0) {
      next(
        new OperationOutcomeError(
          badRequest('Each entry must be an object with request.method and request.url', `Bundle.entry[${bad}]`)
        )
      );
      return;
    }
    next();
  };
}
