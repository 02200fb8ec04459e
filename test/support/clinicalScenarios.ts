/**
 * The clinical scenarios of the proposal suite as FHIR records (synthetic): coded and free-text Conditions, Procedures, notes
 * with negation and history, patient-reported pain from the app, twin findings; each with the protocol it must get or
 * an explicit "none", the starting phase, the cautions and the requests approval must create. Used by
 * test/proposal.scenarios.test.ts.
 */
import type {
  CodeableConcept,
  Condition,
  DocumentReference,
  Observation,
  Procedure,
  Resource,
  RiskAssessment,
} from '@medplum/fhirtypes';
import { getMetric } from '../../src/fhir/metricCatalogue';

export const SCENARIO_NOW = '2026-03-02T10:00:00Z';
const SNOMED = 'http://snomed.info/sct';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';

// ---- record builders -------------------------------------------------------------------------------------------

export function condition(patient: string, id: string, code: CodeableConcept, onset: string): Condition {
  return {
    resourceType: 'Condition',
    id,
    clinicalStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
    },
    verificationStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }],
    },
    code,
    subject: { reference: `Patient/${patient}` },
    onsetDateTime: onset,
  };
}

export function procedure(patient: string, id: string, text: string, performed: string): Procedure {
  return {
    resourceType: 'Procedure',
    id,
    status: 'completed',
    code: { text },
    subject: { reference: `Patient/${patient}` },
    performedDateTime: performed,
  };
}

export function note(patient: string, id: string, text: string, date: string): DocumentReference {
  return {
    resourceType: 'DocumentReference',
    id,
    status: 'current',
    // R4 DocumentReference.date is an instant.
    date: `${date}T09:00:00Z`,
    subject: { reference: `Patient/${patient}` },
    content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: Buffer.from(text).toString('base64') } }],
  };
}

export function finding(
  patient: string,
  id: string,
  outcome: string,
  onset: string,
  status: 'preliminary' | 'final',
  probability: number
): RiskAssessment {
  return {
    resourceType: 'RiskAssessment',
    id,
    status,
    subject: { reference: `Patient/${patient}` },
    occurrenceDateTime: onset,
    prediction: [{ outcome: { text: outcome }, probabilityDecimal: probability }],
  };
}

export function pain(patient: string, id: string, value: number, at: string): Observation {
  const coding = getMetric('pain-severity').codings[0];
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: coding ? [coding] : [] },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: at,
    valueQuantity: { value, unit: '{score}', system: 'http://unitsofmeasure.org', code: '{score}' },
  };
}

/** Daily resting heart rate from a wearable (the metric catalogue's coding and UCUM unit). */
export function restingHeartRate(patient: string, id: string, value: number, day: string): Observation {
  const metric = getMetric('resting-heart-rate');
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }],
      },
    ],
    code: { coding: metric.codings.slice(0, 1) },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: day,
    valueQuantity: { value, unit: metric.unit, system: 'http://unitsofmeasure.org', code: metric.unit },
  };
}

// ---- expectations ----------------------------------------------------------------------------------------------

export interface Expected {
  /** PlanDefinition id, or 'none'. */
  readonly protocol: string;
  /** 1-based phase the record places the patient in; 'clinician' = the record cannot decide. */
  readonly startPhase?: number | 'clinician';
  /** When the clinician must choose: the phase they choose at approval. */
  readonly chosenPhase?: number;
  /** Texts the cautions must contain. */
  readonly cautions?: readonly RegExp[];
  readonly overdue?: readonly RegExp[];
  /** "ResourceType: title" of every request approval creates, in plan order. */
  readonly requests?: readonly string[];
  /** For "none": the plain statement, and whether a care-team Task is raised. */
  readonly noProtocol?: string;
  readonly careTeamTask?: boolean;
  /** The review Task's priority (default: urgent when a caution is recorded in the notes or a review is due). */
  readonly priority?: 'urgent' | 'routine';
}

export interface Scenario {
  readonly name: string;
  readonly patient: string;
  readonly records: readonly Resource[];
  readonly expected: Expected;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'ACL reconstruction 8 days ago: early post-operative phase, thrombosis and infection warnings',
    patient: 'acl-early',
    records: [
      condition('acl-early', 'acl-early-c', { text: 'Rupture of anterior cruciate ligament, left knee' }, '2026-01-20'),
      procedure('acl-early', 'acl-early-p', 'Anterior cruciate ligament reconstruction', '2026-02-22'),
      note(
        'acl-early',
        'acl-early-n',
        'Day 7 after ACL reconstruction. Knee swollen, walking with crutches. No calf pain, no fever.',
        '2026-03-01'
      ),
    ],
    expected: {
      protocol: 'acl-reconstruction',
      startPhase: 1,
      cautions: [/calf pain or swelling suggesting thrombosis, fever or wound discharge/],
      requests: [
        'ServiceRequest: Early physiotherapy review',
        'ServiceRequest: Early home exercises',
        'CommunicationRequest: What to expect after ACL reconstruction',
        'Task: Daily pain and swelling check-in',
      ],
    },
  },
  {
    name: 'ACL reconstruction 120 days ago, "reduced limp, no effusion, continue strengthening": strength phase',
    patient: 'acl-120',
    records: [
      condition('acl-120', 'acl-120-c', { text: 'Tear of anterior cruciate ligament of knee' }, '2025-10-10'),
      procedure('acl-120', 'acl-120-p', 'ACL reconstruction', '2025-11-02'),
      note(
        'acl-120',
        'acl-120-n',
        'Review at 4 months. Reduced limp, no effusion, continue strengthening.',
        '2026-02-27'
      ),
    ],
    expected: {
      protocol: 'acl-reconstruction',
      startPhase: 2,
      overdue: [/Check readiness for Phase 3.*strength or hop tests compared with the other side/],
      cautions: [/New effusion or pain above 4\/10/, /suggesting thrombosis/],
      requests: [
        'ServiceRequest: Supervised strength sessions',
        'ServiceRequest: Progressive strength programme',
        'ServiceRequest: Protect sleep',
      ],
    },
  },
  {
    name: 'Ankle sprain coded only (SNOMED CT 44465007, no text), 2 days old: acute phase with fracture screen',
    patient: 'ankle-acute',
    records: [
      condition('ankle-acute', 'ankle-acute-c', { coding: [{ system: SNOMED, code: '44465007' }] }, '2026-02-28'),
      note('ankle-acute', 'ankle-acute-n', 'Rolled it playing netball. Able to take four steps.', '2026-02-28'),
    ],
    expected: {
      protocol: 'ankle-sprain',
      startPhase: 1,
      cautions: [/Ottawa ankle rules positive/],
      requests: [
        'Task: Fracture screen',
        'CommunicationRequest: Early functional treatment advice',
        'ServiceRequest: Early range-of-movement exercises',
        'ServiceRequest: Functional support',
      ],
    },
  },
  {
    name: 'Ankle sprain in free text, 20 days old, progress not recorded: the clinician chooses phase 2 at approval',
    patient: 'ankle-late',
    records: [condition('ankle-late', 'ankle-late-c', { text: 'Right ankle sprain' }, '2026-02-10')],
    expected: {
      protocol: 'ankle-sprain',
      startPhase: 'clinician',
      chosenPhase: 2,
      cautions: [/Ottawa ankle rules positive/],
      requests: [
        'ServiceRequest: Exercise therapy session',
        'ServiceRequest: Home balance and strength programme',
        'Task: Daily pain and swelling check-in',
      ],
    },
  },
  {
    name: 'Concussion coded only (ICD-10 S06.0), day 43 with persisting headaches: step 2, 4-week review overdue',
    patient: 'concussion-43',
    records: [
      condition('concussion-43', 'concussion-43-c', { coding: [{ system: ICD10, code: 'S06.0' }] }, '2026-01-18'),
      note(
        'concussion-43',
        'concussion-43-n',
        'Still getting headaches with screen work and exertion. No neck pain, no double vision.',
        '2026-02-28'
      ),
    ],
    expected: {
      protocol: 'concussion-return-to-sport',
      startPhase: 2,
      overdue: [/Persisting symptoms review.*due about day 28; today is day 43/],
      cautions: [/neck pain or tenderness, double vision/, /seizure/, /deteriorating consciousness, vomiting/],
      requests: ['ServiceRequest: Graded aerobic exercise', 'Task: Persisting symptoms review'],
    },
  },
  {
    name: 'Concussion yesterday (free text): step 1 with the advice on driving and alcohol ordered',
    patient: 'concussion-acute',
    records: [
      condition('concussion-acute', 'concussion-acute-c', { text: 'Concussion' }, '2026-03-01'),
      note('concussion-acute', 'concussion-acute-n', 'Concussed in a rugby tackle yesterday. Headache.', '2026-03-01'),
    ],
    expected: {
      protocol: 'concussion-return-to-sport',
      startPhase: 1,
      cautions: [/double vision/],
      requests: [
        'Task: Diagnosis and red-flag check',
        'CommunicationRequest: Concussion advice',
        'Task: Daily symptom score',
        'ServiceRequest: Protect sleep',
      ],
    },
  },
  {
    name: 'Clavicle fracture with a "possible infection" finding contradicted by the notes: none, care-team Task',
    patient: 'clavicle-1',
    records: [
      condition(
        'clavicle-1',
        'clavicle-1-c',
        { coding: [{ system: SNOMED, code: '33173003' }], text: 'Closed fracture of clavicle' },
        '2026-02-20'
      ),
      finding('clavicle-1', 'clavicle-1-f', 'possible infection', '2026-02-26', 'preliminary', 0.7),
      note('clavicle-1', 'clavicle-1-n', 'Sling for comfort. No fever. No signs of infection.', '2026-02-27'),
    ],
    expected: {
      protocol: 'none',
      noProtocol: 'No protocol for closed fracture of clavicle in the library.',
      careTeamTask: true,
    },
  },
  {
    name: 'Clavicle fracture (coded only) with an overreaching alarm three weeks before it: none, care-team Task',
    patient: 'clavicle-2',
    records: [
      condition('clavicle-2', 'clavicle-2-c', { coding: [{ system: SNOMED, code: '33173003' }] }, '2026-02-20'),
      finding('clavicle-2', 'clavicle-2-f', 'overreaching', '2026-01-30', 'final', 0.7),
    ],
    expected: {
      protocol: 'none',
      noProtocol: 'No protocol for closed fracture of clavicle in the library.',
      careTeamTask: true,
    },
  },
  {
    name: 'Healthy person with one 2.5-month-old closed finding below the review threshold: none, nothing raised',
    patient: 'healthy',
    records: [
      finding('healthy', 'healthy-f', 'overreaching', '2025-12-15', 'final', 0.3),
      note('healthy', 'healthy-n', 'Annual check. Feels well, training normally. No injury, no pain.', '2026-02-25'),
    ],
    expected: { protocol: 'none', careTeamTask: false },
  },
  {
    name: 'Viral illness suggested only by an open finding, contradicted by the notes: none',
    patient: 'viral-finding',
    records: [
      finding('viral-finding', 'viral-finding-f', 'possible infection', '2026-02-27', 'preliminary', 0.8),
      note('viral-finding', 'viral-finding-n', 'No fever. No signs of infection. Feels well.', '2026-03-01'),
    ],
    expected: { protocol: 'none', careTeamTask: false },
  },
  {
    name: 'Influenza 12 days ago, fever and aches denied for a week: acute phase refuted, clinician chooses phase 2',
    patient: 'influenza',
    records: [
      condition('influenza', 'influenza-c', { text: 'Influenza' }, '2026-02-18'),
      finding('influenza', 'influenza-f', 'possible infection', '2026-02-19', 'final', 0.6),
      note(
        'influenza',
        'influenza-n',
        'Recovering from flu. No fever and no muscle aches for a week. Wants to return to running.',
        '2026-03-01'
      ),
    ],
    expected: {
      protocol: 'return-to-exercise-after-viral-illness',
      startPhase: 'clinician',
      chosenPhase: 2,
      cautions: [/Chest pain, palpitations, fainting or disproportionate breathlessness/],
      requests: ['ServiceRequest: Light activity'],
    },
  },
  {
    name: 'History of ACL reconstruction (2015), now low back pain for 3 weeks: back pain, not ACL',
    patient: 'back-pain',
    records: [
      procedure('back-pain', 'back-pain-p', 'ACL reconstruction', '2015-06-01'),
      condition('back-pain', 'back-pain-c', { text: 'Low back pain' }, '2026-02-09'),
      note(
        'back-pain',
        'back-pain-n',
        'History of ACL reconstruction in 2015. Low back pain for three weeks after lifting. No numbness.',
        '2026-03-01'
      ),
    ],
    expected: {
      protocol: 'low-back-pain',
      startPhase: 2,
      overdue: [/Check readiness for Phase 3/],
      cautions: [/Red flags/i],
      requests: [
        'CommunicationRequest: Self-management plan',
        'ServiceRequest: Keep moving',
        'Task: Pain and function check-in',
        'ServiceRequest: Sleep with back pain',
      ],
    },
  },
  {
    name: 'Total knee replacement 10 days ago with a DVT in the notes: urgent review, caution on the plan',
    patient: 'tkr-dvt',
    records: [
      procedure('tkr-dvt', 'tkr-dvt-p', 'Total knee replacement', '2026-02-20'),
      note('tkr-dvt', 'tkr-dvt-n', 'Calf swollen, DVT confirmed on ultrasound.', '2026-03-01'),
    ],
    expected: {
      protocol: 'total-knee-replacement',
      startPhase: 1,
      cautions: [/Recorded in the notes: Deep vein thrombosis/],
      requests: [
        'ServiceRequest: Inpatient physiotherapy',
        'ServiceRequest: Home exercise plan',
        'CommunicationRequest: After knee replacement',
        'Task: Daily pain and swelling check-in',
      ],
    },
  },
  {
    name: 'Hamstring strain coded only, walking normally, pain 2/10 reported from the app: lengthening phase',
    patient: 'hamstring',
    records: [
      condition('hamstring', 'hamstring-c', { coding: [{ system: SNOMED, code: '481000119104' }] }, '2026-02-20'),
      pain('hamstring', 'hamstring-pain-1', 5, '2026-02-24T08:00:00Z'),
      pain('hamstring', 'hamstring-pain-2', 2, '2026-03-01T08:00:00Z'),
      note('hamstring', 'hamstring-n', 'Walking without crutches, normal gait.', '2026-03-01'),
    ],
    expected: {
      protocol: 'hamstring-strain',
      startPhase: 2,
      cautions: [/pain above 3\/10/i],
      requests: [
        'ServiceRequest: Lengthening exercise programme',
        'ServiceRequest: Supervised loading',
        'Task: Daily pain check-in',
      ],
    },
  },
  {
    name: 'Runner with overtraining in the notes, a week of raised resting heart rate and an open twin finding agreeing',
    patient: 'overreached',
    records: [
      ...[52, 53, 52, 54, 59, 61, 62, 63, 62, 64].map((bpm, i) =>
        restingHeartRate('overreached', `overreached-rhr-${i}`, bpm, `2026-02-${String(19 + i).padStart(2, '0')}`)
      ),
      finding('overreached', 'overreached-f', 'insufficient recovery', '2026-02-23', 'preliminary', 0.8),
      note(
        'overreached',
        'overreached-n',
        'Marathon block. Coach reports underperformance and signs of overtraining. Sleeping badly. No chest pain.',
        '2026-03-01'
      ),
    ],
    expected: {
      protocol: 'overreaching-under-recovery',
      startPhase: 1,
      // The open alarm agrees with the plan the notes support: it raises the review's priority, it chose nothing.
      priority: 'urgent',
      cautions: [/Red flags|fever|cardiac/i],
      requests: ['Task: Recovery check-in', 'Task: Screen for other causes'],
    },
  },
];
