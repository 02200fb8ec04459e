import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Bundle, BundleEntry, Patient, Reference, Resource } from '@medplum/fhirtypes';
import type { MetricName } from '../fhir/metricCatalogue';
import { buildMetricObservation, conditionalCreateEntry } from '../ingest/importers/metricObservation';
import {
  buildConsent,
  buildInjuryCondition,
  buildNotes,
  buildPatient,
  buildSurgeryProcedure,
} from './clinicalResources';
import type { GroundTruthRow } from './events';
import type { PatientPlan } from './patientPlan';
import { drawPatientPlan } from './patientPlan';
import type { DailyRecord } from './physiology';
import { simulatePatient } from './physiology';
import { createPrng } from './prng';

export interface CohortOptions {
  readonly patients: number;
  readonly days: number;
  /** Same seed, same cohort (every draw comes from PRNG streams derived from it). */
  readonly seed: number;
  /** Day 0, ISO `YYYY-MM-DD` (UTC calendar day). */
  readonly startDate: string;
}

export interface GeneratedPatient {
  readonly subjectKey: string;
  readonly plan: PatientPlan;
  /** FHIR R4 transaction Bundle with every resource conditionally created (idempotent when posted twice). */
  readonly bundle: Bundle;
  readonly groundTruth: readonly GroundTruthRow[];
  readonly daily: readonly DailyRecord[];
}

/** Source label in the record keys of synthetic observations. */
export const SYNTHETIC_SOURCE = 'synthetic';

export function subjectKeyFor(seed: number, index: number): string {
  return `syn-${seed}-${String(index + 1).padStart(4, '0')}`;
}

/**
 * Generates the cohort one patient at a time (a generator, so 1,000 x 180 days never sits in memory at once).
 * Patient i depends only on (seed, i): asking for more patients does not change the first ones.
 */
export function* generateCohort(options: CohortOptions): Generator<GeneratedPatient> {
  validateOptions(options);
  const start = Date.parse(`${options.startDate}T00:00:00Z`);
  const startWeekday = new Date(start).getUTCDay();
  const dateOf = (day: number): string => new Date(start + day * 86_400_000).toISOString().slice(0, 10);
  for (let index = 0; index < options.patients; index++) {
    yield generatePatient(options, index, startWeekday, dateOf);
  }
}

function generatePatient(
  options: CohortOptions,
  index: number,
  startWeekday: number,
  dateOf: (day: number) => string
): GeneratedPatient {
  const subjectKey = subjectKeyFor(options.seed, index);
  const planPrng = createPrng(options.seed, `plan/${index}`);
  const plan = drawPatientPlan(planPrng, index, subjectKey, options.days);
  const patient = buildPatient(plan, createPrng(options.seed, `demographics/${index}`));
  const patientEntry = conditionalCreateEntry(patient);
  const subject: Reference<Patient> = { reference: patientEntry.fullUrl };

  const entries: BundleEntry[] = [patientEntry];
  const context: (Resource & { identifier?: { system?: string; value?: string }[] })[] = [];
  const condition = buildInjuryCondition(plan, subject, dateOf);
  if (condition) {
    context.push(condition);
  }
  const procedure = buildSurgeryProcedure(plan, subject, dateOf);
  if (procedure) {
    context.push(procedure);
  }
  context.push(...buildNotes(plan, subject, dateOf, options.days), buildConsent(plan, subject, dateOf));
  for (const resource of context) {
    entries.push(conditionalCreateEntry(resource));
  }

  const daily: DailyRecord[] = [];
  for (const record of simulatePatient(
    plan,
    createPrng(options.seed, `physiology/${index}`),
    options.days,
    startWeekday
  )) {
    daily.push(record);
    const date = dateOf(record.day);
    for (const [metric, value] of Object.entries(record.values) as [MetricName, number][]) {
      const observation = buildMetricObservation({
        source: SYNTHETIC_SOURCE,
        subjectKey,
        subject,
        metric,
        day: date,
        value,
        deviceDisplay: record.device,
      });
      if (metric === 'heart-rate' && record.spotTime) {
        // The spot reading keeps its clock time (circadian position); the record key stays per day.
        observation.effectiveDateTime = `${date}T${pad(record.spotTime.hour)}:${pad(record.spotTime.minute)}:00Z`;
      }
      entries.push(conditionalCreateEntry(observation, false));
    }
  }

  return {
    subjectKey,
    plan,
    bundle: { resourceType: 'Bundle', type: 'transaction', entry: entries },
    groundTruth: groundTruthOf(plan),
    daily,
  };
}

/** The events injected into a plan, as ground-truth rows (first day of each event), sorted by day. */
export function groundTruthOf(plan: PatientPlan): GroundTruthRow[] {
  const subject = plan.subjectKey;
  const rows: GroundTruthRow[] = [];
  if (plan.surgeryDay !== undefined) {
    rows.push({ subject, day: plan.surgeryDay, event: 'surgery' });
  }
  if (plan.injury) {
    rows.push({ subject, day: plan.injury.day, event: 'injury' });
  }
  if (plan.illness) {
    rows.push({ subject, day: plan.illness.symptomDay - plan.illness.leadDays, event: 'illness_presymptomatic' });
    rows.push({ subject, day: plan.illness.symptomDay, event: 'illness_symptoms' });
  }
  if (plan.overreaching) {
    rows.push({ subject, day: plan.overreaching.day, event: 'overreaching' });
  }
  if (plan.plateau) {
    rows.push({ subject, day: plan.plateau.day, event: 'recovery_plateau' });
  }
  if (plan.gap) {
    rows.push({ subject, day: plan.gap.day, event: 'data_gap' });
  }
  if (plan.deviceChangeDay !== undefined) {
    rows.push({ subject, day: plan.deviceChangeDay, event: 'device_change' });
  }
  return rows.sort((a, b) => a.day - b.day || a.event.localeCompare(b.event));
}

function validateOptions(options: CohortOptions): void {
  const positiveInt = (n: number): boolean => Number.isInteger(n) && n > 0;
  if (!positiveInt(options.patients)) {
    throw new OperationOutcomeError(badRequest('patients must be a positive integer', 'patients'));
  }
  if (!positiveInt(options.days)) {
    throw new OperationOutcomeError(badRequest('days must be a positive integer', 'days'));
  }
  if (!Number.isInteger(options.seed)) {
    throw new OperationOutcomeError(badRequest('seed must be an integer', 'seed'));
  }
  if (!/^\d{4}-\d{2}-\d{2}$/.test(options.startDate) || Number.isNaN(Date.parse(`${options.startDate}T00:00:00Z`))) {
    throw new OperationOutcomeError(badRequest('startDate must be an ISO date YYYY-MM-DD', 'startDate'));
  }
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
