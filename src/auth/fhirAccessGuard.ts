import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, Resource, ResourceType } from '@medplum/fhirtypes';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { FhirClient } from '../fhir/fhirClient';
import type { AccessGrant, AccessTokenVerifier } from './accessToken';
import { unauthenticated } from './jwtVerification';
import { inPatientCompartment, isPatientDataType, patientSearchParameters } from './patientCompartment';
import { permits, type Permission, type ScopeLevel } from './smartScopes';

/** What an operation needs, in scope permissions on resource types (the operation's reads and writes). */
export type OperationNeeds = ReadonlyArray<readonly [resourceType: string, permission: Permission]>;

/**
 * The engine's operations and what each reads or writes (fhir-profiles/ OperationDefinitions). An operation not
 * listed needs `user/*.cruds` or `system/*.cruds`.
 */
export const OPERATION_NEEDS: Readonly<Record<string, OperationNeeds>> = Object.freeze({
  // Reads the patient's Observations, writes the twin's Observations.
  'twin-refresh': [
    ['Observation', 'r'],
    ['Observation', 'c'],
    ['Observation', 'u'],
  ],
  // Reads the patient's Observations, writes findings (RiskAssessments) and their review Tasks.
  'twin-findings': [
    ['Observation', 'r'],
    ['RiskAssessment', 'c'],
    ['RiskAssessment', 'u'],
    ['Task', 'c'],
  ],
  // Writes a proposed CarePlan, its review Task (and Provenance, recorded by the engine).
  'match-evidence': [
    ['CarePlan', 'c'],
    ['Task', 'c'],
  ],
  // Updates the review Task and the CarePlan, and on approval creates the requests.
  review: [
    ['Task', 'u'],
    ['CarePlan', 'u'],
  ],
});

/** Bulk Data export (kick-off, status, files): every type, read and search (Bulk Data Access IG, "Scopes"). */
const BULK_NEEDS: OperationNeeds = [
  ['*', 'r'],
  ['*', 's'],
];

export interface FhirAccessGuardOptions {
  readonly verify: AccessTokenVerifier;
  /** Reads a resource to decide whether a patient-level token may touch it; the world's FhirClient. */
  readonly client: FhirClient;
  /** Paths (relative to the FHIR base) served by Bulk export routes, e.g. `/bulk-status`, `/bulk-files`. */
  readonly bulkPaths?: readonly string[];
  /** Realm named in WWW-Authenticate. */
  readonly realm?: string;
}

/** The verified grant of this request, for handlers after the guard (e.g. the reviewing clinician). */
export function accessGrantOf(res: Response): AccessGrant | undefined {
  return (res.locals as { accessGrant?: AccessGrant }).accessGrant;
}

function forbidden(text: string): OperationOutcomeError {
  const outcome: OperationOutcome = {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'forbidden', details: { text } }],
  };
  return new OperationOutcomeError(outcome);
}

/** 404, the same answer a resource that does not exist gets: a patient-level token learns nothing of others. */
function hidden(): OperationOutcomeError {
  const outcome: OperationOutcome = {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'not-found', details: { text: 'Not found' } }],
  };
  return new OperationOutcomeError(outcome);
}

/** The FHIR interaction a request is, from its method and path (FHIR R4 http.html). */
export type Interaction =
  | { kind: 'instance'; type: string; id: string; permission: Permission; history: boolean }
  | { kind: 'type'; type: string; permission: Permission; conditional: boolean }
  | { kind: 'operation'; type?: string; id?: string; name: string }
  | { kind: 'system'; what: 'batch' | 'history' | 'search' }
  | { kind: 'bulk'; job?: string };

const TYPE = /^[A-Z][A-Za-z]{1,63}$/;

/** Classifies a request under the FHIR base; undefined for a path the FHIR API does not serve. */
export function classifyRequest(method: string, path: string, bulkPaths: readonly string[]): Interaction | undefined {
  const parts = path
    .split('/')
    .filter((p) => p.length > 0)
    .map((p) => decodeURIComponent(p));
  // Bulk Data status and file paths (`/$export-status/{job}`, `/$export-file/{job}/{file}`), and any configured.
  if (parts[0]?.startsWith('$export') || bulkPaths.some((b) => path === b || path.startsWith(`${b}/`))) {
    // `/$export-status/{job}`, `/$export-file/{job}/{file}`: the job whose status or files are asked for.
    return parts[1] ? { kind: 'bulk', job: parts[1] } : { kind: 'bulk' };
  }
  const last = parts[parts.length - 1] ?? '';
  if (last.startsWith('$')) {
    const name = last.slice(1);
    if (name === 'export') {
      return { kind: 'bulk' };
    }
    return {
      kind: 'operation',
      name,
      ...(parts.length >= 2 ? { type: parts[0] } : {}),
      ...(parts.length >= 3 ? { id: parts[1] } : {}),
    };
  }
  if (parts.length === 0) {
    return method === 'POST' ? { kind: 'system', what: 'batch' } : { kind: 'system', what: 'search' };
  }
  if (parts[0] === '_history') {
    return { kind: 'system', what: 'history' };
  }
  const type = parts[0] ?? '';
  if (!TYPE.test(type)) {
    return undefined;
  }
  if (parts.length === 1 || (parts.length === 2 && (parts[1] === '_search' || parts[1] === '_history'))) {
    switch (method) {
      case 'GET':
      case 'HEAD':
        return { kind: 'type', type, permission: 's', conditional: false };
      case 'POST':
        return parts[1] === '_search'
          ? { kind: 'type', type, permission: 's', conditional: false }
          : { kind: 'type', type, permission: 'c', conditional: false };
      case 'PUT':
      case 'PATCH':
        return { kind: 'type', type, permission: 'u', conditional: true };
      case 'DELETE':
        return { kind: 'type', type, permission: 'd', conditional: true };
      default:
        return undefined;
    }
  }
  const id = parts[1] ?? '';
  const history = parts[2] === '_history';
  const permission: Permission | undefined =
    method === 'GET' || method === 'HEAD'
      ? 'r'
      : method === 'PUT' || method === 'PATCH'
        ? 'u'
        : method === 'DELETE'
          ? 'd'
          : undefined;
  if (!permission || (parts.length > 2 && !history)) {
    return undefined;
  }
  return { kind: 'instance', type, id, permission, history };
}

function bearerToken(req: Request): string | undefined {
  const header = req.get('Authorization') ?? '';
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
  return match?.[1];
}

function queryOf(req: Request): URLSearchParams {
  const q = req.originalUrl.indexOf('?');
  return new URLSearchParams(q >= 0 ? req.originalUrl.slice(q + 1) : '');
}

/** A patient-level search must name the patient in one of the type's patient parameters, with one value. */
function searchConfinedTo(type: string, query: URLSearchParams, patientId: string): boolean {
  const names = patientSearchParameters(type);
  for (const [key, value] of query) {
    const name = key.split(':')[0] ?? '';
    if (!names.includes(name)) {
      continue;
    }
    const modifier = key.includes(':') ? key.slice(key.indexOf(':') + 1) : undefined;
    if (modifier !== undefined && modifier !== 'Patient') {
      continue;
    }
    if (value === patientId || value === `Patient/${patientId}`) {
      return true;
    }
  }
  return false;
}

/**
 * Keeps, in a FHIR JSON response to a patient-level token, only what belongs to that patient: defence in depth
 * behind the checks made before the request runs (an `_include`, a Bundle entry of another patient).
 */
function confineResponse(res: Response, patientId: string): void {
  const send = res.send.bind(res);
  res.send = ((body?: unknown): Response => {
    const type = String(res.get('Content-Type') ?? '');
    if (typeof body !== 'string' || !type.includes('json') || res.statusCode >= 400) {
      return send(body);
    }
    let parsed: Resource;
    try {
      parsed = JSON.parse(body) as Resource;
    } catch {
      return send(body);
    }
    const allowed = (r: Resource): boolean =>
      r.resourceType === 'OperationOutcome' ||
      r.resourceType === 'Parameters' ||
      !isPatientDataType(r.resourceType) ||
      inPatientCompartment(r, patientId);
    if (parsed.resourceType === 'Bundle') {
      const entry = (parsed.entry ?? []).filter((e) => !e.resource || allowed(e.resource));
      return send(JSON.stringify({ ...parsed, entry }));
    }
    if (!allowed(parsed)) {
      res.status(404);
      return send(
        JSON.stringify({
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'not-found', details: { text: 'Not found' } }],
        } satisfies OperationOutcome)
      );
    }
    return send(body);
  }) as Response['send'];
}

async function readOrUndefined(client: FhirClient, type: string, id: string): Promise<Resource | undefined> {
  try {
    return await client.read(type as ResourceType, id);
  } catch {
    return undefined;
  }
}

/**
 * The FHIR API's door: every request under the FHIR base (except /metadata, mounted before it) needs a valid
 * bearer token (RFC 6750 §2.1; tokens in query strings are not read, so they never reach a URL or a log), and
 * its scopes must grant the interaction on the resource type (SMART App Launch 2.x scopes). A patient-level token
 * reaches only its patient's compartment: instance reads and writes are checked against the stored resource (a
 * resource of another patient answers 404, as if absent), searches must name the patient, batch/transaction, system
 * history and Group export are refused, a Patient-level Bulk export is narrowed to the token's patient, and responses
 * are filtered once more on the way out.
 */
export function fhirAccessGuard(options: FhirAccessGuardOptions): RequestHandler {
  const bulkPaths = options.bulkPaths ?? [];
  const realm = options.realm ?? 'recovery-twin';
  /** Bulk export job id -> the client (and, for a patient-level token, the patient) that started it. */
  const exportOwners = new Map<string, string>();

  const check = async (req: Request, res: Response): Promise<void> => {
    const token = bearerToken(req);
    if (!token) {
      res.set('WWW-Authenticate', `Bearer realm="${realm}"`);
      throw unauthenticated('This FHIR API needs a bearer access token (SMART App Launch)');
    }
    let grant: AccessGrant;
    try {
      grant = await options.verify(token);
    } catch (err) {
      res.set('WWW-Authenticate', `Bearer realm="${realm}", error="invalid_token"`);
      throw err;
    }
    res.locals.accessGrant = grant;
    /**
     * A patient user (fhirUser `Patient/X`, e.g. from a hospital's patient portal) reaches their own record only,
     * whatever the scope level: SMART App Launch 2.x, "user/ scopes" grant what the USER may access, and a patient
     * may access their own compartment. Their user/ scopes are read as patient/ scopes, confined to X; a token whose
     * patient context is someone else is refused.
     */
    const patientUser = grant.fhirUser?.startsWith('Patient/') ? grant.fhirUser.slice('Patient/'.length) : undefined;
    if (patientUser !== undefined && grant.patient !== undefined && grant.patient !== patientUser) {
      throw forbidden("A patient user's token reaches their own record only");
    }
    const contextPatient = grant.patient ?? patientUser;
    const broadLevels: readonly ScopeLevel[] = patientUser !== undefined ? [] : ['user', 'system'];
    const confinedLevels: readonly ScopeLevel[] = patientUser !== undefined ? ['patient', 'user'] : ['patient'];
    const full: OperationNeeds = (['c', 'r', 'u', 'd', 's'] as const).map((p) => ['*', p] as const);
    /**
     * Which scopes allow the request: user- or system-level scopes that grant everything it needs (no confinement),
     * else patient-level ones (the request is then confined to the token's patient), else none (403). A token that
     * holds both kinds is confined wherever only its patient scopes grant the interaction.
     */
    const allow = (needs: OperationNeeds, patientLevelAllowed = true): string | undefined => {
      if (
        broadLevels.length > 0 &&
        needs.every(([type, permission]) => permits(grant.scopes, type, permission, broadLevels))
      ) {
        return undefined;
      }
      if (
        patientLevelAllowed &&
        needs.every(([type, permission]) => permits(grant.scopes, type, permission, confinedLevels))
      ) {
        if (!contextPatient) {
          throw forbidden('A patient-level token without a patient in context reaches nothing');
        }
        return contextPatient;
      }
      const missing = needs.filter(([type, permission]) => !permits(grant.scopes, type, permission));
      // RFC 6750 §3.1: a token that lacks the scope gets 403 with error="insufficient_scope".
      res.set('WWW-Authenticate', `Bearer realm="${realm}", error="insufficient_scope"`);
      throw forbidden(
        `The token's scopes do not grant ${missing.map(([t, p]) => `${t}.${p}`).join(', ') || 'this at its level'}`
      );
    };
    const confine = (patientId: string): void => {
      res.locals.confinedTo = patientId;
      confineResponse(res, patientId);
    };
    const interaction = classifyRequest(req.method, req.path, bulkPaths);
    if (
      interaction &&
      (interaction.kind === 'type' || interaction.kind === 'instance') &&
      interaction.type === 'AuditEvent' &&
      !['r', 's'].includes(interaction.permission)
    ) {
      // The audit trail is written by this server only (src/auth/readAuditTrail.ts): no caller forges or erases it.
      throw forbidden('AuditEvents are recorded by the server; they are not written through the API');
    }
    if (!interaction) {
      // A path this guard cannot classify is open only to full user- or system-level access (deny by default).
      allow(full, false);
      return;
    }

    switch (interaction.kind) {
      case 'bulk': {
        // Bulk Data Access IG v2.0.0 (export.html, "Bulk Data Export Operation Request Flow"): Patient-level export
        // with `patient/*.rs` is the patient taking a copy of their own record, confined to their compartment (the
        // route narrows the export to the token's patient). Group and system exports stay user- or system-level.
        const patientKickoff = interaction.job === undefined && /^\/Patient\/\$export$/.test(req.path);
        const patientId = allow(BULK_NEEDS, interaction.job !== undefined || patientKickoff);
        const owner = `${grant.clientId}\u0000${patientId ?? ''}`;
        if (interaction.job !== undefined) {
          // Bulk Data Access IG: status and files are for the client that kicked the export off (and, for a
          // patient-level token, the same patient). A job this guard did not see start (another client's, or one
          // from before a restart) is answered as absent.
          if (exportOwners.get(interaction.job) !== owner) {
            throw hidden();
          }
          return;
        }
        if (patientId) {
          res.locals.confinedTo = patientId;
        }
        res.once('finish', () => {
          const location = String(res.getHeader('Content-Location') ?? '');
          const job = /\/\$export-status\/([^/?#]+)$/.exec(location)?.[1];
          if (res.statusCode === 202 && job) {
            exportOwners.set(decodeURIComponent(job), owner);
          }
        });
        return;
      }
      case 'system':
        allow(full, false);
        return;
      case 'operation': {
        const needs = OPERATION_NEEDS[interaction.name];
        if (!needs) {
          allow(full, false);
          return;
        }
        const patientId = allow(needs, interaction.type !== undefined && interaction.id !== undefined);
        if (patientId && interaction.type && interaction.id) {
          const target =
            interaction.type === 'Patient'
              ? interaction.id === patientId
              : await readOrUndefined(options.client, interaction.type, interaction.id).then(
                  (r) => r !== undefined && inPatientCompartment(r, patientId)
                );
          if (!target) {
            throw hidden();
          }
          res.locals.confinedTo = patientId;
        }
        return;
      }
      case 'type': {
        const patientId = allow([[interaction.type, interaction.permission]]);
        if (!patientId) {
          return;
        }
        if (!isPatientDataType(interaction.type)) {
          if (interaction.permission !== 's') {
            throw forbidden(`A patient-level token does not write ${interaction.type}`);
          }
          confine(patientId);
          return;
        }
        if (interaction.conditional) {
          throw forbidden('Conditional update and delete are not open to a patient-level token');
        }
        if (interaction.permission === 's') {
          if (req.method === 'POST') {
            throw forbidden('A patient-level token searches with GET, naming its patient');
          }
          if (!searchConfinedTo(interaction.type, queryOf(req), patientId)) {
            throw forbidden(
              `A patient-level token's search must name its patient (${patientSearchParameters(interaction.type).join(' or ') || 'not searchable'})`
            );
          }
        }
        // A create's body is checked by `patientBodyGuard` once the body is parsed.
        confine(patientId);
        return;
      }
      case 'instance': {
        const patientId = allow([[interaction.type, interaction.permission]]);
        if (!patientId) {
          return;
        }
        if (!isPatientDataType(interaction.type)) {
          if (interaction.permission !== 'r') {
            throw forbidden(`A patient-level token does not write ${interaction.type}`);
          }
          return;
        }
        const stored =
          interaction.type === 'Patient'
            ? interaction.id === patientId
            : await readOrUndefined(options.client, interaction.type, interaction.id).then(
                // An update that creates (update-as-create, R4 http.html#upsert) has no stored resource: the body
                // check decides.
                (r) => (r === undefined ? interaction.permission === 'u' : inPatientCompartment(r, patientId))
              );
        if (!stored) {
          throw hidden();
        }
        confine(patientId);
        return;
      }
    }
  };

  return (req: Request, res: Response, next: NextFunction): void => {
    check(req, res).then(() => next(), next);
  };
}

/**
 * After the body is parsed:
 * - a request confined to a patient creates or updates only that patient's resources (a CarePlan for patient B
 *   written with a token for A is refused before anything is stored);
 * - a review decision (`Task/{id}/$review`) is taken by the signed-in clinician: when the token names a fhirUser, the
 *   `practitioner` parameter must be that user (no one approves in a colleague's name).
 */
export function patientBodyGuard(): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const grant = accessGrantOf(res);
    const confinedTo = (res.locals as { confinedTo?: string }).confinedTo;
    if (!grant || (req.method !== 'POST' && req.method !== 'PUT')) {
      next();
      return;
    }
    const body = req.body as Resource | undefined;
    if (!body || typeof body !== 'object' || typeof body.resourceType !== 'string') {
      next();
      return;
    }
    if (body.resourceType === 'Parameters' && /\/\$review$/.test(req.path) && grant.fhirUser) {
      const named = (body.parameter ?? [])
        .filter((p) => p.name === 'practitioner')
        .map((p) => p.valueReference?.reference);
      if (named.some((ref) => ref !== grant.fhirUser)) {
        next(forbidden('A review is decided in the name of the signed-in clinician only'));
        return;
      }
    }
    if (
      confinedTo &&
      body.resourceType !== 'Parameters' &&
      isPatientDataType(body.resourceType) &&
      !inPatientCompartment(body, confinedTo)
    ) {
      next(forbidden(`A patient-level token writes only its own patient's ${body.resourceType}`));
      return;
    }
    next();
  };
}
