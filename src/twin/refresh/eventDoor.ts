import type { Observation } from '@medplum/fhirtypes';
import { refreshPatientTwin, type RefreshDeps, type RefreshSummary } from './refreshPatientTwin';
import { normaliseObservation } from '../normaliseObservation';
import { TWIN_RESOURCE_SYSTEM } from '../../fhir/codes/twinCodes';
import { addDays, observationDay, observationPatientId } from '../../calendar/observationDay';
import { isoDay } from '../../calendar/calendarDay';
import { affectedDays, firstDayNeeded } from '../affectedDays';

export type EventResult =
  | { readonly status: 'ignored'; readonly reason: string }
  | { readonly status: 'rejected'; readonly reason: string }
  | { readonly status: 'applied'; readonly summary: RefreshSummary };

/**
 * Door 1: one Observation as a Subscription or bot delivers it (created, updated or marked entered-in-error).
 *
 * One new value can change the daily states of its own day and of the weeks whose baseline window holds it
 * (affectedDays.ts), and the baselines as of the last day. So the refresh reads the patient's Observations from one
 * baseline window before on and rewrites only those states: bounded work per event, whatever the length of the
 * history, and the same result as a full refresh (see test/twin.doors.test.ts).
 */
export async function handleObservationEvent(
  obs: Observation,
  deps: RefreshDeps,
  windowDays = 28
): Promise<EventResult> {
  if (obs.identifier?.some((i) => i.system === TWIN_RESOURCE_SYSTEM)) {
    // The twin's own writes come back through the same Subscription: never feed outputs back in.
    return { status: 'ignored', reason: 'twin resource' };
  }
  const normalised = normaliseObservation(obs, { timeZone: deps.timeZone });
  if (normalised.kind === 'rejected') {
    return { status: 'rejected', reason: normalised.reason };
  }
  const patientId = observationPatientId(obs);
  // The patient's local day of a measurement; a retraction carries no usable value, so its UTC day minus one covers
  // whichever local day it had (offsets reach at most 14 hours).
  const utcDay = observationDay(obs);
  const day = normalised.kind === 'measurement' ? isoDay(normalised.m.day) : utcDay && addDays(utcDay, -1);
  if (!patientId || !day) {
    return { status: 'rejected', reason: 'Observation has no Patient subject or no effective time' };
  }
  const states = affectedDays(day, windowDays + (normalised.kind === 'measurement' ? 0 : 1));
  const summary = await refreshPatientTwin(patientId, deps, {
    // One day more than needed: the server's date search compares instants, and a local day can start up to 14 hours
    // before its UTC namesake.
    readFrom: addDays(firstDayNeeded(states, windowDays), -1),
    states,
    baselines: true,
  });
  return { status: 'applied', summary };
}
