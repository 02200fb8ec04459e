import type { CarePlan, Observation, Provenance, RiskAssessment, Task } from '@medplum/fhirtypes';
import { TWIN_RESOURCE_SYSTEM } from '../fhir/codes/twinCodes';
import { KEPT_APPROVAL_REVIEW, KEPT_APPROVED_PLAN, KEPT_DECISION_PROVENANCE, planErasure } from './erasurePlan';

const twin = (value: string): { identifier: { system: string; value: string }[] } => ({
  identifier: [{ system: TWIN_RESOURCE_SYSTEM, value }],
});
const subject = { reference: 'Patient/p1' };

const state: Observation = { resourceType: 'Observation', id: 'o1', status: 'final', code: {}, subject, ...twin('s') };
const wearable: Observation = { resourceType: 'Observation', id: 'o2', status: 'final', code: {}, subject };
const finding: RiskAssessment = {
  resourceType: 'RiskAssessment',
  id: 'r1',
  status: 'preliminary',
  subject,
  ...twin('f'),
};
const draft: CarePlan = {
  resourceType: 'CarePlan',
  id: 'c1',
  status: 'draft',
  intent: 'proposal',
  subject,
  ...twin('p1'),
};
const rejected: CarePlan = { ...draft, id: 'c2', status: 'revoked', ...twin('p2') };
const approved: CarePlan = { ...draft, id: 'c3', status: 'active', intent: 'plan', ...twin('p3') };
const task = (id: string, focus: string, status: Task['status']): Task => ({
  resourceType: 'Task',
  id,
  status,
  intent: 'order',
  focus: { reference: focus },
  for: subject,
  ...twin(`t-${id}`),
});
const provenance = (id: string, ...targets: string[]): Provenance => ({
  resourceType: 'Provenance',
  id,
  recorded: '2026-03-02T10:00:00Z',
  agent: [{ who: { display: 'x' } }],
  target: targets.map((reference) => ({ reference })),
});

test('erases the twin and unapproved proposals with their reviews and Provenance; keeps approved decisions and source data', () => {
  const plan = planErasure({
    observations: [state, wearable],
    findings: [finding],
    carePlans: [draft, rejected, approved],
    tasks: [
      task('t1', 'RiskAssessment/r1', 'requested'),
      task('t2', 'CarePlan/c1', 'requested'),
      task('t3', 'CarePlan/c2', 'rejected'),
      task('t4', 'CarePlan/c3', 'completed'),
    ],
    provenance: [
      provenance('v1', 'CarePlan/c1', 'Task/t2'),
      provenance('v2', 'CarePlan/c2/_history/2', 'Task/t3'),
      provenance('v3', 'CarePlan/c3', 'Task/t4', 'ServiceRequest/s1'),
    ],
  });
  expect(plan.erase.map((k) => `${k.resourceType}/${k.id}`).sort()).toEqual(
    [
      'CarePlan/c1',
      'CarePlan/c2',
      'Observation/o1',
      'Provenance/v1',
      'Provenance/v2',
      'RiskAssessment/r1',
      'Task/t1',
      'Task/t2',
      'Task/t3',
    ].sort()
  );
  expect(plan.erased).toEqual({ Observation: 1, RiskAssessment: 1, CarePlan: 2, Task: 3, Provenance: 2 });
  expect(plan.kept).toEqual([
    { resourceType: 'CarePlan', reason: KEPT_APPROVED_PLAN, count: 1 },
    { resourceType: 'Task', reason: KEPT_APPROVAL_REVIEW, count: 1 },
    { resourceType: 'Provenance', reason: KEPT_DECISION_PROVENANCE, count: 1 },
  ]);
});

test('nothing of the engine left: nothing to erase', () => {
  const plan = planErasure({ observations: [wearable], findings: [], carePlans: [], tasks: [], provenance: [] });
  expect(plan.erase).toEqual([]);
  expect(plan.kept).toEqual([]);
});
