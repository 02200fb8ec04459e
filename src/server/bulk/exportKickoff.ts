import { badRequest, isResourceType, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcomeIssue, Parameters } from '@medplum/fhirtypes';
import { isPatientExportType } from './patientCompartment';
import { parseTypeFilter, type TypeFilterQuery, type TypeFilters } from './typeFilter';
import { parseFhirInstant } from '../../fhir/fhirInstant';

/** What a kick-off asks for, once checked. Persisted with the job, so it is plain JSON. */
export interface ExportSpec {
  readonly level: 'patient' | 'group';
  readonly groupId?: string;
  /** `_type`; undefined means the server's default set (see exportRunner.ts). */
  readonly types?: readonly string[];
  /** `_since` as an ISO instant with milliseconds; resources updated strictly later are exported. */
  readonly since?: string;
  /**
   * The one patient whose compartment is exported, when the kick-off came with a patient-level SMART token (the
   * patient taking a copy of their own record). Absent: every patient (Patient level) or the Group's members.
   */
  readonly patient?: string;
  /** `_typeFilter` (typeFilter.ts): per type, the queries a resource must match one of. */
  readonly typeFilters?: TypeFilters;
  /**
   * `includeAssociatedData=RelevantProvenanceResources` (export.html#query-parameters): the Provenance of every
   * exported resource, even when `_type` does not list Provenance.
   */
  readonly relevantProvenance?: boolean;
  /**
   * The kick-off came with a verified access token (the FHIR access guard in front of this server), so the files are
   * fetched with one too: the manifest says `requiresAccessToken: true` (export.html#response---complete-status),
   * and a Bulk client then sends its token with each file request.
   */
  readonly filesNeedToken?: boolean;
  readonly outputFormat: 'application/fhir+ndjson';
}

/**
 * Types exported beside the Patient compartment: Provenance of the exported resources (their targets, not the
 * patient, link them) and the Devices they reference (the twin's model Devices belong to no patient). See
 * exportRunner.ts.
 */
export const ASSOCIATED_TYPES: ReadonlySet<string> = new Set(['Provenance', 'Device']);

/** export.html#query-parameters, includeAssociatedData: the one value this server supports. */
const RELEVANT_PROVENANCE = 'RelevantProvenanceResources';

/** Kick-off parameters by name, each with its values in order (repeats kept). */
export type KickoffParams = ReadonlyMap<string, readonly string[]>;

/**
 * `_outputFormat` values: export.html#query-parameters, "The server SHALL accept the full content type of
 * application/fhir+ndjson as well as the abbreviated representations application/ndjson and ndjson". The form with a
 * space is what an unencoded `+` in a query string decodes to.
 */
const NDJSON_FORMATS: ReadonlySet<string> = new Set([
  'application/fhir+ndjson',
  'application/fhir ndjson',
  'application/ndjson',
  'ndjson',
]);

/**
 * Parameters of the IG this server does not implement. export.html#query-parameters: "A server that is unable to
 * support [it] SHOULD return an error and FHIR OperationOutcome resource so the client can re-submit a request
 * omitting the parameter". `Prefer: handling=lenient` MAY relax this; this server does not use that latitude.
 */
const UNSUPPORTED: ReadonlySet<string> = new Set([
  '_elements',
  'patient',
  'organizeOutputBy',
  'allowPartialManifests',
  '_until',
]);

/** FHIR R4 datatypes.html#instant: seconds required, time zone required. */

/**
 * Checks the `Prefer` header. export.html#headers: only `respond-async` is supported; "If omitted, the server MAY
 * return an error" — this server does, so a client cannot mistake the 202 for a synchronous answer.
 */
export function requireRespondAsync(prefer: string | undefined): void {
  const tokens = (prefer ?? '').split(/[,;]/).map((t) => t.trim().toLowerCase());
  if (!tokens.includes('respond-async')) {
    throw new OperationOutcomeError(badRequest('Bulk export requires the header Prefer: respond-async', 'Prefer'));
  }
}

/** Query parameters of a GET kick-off (express gives a string or an array for repeats). */
export function paramsFromQuery(query: Readonly<Record<string, unknown>>): KickoffParams {
  const params = new Map<string, string[]>();
  for (const [name, value] of Object.entries(query)) {
    const values = (Array.isArray(value) ? value : [value]).map((v) => (typeof v === 'string' ? v : ''));
    params.set(name, values);
  }
  return params;
}

/**
 * Parameters of a POST kick-off: export.html#bulk-data-kick-off-request, "MAY support POST requests that supply
 * parameters using the FHIR Parameters Resource". Values of types other than string/instant/code are kept as ''
 * so that the parameter is still seen (and refused if it is not supported).
 */
export function paramsFromParametersResource(body: unknown): KickoffParams {
  const resource = body as Partial<Parameters> | undefined;
  if (!resource || resource.resourceType !== 'Parameters') {
    throw new OperationOutcomeError(badRequest('A POST kick-off body must be a Parameters resource'));
  }
  const params = new Map<string, string[]>();
  for (const p of resource.parameter ?? []) {
    if (!p.name) {
      continue;
    }
    const value = p.valueString ?? p.valueInstant ?? p.valueCode ?? p.valueDateTime ?? p.valueUri ?? '';
    params.set(p.name, [...(params.get(p.name) ?? []), value]);
  }
  return params;
}

/**
 * Checks every kick-off parameter and collects all problems before failing once (one 400 naming each parameter),
 * so a client can fix its request in one go.
 */
export function parseKickoff(
  level: ExportSpec['level'],
  groupId: string | undefined,
  params: KickoffParams
): ExportSpec {
  const issues: OperationOutcomeIssue[] = [];
  const problem = (name: string, text: string): void => {
    issues.push({ severity: 'error', code: 'invalid', details: { text }, expression: [name] });
  };
  let types: string[] | undefined;
  let since: string | undefined;
  let typeFilters: Record<string, TypeFilterQuery[]> | undefined;
  let relevantProvenance = false;

  for (const [name, values] of params) {
    if (name === '_outputFormat') {
      if (values.length !== 1 || !NDJSON_FORMATS.has(values[0].trim())) {
        problem(name, 'Unsupported _outputFormat; this server writes application/fhir+ndjson only');
      }
    } else if (name === '_since') {
      // An unencoded `+` in a time zone offset arrives as a space.
      const value = values.length === 1 ? values[0].trim().replace(' ', '+') : '';
      const ms = parseFhirInstant(value);
      if (ms === undefined) {
        problem(name, '_since must be one FHIR instant, e.g. 2025-01-01T00:00:00Z');
      } else {
        since = new Date(ms).toISOString();
      }
    } else if (name === '_type') {
      // export.html#bulk-data-kick-off-request: repeated parameters are read as one comma-delimited list.
      const requested = [...new Set(values.flatMap((v) => v.split(',')).map((t) => t.trim()))];
      const bad = requested.filter(
        (t) => !t || !isResourceType(t) || !(isPatientExportType(t) || ASSOCIATED_TYPES.has(t))
      );
      if (requested.length === 0 || bad.length > 0) {
        // export.html#query-parameters: types the server does not export, or outside the Patient compartment,
        // SHOULD be answered with an OperationOutcome.
        problem(name, `_type names types this server cannot export at patient level: ${bad.join(', ') || '(empty)'}`);
      } else {
        types = requested;
      }
    } else if (name === '_typeFilter') {
      typeFilters = {};
      for (const value of values) {
        const parsed = parseTypeFilter(value);
        if ('error' in parsed) {
          problem(name, parsed.error);
        } else if (
          !isResourceType(parsed.type) ||
          !(isPatientExportType(parsed.type) || ASSOCIATED_TYPES.has(parsed.type))
        ) {
          problem(name, `_typeFilter names a type this server cannot export at patient level: ${parsed.type}`);
        } else {
          typeFilters[parsed.type] = [...(typeFilters[parsed.type] ?? []), parsed.query];
        }
      }
    } else if (name === 'includeAssociatedData') {
      const requested = values.flatMap((v) => v.split(',')).map((v) => v.trim());
      if (requested.some((v) => v !== RELEVANT_PROVENANCE)) {
        problem(name, `includeAssociatedData: this server supports ${RELEVANT_PROVENANCE} only`);
      } else {
        relevantProvenance = true;
      }
    } else if (UNSUPPORTED.has(name)) {
      problem(name, `The parameter ${name} is not supported by this server; re-submit the request without it`);
    } else {
      problem(name, `Unknown kick-off parameter ${name}`);
    }
  }
  if (types && typeFilters) {
    // export.html#_typefilter-query-parameter: a filter only narrows the types asked for.
    const outside = Object.keys(typeFilters).filter((t) => !types?.includes(t));
    if (outside.length > 0) {
      problem('_typeFilter', `_typeFilter names types not in _type: ${outside.join(', ')}`);
    }
  }
  if (issues.length > 0) {
    throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
  }
  return {
    level,
    ...(groupId ? { groupId } : {}),
    ...(types ? { types } : {}),
    ...(since ? { since } : {}),
    ...(typeFilters ? { typeFilters } : {}),
    ...(relevantProvenance ? { relevantProvenance } : {}),
    outputFormat: 'application/fhir+ndjson',
  };
}
