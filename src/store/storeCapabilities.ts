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
  'create',
  'search-type',
];

/**
 * Derived from the same index definitions the search compiler uses, so the CapabilityStatement cannot claim a
 * parameter that a search would refuse. Type-level and system history are not implemented and not listed.
 */
export function describeStoreSupport(): StoreResourceSupport[] {
  return getResourceTypes()
    .filter((type) => type !== 'Binary' && type !== 'Bundle' && type !== 'Parameters')
    .sort()
    .map((type) => {
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
          ...params.map((p) => ({ name: p.code, type: p.type, definition: p.definition.url })),
        ],
        versioning: 'versioned',
        readHistory: true,
        updateCreate: true,
        conditionalCreate: true,
        conditionalUpdate: true,
        conditionalDelete: 'single',
        searchInclude: params.filter((p) => p.type === 'reference').map((p) => `${type}:${p.code}`),
        searchRevInclude: [],
      };
    });
}
