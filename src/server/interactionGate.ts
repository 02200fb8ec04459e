import type { CapabilityStatement, CapabilityStatementRestResourceInteraction } from '@medplum/fhirtypes';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { StatusOutcomeError } from './statusOutcomeError';

type Interaction = CapabilityStatementRestResourceInteraction['code'];

/**
 * The type-level and instance-level interaction a request asks for (FHIR R4 http.html, the summary table), or
 * undefined for what is not one: the base (batch/transaction, system search and history), `$operation`s, and
 * paths another gate refuses.
 */
export function interactionOf(method: string, path: string): Interaction | undefined {
  const segments = path.split('/').filter((s) => s.length > 0);
  if (segments.length === 0 || segments.some((s) => s.startsWith('$'))) {
    return undefined;
  }
  const [, id, third, fourth] = segments;
  const m = method.toUpperCase();
  if (id === undefined || id === '_search') {
    if (m === 'GET' || (m === 'POST' && id === '_search')) {
      return 'search-type';
    }
    return m === 'POST'
      ? 'create'
      : m === 'PUT'
        ? 'update'
        : m === 'PATCH'
          ? 'patch'
          : m === 'DELETE'
            ? 'delete'
            : undefined;
  }
  if (id === '_history') {
    return 'history-type';
  }
  if (third === '_history') {
    return fourth === undefined ? 'history-instance' : 'vread';
  }
  switch (m) {
    case 'GET':
    case 'HEAD':
      return 'read';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return undefined;
  }
}

/**
 * Refuses an interaction the CapabilityStatement does not declare for the resource type, before it reaches the
 * repository: the server keeps its word both ways (R4 capabilitystatement.html, "rest.resource.interaction"). The
 * embedded store declares every interaction on every type it serves, so this bites where a type is declared for its
 * operations only: on the engine service, whose patient data lives on another server. 405 with an OperationOutcome
 * (R4 http.html#general: "405 Method Not Allowed - the resource did not support the operation").
 */
export function interactionGate(capabilityStatement: CapabilityStatement, whereTheDataIs?: string): RequestHandler {
  const declared = new Map<string, ReadonlySet<string>>();
  for (const resource of capabilityStatement.rest?.[0]?.resource ?? []) {
    declared.set(resource.type, new Set((resource.interaction ?? []).map((i) => i.code)));
  }
  return (req: Request, _res: Response, next: NextFunction): void => {
    const type = req.path.split('/').find((s) => s.length > 0) ?? '';
    const interaction = interactionOf(req.method, req.path);
    const allowed = declared.get(type);
    if (interaction && allowed && !allowed.has(interaction)) {
      next(
        new StatusOutcomeError(
          405,
          `${interaction} on ${type} is not an interaction of this server` +
            (whereTheDataIs ? `: it serves the engine's operations only; the patient data is on ${whereTheDataIs}` : '')
        )
      );
      return;
    }
    next();
  };
}
