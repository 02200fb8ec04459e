import { badRequest, contentTooLarge, OperationOutcomeError, unsupportedMediaType } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';
import express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { exceedsJsonDepth, JsonTooDeepError } from './jsonDepth';

/** FHIR R4 http.html#mime-type: application/fhir+json, and application/json which servers SHOULD accept. */
export const RESOURCE_MEDIA_TYPES = ['application/fhir+json', 'application/json'] as const;
/** FHIR R4 http.html#patch: JSON Patch, plus FHIRPath Patch sent as a Parameters resource. */
export const PATCH_MEDIA_TYPES = ['application/json-patch+json', ...RESOURCE_MEDIA_TYPES] as const;
/** FHIR R4 search.html#Introduction: POST [base]/[type]/_search sends parameters as a form. */
export const SEARCH_FORM_MEDIA_TYPES = ['application/x-www-form-urlencoded'] as const;

export const DEFAULT_BODY_LIMIT = '16mb';

const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);

function isSearchByPost(req: Request): boolean {
  return req.method === 'POST' && /(^|\/)_search\/?$/.test(req.path);
}

function acceptedMediaTypes(req: Request): readonly string[] {
  if (req.method === 'PATCH') {
    return PATCH_MEDIA_TYPES;
  }
  if (isSearchByPost(req)) {
    return SEARCH_FORM_MEDIA_TYPES;
  }
  return RESOURCE_MEDIA_TYPES;
}

/**
 * Rejects a request body whose Content-Type the endpoint does not read, with 415 (FHIR R4 http.html#mime-type),
 * before any byte of it is parsed. A request without a body passes; `requireResourceBody` deals with it.
 */
export function requireSupportedContentType(): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    // An empty body has no media type to check; `requireResourceBody` answers it with 400.
    if (!BODY_METHODS.has(req.method) || req.headers['content-length'] === '0') {
      next();
      return;
    }
    const accepted = acceptedMediaTypes(req);
    // req.is() is null when the request has no body, false when the body's type is not one of `accepted`.
    if (req.is([...accepted]) === false) {
      next(
        new OperationOutcomeError({
          ...unsupportedMediaType,
          issue: [
            {
              severity: 'error',
              code: 'not-supported',
              details: { text: `Unsupported Content-Type; this endpoint accepts ${accepted.join(', ')}` },
            },
          ],
        })
      );
      return;
    }
    next();
  };
}

/** JSON and form parsers bounded by `limit`; their errors are turned into OperationOutcomes by `bodyErrorOutcome`. */
export function bodyParsers(limit: string, maxDepth = 100): RequestHandler[] {
  return [
    express.json({
      type: [...PATCH_MEDIA_TYPES],
      limit,
      strict: true,
      // Before JSON.parse: a body nested deeper than any resource is refused unparsed (src/server/jsonDepth.ts).
      verify: (_req, _res, buf): void => {
        if (exceedsJsonDepth(buf, maxDepth)) {
          throw new JsonTooDeepError(maxDepth);
        }
      },
    }),
    express.urlencoded({ type: [...SEARCH_FORM_MEDIA_TYPES], limit, extended: false }),
  ];
}

/**
 * Create, update and operations need a resource: a JSON object (FHIR R4 json.html). Without this check a
 * missing or array body would reach the router as a TypeError rather than a clear 400.
 */
export function requireResourceBody(): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const body: unknown = req.body;
    // An operation without input parameters (e.g. Patient/{id}/$twin-refresh) may be POSTed with no body at all;
    // a body that is sent must still be a resource (a Parameters, FHIR R4 operations.html#request).
    if (req.method === 'POST' && /\/\$[A-Za-z][A-Za-z0-9-]*$/.test(req.path) && body === undefined) {
      next();
      return;
    }
    const needsResource = (req.method === 'POST' && !isSearchByPost(req)) || req.method === 'PUT';
    if (needsResource && (typeof body !== 'object' || body === null || Array.isArray(body))) {
      next(new OperationOutcomeError(badRequest('Request body must be a FHIR resource (a JSON object)')));
      return;
    }
    next();
  };
}

interface BodyParserError {
  readonly type: string;
  readonly status: number;
}

function isBodyParserError(err: unknown): err is BodyParserError {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { type?: unknown }).type === 'string' &&
    typeof (err as { status?: unknown }).status === 'number'
  );
}

/**
 * Maps the errors of express's body parsers (body-parser 2) to OperationOutcomes. The parser's own
 * messages are not used: a JSON syntax error message quotes the offending part of the body.
 */
export function bodyErrorOutcome(err: unknown): OperationOutcome | undefined {
  if (!isBodyParserError(err)) {
    return undefined;
  }
  switch (err.type) {
    case 'entity.parse.failed':
      return badRequest('Request body is not valid JSON');
    case 'entity.verify.failed':
      return badRequest('Request body is nested too deeply to be a FHIR resource');
    case 'entity.too.large':
    case 'parameters.too.many':
      return contentTooLarge('Request body is larger than this server accepts');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return {
        ...unsupportedMediaType,
        issue: [
          { severity: 'error', code: 'not-supported', details: { text: 'Unsupported body encoding or charset' } },
        ],
      };
    case 'request.aborted':
    case 'request.size.invalid':
      return badRequest('Request body was incomplete');
    default:
      return undefined;
  }
}
