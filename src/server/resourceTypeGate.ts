import { isResourceType, notFound, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Rejects requests whose first path segment names no FHIR R4 resource type, or a type this server does
 * not declare in its CapabilityStatement, before they reach the router or the repository.
 * FHIR R4 http.html#create: "404 Not Found - resource type not supported, or not a FHIR end-point".
 *
 * System-level paths pass through: the base itself (batch/transaction, system search) and `$operation`s.
 * Needs the base StructureDefinitions indexed (`loadBaseDefinitions()`), which `createApp` does.
 */
export function resourceTypeGate(declaredTypes: ReadonlySet<string>): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const firstSegment = req.path.split('/').find((segment) => segment.length > 0);
    if (firstSegment === undefined || firstSegment.startsWith('$')) {
      next();
      return;
    }
    if (!isResourceType(firstSegment)) {
      next(new OperationOutcomeError(notFoundWith('Unknown resource type')));
      return;
    }
    if (!declaredTypes.has(firstSegment)) {
      next(new OperationOutcomeError(notFoundWith(`Resource type ${firstSegment} is not supported by this server`)));
      return;
    }
    next();
  };
}

function notFoundWith(text: string): OperationOutcome {
  // Keep notFound's id so @medplum/core getStatus() maps it to 404.
  return { ...notFound, issue: [{ severity: 'error', code: 'not-supported', details: { text } }] };
}
