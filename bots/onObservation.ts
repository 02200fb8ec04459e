// Medplum bot: an Observation arrived (Subscription on the catalogue's Observation codes, LOINC and project codes
// alike; see scripts/buildBotSubscriptions.ts). Runs the twin's event door for it, then detection for the patient.
//
// Medplum delivers a subscription to a bot once, without retry: a missed event is caught up by daily-sweep, and a
// duplicated one changes nothing (the event door and the findings writer both write only what differs, under
// deterministic identifiers). The twin's own Observations come back through the same Subscription and are ignored.
import type { BotEvent, MedplumClient } from '@medplum/core';
import type { Observation } from '@medplum/fhirtypes';
import { observationPatientId } from '../src/calendar/observationDay';
import { handleObservationEvent, type EventResult } from '../src/twin/refresh/eventDoor';
import { withdrawPatient, type WithdrawalSummary } from '../src/withdrawal/withdrawPatient';
import { botWorld } from './lib/botWorld';
import { detectForPatient, type DetectionReport } from './lib/patientDetection';

export interface ObservationBotResult {
  readonly twin: EventResult;
  readonly detection?: DetectionReport;
  /** The patient's Consent denies processing: what the engine derived was withdrawn (idempotent). */
  readonly withdrawal?: WithdrawalSummary;
}

export async function handler(medplum: MedplumClient, event: BotEvent<Observation>): Promise<ObservationBotResult> {
  if (event.input?.resourceType !== 'Observation') {
    return { twin: { status: 'ignored', reason: 'not an Observation' } };
  }
  const world = botWorld(medplum, event);
  const twin = await handleObservationEvent(event.input, world);
  const patientId = observationPatientId(event.input);
  if (twin.status === 'applied' && twin.summary.status === 'skipped-consent' && patientId) {
    // The Consent denies processing: withdraw what the engine derived for the patient (src/withdrawal/).
    return { twin, withdrawal: await withdrawPatient(patientId, world) };
  }
  if (twin.status !== 'applied' || twin.summary.status !== 'refreshed' || !patientId) {
    return { twin };
  }
  return { twin, detection: await detectForPatient(patientId, world) };
}
