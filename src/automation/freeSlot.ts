import type { Appointment, Schedule, ServiceRequest, Slot } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhirClient';

/** The protocol library's physiotherapy session (fhir-profiles/protocols/ActivityDefinition-physiotherapy-session.json). */
const PHYSIOTHERAPY_ACTIVITY = 'ActivityDefinition/physiotherapy-session';

export interface SlotProposal {
  readonly appointment: Appointment;
  readonly slot: Slot;
  readonly schedule: Schedule;
}

/**
 * The patient's next physiotherapy Appointment and the earliest free Slot (FHIR R4 slot.html: status `free`) after
 * `now` on a Schedule of one of its practitioners, other than the Appointment's own slots. An Appointment is
 * physiotherapy when it is based on a request for the protocol library's physiotherapy session, or its service or
 * description says so in text (no code is assumed). Undefined when there is no such Appointment or no free Slot.
 */
export async function proposeFreeSlot(
  client: FhirClient,
  patientId: string,
  now: string
): Promise<SlotProposal | undefined> {
  const appointments = (
    await client.searchAll<Appointment>('Appointment', {
      patient: `Patient/${patientId}`,
      date: `ge${now.slice(0, 10)}`,
    })
  ).filter((a) => ['proposed', 'pending', 'booked'].includes(a.status));
  const physio: Appointment[] = [];
  for (const a of appointments.sort((x, y) => (x.start ?? '').localeCompare(y.start ?? ''))) {
    if (await isPhysiotherapy(client, a)) {
      physio.push(a);
    }
  }
  for (const appointment of physio) {
    const own = new Set((appointment.slot ?? []).map((s) => s.reference));
    const practitioners = (appointment.participant ?? [])
      .map((p) => p.actor?.reference ?? '')
      .filter((r) => r.startsWith('Practitioner/') || r.startsWith('PractitionerRole/'));
    for (const actor of practitioners) {
      const schedules = await client.searchAll<Schedule>('Schedule', { actor });
      for (const schedule of schedules.filter((s) => s.active !== false)) {
        const slots = await client.searchAll<Slot>('Slot', {
          schedule: `Schedule/${schedule.id ?? ''}`,
          status: 'free',
          start: `ge${now}`,
        });
        const slot = slots
          .filter((s) => s.status === 'free' && s.start >= now && !own.has(`Slot/${s.id ?? ''}`))
          .sort((x, y) => x.start.localeCompare(y.start))[0];
        if (slot) {
          return { appointment, slot, schedule };
        }
      }
    }
  }
  return undefined;
}

async function isPhysiotherapy(client: FhirClient, appointment: Appointment): Promise<boolean> {
  const texts = [
    appointment.description,
    appointment.appointmentType?.text,
    ...(appointment.serviceType ?? []).flatMap((c) => [c.text, ...(c.coding ?? []).map((x) => x.display)]),
  ];
  if (texts.some((t) => t && /physiotherap|physical therap/i.test(t))) {
    return true;
  }
  for (const ref of appointment.basedOn ?? []) {
    const id = ref.reference?.startsWith('ServiceRequest/') ? ref.reference.slice('ServiceRequest/'.length) : '';
    if (!id) continue;
    const request = await client.read<ServiceRequest>('ServiceRequest', id).catch(() => undefined);
    if (request?.instantiatesCanonical?.some((c) => c.split('|')[0].endsWith(PHYSIOTHERAPY_ACTIVITY))) {
      return true;
    }
  }
  return false;
}
