import { badRequest, notFound, OperationOutcomeError } from '@medplum/core';
import { httpStatusOf } from '../fhir/outcomes';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { bodyErrorOutcome } from './bodyParsing';
import { sendFhirJson } from './fhirResponse';
import { StatusOutcomeError } from './statusOutcomeError';

/**
 * The 500 body. It never carries the error's message: messages from deep inside a store or a parser can
 * quote resource content, which is health data (FHIR R4 security.html: don't leak through error responses).
 */
export const INTERNAL_ERROR_OUTCOME: OperationOutcome = Object.freeze({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'exception', details: { text: 'Internal server error' } }],
}) as OperationOutcome;

/** Turns anything thrown or passed to next() into an OperationOutcome and its HTTP status. */
export function toOutcome(err: unknown): OperationOutcome {
  if (err instanceof OperationOutcomeError) {
    return err.outcome;
  }
  return bodyErrorOutcome(err) ?? clientHttpErrorOutcome(err) ?? INTERNAL_ERROR_OUTCOME;
}

/**
 * Express and its parsers mark the client's mistakes with a 4xx `status` (e.g. a path parameter that is not valid
 * %-encoding, "Failed to decode param"). They are the client's error, answered 400 with a generic text (the error
 * message may quote the request).
 */
function clientHttpErrorOutcome(err: unknown): OperationOutcome | undefined {
  const status = (err as { status?: unknown } | null)?.status ?? (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return badRequest(err instanceof URIError ? 'Malformed %-encoding in the request URL' : 'Malformed request');
  }
  return undefined;
}

/** The HTTP status of an error response: carried by the error when it says so, else from the outcome. */
export function statusOf(err: unknown, outcome: OperationOutcome): number {
  return err instanceof StatusOutcomeError ? err.status : httpStatusOf(outcome);
}

/** Where a stack trace points, without the message line (which may quote content). */
export function errorSite(err: unknown): string {
  if (!(err instanceof Error)) {
    return typeof err;
  }
  const frame = err.stack
    ?.split('\n')
    .slice(1)
    .find((line) => line.trim().startsWith('at '));
  return `${err.name}${frame ? ` ${frame.trim()}` : ''}`;
}

/**
 * The app's one error boundary: every error response, whatever raised it, is an OperationOutcome built here.
 * 5xx bodies are replaced by a generic outcome; the log gets the error's class and site, never its message.
 */
export function errorHandler(log: (line: string) => void): ErrorRequestHandler {
  return (err: unknown, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const outcome = toOutcome(err);
    const status = statusOf(err, outcome);
    if (status >= 500) {
      log(`error ${status} ${errorSite(err)}`);
      sendFhirJson(res, status, INTERNAL_ERROR_OUTCOME);
      return;
    }
    sendFhirJson(res, status, outcome);
  };
}

/** Any path the app does not serve: 404 as an OperationOutcome, like every other error. */
export function notFoundHandler(): RequestHandler {
  return (_req: Request, _res: Response, next: NextFunction): void => {
    next(new OperationOutcomeError(notFound));
  };
}
