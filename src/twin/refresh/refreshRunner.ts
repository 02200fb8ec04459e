import type { Patient } from '@medplum/fhirtypes';
import type { FhirClient } from '../../fhir/fhirClient';
import { addDays } from '../../calendar/observationDay';
import { firstDayNeeded } from '../affectedDays';
import {
  mergeIgnored,
  refreshPatientTwin,
  type IgnoredInput,
  type RefreshDeps,
  type RefreshSummary,
  type RefreshWindow,
} from './refreshPatientTwin';

export interface RefreshAllSummary {
  readonly patients: number;
  readonly refreshed: number;
  readonly skippedConsent: number;
  readonly failed: number;
  readonly rejected: number;
  readonly rejectionReasons: Readonly<Record<string, number>>;
  /** Dropped inputs of all patients, per code, reason and unit, most frequent first. */
  readonly ignored: readonly IgnoredInput[];
}

/**
 * Refreshes the twin of the given patients, or of every Patient on the server, one transaction per patient.
 * A failing patient is counted and the rest go on; rerunning after a crash finishes what was left (each patient's
 * write is atomic and idempotent). Progress goes to `log` as counts only.
 */
export async function refreshPatients(
  client: FhirClient,
  patientIds: readonly string[] | 'all',
  deps: Omit<RefreshDeps, 'client'>,
  log: (line: string) => void = () => undefined
): Promise<RefreshAllSummary> {
  const ids =
    patientIds === 'all'
      ? (await client.searchAll<Patient>('Patient', { _sort: '_id' })).map((p) => p.id as string)
      : patientIds;
  let refreshed = 0;
  let skippedConsent = 0;
  let failed = 0;
  let rejected = 0;
  const rejectionReasons: Record<string, number> = {};
  let ignored: IgnoredInput[] = [];
  for (let i = 0; i < ids.length; i++) {
    try {
      const s = await refreshPatientTwin(ids[i], { ...deps, client });
      if (s.status === 'skipped-consent') {
        skippedConsent++;
        log('twin refresh: one patient skipped, consent denies processing');
      } else {
        refreshed++;
        rejected += s.rejected;
        for (const [reason, n] of Object.entries(s.rejectionReasons)) {
          rejectionReasons[reason] = (rejectionReasons[reason] ?? 0) + n;
        }
        ignored = mergeIgnored([...ignored, ...s.ignored]);
      }
    } catch (err) {
      failed++;
      log(
        `twin refresh: patient ${i + 1}/${ids.length} failed: ${err instanceof Error ? err.constructor.name : 'error'}`
      );
    }
    if ((i + 1) % 25 === 0 || i + 1 === ids.length) {
      log(`twin refresh: ${i + 1}/${ids.length} patients`);
    }
  }
  return { patients: ids.length, refreshed, skippedConsent, failed, rejected, rejectionReasons, ignored };
}

/**
 * Every twin a change from UTC day `day` on can affect: states from that day on, baselines, reading from a baseline
 * window before the Monday of that week (weekly baselines, affectedDays.ts). The patient's local day of a reading can be the UTC day before (a +09:00 morning), so both start one day
 * earlier.
 */
export function windowFromDay(day: string, windowDays: number): RefreshWindow {
  const from = addDays(day, -1);
  return {
    readFrom: addDays(firstDayNeeded({ from }, windowDays), -1),
    states: { from, to: '9999-12-31' },
    baselines: true,
  };
}

export interface RefreshTally {
  readonly refreshed: number;
  readonly skippedConsent: number;
  readonly failed: number;
}

/**
 * Runs patient refreshes one after another and counts the outcomes. A failing patient is counted, not thrown: the
 * caller (a poll, a bulk sync) decides from `failed` whether its own progress marker may move.
 */
export async function tallyRefreshes(refreshes: Iterable<() => Promise<RefreshSummary>>): Promise<RefreshTally> {
  let refreshed = 0;
  let skippedConsent = 0;
  let failed = 0;
  for (const refresh of refreshes) {
    try {
      const summary = await refresh();
      if (summary.status === 'skipped-consent') {
        skippedConsent++;
      } else {
        refreshed++;
      }
    } catch {
      failed++;
    }
  }
  return { refreshed, skippedConsent, failed };
}
