/** The app's registration with the authorization server (the local one registers it under this id). */
export const CLIENT_ID = 'recovery-twin-app';

/**
 * SMART v2 scopes the app asks for. It copes with fewer: every action is shown only when the granted scopes allow
 * it (grantedScopes.ts). user/Task.rs and user/Patient.rs feed the care-team list across patients; user/Practitioner.r
 * reads the signed-in clinician's own resource (the token's fhirUser, SMART App Launch "fhirUser") to show their name.
 */
export const SCOPES = [
  'launch',
  'launch/patient',
  'openid',
  'fhirUser',
  'online_access',
  'patient/Patient.r',
  'patient/Observation.rs',
  'patient/RiskAssessment.rs',
  'patient/CarePlan.rus',
  'patient/Task.rus',
  'patient/ServiceRequest.rs',
  'patient/PlanDefinition.rs',
  'user/Task.rs',
  'user/Patient.rs',
  'user/Practitioner.r',
].join(' ');

/**
 * What the patient's own launch asks for (app/patient-launch.html): read access to their own record, SMART v2
 * `patient/*.rs`, and who they are (`openid fhirUser`). The server makes the signed-in patient the patient in context.
 */
export const PATIENT_SCOPES = ['launch/patient', 'openid', 'fhirUser', 'online_access', 'patient/*.rs'].join(' ');

/** The twin's code system (src/fhir/codes/twinCodes.ts TWIN_CONCEPT_SYSTEM). */
export const TWIN_CONCEPT_SYSTEM = 'https://recovery-twin.dev/fhir/CodeSystem/twin-concept';
export const TWIN_PROFILE_BASE = 'https://recovery-twin.dev/fhir/StructureDefinition';
/** planApplier.ts FROM_APPROVAL: the starting phase's activities, ordered on approval. */
export const FROM_APPROVAL = 'from approval';
