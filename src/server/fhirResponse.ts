import { OperationOutcomeError } from '@medplum/core';
import { httpStatusOf } from '../fhir/outcomes';
import type { FhirResponse } from '@medplum/fhir-router';
import type { Resource } from '@medplum/fhirtypes';
import type { Request, Response } from 'express';

/** FHIR R4 http.html#mime-type; charset stated so no client guesses (http.html#2.21.0.6). */
export const FHIR_JSON_CONTENT_TYPE = 'application/fhir+json; charset=utf-8';

/** Bundles produced by search, history and batch are collections, not one versioned resource. */
const COLLECTION_BUNDLE_TYPES: ReadonlySet<string> = new Set([
  'searchset',
  'history',
  'batch-response',
  'transaction-response',
]);

/** Writes a FHIR JSON body with the FHIR content type. */
export function sendFhirJson(res: Response, status: number, body: Resource): void {
  res.status(status).set('Content-Type', FHIR_JSON_CONTENT_TYPE).send(JSON.stringify(body));
}

/** The weak ETag of a versioned resource, FHIR R4 http.html#versioning: `W/"<versionId>"`. */
export function weakETag(versionId: string): string {
  return `W/"${versionId}"`;
}

function isSingleVersionedResource(resource: Resource): boolean {
  if (resource.resourceType === 'OperationOutcome') {
    return false;
  }
  if (resource.resourceType === 'Bundle' && COLLECTION_BUNDLE_TYPES.has(resource.type ?? '')) {
    return false;
  }
  return Boolean(resource.meta?.versionId);
}

/** True if an If-None-Match header value names this ETag (weak comparison, RFC 9110 §13.1.2) or is `*`. */
export function ifNoneMatchHits(header: string | undefined, versionId: string): boolean {
  if (!header) {
    return false;
  }
  return header
    .split(',')
    .map((tag) => tag.trim())
    .some((tag) => tag === '*' || tag.replace(/^W\//, '') === `"${versionId}"`);
}

/**
 * Maps the router's `[outcome, resource?, options?]` to HTTP, with the status from @medplum/core httpStatusOf().
 * Error outcomes are thrown to the app's one error handler so every error response is built in one place.
 *
 * - ETag and Last-Modified on single resources (FHIR R4 http.html#read, http.html#versioning).
 * - Location `<base>/<type>/<id>/_history/<vid>` on 201 (FHIR R4 http.html#create, http.html#update).
 * - Conditional read: If-None-Match naming the current version answers 304 Not Modified (FHIR R4 http.html#cread).
 */
export function sendFhirResponse(req: Request, res: Response, response: FhirResponse, baseUrl: string): void {
  const [outcome, resource] = response;
  const status = httpStatusOf(outcome);
  if (status >= 400) {
    throw new OperationOutcomeError(outcome);
  }
  const body = resource ?? outcome;
  if (status === 201 && body.id && body.resourceType !== 'OperationOutcome') {
    const history = body.meta?.versionId ? `/_history/${body.meta.versionId}` : '';
    res.set('Location', `${baseUrl}/${body.resourceType}/${body.id}${history}`);
  }
  const versionId = body.meta?.versionId;
  if (versionId && isSingleVersionedResource(body)) {
    res.set('ETag', weakETag(versionId));
    const lastUpdated = body.meta?.lastUpdated ? new Date(body.meta.lastUpdated) : undefined;
    if (lastUpdated && !Number.isNaN(lastUpdated.getTime())) {
      res.set('Last-Modified', lastUpdated.toUTCString());
    }
    const isRead = req.method === 'GET' || req.method === 'HEAD';
    if (status === 200 && isRead && ifNoneMatchHits(req.get('If-None-Match'), versionId)) {
      res.status(304).end();
      return;
    }
  }
  sendFhirJson(res, status, body);
}
