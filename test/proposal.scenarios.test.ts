/**
 * Clinical scenarios (issue 12): patients written as FHIR records — coded and free-text Conditions, Procedures, notes
 * with negation and history, wearable and patient-reported data, twin findings — each with the protocol it must get
 * (or an explicit "none"), the phase it starts at, the cautions a clinician must see, and the requests approval
 * creates. Every scenario runs the real path: proposeCarePlan on the embedded store, then the review state machine.
 * The records are synthetic.
 */
import type {
  CarePlan,
  CodeableConcept,
  CommunicationRequest,
  Condition,
  DocumentReference,
  Goal,
  Observation,
  PlanDefinition,
  Practitioner,
  Procedure,
  Provenance,
  Resource,
  RiskAssessment,
  ServiceRequest,
  Task,
} from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtocolMatcher } from '../src/evidence/match/protocolMatcher';
import { loadProtocolLibrary } from '../src/evidence/protocols/protocolLibrary';
import { getMetric } from '../src/fhir/metricCatalogue';
import { LocalFhirClient } from '../src/fhir/localFhirClient';
import { createValidator } from '../src/fhir/validation';
import { AIAST } from '../src/policy/aiTransparency';
import { proposeCarePlan, type ProposalOutcome, type ProposeDeps } from '../src/proposal/proposalWriter';
import { applyReviewDecision, type ReviewResult } from '../src/review/reviewDecision';
import { openSqliteStore, type SqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';

const NOW = '2026-03-02T10:00:00Z';
const DOCTOR = 'Practitioner/dr1';
const library = loadProtocolLibrary();
const validator = createValidator();
const SNOMED = 'http://snomed.info/sct';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';

// ---- record builders -------------------------------------------------------------------------------------------

function condition(patient: string, id: string, code: CodeableConcept, onset: string): Condition {
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

function procedure(patient: string, id: string, text: string, performed: string): Procedure {
  return {
    resourceType: 'Procedure',
    id,
    status: 'completed',
    code: { text },
    subject: { reference: `Patient/${patient}` },
    performedDateTime: performed,
  };
}

function note(patient: string, id: string, text: string, date: string): DocumentReference {
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

function finding(
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

function pain(patient: string, id: string, value: number, at: string): Observation {
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

// ---- expectations ----------------------------------------------------------------------------------------------

interface Expected {
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
}

interface Scenario {
  readonly name: string;
  readonly patient: string;
  readonly records: readonly Resource[];
  readonly expected: Expected;
}

const SCENARIOS: readonly Scenario[] = [
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
];

// ---- the run ---------------------------------------------------------------------------------------------------

let dir: string;
let store: SqliteStore;
let client: LocalFhirClient;
let deps: ProposeDeps;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'twin-scenarios-'));
  store = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal' });
  client = new LocalFhirClient(store.repo, createEmbeddedRouter());
  const matcher = await ProtocolMatcher.create(library);
  deps = { client, library, matcher, validate: (r) => validator.validate(r), now: () => NOW };
  await store.repo.updateResource<Practitioner>({
    resourceType: 'Practitioner',
    id: 'dr1',
    name: [{ family: 'Okafor' }],
  });
  for (const s of SCENARIOS) {
    await store.repo.updateResource({ resourceType: 'Patient', id: s.patient });
    for (const r of s.records) {
      await store.repo.updateResource(r);
    }
  }
});

afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function read<T extends Resource>(reference: string): Promise<T> {
  const [type, id] = reference.split('/');
  return store.repo.readResource<T>(type as T['resourceType'], id as string);
}

function review(
  task: string,
  decision: 'accept' | 'approve' | 'reject',
  extra: { phase?: string; reason?: string } = {},
  now = NOW
) {
  return applyReviewDecision(
    client,
    { taskId: task.replace('Task/', ''), decision, practitioner: DOCTOR, ...extra },
    now,
    (r) => validator.validate(r),
    library
  );
}

/** Every text a clinician reads on a resource: no internal scores, no FHIRPath variable names. */
function assertPlainWording(texts: readonly (string | undefined)[]): void {
  for (const text of texts.filter((t): t is string => typeof t === 'string')) {
    expect(text).not.toMatch(/%[A-Za-z]|match score|text match|score \d/);
  }
}

function requestTitle(r: ServiceRequest | Task | CommunicationRequest): string {
  if (r.resourceType === 'CommunicationRequest') {
    return `${r.resourceType}: ${(r.payload?.[0]?.contentString ?? '').split(':')[0]}`;
  }
  return `${r.resourceType}: ${r.code?.text ?? ''}`;
}

describe.each(SCENARIOS.map((s) => [s.name, s] as const))('%s', (_name, scenario) => {
  let outcome: ProposalOutcome;
  const { expected } = scenario;

  beforeAll(async () => {
    outcome = await proposeCarePlan(scenario.patient, deps, { owner: DOCTOR });
  });

  if (expected.protocol === 'none') {
    test('explicit "none": no CarePlan, the reason said plainly, a care-team Task only for an injury', async () => {
      expect(outcome.status).toBe('no-match');
      if (outcome.status !== 'no-match') {
        return;
      }
      expect(outcome.match.noMatchReason).toMatch(/no proposal is made/);
      const plans = await client.searchAll<CarePlan>('CarePlan', { subject: `Patient/${scenario.patient}` });
      expect(plans).toEqual([]);
      if (expected.noProtocol) {
        expect(outcome.match.unmatchedConditions.map((u) => u.statement)).toEqual([expected.noProtocol]);
        expect(outcome.match.noMatchReason).toContain(expected.noProtocol);
      }
      const tasks = await client.searchAll<Task>('Task', { subject: `Patient/${scenario.patient}` });
      expect(tasks).toHaveLength(expected.careTeamTask ? 1 : 0);
      if (expected.careTeamTask) {
        expect(outcome.careTeamTasks).toHaveLength(1);
        expect(tasks[0]?.description).toContain(expected.noProtocol);
        expect(tasks[0]?.focus?.reference).toMatch(/^Condition\//);
        // Raised once: a second run adds nothing.
        await proposeCarePlan(scenario.patient, deps, { owner: DOCTOR });
        expect(await client.searchAll<Task>('Task', { subject: `Patient/${scenario.patient}` })).toHaveLength(1);
      }
    });
    return;
  }

  test(`proposes ${expected.protocol}, starting phase ${String(expected.startPhase)}, with its cautions`, async () => {
    expect(outcome.status).toBe('created');
    if (outcome.status !== 'created') {
      return;
    }
    expect(outcome.match.matches[0]?.planDefinition.id).toBe(expected.protocol);
    const pd = library.get(expected.protocol) as PlanDefinition;
    if (expected.startPhase === 'clinician') {
      expect(outcome.startPhase).toBeUndefined();
      expect(outcome.phaseReason).toMatch(/choose the phase when approving/);
    } else {
      expect(outcome.startPhase).toBe(
        `${pd.action?.[(expected.startPhase ?? 1) - 1]?.prefix ?? ''}: ${pd.action?.[(expected.startPhase ?? 1) - 1]?.title ?? ''}`
      );
    }
    for (const c of expected.cautions ?? []) {
      expect(outcome.cautions.join(' ')).toMatch(c);
    }
    for (const o of expected.overdue ?? []) {
      expect(outcome.overdue.join(' ')).toMatch(o);
    }
    if (!expected.overdue) {
      expect(outcome.overdue).toEqual([]);
    }
    const carePlan = await read<CarePlan>(outcome.carePlan);
    // Stop rules and sources on the CarePlan itself, where an EHR shows them.
    const notes = (carePlan.note ?? []).map((n) => n.text).join('\n');
    for (const c of expected.cautions ?? []) {
      expect(notes).toMatch(c);
    }
    expect(notes).toMatch(/Sources of this protocol: .+\d{4}/);
    assertPlainWording([carePlan.description, ...(carePlan.note ?? []).map((n) => n.text)]);
    assertPlainWording((carePlan.activity ?? []).map((a) => a.detail?.description));
    const task = await read<Task>(outcome.task ?? '');
    assertPlainWording([task.description]);
    expect(task.priority).toBe(
      expected.cautions?.some((c) => /Recorded in the notes/.test(c.source)) || expected.overdue ? 'urgent' : 'routine'
    );
  });

  test('approval orders every activity of the starting phase as the right request, and the plan is in force', async () => {
    if (outcome.status !== 'created') {
      throw new Error(`expected a proposal, got ${outcome.status}`);
    }
    const task = outcome.task ?? '';
    await review(task, 'accept');
    if (expected.startPhase === 'clinician') {
      await expect(review(task, 'approve')).rejects.toThrow(/choose it/);
    }
    const result: ReviewResult = await review(
      task,
      'approve',
      expected.chosenPhase ? { phase: String(expected.chosenPhase) } : {}
    );
    expect(result).toMatchObject({ taskStatus: 'completed', carePlanStatus: 'active' });
    const requests = await Promise.all(
      result.requested.map((r) => read<ServiceRequest | Task | CommunicationRequest>(r))
    );
    expect(requests.map(requestTitle)).toEqual(expected.requests);

    const carePlan = await read<CarePlan>(outcome.carePlan);
    const conditions = (carePlan.supportingInfo ?? []).filter((r) => r.reference?.startsWith('Condition/'));
    expect(carePlan).toMatchObject({ status: 'active', intent: 'plan', period: { start: NOW } });
    expect(carePlan.meta?.security).toEqual([AIAST]);
    expect(carePlan.addresses ?? []).toEqual(conditions);
    expect(carePlan.goal?.length).toBeGreaterThan(0);
    const goals = await Promise.all((carePlan.goal ?? []).map((g) => read<Goal>(g.reference ?? '')));
    expect(goals.some((g) => g.lifecycleStatus === 'active')).toBe(true);
    const notes = (carePlan.note ?? []).map((n) => n.text);
    expect(notes.some((n) => /Not in force/.test(n))).toBe(false);
    expect(notes.some((n) => /^In force from Phase/.test(n))).toBe(true);
    expect(notes.some((n) => n.startsWith('Stop and arrange clinical review if:'))).toBe(true);

    for (const r of requests) {
      expect(r.basedOn).toEqual([{ reference: `CarePlan/${carePlan.id}` }]);
      expect(r.requester).toEqual({ reference: DOCTOR });
      expect(r.meta?.security).toEqual([AIAST]);
      const reason =
        r.resourceType === 'Task' ? (r.reasonReference ? [r.reasonReference] : []) : (r.reasonReference ?? []);
      if (conditions.length > 0) {
        expect(reason.map((x) => x.reference)).toEqual(
          r.resourceType === 'Task' ? [conditions[0]?.reference] : conditions.map((c) => c.reference)
        );
      } else {
        expect(reason.length + (r.reasonCode ? 1 : 0)).toBeGreaterThan(0);
      }
      if (r.resourceType === 'ServiceRequest') {
        expect(r.occurrenceTiming?.repeat?.boundsPeriod?.start).toBe(NOW.slice(0, 10));
        expect(r.performerType?.text).toBeTruthy();
        assertPlainWording([r.patientInstruction]);
      } else if (r.resourceType === 'Task') {
        expect(r.input?.[0]?.valueTiming?.repeat?.boundsPeriod?.start).toBe(NOW.slice(0, 10));
        expect(r.performerType?.[0]?.text).toBeTruthy();
        assertPlainWording([r.description]);
      } else {
        expect(r.recipient).toEqual([{ reference: `Patient/${scenario.patient}` }]);
        expect(r.payload?.[0]?.contentString).toBeTruthy();
        assertPlainWording([r.payload?.[0]?.contentString]);
      }
    }
    // The decision's own Provenance is found by the CarePlan's plain reference.
    const provenances = await client.searchAll<Provenance>('Provenance', { target: `CarePlan/${carePlan.id}` });
    expect(provenances.map((p) => p.activity?.text).sort()).toEqual(['approve', 'proposal']);
    const approval = provenances.find((p) => p.activity?.text === 'approve');
    expect(approval?.agent.map((a) => a.type?.coding?.[0]?.code)).toEqual(['author', 'verifier']);
    expect(approval?.target.map((t) => t.reference)).toEqual(
      expect.arrayContaining([...result.requested, ...result.goals])
    );
    // The protocol the plan instantiates is on the server.
    const [url, version] = (carePlan.instantiatesCanonical?.[0] ?? '').split('|');
    const onServer = await client.searchAll<PlanDefinition>('PlanDefinition', { url: url ?? '' });
    expect(onServer.map((p) => p.version)).toEqual([version]);
  });
});

describe('a plan in force progresses; a rejected proposal is not proposed again', () => {
  test('ankle approved at phase 1; a week later full weight bearing and pain 3/10: progression proposed, then approved', async () => {
    const patient = 'ankle-progress';
    await store.repo.updateResource({ resourceType: 'Patient', id: patient });
    await store.repo.updateResource(condition(patient, `${patient}-c`, { text: 'Sprain of ankle' }, '2026-02-28'));
    const first = await proposeCarePlan(patient, deps);
    expect(first.status === 'created' && first.startPhase).toMatch(/^Phase 1/);
    if (first.status !== 'created') {
      return;
    }
    await review(first.task ?? '', 'accept');
    await review(first.task ?? '', 'approve');
    expect((await proposeCarePlan(patient, deps)).status).toBe('in-force');

    const later = '2026-03-08T10:00:00Z';
    await store.repo.updateResource(
      note(patient, `${patient}-n`, 'Full weight bearing now, swelling settling.', '2026-03-08')
    );
    await store.repo.updateResource(pain(patient, `${patient}-pain`, 3, '2026-03-08T08:00:00Z'));
    const progression = await proposeCarePlan(patient, { ...deps, now: () => later });
    expect(progression.status).toBe('progression-proposed');
    if (progression.status !== 'progression-proposed') {
      return;
    }
    expect(progression.startPhase).toMatch(/^Phase 2/);
    const proposed = await read<CarePlan>(progression.carePlan);
    expect(proposed.replaces).toEqual([{ reference: first.carePlan }]);
    expect(proposed.status).toBe('draft');
    // Asking again changes nothing while it awaits review.
    expect((await proposeCarePlan(patient, { ...deps, now: () => later })).status).toBe('exists');

    await review(progression.task ?? '', 'accept', {}, later);
    const approved = await review(progression.task ?? '', 'approve', {}, later);
    expect(approved.phase).toMatch(/^Phase 2/);
    expect((await read<CarePlan>(first.carePlan)).status).toBe('completed');
    expect((await read<CarePlan>(progression.carePlan)).status).toBe('active');
  });

  test('a rejected proposal is not proposed again for the same phase; the rejection has its own Provenance', async () => {
    const patient = 'ankle-rejected';
    await store.repo.updateResource({ resourceType: 'Patient', id: patient });
    await store.repo.updateResource(condition(patient, `${patient}-c`, { text: 'Sprain of ankle' }, '2026-02-28'));
    const first = await proposeCarePlan(patient, deps);
    if (first.status !== 'created') {
      throw new Error(first.status);
    }
    await review(first.task ?? '', 'reject', { reason: 'Seen by the club physiotherapist.' });
    expect((await proposeCarePlan(patient, deps)).status).toBe('exists');
    const provenances = await client.searchAll<Provenance>('Provenance', { target: first.carePlan });
    expect(provenances.map((p) => p.activity?.text).sort()).toEqual(['proposal', 'reject']);
    expect(provenances.find((p) => p.activity?.text === 'reject')?.reason?.[0]?.text).toBe(
      'Seen by the club physiotherapist.'
    );
  });
});
