import { validate } from 'node-cron';
import { invalidInput } from '../fhir/outcomes';

/** One scheduled job: when (a cron pattern, read in `timezone`) and whether it runs. */
export interface JobSchedule {
  readonly cron: string;
  readonly enabled: boolean;
}

/**
 * The scheduled automation's settings. Times are read in `timezone` (an IANA name), so "every day at 06:00" is 06:00
 * at the hospital whatever the server's clock says, across daylight-saving changes.
 */
export interface AutomationConfig {
  readonly timezone: string;
  readonly refresh: JobSchedule;
  /** Stale data: no wearable measurement for `days` days while a plan is active -> a Task to contact the patient. */
  readonly staleData: JobSchedule & { readonly days: number };
  /**
   * Plateau: the daily recovery index stayed within `tolerance` (its own units: clipped robust SD, see
   * src/twin/recoveryState.ts) over the last `days` days with at least `minDays` days of index, while a plan is
   * active -> Tasks for a person. A project heuristic for "not improving", not a validated clinical criterion.
   */
  readonly plateau: JobSchedule & { readonly days: number; readonly minDays: number; readonly tolerance: number };
  /** Who the Tasks are for when nothing more specific is known (Practitioner/..., CareTeam/..., ...). */
  readonly taskOwner?: string;
}

export const DEFAULT_AUTOMATION_CONFIG: AutomationConfig = Object.freeze({
  timezone: 'UTC',
  refresh: { cron: '*/15 * * * *', enabled: true },
  staleData: { cron: '0 7 * * *', enabled: true, days: 3 },
  plateau: { cron: '30 7 * * *', enabled: true, days: 14, minDays: 10, tolerance: 0.25 },
});

/** Checks patterns, the time zone and the numbers; every problem in one error. */
export function checkAutomationConfig(config: AutomationConfig): AutomationConfig {
  const problems: string[] = [];
  for (const [name, job] of [
    ['refresh', config.refresh],
    ['staleData', config.staleData],
    ['plateau', config.plateau],
  ] as const) {
    if (!validate(job.cron)) {
      problems.push(`${name}.cron "${job.cron}" is not a cron pattern`);
    }
  }
  try {
    new Intl.DateTimeFormat('en', { timeZone: config.timezone });
  } catch {
    problems.push(`timezone "${config.timezone}" is not an IANA time zone`);
  }
  if (!(config.staleData.days >= 1)) problems.push('staleData.days must be at least 1');
  if (!(config.plateau.days >= 3)) problems.push('plateau.days must be at least 3');
  if (!(config.plateau.minDays >= 2 && config.plateau.minDays <= config.plateau.days)) {
    problems.push('plateau.minDays must be between 2 and plateau.days');
  }
  if (!(config.plateau.tolerance > 0)) problems.push('plateau.tolerance must be positive');
  if (problems.length > 0) {
    throw invalidInput(`Automation settings: ${problems.join('; ')}`);
  }
  return config;
}
