import { normalizeErrorString } from '@medplum/core';
import type { Command } from 'commander';
import type { CliDependencies } from './commands';
import { openEngineTarget } from './engineTarget';

interface RefreshFlags {
  readonly patient?: string[];
  readonly all?: boolean;
  readonly fhir?: string;
  readonly dataDir: string;
  readonly timeZone: string;
}

/**
 * `twin refresh [--patient ID ... | --all] [--fhir URL | --data-dir DIR]`: recomputes the twin (baselines and daily
 * recovery states) from the Observations on the server and writes it back, one transaction per patient.
 * Without --fhir it works on the embedded store in DATA_DIR directly (stop `twin serve` first: one writer per store).
 */
export function registerRefreshCommand(program: Command, deps: CliDependencies): void {
  program
    .command('refresh')
    .description('recompute the recovery twin of some or all patients and write it back to the FHIR server')
    .option('--patient <id...>', 'Patient id(s) to refresh')
    .option('--all', 'refresh every Patient on the server')
    .option('--fhir <url>', 'FHIR R4 base URL of the server (default: the embedded store in --data-dir)')
    .option('--data-dir <dir>', 'embedded store folder (env DATA_DIR)', deps.env.DATA_DIR ?? './data')
    .option(
      '--time-zone <iana>',
      "the patient's time zone for readings recorded in UTC without a local offset (env TWIN_TIME_ZONE)",
      deps.env.TWIN_TIME_ZONE ?? 'UTC'
    )
    .action(async (flags: RefreshFlags, command: Command) => {
      try {
        if (!flags.all && !flags.patient?.length) {
          throw new Error('give --patient ID or --all');
        }
        const summary = await runRefresh(flags);
        // Dropped data is visible: per code, reason and unit (no values), then the whole summary as JSON.
        for (const g of summary.ignored) {
          process.stderr.write(
            `twin refresh: ignored ${g.count} x ${g.code}${g.unit === undefined ? '' : ` [unit ${g.unit}]`}: ${g.reason}\n`
          );
        }
        deps.log(JSON.stringify(summary));
        if (summary.failed > 0) {
          process.exitCode = 1;
        }
      } catch (err) {
        command.error(`twin refresh: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });
}

async function runRefresh(
  flags: RefreshFlags
): Promise<Awaited<ReturnType<typeof import('../twin/refresh/refreshRunner').refreshPatients>>> {
  const { refreshPatients } = await import('../twin/refresh/refreshRunner');
  const log = (line: string): void => void process.stderr.write(line + '\n');
  const today = (): string => new Date().toISOString().slice(0, 10);
  const ids = flags.all ? 'all' : (flags.patient ?? []);
  const target = await openEngineTarget(flags);
  try {
    const summary = await refreshPatients(
      target.client,
      ids,
      { validate: target.validate, today, timeZone: flags.timeZone },
      log
    );
    if (summary.skippedConsent > 0) {
      // A refresh that finds a denying Consent withdraws what the engine derived (issue 17), not only skips.
      const { sweepWithdrawals } = await import('../withdrawal/withdrawPatient');
      const now = (): string => new Date().toISOString();
      const withdrawn = await sweepWithdrawals({ client: target.client, today, now }, ids, log);
      log(`twin refresh: withdrawal for ${withdrawn.withdrawn} patient(s) whose consent denies processing`);
    }
    return summary;
  } finally {
    target.close();
  }
}
