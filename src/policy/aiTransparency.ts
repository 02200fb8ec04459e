import type { Coding } from '@medplum/fhirtypes';

/**
 * The security label that marks a resource as asserted by an AI (HL7 AI Transparency on FHIR, ValueSet ProvenanceVS:
 * code AIAST of http://terminology.hl7.org/CodeSystem/v3-ObservationValue, display "Artificial Intelligence
 * asserted"). Every proposal resource the engine writes carries it in meta.security, and its Provenance carries it as
 * the reason.
 */
export const AIAST: Readonly<Coding> = Object.freeze({
  system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
  code: 'AIAST',
  display: 'Artificial Intelligence asserted',
});

/** FHIR R4 provenance-participant-type (terminology.hl7.org CodeSystem provenance-participant-type). */
export const PARTICIPANT_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/provenance-participant-type';

/** FHIR R4 Provenance.activity: v3-DataOperation CREATE / UPDATE. */
export const DATA_OPERATION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-DataOperation';
