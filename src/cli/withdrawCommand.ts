import { normalizeErrorString } from '@medplum/core';
import type { Command } from 'commander';
import type { CommandRegistration } from './commands';
import { openEngineTarget } from './engineTarget';
import type { WithdrawalSweepSummary } from '../withdrawal/withdrawPatient';

interface WithdrawFlags {
  readonly patient?: string[];
  readonly all?: boolean;
  readonly fhir?: string;
  readonly dataDir: string;
}

/**
 * `twin withdraw [--patient ID ... | --all] [--fhir URL | --data-dir DIR]`: for each patient whose active Consent denies
 * processing, withdraws what the engine derived (src/withdrawal/): twin Observations and findings entered-in-error,
 * open proposals revoked, open Tasks cancelled, approved plans noted, one Provenance. `--all` is the sweep: every
 * patient named by an active Consent, so a Consent that arrived while the engine was down is honoured. Idempotent;
 * a patient whose Consents allow processing is left alone. Prints counts only.
 */
export const registerWithdrawCommand: CommandRegistration = (program, deps) => {
  program
    .command('withdraw')
    .description("withdraw the twin's outputs for patients whose Consent denies processing")
    .option('--patient <id...>', 'Patient id(s)')
    .option('--all', 'every patient with an active Consent (the sweep)')
    .option('--fhir <url>', 'FHIR R4 base URL of the server (default: the embedded store in --data-dir)')
    .option('--data-dir <dir>', 'embedded store folder (env DATA_DIR)', deps.env.DATA_DIR ?? './data')
    .action(async (flags: WithdrawFlags, command: Command) => {
      try {
        if (!flags.all && !flags.patient?.length) {
          throw new Error('give --patient ID or --all');
        }
        const summary = await runWithdraw(flags);
        deps.log(JSON.stringify(summary));
        if (summary.failed > 0) {
          process.exitCode = 1;
        }
      } catch (err) {
        command.error(`twin withdraw: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });
};

async function runWithdraw(flags: WithdrawFlags): Promise<WithdrawalSweepSummary> {
  const { sweepWithdrawals } = await import('../withdrawal/withdrawPatient');
  const log = (line: string): void => void process.stderr.write(line + '\n');
  const target = await openEngineTarget(flags);
  try {
    return await sweepWithdrawals(
      {
        client: target.client,
        today: () => new Date().toISOString().slice(0, 10),
        now: () => new Date().toISOString(),
      },
      flags.all ? 'all' : (flags.patient ?? []),
      log
    );
  } finally {
    target.close();
  }
}
