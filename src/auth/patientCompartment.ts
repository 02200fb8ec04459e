import type { Reference, Resource } from '@medplum/fhirtypes';

/**
 * Whether a resource belongs to one patient's record, for confining a patient-level SMART token ("a token for
 * patient A reading patient B gets nothing"). The fields follow the FHIR R4 Patient CompartmentDefinition
 * (compartmentdefinition-patient.html) for the types the twin reads and writes; a type not listed there and not in
 * NOT_PATIENT_DATA is treated as patient data that the token cannot reach (deny by default).
 */
const PATIENT_FIELDS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  Observation: ['subject', 'performer'],
  Condition: ['subject', 'asserter'],
  Procedure: ['subject', 'performer'],
  CarePlan: ['subject', 'performer'],
  CareTeam: ['subject', 'participant'],
  Goal: ['subject'],
  RiskAssessment: ['subject'],
  ServiceRequest: ['subject', 'performer'],
  Task: ['for'],
  DocumentReference: ['subject', 'author'],
  DiagnosticReport: ['subject'],
  Consent: ['patient'],
  Encounter: ['subject'],
  EpisodeOfCare: ['patient'],
  AllergyIntolerance: ['patient', 'recorder', 'asserter'],
  MedicationRequest: ['subject'],
  MedicationStatement: ['subject'],
  Immunization: ['patient'],
  QuestionnaireResponse: ['subject', 'author'],
  Communication: ['subject', 'sender', 'recipient'],
  Flag: ['subject'],
  Device: ['patient'],
  Provenance: ['target'],
  // R4 compartment: AuditEvent `patient` = agent.who or entity.what that is a Patient (the patient read their own
  // record, or their record was read): a patient reads who read their twin.
  AuditEvent: ['agent', 'entity'],
});

/**
 * Types that are not any patient's data (definitions, directories): a patient-level token may read them when its
 * scopes name them, never write them.
 */
export const NOT_PATIENT_DATA: ReadonlySet<string> = new Set([
  'PlanDefinition',
  'ActivityDefinition',
  'Library',
  'Questionnaire',
  'ValueSet',
  'CodeSystem',
  'ConceptMap',
  'StructureDefinition',
  'OperationDefinition',
  'SearchParameter',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'Location',
  'Medication',
]);

function referencesOf(value: unknown): Reference[] {
  if (Array.isArray(value)) {
    return value.flatMap(referencesOf);
  }
  if (typeof value === 'object' && value !== null) {
    const v = value as { reference?: unknown; actor?: unknown; member?: unknown; who?: unknown; what?: unknown };
    if (typeof v.reference === 'string') {
      return [v as Reference];
    }
    // CareTeam.participant.member, AuditEvent.agent.who, AuditEvent.entity.what and similar BackboneElements hold
    // the reference one level down.
    return [...referencesOf(v.member), ...referencesOf(v.actor), ...referencesOf(v.who), ...referencesOf(v.what)];
  }
  return [];
}

function namesPatient(reference: string, patientId: string): boolean {
  // Relative (`Patient/X`) or absolute (`<base>/Patient/X`), never a version-less prefix of another id.
  return (
    reference === `Patient/${patientId}` ||
    reference.endsWith(`/Patient/${patientId}`) ||
    reference.startsWith(`Patient/${patientId}/_history/`)
  );
}

/** True when the resource is in `patientId`'s compartment. */
export function inPatientCompartment(resource: Resource, patientId: string): boolean {
  if (resource.resourceType === 'Patient') {
    return resource.id === patientId;
  }
  const fields = PATIENT_FIELDS[resource.resourceType];
  if (!fields) {
    return false;
  }
  const record = resource as unknown as Record<string, unknown>;
  return fields.some((field) => referencesOf(record[field]).some((r) => namesPatient(r.reference ?? '', patientId)));
}

/**
 * The patients whose compartment holds the resource (ids, without duplicates): the Patient itself, or the patients its
 * compartment fields reference. Empty for a type that is no patient's data.
 */
export function compartmentPatients(resource: Resource): string[] {
  if (resource.resourceType === 'Patient') {
    return resource.id ? [resource.id] : [];
  }
  const fields = PATIENT_FIELDS[resource.resourceType] ?? [];
  const record = resource as unknown as Record<string, unknown>;
  const ids = new Set<string>();
  for (const field of fields) {
    for (const r of referencesOf(record[field])) {
      const id = /(?:^|\/)Patient\/([A-Za-z0-9.-]{1,64})(?:\/_history\/[^/]+)?$/.exec(r.reference ?? '')?.[1];
      if (id) {
        ids.add(id);
      }
    }
  }
  return [...ids];
}

/** True when the type holds patient data (so a patient-level token reaches only its own patient's resources). */
export function isPatientDataType(resourceType: string): boolean {
  return !NOT_PATIENT_DATA.has(resourceType);
}

/** Search parameters that confine a search to one patient, by resource type. */
export function patientSearchParameters(resourceType: string): readonly string[] {
  if (resourceType === 'Patient') {
    return ['_id'];
  }
  const fields = PATIENT_FIELDS[resourceType];
  if (!fields) {
    return [];
  }
  // R4 search parameters `patient` and `subject` name the record's patient on these types (on Task: Task.for).
  return ['patient', 'subject'];
}
