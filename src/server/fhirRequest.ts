import { badRequest, notFound, OperationOutcomeError } from '@medplum/core';
import type { FhirRequest, FhirRequestConfig, HttpMethod } from '@medplum/fhir-router';
import type { Request } from 'express';

const ROUTED_METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Converts an express request (already mounted at the FHIR base, so `req.url` is relative to it)
 * into the plain `FhirRequest` that @medplum/fhir-router understands. The router parses the path
 * and query itself and requires `pathname` to be empty.
 *
 * HEAD is served as GET without a body (RFC 9110 §9.3.2); express drops the body on HEAD responses.
 */
export function toFhirRequest(req: Request, config: FhirRequestConfig): FhirRequest {
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  if (!ROUTED_METHODS.has(method)) {
    throw new OperationOutcomeError({
      ...notFound,
      issue: [{ severity: 'error', code: 'not-supported', details: { text: `Unsupported HTTP method ${method}` } }],
    });
  }
  if (req.url.length === 0 || !req.url.startsWith('/')) {
    throw new OperationOutcomeError(badRequest('Malformed request URL'));
  }
  return {
    method: method as HttpMethod,
    url: req.url,
    pathname: '',
    body: req.body as unknown,
    params: {},
    query: {},
    // Node lower-cases header names; the router reads `if-match` and `if-none-exist` (FHIR R4 http.html#concurrency,
    // http.html#ccreate).
    headers: req.headers,
    config,
  };
}
