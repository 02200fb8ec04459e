import { normalizeErrorString } from '@medplum/core';
import type { Command } from 'commander';
import { join } from 'node:path';
import type { CliDependencies } from './commands';
import { openEngineTarget } from './engineTarget';

interface PollFlags {
  readonly fhir?: string;
  readonly dataDir: string;
  readonly stateDir?: string;
  readonly source?: string;
}

/**
 * `twin poll [--fhir URL | --data-dir DIR] [--state-dir DIR]`: one poll of the `_lastUpdated` door (for cron): every
 * Observation changed since the stored watermark updates its patient's twin; the watermark moves only when all
 * affected twins are written. Prints a summary of counts.
 */
export function registerPollCommand(program: Command, deps: CliDependencies): void {
  program
    .command('poll')
    .description('update the twins of patients whose Observations changed since the last poll (run it from cron)')
    .option('--fhir <url>', 'FHIR R4 base URL of the server (default: the embedded store in --data-dir)')
    .option('--data-dir <dir>', 'embedded store folder (env DATA_DIR)', deps.env.DATA_DIR ?? './data')
    .option('--state-dir <dir>', 'folder for the durable watermark (default: <data-dir>/state)')
    .option('--source <name>', 'name of this source in the watermark store (default: the server URL or "embedded")')
    .action(async (flags: PollFlags, command: Command) => {
      try {
        deps.log(JSON.stringify(await runPoll(flags)));
      } catch (err) {
        command.error(`twin poll: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });
}

async function runPoll(flags: PollFlags): Promise<unknown> {
  const { pollOnce } = await import('../twin/refresh/pollDoor');
  const { WatermarkStore } = await import('../ingest/watermarkStore');
  const today = (): string => new Date().toISOString().slice(0, 10);
  const state = new WatermarkStore(flags.stateDir ?? join(flags.dataDir, 'state'));
  const target = await openEngineTarget(flags);
  try {
    const polled = await pollOnce(flags.source ?? flags.fhir ?? 'embedded', state, {
      client: target.client,
      validate: target.validate,
      today,
      timeZone: process.env.TWIN_TIME_ZONE,
    });
    // The cron door is also the withdrawal sweep (issue 17): a denying Consent that arrived with no new Observation,
    // or while the engine was down, still withdraws the patient's outputs. Idempotent: nothing to do writes nothing.
    const { sweepWithdrawals } = await import('../withdrawal/withdrawPatient');
    const log = (line: string): void => void process.stderr.write(line + '\n');
    const swept = await sweepWithdrawals(
      { client: target.client, today, now: () => new Date().toISOString() },
      'all',
      log
    );
    if (swept.withdrawn > 0 || swept.failed > 0) {
      log(`twin poll: withdrawal for ${swept.withdrawn} patient(s), ${swept.failed} failed`);
    }
    return polled;
  } finally {
    target.close();
  }
}
