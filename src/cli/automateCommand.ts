import { normalizeErrorString } from '@medplum/core';
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CliDependencies } from './commands';
import { openEngineTarget } from './engineTarget';

interface AutomateFlags {
  readonly fhir?: string;
  readonly dataDir: string;
  readonly stateDir?: string;
  readonly config?: string;
  readonly once?: string;
}

/**
 * `twin automate [--fhir URL] [--config FILE] [--once JOB]`: the scheduled automation (src/automation) as a
 * long-running process: twin refresh and detection for patients with new data, stale-data and plateau follow-up
 * Tasks, on cron patterns in the configured time zone. With REDIS_URL the schedules are BullMQ job schedulers on the
 * shared Redis, so N instances run each tick once (src/queue); without it node-cron runs them here, never
 * overlapping. `--once JOB` runs one job now, prints its counts and exits (for a system cron or a test).
 */
export function registerAutomateCommand(program: Command, deps: CliDependencies): void {
  program
    .command('automate')
    .description('run the scheduled automation (refresh + detection, stale data, recovery plateau follow-up)')
    .option('--fhir <url>', 'FHIR R4 base URL of the server (default: the embedded store in --data-dir)')
    .option('--data-dir <dir>', 'embedded store folder (env DATA_DIR)', deps.env.DATA_DIR ?? './data')
    .option('--state-dir <dir>', 'folder for the durable watermark (default: <data-dir>/state)')
    .option('--config <file>', 'automation settings, JSON (see AutomationConfig in src/automation/automationConfig.ts)')
    .option('--once <job>', 'run one job now and exit: refresh | stale-data | plateau')
    .action(async (flags: AutomateFlags, command: Command) => {
      try {
        await runAutomate(flags, deps);
      } catch (err) {
        command.error(`twin automate: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });
}

async function runAutomate(flags: AutomateFlags, deps: CliDependencies): Promise<void> {
  const { checkAutomationConfig, DEFAULT_AUTOMATION_CONFIG } = await import('../automation/automationConfig');
  const { automationJobs, todayIn } = await import('../automation/automationJobs');
  const { startScheduler } = await import('../automation/cronScheduler');
  const { WatermarkStore } = await import('../ingest/watermarkStore');
  const overrides = flags.config ? (JSON.parse(readFileSync(flags.config, 'utf8')) as object) : {};
  const config = checkAutomationConfig({ ...DEFAULT_AUTOMATION_CONFIG, ...overrides });
  const target = await openEngineTarget(flags);
  const world = {
    client: target.client,
    now: (): string => new Date().toISOString(),
    today: (): string => todayIn(config.timezone),
    watermarks: new WatermarkStore(flags.stateDir ?? join(flags.dataDir, 'state')),
  };
  const jobs = automationJobs(world, config);
  if (flags.once) {
    try {
      const job = jobs.find((j) => j.name === flags.once);
      if (!job) {
        throw new Error(`--once must name an enabled job: ${jobs.map((j) => j.name).join(', ')}`);
      }
      deps.log(JSON.stringify(await job.run()));
    } finally {
      target.close();
    }
    return;
  }
  let stop: () => Promise<void>;
  if (deps.env.REDIS_URL) {
    const { openEngineQueue } = await import('../queue/openEngineQueue');
    const { engineProcessor } = await import('../queue/engineProcessor');
    const queue = await openEngineQueue({
      env: deps.env,
      process: engineProcessor(world),
      schedules: jobs,
      timezone: config.timezone,
      log: deps.log,
    });
    stop = () => queue.close();
  } else {
    const scheduler = startScheduler(jobs, { timezone: config.timezone, log: deps.log });
    stop = () => scheduler.stop();
  }
  deps.log(`twin automate: ${jobs.map((j) => `${j.name} "${j.cron}"`).join(', ')} (${config.timezone})`);
  await new Promise<void>((resolve) => {
    const done = (): void => {
      void stop().finally(() => {
        target.close();
        resolve();
      });
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
