import type { Consent } from '@medplum/fhirtypes';

/**
 * Whether the patient's Consents allow the twin to process their data.
 *
 * An active Consent whose top-level provision denies (FHIR R4 consent.html#provision: `provision.type = deny`), in
 * force on `today`, stops processing; deny wins over any permit. With no Consent on file the twin proceeds, as the
 * issue asks (skip only a patient whose active Consent denies it); a site that requires an explicit permit would
 * change this one function.
 */
export function consentAllowsProcessing(consents: readonly Consent[], today: string): boolean {
  return !consents.some(
    (c) => c.status === 'active' && c.provision?.type === 'deny' && inForce(c.provision.period, today)
  );
}

function inForce(period: { start?: string; end?: string } | undefined, today: string): boolean {
  if (!period) {
    return true;
  }
  const start = period.start?.slice(0, 10);
  const end = period.end?.slice(0, 10);
  return (!start || start <= today) && (!end || today <= end);
}
