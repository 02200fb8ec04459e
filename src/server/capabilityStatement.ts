import type {
  CapabilityStatement,
  CapabilityStatementRestInteraction,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceInteraction,
  CapabilityStatementRestResourceSearchParam,
  ResourceType,
} from '@medplum/fhirtypes';
import { internalFault } from '../fhir/outcomes';

/** Type-level interactions, FHIR R4 valueset-type-restful-interaction. */
export type TypeInteraction = CapabilityStatementRestResourceInteraction['code'];

/** System-level interactions, FHIR R4 valueset-system-restful-interaction. */
export type SystemInteraction = CapabilityStatementRestInteraction['code'];

/** One search parameter a store really indexes for a resource type. */
export interface SupportedSearchParam {
  readonly name: string;
  readonly type: CapabilityStatementRestResourceSearchParam['type'];
  /** Canonical URL of the SearchParameter, e.g. http://hl7.org/fhir/SearchParameter/Patient-birthdate. */
  readonly definition?: string;
  readonly documentation?: string;
}

/** What the caller (the store) says it supports for one resource type. Nothing here is assumed. */
export interface ResourceSupport {
  readonly type: ResourceType;
  readonly interactions: readonly TypeInteraction[];
  readonly searchParams: readonly SupportedSearchParam[];
  readonly versioning?: CapabilityStatementRestResource['versioning'];
  readonly readHistory?: boolean;
  readonly updateCreate?: boolean;
  readonly conditionalCreate?: boolean;
  readonly conditionalRead?: CapabilityStatementRestResource['conditionalRead'];
  readonly conditionalUpdate?: boolean;
  readonly conditionalDelete?: CapabilityStatementRestResource['conditionalDelete'];
  readonly searchInclude?: readonly string[];
  readonly searchRevInclude?: readonly string[];
  readonly supportedProfile?: readonly string[];
  /** Operations on this type (capabilitystatement-definitions.html#CapabilityStatement.rest.resource.operation). */
  readonly operations?: readonly { readonly name: string; readonly definition: string }[];
}

export interface CapabilityStatementInput {
  /** FHIR base URL, e.g. http://localhost:8080/fhir/R4. */
  readonly baseUrl: string;
  readonly software: { readonly name: string; readonly version: string };
  readonly resources: readonly ResourceSupport[];
  readonly systemInteractions: readonly SystemInteraction[];
  /** MIME types the server reads and writes, e.g. ['application/fhir+json', 'json']. */
  readonly formats: readonly string[];
  /** PATCH formats, e.g. ['application/json-patch+json']; omitted when no resource supports patch. */
  readonly patchFormats?: readonly string[];
  /** Injected so the statement is reproducible in tests. */
  readonly clock: () => Date;
}

/**
 * Builds the server's CapabilityStatement (FHIR R4 capabilitystatement.html, http.html#capabilities).
 * Pure: it states exactly what the caller says is supported and nothing more, so a client never
 * learns of an interaction or search parameter that would then fail.
 */
export function buildCapabilityStatement(input: CapabilityStatementInput): CapabilityStatement {
  const seen = new Set<string>();
  for (const resource of input.resources) {
    if (seen.has(resource.type)) {
      throw internalFault(`Resource type ${resource.type} is listed twice in the capability input`);
    }
    seen.add(resource.type);
  }

  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: input.clock().toISOString(),
    // A server describing its own running instance: capabilitystatement-definitions.html#CapabilityStatement.kind
    kind: 'instance',
    software: { name: input.software.name, version: input.software.version },
    implementation: { description: `${input.software.name} embedded FHIR R4 server`, url: input.baseUrl },
    fhirVersion: '4.0.1',
    format: [...input.formats],
    ...(input.patchFormats?.length ? { patchFormat: [...input.patchFormats] } : {}),
    rest: [
      {
        mode: 'server',
        resource: input.resources.map(toRestResource),
        ...(input.systemInteractions.length ? { interaction: input.systemInteractions.map((code) => ({ code })) } : {}),
      },
    ],
  };
}

function toRestResource(support: ResourceSupport): CapabilityStatementRestResource {
  // A type served for its operations only has no interaction; FHIR JSON has no empty arrays (R4 json.html#arrays).
  const resource: CapabilityStatementRestResource = {
    type: support.type,
    ...(support.interactions.length > 0 ? { interaction: support.interactions.map((code) => ({ code })) } : {}),
  };
  if (support.versioning !== undefined) {
    resource.versioning = support.versioning;
  }
  if (support.readHistory !== undefined) {
    resource.readHistory = support.readHistory;
  }
  if (support.updateCreate !== undefined) {
    resource.updateCreate = support.updateCreate;
  }
  if (support.conditionalCreate !== undefined) {
    resource.conditionalCreate = support.conditionalCreate;
  }
  if (support.conditionalRead !== undefined) {
    resource.conditionalRead = support.conditionalRead;
  }
  if (support.conditionalUpdate !== undefined) {
    resource.conditionalUpdate = support.conditionalUpdate;
  }
  if (support.conditionalDelete !== undefined) {
    resource.conditionalDelete = support.conditionalDelete;
  }
  if (support.searchInclude?.length) {
    resource.searchInclude = [...support.searchInclude];
  }
  if (support.searchRevInclude?.length) {
    resource.searchRevInclude = [...support.searchRevInclude];
  }
  if (support.supportedProfile?.length) {
    resource.supportedProfile = [...support.supportedProfile];
  }
  if (support.operations?.length) {
    resource.operation = support.operations.map((op) => ({ name: op.name, definition: op.definition }));
  }
  if (support.searchParams.length) {
    resource.searchParam = support.searchParams.map((param) => ({
      name: param.name,
      type: param.type,
      ...(param.definition ? { definition: param.definition } : {}),
      ...(param.documentation ? { documentation: param.documentation } : {}),
    }));
  }
  return resource;
}

/** The resource types a CapabilityStatement declares for its server-mode REST endpoint. */
export function declaredResourceTypes(statement: CapabilityStatement): ReadonlySet<string> {
  const rest = statement.rest?.find((r) => r.mode === 'server');
  return new Set((rest?.resource ?? []).map((r) => r.type));
}

/** The system-level interactions a CapabilityStatement declares, e.g. 'transaction'. */
export function declaredSystemInteractions(statement: CapabilityStatement): ReadonlySet<string> {
  const rest = statement.rest?.find((r) => r.mode === 'server');
  return new Set((rest?.interaction ?? []).map((i) => i.code));
}
