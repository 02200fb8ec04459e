import { OperationOutcomeError } from '@medplum/core';
import type {
  CarePlan,
  Condition,
  DocumentReference,
  Practitioner,
  Procedure,
  Provenance,
  Resource,
  Task,
} from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { situationFromResources } from '../src/evidence/match/patientSituation';
import { ProtocolMatcher } from '../src/evidence/match/protocolMatcher';
import { LocalFhirClient } from '../src/fhir/localFhirClient';
import { TWIN_PROFILE } from '../src/fhir/codes/twinCanonicals';
import { createValidator } from '../src/fhir/validation';
import { AIAST } from '../src/policy/aiTransparency';
import { proposeCarePlan, type ProposeDeps } from '../src/proposal/proposalWriter';
import { loadProtocolLibrary } from '../src/protocols/protocolLibrary';
import { applyReviewDecision, type ReviewRequest } from '../src/review/reviewDecision';
import { nextReviewStatus, REVIEW_DECISIONS, type ReviewDecision } from '../src/review/reviewStateMachine';
import { openSqliteStore, type SqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';

const NOW = '2026-03-02T10:00:00Z';
const library = loadProtocolLibrary();
const validator = createValidator();
let matcher: ProtocolMatcher;

beforeAll(async () => {
  matcher = await ProtocolMatcher.create(library);
});

function textNote(id: string, text: string): DocumentReference {
  return {
    resourceType: 'DocumentReference',
    id,
    status: 'current',
    subject: { reference: 'Patient/p1' },
    content: [{ attachment: { contentType: 'text/plain', data: Buffer.from(text).toString('base64') } }],
  };
}

function situation(
  notes: DocumentReference[],
  procedures: Procedure[] = []
): ReturnType<typeof situationFromResources> {
  return situationFromResources('p1', { conditions: [], procedures, notes, findings: [], goals: [] });
}

describe('matching the protocol library', () => {
  test('a procedure and a note point to the ACL protocol', async () => {
    const result = await matcher.match(
      situation(
        [textNote('n1', 'Two weeks after ACL reconstruction. Mild swelling, no effusion. Goal: return to football.')],
        [
          {
            resourceType: 'Procedure',
            id: 'pr1',
            status: 'completed',
            subject: { reference: 'Patient/p1' },
            code: { text: 'Anterior cruciate ligament reconstruction' },
          },
        ]
      )
    );
    expect(result.matches[0]?.planDefinition.id).toBe('acl-reconstruction');
    expect(result.matches[0]?.supportedBy).toEqual(['DocumentReference/n1', 'Procedure/pr1']);
  });

  test('negated, uncertain and past mentions do not match: a clear "no match", not a weak proposal', async () => {
    const result = await matcher.match(
      situation([textNote('n1', 'No concussion. Rule out ankle sprain. History of low back pain. Feels well.')])
    );
    expect(result.matches).toEqual([]);
    expect(result.noMatchReason).toMatch(/no proposal/);
  });

  test('an active condition no protocol covers is said plainly; one whose own words say it is past is not', async () => {
    const condition = (id: string, text: string): Condition => ({
      resourceType: 'Condition',
      id,
      subject: { reference: 'Patient/p1' },
      code: { text },
    });
    const result = await matcher.match(
      situationFromResources('p1', {
        conditions: [condition('c1', 'Fracture of clavicle'), condition('c2', 'History of ACL reconstruction')],
        procedures: [],
        notes: [],
        findings: [],
        goals: [],
      })
    );
    expect(result.matches).toEqual([]);
    expect(result.unmatchedConditions.map((u) => [u.statement, u.recoveryRelated])).toEqual([
      ['No protocol for fracture of clavicle in the library.', true],
    ]);
  });

  test('an empty note gives no match and no error', async () => {
    expect((await matcher.match(situation([textNote('n1', '')]))).matches).toEqual([]);
  });

  test('contraindications in the notes become cautions', async () => {
    const result = await matcher.match(
      situation([textNote('n1', 'Total knee replacement 10 days ago. Calf swollen, DVT confirmed.')])
    );
    expect(result.matches[0]?.planDefinition.id).toBe('total-knee-replacement');
    expect(result.cautions).toEqual(['Deep vein thrombosis']);
  });

  test('a note in an undeclared legacy encoding is read with a warning; a PDF is skipped with a warning', () => {
    const latin1: DocumentReference = {
      ...textNote('n2', ''),
      content: [
        {
          attachment: {
            contentType: 'text/plain',
            data: Buffer.from('Ankle sprain, café', 'latin1').toString('base64'),
          },
        },
      ],
    };
    const pdf: DocumentReference = {
      ...textNote('n3', ''),
      content: [{ attachment: { contentType: 'application/pdf', data: Buffer.from('%PDF').toString('base64') } }],
    };
    const s = situation([latin1, pdf]);
    expect(s.notes.map((n) => n.concepts.map((c) => c.key))).toEqual([['ankle-sprain']]);
    expect(s.issues.map((i) => i.severity)).toEqual(['warning', 'warning']);
  });
});

describe('proposal and review on the embedded store', () => {
  let dir: string;
  let store: SqliteStore;
  let client: LocalFhirClient;
  let deps: ProposeDeps;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'twin-proposal-'));
    store = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal' });
    client = new LocalFhirClient(store.repo, createEmbeddedRouter());
    deps = { client, library, matcher, validate: (r) => validator.validate(r), now: () => NOW };
    await store.repo.updateResource({ resourceType: 'Patient', id: 'p1' });
    await store.repo.updateResource<Practitioner>({
      resourceType: 'Practitioner',
      id: 'dr1',
      name: [{ family: 'Review' }],
    });
    await store.repo.updateResource(
      textNote('n1', 'Sprained ankle playing netball yesterday. No fracture. Wants to return to sport.')
    );
  });

  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function all<T extends Resource>(type: T['resourceType']): Promise<T[]> {
    return client.searchAll<T>(type, {});
  }

  async function propose(): Promise<{ task: Task; carePlan: CarePlan }> {
    const outcome = await proposeCarePlan('p1', deps, { owner: 'Practitioner/dr1' });
    expect(outcome.status).toBe('created');
    const [task] = await all<Task>('Task');
    const [carePlan] = await all<CarePlan>('CarePlan');
    return { task: task, carePlan: carePlan };
  }

  async function review(taskId: string, decision: ReviewDecision, extra: Partial<ReviewRequest> = {}) {
    return applyReviewDecision(client, { taskId, decision, practitioner: 'Practitioner/dr1', ...extra }, NOW, (r) =>
      validator.validate(r)
    );
  }

  test('the proposal: draft CarePlan, review Task, AI Provenance, all labelled AIAST; a rerun writes nothing', async () => {
    const { task, carePlan } = await propose();
    expect(carePlan).toMatchObject({
      status: 'draft',
      intent: 'proposal',
      instantiatesCanonical: ['https://recovery-twin.dev/fhir/PlanDefinition/ankle-sprain|0.1.0'],
      subject: { reference: 'Patient/p1' },
      supportingInfo: [{ reference: 'DocumentReference/n1' }],
    });
    expect(carePlan.meta?.profile).toEqual([TWIN_PROFILE.carePlanProposal]);
    expect(carePlan.activity?.length).toBeGreaterThan(3);
    expect(task).toMatchObject({
      status: 'requested',
      intent: 'order',
      businessStatus: { text: 'awaiting review' },
      focus: { reference: `CarePlan/${carePlan.id}` },
      owner: { reference: 'Practitioner/dr1' },
    });
    const [provenance] = await all<Provenance>('Provenance');
    expect(provenance?.target.map((t) => t.reference)).toEqual([`CarePlan/${carePlan.id}`, `Task/${task.id}`]);
    expect(provenance?.agent[0]?.who?.reference).toMatch(/^Device\//);
    expect(provenance?.entity?.filter((e) => e.role === 'derivation').map((e) => e.what.reference)).toContain(
      'DocumentReference/n1'
    );
    // AI Transparency on FHIR: the label is in meta.security, not in Provenance.reason.
    expect(provenance?.reason).toBeUndefined();
    for (const r of [carePlan, task, provenance]) {
      expect(r?.meta?.security).toEqual([AIAST]);
    }

    const versions = async (): Promise<number> =>
      (
        await Promise.all(
          ['CarePlan', 'Task', 'Provenance', 'Device'].map((t) => store.repo.search({ resourceType: t as 'Task' }))
        )
      ).reduce((n, b) => n + (b.entry?.length ?? 0), 0);
    const before = await versions();
    expect((await proposeCarePlan('p1', deps)).status).toBe('exists');
    expect(await versions()).toBe(before);
    expect((await store.repo.readHistory('CarePlan', carePlan.id as string)).entry).toHaveLength(1);
  });

  test('an unknown patient is an error, not "no match"', async () => {
    await expect(proposeCarePlan('nobody', deps)).rejects.toThrow(/Patient\/nobody not found/);
    await expect(proposeCarePlan('../etc', deps)).rejects.toThrow(/not found/);
  });

  test('a patient with no matching protocol gets no proposal', async () => {
    await store.repo.updateResource(textNote('n1', 'Routine check. No injury, no pain.'));
    const outcome = await proposeCarePlan('p1', deps);
    expect(outcome.status).toBe('no-match');
    expect(await all('CarePlan')).toEqual([]);
    expect(await all('Task')).toEqual([]);
  });

  test('approve: CarePlan active, first-phase activities requested, Task completed, clinician as verifier', async () => {
    const { task, carePlan } = await propose();
    await review(task.id as string, 'accept');
    const result = await review(task.id as string, 'approve');
    expect(result).toMatchObject({ taskStatus: 'completed', carePlanStatus: 'active' });
    expect(result.requested.length).toBeGreaterThan(0);
    const approved = (await client.searchAll<CarePlan>('CarePlan', { _id: carePlan.id as string }))[0];
    expect(approved).toMatchObject({
      status: 'active',
      intent: 'plan',
      contributor: [{ reference: 'Practitioner/dr1' }],
    });
    expect(approved?.activity?.filter((a) => a.reference).length).toBe(result.requested.length);
    // The decision has its own Provenance, found by the CarePlan's plain reference; the AI one is untouched.
    const provenances = await client.searchAll<Provenance>('Provenance', { target: `CarePlan/${carePlan.id}` });
    expect(provenances).toHaveLength(2);
    const decision = provenances.find((p) => p.activity?.text === 'approve');
    expect(decision?.agent.map((a) => [a.type?.coding?.[0]?.code, a.who.reference])).toEqual([
      ['author', 'Practitioner/dr1'],
      ['verifier', 'Practitioner/dr1'],
    ]);
    expect(decision?.recorded).toBe(NOW);
    expect(provenances.find((p) => p.activity?.coding?.[0]?.code === 'CREATE')?.meta?.versionId).toBe('1');
    const [done] = await client.searchAll<Task>('Task', { _id: task.id as string });
    expect(done).toMatchObject({ status: 'completed', businessStatus: { text: 'approved' } });
  });

  test('modify records a new CarePlan version with the edits; reject revokes with the reason', async () => {
    const { task, carePlan } = await propose();
    await review(task.id as string, 'accept');
    await review(task.id as string, 'modify', { removeActivities: [0], note: 'Skip the brace: patient has one.' });
    const history = await store.repo.readHistory('CarePlan', carePlan.id as string);
    expect(history.entry).toHaveLength(2);
    const [modified] = await client.searchAll<CarePlan>('CarePlan', { _id: carePlan.id as string });
    expect(modified?.activity?.length).toBe((carePlan.activity?.length ?? 0) - 1);
    expect(modified?.status).toBe('draft');
    const updates = (await all<Provenance>('Provenance')).filter((p) => p.activity?.coding?.[0]?.code === 'UPDATE');
    expect(updates).toHaveLength(1);

    await review(task.id as string, 'reject', { reason: 'Prefers community physiotherapy.' });
    const [revoked] = await client.searchAll<CarePlan>('CarePlan', { _id: carePlan.id as string });
    expect(revoked?.status).toBe('revoked');
    expect(revoked?.note?.at(-1)?.text).toContain('Prefers community physiotherapy.');
    const [rejected] = await client.searchAll<Task>('Task', { _id: task.id as string });
    expect(rejected).toMatchObject({ status: 'rejected', statusReason: { text: 'Prefers community physiotherapy.' } });
  });

  test('invalid transitions are refused with an OperationOutcome and change nothing', async () => {
    const { task } = await propose();
    const id = task.id as string;
    const refused = async (p: Promise<unknown>, text: RegExp): Promise<void> => {
      await expect(p).rejects.toThrow(OperationOutcomeError);
      await expect(p).rejects.toThrow(text);
    };
    await refused(review(id, 'approve'), /Task is requested/); // nobody accepted it yet
    await refused(review(id, 'approve', { practitioner: undefined }), /Practitioner/);
    await refused(review(id, 'accept', { practitioner: 'Patient/p1' }), /Practitioner/);
    await refused(review(id, 'accept', { practitioner: 'Practitioner/nobody' }), /not found/);
    await refused(review(id, 'reject', { reason: ' ' }), /must say why/);
    await review(id, 'accept');
    await review(id, 'approve');
    await refused(review(id, 'approve'), /already been approved/); // approving twice
    await refused(review(id, 'reject', { reason: 'late' }), /completed/);
    await refused(review('no-such-task', 'accept'), /not found/);
  });

  test('approving a revoked plan is refused even if its Task were reopened', async () => {
    const { task, carePlan } = await propose();
    await review(task.id as string, 'reject', { reason: 'Not indicated.' });
    // Someone reopens the Task by hand: the CarePlan check still refuses.
    const [t] = await client.searchAll<Task>('Task', { _id: task.id as string });
    await store.repo.updateResource<Task>({ ...t, status: 'accepted' });
    await expect(review(task.id as string, 'approve')).rejects.toThrow(/care plan that is revoked/);
    expect((await client.searchAll<CarePlan>('CarePlan', { _id: carePlan.id as string }))[0]?.status).toBe('revoked');
  });
});

describe('the review state machine', () => {
  const statuses: Task['status'][] = [
    'requested',
    'received',
    'accepted',
    'in-progress',
    'completed',
    'rejected',
    'cancelled',
    'on-hold',
  ];
  const valid: Record<ReviewDecision, Task['status'][]> = {
    accept: ['requested', 'received'],
    start: ['accepted'],
    modify: ['accepted', 'in-progress'],
    approve: ['accepted', 'in-progress'],
    reject: ['requested', 'received', 'accepted', 'in-progress'],
    cancel: ['requested', 'received', 'accepted', 'in-progress', 'on-hold'],
  };
  test.each(REVIEW_DECISIONS.flatMap((d) => statuses.map((s) => [d, s] as const)))('%s from %s', (decision, status) => {
    const run = (): unknown =>
      nextReviewStatus(decision, { status }, { status: 'draft', intent: 'proposal' }, 'Practitioner/a');
    if (valid[decision].includes(status)) {
      expect(run()).toBeDefined();
    } else {
      expect(run).toThrow(OperationOutcomeError);
    }
  });
});
