import type { CarePlan, Observation } from '@medplum/fhirtypes';
import { addDays } from '../calendar/observationDay';
import type { FhirClient } from '../fhir/fhirClient';
import { TWIN_CONCEPT_SYSTEM, TWIN_RESOURCE_SYSTEM } from '../fhir/codes/twinCodes';
import { findMetricByConcept } from '../fhir/metricCatalogue';
import type { AutomationConfig } from './automationConfig';
import { openAutomationTasks, writeAutomatedTask, type AutomatedTaskOutcome } from './automatedTask';
import { proposeFreeSlot } from './freeSlot';

export interface FollowUpWorld {
  readonly client: FhirClient;
  /** ISO instant. */
  readonly now: () => string;
  /** Today in the configured time zone (YYYY-MM-DD). */
  readonly today: () => string;
}

/** Counts only, safe to log. */
export interface FollowUpSummary {
  readonly patientsWithActivePlan: number;
  readonly staleData: Record<AutomatedTaskOutcome | 'open', number>;
  readonly plateau: Record<AutomatedTaskOutcome | 'open', number>;
  /** Plateaus for which no physiotherapy Appointment with a free Slot was found (the other two Tasks still are made). */
  plateauWithoutFreeSlot: number;
  failedPatients: number;
}

/** The patients with an active CarePlan (FHIR R4 CarePlan.status `active`): the ones the follow-up jobs watch. */
export async function patientsWithActivePlan(client: FhirClient): Promise<Map<string, CarePlan>> {
  const plans = await client.searchAll<CarePlan>('CarePlan', { status: 'active' });
  const out = new Map<string, CarePlan>();
  for (const p of plans) {
    const ref = p.subject?.reference ?? '';
    if (p.status === 'active' && ref.startsWith('Patient/') && !out.has(ref.slice(8))) {
      out.set(ref.slice(8), p);
    }
  }
  return out;
}

/** A measurement of the catalogue (wearable or self-report), not a twin output. */
function isMeasurement(o: Observation): boolean {
  return (
    !o.identifier?.some((i) => i.system === TWIN_RESOURCE_SYSTEM) &&
    o.status !== 'entered-in-error' &&
    findMetricByConcept(o.code) !== undefined
  );
}

function dayOf(o: Observation): string | undefined {
  return (o.effectiveDateTime ?? o.effectivePeriod?.start ?? o.effectiveInstant)?.slice(0, 10);
}

/** The daily recovery index from the twin's recovery-state Observations, by day. */
export function recoveryIndexByDay(observations: readonly Observation[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const o of observations) {
    const isState = o.code.coding?.some((c) => c.system === TWIN_CONCEPT_SYSTEM && c.code === 'recovery-index');
    const day = dayOf(o);
    const value = o.valueQuantity?.value;
    if (isState && day && typeof value === 'number' && o.identifier?.some((i) => i.system === TWIN_RESOURCE_SYSTEM)) {
      out.set(day, value);
    }
  }
  return out;
}

/**
 * A plateau: over the `days` days up to `today`, at least `minDays` days have an index and all of them lie within
 * `tolerance` of each other (max - min). Returns the first day of that window with an index, the key of this
 * plateau, or undefined. Pure.
 */
export function plateauStart(
  index: ReadonlyMap<string, number>,
  today: string,
  settings: Pick<AutomationConfig['plateau'], 'days' | 'minDays' | 'tolerance'>
): string | undefined {
  const from = addDays(today, -(settings.days - 1));
  const window = [...index.entries()].filter(([d]) => d >= from && d <= today).sort(([a], [b]) => a.localeCompare(b));
  if (window.length < settings.minDays) {
    return undefined;
  }
  const values = window.map(([, v]) => v);
  return Math.max(...values) - Math.min(...values) <= settings.tolerance ? window[0][0] : undefined;
}

/**
 * The follow-up of patients with an active plan, once a day:
 * - stale data: no measurement for `staleData.days` days -> a Task to contact the patient (keyed on the last day with
 *   data, so one Task per gap);
 * - plateau: recovery index flat (plateauStart) -> three Tasks for a person, each a proposal, never a change: reschedule
 *   the physiotherapy session to a named free Slot (when one exists), review the load prescription, ask the
 *   nutritionist to review.
 * A patient who already has an open Task of the kind gets no new one; every Task is written with its Provenance
 * (automatedTask.ts), idempotently.
 */
export async function runPlanFollowUp(
  world: FollowUpWorld,
  config: AutomationConfig,
  which: { staleData: boolean; plateau: boolean } = { staleData: true, plateau: true }
): Promise<FollowUpSummary> {
  const plans = await patientsWithActivePlan(world.client);
  const summary: FollowUpSummary = {
    patientsWithActivePlan: plans.size,
    staleData: { created: 0, exists: 0, open: 0 },
    plateau: { created: 0, exists: 0, open: 0 },
    plateauWithoutFreeSlot: 0,
    failedPatients: 0,
  };
  const today = world.today();
  const lookback = Math.max(config.staleData.days, config.plateau.days) + 1;
  for (const [patientId, plan] of [...plans.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    try {
      const recent = await world.client.searchAll<Observation>('Observation', {
        subject: `Patient/${patientId}`,
        date: `ge${addDays(today, -lookback)}`,
      });
      if (which.staleData) {
        await staleDataCheck(world, config, patientId, recent, today, summary);
      }
      if (which.plateau) {
        await plateauCheck(world, config, patientId, plan, recent, today, summary);
      }
    } catch {
      summary.failedPatients++;
    }
  }
  return summary;
}

async function staleDataCheck(
  world: FollowUpWorld,
  config: AutomationConfig,
  patientId: string,
  recent: readonly Observation[],
  today: string,
  summary: FollowUpSummary
): Promise<void> {
  const days = recent
    .filter(isMeasurement)
    .map(dayOf)
    .filter((d): d is string => !!d)
    .sort();
  const last = days.at(-1);
  if (last && last > addDays(today, -config.staleData.days)) {
    return;
  }
  if ((await openAutomationTasks(world.client, 'stale-data', patientId)).length > 0) {
    summary.staleData.open++;
    return;
  }
  const key = last ?? `before-${recent.length === 0 ? addDays(today, -config.staleData.days) : today}`;
  const outcome = await writeAutomatedTask(
    world.client,
    {
      kind: 'stale-data',
      patientId,
      key,
      title: 'Contact the patient: no wearable data',
      description: last
        ? `No wearable or self-reported measurement since ${last} (${config.staleData.days} days or more) while a recovery plan is active. Please contact the patient (device, sync or well-being).`
        : `No wearable or self-reported measurement in the last ${config.staleData.days} days or more while a recovery plan is active. Please contact the patient.`,
      ...(config.taskOwner ? { owner: config.taskOwner } : {}),
      job: 'stale-data',
    },
    world.now()
  );
  summary.staleData[outcome]++;
}

async function plateauCheck(
  world: FollowUpWorld,
  config: AutomationConfig,
  patientId: string,
  plan: CarePlan,
  recent: readonly Observation[],
  today: string,
  summary: FollowUpSummary
): Promise<void> {
  const start = plateauStart(recoveryIndexByDay(recent), today, config.plateau);
  if (!start) {
    return;
  }
  if ((await openAutomationTasks(world.client, 'plateau', patientId)).length > 0) {
    summary.plateau.open++;
    return;
  }
  const why = `The recovery index has stayed within ${config.plateau.tolerance} of itself since ${start} (${config.plateau.days}-day window) while the recovery plan is active: recovery may have stalled.`;
  const planRef = { reference: `CarePlan/${plan.id ?? ''}` };
  const owner = config.taskOwner;
  const common = { kind: 'plateau' as const, patientId, key: start, job: 'plateau', ...(owner ? { owner } : {}) };
  const slot = await proposeFreeSlot(world.client, patientId, world.now());
  if (slot) {
    const physio = slot.appointment.participant
      ?.map((p) => p.actor?.reference)
      .find((r) => r?.startsWith('Practitioner/') || r?.startsWith('PractitionerRole/'));
    const outcome = await writeAutomatedTask(
      world.client,
      {
        ...common,
        action: 'reschedule-physiotherapy',
        title: 'Reschedule the physiotherapy session',
        description: `${why} Proposed: move the physiotherapy appointment of ${slot.appointment.start ?? 'the plan'} to the free slot ${slot.slot.start} - ${slot.slot.end} (Slot/${slot.slot.id ?? ''}).`,
        focus: { reference: `Appointment/${slot.appointment.id ?? ''}` },
        ...(physio ? { owner: physio } : {}),
        input: [{ type: { text: 'proposed slot' }, valueReference: { reference: `Slot/${slot.slot.id ?? ''}` } }],
      },
      world.now()
    );
    summary.plateau[outcome]++;
  } else {
    summary.plateauWithoutFreeSlot++;
  }
  for (const [action, title, text] of [
    ['adjust-load', 'Review the load prescription', 'Please review the exercise load prescribed in the plan.'],
    ['nutrition-review', 'Ask the nutritionist to review', 'Please ask the nutritionist to review the patient.'],
  ] as const) {
    const outcome = await writeAutomatedTask(
      world.client,
      { ...common, action, title, description: `${why} ${text}`, focus: planRef },
      world.now()
    );
    summary.plateau[outcome]++;
  }
}
