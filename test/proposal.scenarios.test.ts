/**
 * Clinical scenarios: patients written as FHIR records — coded and free-text Conditions, Procedures, notes
 * with negation and history, wearable and patient-reported data, twin findings — each with the protocol it must get
 * (or an explicit "none"), the phase it starts at, the cautions a clinician must see, and the requests approval
 * creates. Every scenario runs the real path: proposeCarePlan on the embedded store, then the review state machine.
 * The records are synthetic.
 */
import type {
  CarePlan,
  CommunicationRequest,
  Goal,
  PlanDefinition,
  Practitioner,
  Provenance,
  Resource,
  ServiceRequest,
  Task,
} from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtocolMatcher } from '../src/evidence/match/protocolMatcher';
import { loadProtocolLibrary } from '../src/protocols/protocolLibrary';
import { LocalFhirClient } from '../src/fhir/localFhirClient';
import { createValidator } from '../src/fhir/validation';
import { AIAST } from '../src/policy/aiTransparency';
import { proposeCarePlan, type ProposalOutcome, type ProposeDeps } from '../src/proposal/proposalWriter';
import { applyReviewDecision, type ReviewResult } from '../src/review/reviewDecision';
import { openSqliteStore, type SqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';
import { condition, note, pain, SCENARIO_NOW, SCENARIOS } from './support/clinicalScenarios';

const NOW = SCENARIO_NOW;
const DOCTOR = 'Practitioner/dr1';
const library = loadProtocolLibrary();
const validator = createValidator();

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
  return store.repo.readResource<T>(type, id);
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
    expect(outcome.overdue).toHaveLength(expected.overdue?.length ?? 0);
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
      expected.priority ??
        (expected.cautions?.some((c) => /Recorded in the notes/.test(c.source)) || expected.overdue
          ? 'urgent'
          : 'routine')
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
    // The other phases stay as plans: earlier ones marked past and not ordered, later ones waiting for their criteria.
    const pd = library.get(expected.protocol) as PlanDefinition;
    const chosen = (expected.chosenPhase ?? (expected.startPhase as number)) - 1;
    for (const a of (carePlan.activity ?? []).filter((x) => x.detail)) {
      const phaseId = a.detail?.extension?.find((e) => e.url.endsWith('/protocol-phase'))?.valueString;
      const at = (pd.action ?? []).findIndex((p) => p.id === phaseId);
      expect(at).not.toBe(chosen);
      expect(a.detail?.scheduledString).toMatch(
        at < chosen ? /already past, not ordered$/ : /when its entry criteria are met$/
      );
    }
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
        // No Condition: the supporting note, or (a Procedure is not a valid reasonReference of these requests) the
        // indication in words.
        const notes = (carePlan.supportingInfo ?? []).filter((x) => x.reference?.startsWith('DocumentReference/'));
        if (notes.length > 0) {
          expect(reason.map((x) => x.reference)).toEqual(
            r.resourceType === 'Task' ? [notes[0]?.reference] : notes.map((x) => x.reference)
          );
        } else {
          const indication = (library.get(expected.protocol) as PlanDefinition).topic?.[0]?.text ?? '';
          expect(JSON.stringify(r.reasonCode)).toContain(indication);
        }
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
    const inForce = await proposeCarePlan(patient, deps);
    expect(inForce.status).toBe('in-force');
    if (inForce.status === 'in-force') {
      expect(inForce.startPhase).toMatch(/^Phase 1/);
      expect(inForce.phaseReason).toMatch(
        /Phase 2: .* is not reached on the record \(not in the record: full weight bearing/
      );
      expect(inForce.cautions.join(' ')).toMatch(/Ottawa ankle rules positive/);
    }

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
    // A week later the record places the patient in phase 2: that is a new question, and it is proposed.
    const later = '2026-03-08T10:00:00Z';
    await store.repo.updateResource(note(patient, `${patient}-n`, 'Full weight bearing.', '2026-03-08'));
    await store.repo.updateResource(pain(patient, `${patient}-pain`, 2, '2026-03-08T08:00:00Z'));
    const again = await proposeCarePlan(patient, { ...deps, now: () => later });
    expect(again.status).toBe('created');
    if (again.status === 'created') {
      expect(again.startPhase).toMatch(/^Phase 2/);
      expect((await read<CarePlan>(again.carePlan)).identifier?.[0]?.value).toBe(
        `proposal/${patient}/ankle-sprain/phase-2`
      );
    }
  });
});
