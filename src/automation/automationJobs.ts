import type { Observation } from '@medplum/fhirtypes';
import { writeFindingsForPatients, type FindingsRunSummary } from '../detect/findings/findingsWriter';
import type { FhirClient } from '../fhir/fhirClient';
import { TWIN_RESOURCE_SYSTEM } from '../fhir/codes/twinCodes';
import type { WatermarkStore } from '../ingest/watermarkStore';
import { pollOnce, type PollSummary } from '../twin/refresh/pollDoor';
import { counted, NO_METRICS, type EngineMetrics } from '../ops/engineMetrics';
import type { AutomationConfig } from './automationConfig';
import type { ScheduledJob } from './cronScheduler';
import { runPlanFollowUp, type FollowUpWorld } from './planFollowUp';

export interface AutomationWorld extends FollowUpWorld {
  readonly client: FhirClient;
  /** Durable watermarks of the refresh job (src/ingest/watermarkStore.ts). */
  readonly watermarks: WatermarkStore;
  /** Counts each run by outcome and the lag of the Observations the refresh picks up; none: not counted. */
  readonly metrics?: EngineMetrics;
}

export interface RefreshJobSummary {
  readonly twin: PollSummary;
  readonly findings: FindingsRunSummary | undefined;
}

/**
 * Twin refresh and detection for the patients with new data: the poll door from its durable watermark, then the
 * findings of every patient whose measurements changed since that watermark. Rerunning after a crash repeats the
 * work from the old watermark; every write is idempotent.
 */
export async function runRefreshJob(world: AutomationWorld): Promise<RefreshJobSummary> {
  const since = world.watermarks.load('automation-refresh').lastUpdated;
  const changed = await world.client.searchAll<Observation>('Observation', since ? { _lastUpdated: `ge${since}` } : {});
  const patients = [
    ...new Set(
      changed
        .filter((o) => !o.identifier?.some((i) => i.system === TWIN_RESOURCE_SYSTEM))
        .map((o) => o.subject?.reference ?? '')
        .filter((r) => r.startsWith('Patient/'))
        .map((r) => r.slice('Patient/'.length))
    ),
  ].sort();
  for (const o of changed) {
    if (!o.identifier?.some((i) => i.system === TWIN_RESOURCE_SYSTEM)) {
      world.metrics?.observationSeen(o.meta?.lastUpdated);
    }
  }
  const twin = await pollOnce('automation-refresh', world.watermarks, { client: world.client, today: world.today });
  const findings =
    patients.length > 0
      ? await writeFindingsForPatients(patients, { client: world.client, today: world.today })
      : undefined;
  return { twin, findings };
}

/** The scheduled jobs, by name, as the configuration enables them. */
export function automationJobs(world: AutomationWorld, config: AutomationConfig): ScheduledJob[] {
  const jobs: ScheduledJob[] = [];
  const metrics = world.metrics ?? NO_METRICS;
  if (config.refresh.enabled) {
    jobs.push({
      name: 'refresh',
      cron: config.refresh.cron,
      run: () => counted(metrics, 'automation-refresh', () => runRefreshJob(world)),
    });
  }
  if (config.staleData.enabled) {
    jobs.push({
      name: 'stale-data',
      cron: config.staleData.cron,
      run: () =>
        counted(metrics, 'automation-stale-data', () =>
          runPlanFollowUp(world, config, { staleData: true, plateau: false })
        ),
    });
  }
  if (config.plateau.enabled) {
    jobs.push({
      name: 'plateau',
      cron: config.plateau.cron,
      run: () =>
        counted(metrics, 'automation-plateau', () =>
          runPlanFollowUp(world, config, { staleData: false, plateau: true })
        ),
    });
  }
  return jobs;
}

/** Today's date in an IANA time zone (the day the hospital is living, not the server's UTC day). */
export function todayIn(timezone: string, now: Date = new Date()): string {
  // en-CA formats as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(now);
}
