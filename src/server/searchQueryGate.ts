import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ServerLimits } from './serverLimits';

/** `_summary` values of FHIR R4 search.html#summary. */
export const SUMMARY_VALUES: ReadonlySet<string> = new Set(['true', 'false', 'text', 'data', 'count']);
const ELEMENT_NAME = /^[a-z][A-Za-z0-9]*(\[x\])?$/;
const NON_NEGATIVE_INTEGER = /^\d{1,16}$/;

function values(query: Request['query'], name: string): string[] {
  const v: unknown = query[name];
  if (v === undefined) {
    return [];
  }
  return (Array.isArray(v) ? v : [v]).map((x) => String(x));
}

function refuse(text: string, parameter: string): OperationOutcomeError {
  return new OperationOutcomeError(badRequest(text, parameter));
}

/**
 * Checks the query string of every FHIR request before the router parses it, so malformed paging and result
 * parameters are the client's 400 (FHIR R4 search.html#errors), not a 500 from deep inside the search:
 * `_count` and `_offset` non-negative integers within limits, `_summary` one of its codes, `_elements` element names,
 * and no parameter with more values than the server agrees to OR together.
 */
export function searchQueryGate(limits: ServerLimits): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const query: Request['query'] =
      req.method === 'POST' && /\/_search\/?$/.test(req.path) && typeof req.body === 'object' && req.body !== null
        ? { ...req.query, ...(req.body as Request['query']) }
        : req.query;
    try {
      for (const name of ['_count', '_offset']) {
        for (const v of values(query, name)) {
          if (!NON_NEGATIVE_INTEGER.test(v)) {
            throw refuse(`${name} must be a non-negative integer`, name);
          }
        }
      }
      for (const v of values(query, '_offset')) {
        if (Number(v) > limits.maxOffset) {
          throw refuse(`_offset may not exceed ${limits.maxOffset}; narrow the search instead`, '_offset');
        }
      }
      for (const name of ['_cursor', '_fields', '_contained', '_containedType', '_filter', '_query', '_list', '_at']) {
        if (values(query, name).length > 0) {
          throw refuse(`${name} is not supported by this server`, name);
        }
      }
      for (const v of values(query, '_total')) {
        if (!['none', 'estimate', 'accurate'].includes(v)) {
          throw refuse('_total must be none, estimate or accurate', '_total');
        }
      }
      for (const v of values(query, '_summary')) {
        if (!SUMMARY_VALUES.has(v)) {
          throw refuse(`_summary must be one of ${[...SUMMARY_VALUES].join(', ')}`, '_summary');
        }
      }
      for (const v of values(query, '_elements')) {
        if (!v.split(',').every((e) => ELEMENT_NAME.test(e.trim()))) {
          throw refuse('_elements takes a comma-separated list of element names', '_elements');
        }
      }
      if (values(query, '_summary').length > 0 && values(query, '_elements').length > 0) {
        throw refuse('Use either _summary or _elements, not both', '_elements');
      }
      for (const name of Object.keys(query)) {
        const count = values(query, name).reduce((n, v) => n + v.split(/(?<!\\),/).length, 0);
        if (count > limits.maxSearchValues) {
          throw refuse(`Search parameter ${name} has more than ${limits.maxSearchValues} values`, name);
        }
      }
    } catch (err) {
      next(err);
      return;
    }
    next();
  };
}
