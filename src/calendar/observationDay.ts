import type { Observation } from '@medplum/fhirtypes';

/** The patient id an Observation is about, from `subject` = `Patient/{id}` (absolute or relative), else undefined. */
export function observationPatientId(obs: Observation): string | undefined {
  const ref = obs.subject?.reference;
  const m = ref ? /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/.*)?$/.exec(ref) : null;
  return m?.[1];
}

/** The UTC calendar day of an Observation's effective time (`YYYY-MM-DD`), else undefined. */
export function observationDay(obs: Observation): string | undefined {
  const t = obs.effectiveDateTime ?? obs.effectiveInstant ?? obs.effectivePeriod?.start;
  if (!t) {
    return undefined;
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) {
    return t;
  }
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString().slice(0, 10);
}

export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}
