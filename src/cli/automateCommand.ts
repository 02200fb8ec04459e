import { normalizeErrorString } from '@medplum/core';
import type { Command } from 'commander';
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
 * `twin automate [--fhir URL] [--config FILE] [--once JOB]` (the file: config/twin.schema.json): the scheduled automation (src/automation) as a
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
    .option(
      '--config <file>',
      'the engine service configuration file (config/twin.schema.json): automation, queue, fhir; flags and env win'
    )
    .option('--once <job>', 'run one job now and exit: refresh | stale-data | plateau')
    .action(async (flags: AutomateFlags, command: Command) => {
      try {
        await runAutomate(flags, deps, command);
      } catch (err) {
        command.error(`twin automate: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });
}

async function runAutomate(flags: AutomateFlags, deps: CliDependencies, command: Command): Promise<void> {
  const { readEngineConfigFile } = await import('../ops/engineConfigFile');
  const { engineSettings, backendServicesEnv } = await import('./engineSettings');
  const file = flags.config ? readEngineConfigFile(flags.config) : {};
  const base = engineSettings(file, deps.env);
  // A flag typed on the command line wins over the environment and the file.
  const given = (name: keyof AutomateFlags): boolean => command.getOptionValueSource(name) === 'cli';
  const dataDir = given('dataDir') ? flags.dataDir : base.dataDir;
  const fhir = flags.fhir ?? base.fhirBaseUrl;
  const settings = { ...base, dataDir, ...(fhir ? { fhirBaseUrl: fhir } : {}) };
  const target = await openEngineTarget({
    ...(fhir ? { fhir } : {}),
    dataDir,
    env: backendServicesEnv(settings, deps.env),
  });
  const stateDir = flags.stateDir ?? join(dataDir, 'state');
  if (flags.once) {
    try {
      const { automationJobs, todayIn } = await import('../automation/automationJobs');
      const { WatermarkStore } = await import('../ingest/watermarkStore');
      const config = settings.automation;
      const jobs = automationJobs(
        {
          client: target.client,
          now: (): string => new Date().toISOString(),
          today: (): string => todayIn(config.timezone),
          watermarks: new WatermarkStore(stateDir),
        },
        config
      );
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
  const { startEngineAutomation } = await import('./engineAutomation');
  const { NO_METRICS } = await import('../ops/engineMetrics');
  const automation = await startEngineAutomation({
    client: target.client,
    settings,
    env: deps.env,
    stateDir,
    metrics: NO_METRICS,
    log: deps.log,
  });
  deps.log(`twin automate: ${automation.jobs.join(', ')} (${settings.automation.timezone}, ${automation.mode})`);
  await new Promise<void>((resolve) => {
    const done = (): void => {
      void automation.stop().finally(() => {
        target.close();
        resolve();
      });
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
