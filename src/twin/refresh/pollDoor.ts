import type { Observation } from '@medplum/fhirtypes';
import { refreshPatientTwin, type RefreshDeps } from './refreshPatientTwin';
import { tallyRefreshes, windowFromDay } from './refreshRunner';
import { TWIN_RESOURCE_SYSTEM } from '../../fhir/codes/twinCodes';
import { observationDay, observationPatientId } from '../../calendar/observationDay';
import type { WatermarkStore } from '../../ingest/watermarkStore';

export interface PollSummary {
  readonly changedObservations: number;
  readonly patientsRefreshed: number;
  readonly skippedConsent: number;
  readonly failedPatients: number;
  readonly watermarkAdvanced: boolean;
}

/**
 * Door 2: a cron poll of `Observation?_lastUpdated=ge{watermark}&_sort=_lastUpdated` (FHIR R4 search.html#lastUpdated).
 *
 * - `ge`, not `gt`: a resource written in the same instant as the watermark, after the previous poll, is not lost;
 *   the versions already seen at that instant are remembered and skipped, so nothing is counted twice.
 * - Sorted by `_lastUpdated`, newer writes land after the pages already read, so paging has no gaps.
 * - The watermark moves only after every affected patient's twin is written: a crash means the next poll repeats
 *   the work, and the twin's idempotent writes make the repeat harmless. A patient whose refresh fails keeps the
 *   watermark where it was.
 */
export async function pollOnce(
  source: string,
  store: WatermarkStore,
  deps: RefreshDeps,
  windowDays = 28
): Promise<PollSummary> {
  const watermark = store.load(source);
  const query: Record<string, string> = { _sort: '_lastUpdated' };
  if (watermark.lastUpdated) {
    query._lastUpdated = `ge${watermark.lastUpdated}`;
  }
  const changed = await deps.client.searchAll<Observation>('Observation', query);
  const seen = new Set(watermark.seenAtWatermark);
  const earliestDay = new Map<string, string>();
  let count = 0;
  for (const obs of changed) {
    if (seen.has(versionKey(obs)) || obs.identifier?.some((i) => i.system === TWIN_RESOURCE_SYSTEM)) {
      continue;
    }
    const patientId = observationPatientId(obs);
    const day = observationDay(obs);
    if (!patientId || !day) {
      continue; // rejected by the pipeline anyway; counted there when its patient is refreshed
    }
    count++;
    const prev = earliestDay.get(patientId);
    if (!prev || day < prev) {
      earliestDay.set(patientId, day);
    }
  }
  const { refreshed, skippedConsent, failed } = await tallyRefreshes(
    [...earliestDay.entries()].sort().map(
      ([patientId, day]) =>
        () =>
          refreshPatientTwin(patientId, deps, windowFromDay(day, windowDays))
    )
  );
  const last = changed.at(-1)?.meta?.lastUpdated;
  if (failed === 0 && last) {
    store.save(source, {
      lastUpdated: last,
      seenAtWatermark: changed.filter((o) => o.meta?.lastUpdated === last).map(versionKey),
    });
  }
  return {
    changedObservations: count,
    patientsRefreshed: refreshed,
    skippedConsent,
    failedPatients: failed,
    watermarkAdvanced: failed === 0 && !!last,
  };
}

function versionKey(obs: Observation): string {
  return `Observation/${obs.id ?? ''}/_history/${obs.meta?.versionId ?? ''}`;
}
