import type { Provenance, Reference, Task, TaskInput } from '@medplum/fhirtypes';
import { writeBack } from '../deliver/writeBack';
import { append, createOnce } from '../deliver/writePlan';
import type { FhirClient } from '../fhir/fhirClient';
import { TWIN_CANONICAL_BASE } from '../fhir/codes/twinCodes';
import { AIAST, DATA_OPERATION_SYSTEM, PARTICIPANT_TYPE_SYSTEM } from '../policy/aiTransparency';

/** Identifier system of the Tasks the scheduled automation creates: `{kind}/{patientId}/{key}[/{action}]`. */
export const AUTOMATION_TASK_SYSTEM = `${TWIN_CANONICAL_BASE}/NamingSystem/automation-task`;

export interface AutomatedTaskSpec {
  readonly kind: 'stale-data' | 'plateau';
  readonly patientId: string;
  /** What makes this occurrence the same one on every run (e.g. the last day with data). */
  readonly key: string;
  readonly action?: string;
  /** What the person is asked to do (Task.code.text) and why (Task.description). */
  readonly title: string;
  readonly description: string;
  readonly focus?: Reference;
  readonly owner?: string;
  readonly input?: readonly TaskInput[];
  /** The job that created it (Provenance agent). */
  readonly job: string;
}

export function automationTaskIdentifier(
  spec: Pick<AutomatedTaskSpec, 'kind' | 'patientId' | 'key' | 'action'>
): string {
  return [spec.kind, spec.patientId, spec.key, ...(spec.action ? [spec.action] : [])].join('/');
}

/**
 * A Task for a person, never an action on the patient: status requested, intent proposal (R4 Task.intent: a
 * suggestion made by someone or something without the authority to act on it). Labelled AIAST like every engine
 * output.
 */
export function buildAutomatedTask(spec: AutomatedTaskSpec, now: string): Task {
  return {
    resourceType: 'Task',
    meta: { security: [{ ...AIAST }] },
    identifier: [{ system: AUTOMATION_TASK_SYSTEM, value: automationTaskIdentifier(spec) }],
    status: 'requested',
    intent: 'proposal',
    code: { text: spec.title },
    description: spec.description,
    for: { reference: `Patient/${spec.patientId}` },
    authoredOn: now,
    ...(spec.focus ? { focus: spec.focus } : {}),
    ...(spec.owner ? { owner: { reference: spec.owner } } : {}),
    ...(spec.input && spec.input.length > 0 ? { input: [...spec.input] } : {}),
  };
}

/** The record of the automated action (FHIR R4 provenance.html): what was created, when, by which scheduled job. */
export function buildAutomationProvenance(taskFullUrl: string, job: string, now: string): Provenance {
  return {
    resourceType: 'Provenance',
    target: [{ reference: taskFullUrl }],
    recorded: now,
    activity: { coding: [{ system: DATA_OPERATION_SYSTEM, code: 'CREATE', display: 'create' }] },
    agent: [
      {
        type: { coding: [{ system: PARTICIPANT_TYPE_SYSTEM, code: 'performer', display: 'Performer' }] },
        who: { display: `recovery-twin scheduled automation: ${job}` },
      },
    ],
    reason: [{ coding: [{ ...AIAST }] }],
  };
}

export type AutomatedTaskOutcome = 'created' | 'exists';

/**
 * Writes the Task and its Provenance together, once. The Task is a conditional create on its deterministic
 * identifier (FHIR R4 http.html#ccreate), and when the server already holds it nothing is sent, so a rerun after a
 * restart creates neither a second Task nor a second Provenance. (Two instances racing on the same Task could at worst
 * add a second Provenance; the queue runs each scheduled job once across instances, src/queue/.)
 */
export async function writeAutomatedTask(
  client: FhirClient,
  spec: AutomatedTaskSpec,
  now: string
): Promise<AutomatedTaskOutcome> {
  const value = automationTaskIdentifier(spec);
  const existing = await client.searchAll<Task>('Task', { identifier: `${AUTOMATION_TASK_SYSTEM}|${value}` });
  if (existing.length > 0) {
    return 'exists';
  }
  const fullUrl = `urn:uuid:${crypto.randomUUID()}`;
  await writeBack(client, {
    writes: [
      createOnce(buildAutomatedTask(spec, now), { system: AUTOMATION_TASK_SYSTEM, value }, fullUrl),
      append(buildAutomationProvenance(fullUrl, spec.job, now)),
    ],
  });
  return 'created';
}

/** Open automation Tasks of a kind for a patient (not completed, cancelled, rejected or failed). */
export async function openAutomationTasks(
  client: FhirClient,
  kind: AutomatedTaskSpec['kind'],
  patientId: string
): Promise<Task[]> {
  const tasks = await client.searchAll<Task>('Task', {
    subject: `Patient/${patientId}`,
    identifier: `${AUTOMATION_TASK_SYSTEM}|`,
  });
  return tasks.filter(
    (t) =>
      !['completed', 'cancelled', 'rejected', 'failed', 'entered-in-error'].includes(t.status) &&
      t.identifier?.some((i) => i.system === AUTOMATION_TASK_SYSTEM && i.value?.startsWith(`${kind}/${patientId}/`))
  );
}
