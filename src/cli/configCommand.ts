import { normalizeErrorString } from '@medplum/core';
import type { Command } from 'commander';
import type { CliDependencies } from './commands';

/**
 * `twin config check FILE`: checks the engine service's configuration file against config/twin.schema.json (and the
 * rules beyond it: cron patterns, time zones) and prints either `ok` and the effective settings (environment over
 * file over defaults; secrets only as set / not set), or each problem with its JSON pointer (RFC 6901), exit code 1.
 */
export function registerConfigCommand(program: Command, deps: CliDependencies): void {
  const config = program.command('config').description("the engine service's configuration file");
  config
    .command('check <file>')
    .description('validate a configuration file (config/twin.schema.json) and print the effective settings')
    .action(async (file: string, _flags: unknown, command: Command) => {
      const { checkEngineConfigFile } = await import('../ops/engineConfigFile');
      const { engineSettings, settingsSummary } = await import('./engineSettings');
      const check = checkEngineConfigFile(file);
      if (!check.ok) {
        for (const p of check.problems) {
          deps.log(`error ${p.pointer || '/'}: ${p.message}`);
        }
        command.error(`twin config check: ${file} has ${check.problems.length} problem(s)`, { exitCode: 1 });
        return;
      }
      let lines: string[];
      try {
        lines = settingsSummary(engineSettings(check.config, deps.env), deps.env);
      } catch (err) {
        // The file is valid, but a value from the environment is not (e.g. PORT=eighty).
        command.error(`twin config check: ${normalizeErrorString(err)}`, { exitCode: 1 });
        return;
      }
      deps.log(`ok ${file}`);
      for (const line of lines) {
        deps.log(line);
      }
    });
}
