import { normalizeErrorString } from '@medplum/core';
import type { Command } from 'commander';
import type { CommandRegistration } from './commands';

interface BackupFlags {
  readonly dataDir: string;
  readonly out: string;
  readonly storeKeyFile?: string;
}

interface RestoreFlags {
  readonly in: string;
  readonly dataDir: string;
  readonly force?: boolean;
  readonly storeKeyFile?: string;
}

/**
 * The key a backup is sealed with: the store key (TWIN_STORE_KEY, --store-key-file / TWIN_STORE_KEY_FILE), else
 * TWIN_BACKUP_KEY for a plain store. There is no unencrypted backup.
 */
async function backupKey(env: NodeJS.ProcessEnv, keyFile: string | undefined): Promise<Buffer> {
  const { loadStoreKey, parseKey } = await import('../store/storeKey');
  const storeKey = loadStoreKey({ env, ...(keyFile ? { keyFile } : {}) });
  if (storeKey) {
    return storeKey;
  }
  if (env.TWIN_BACKUP_KEY) {
    return parseKey(env.TWIN_BACKUP_KEY, 'TWIN_BACKUP_KEY');
  }
  throw new Error(
    'a backup is always encrypted: give the store key (TWIN_STORE_KEY or --store-key-file) or, for a plain store, TWIN_BACKUP_KEY'
  );
}

/**
 * `twin backup --data-dir D --out FILE` and `twin restore --in FILE --data-dir D [--force]`
 * (README "Encryption at rest and in transit"; src/store/storeBackup.ts). Backup works while `twin serve` runs on D;
 * restore needs it stopped.
 */
export const registerBackupCommands: CommandRegistration = (program, deps) => {
  program
    .command('backup')
    .description('write an encrypted, consistent snapshot of the store (works while the server runs)')
    .option('--data-dir <dir>', 'store folder (env DATA_DIR)', deps.env.DATA_DIR ?? './data')
    .requiredOption('--out <file>', 'backup file to write (replaced atomically)')
    .option(
      '--store-key-file <file>',
      'store key file, mode 600 (env TWIN_STORE_KEY_FILE)',
      deps.env.TWIN_STORE_KEY_FILE
    )
    .action(async (flags: BackupFlags, command: Command) => {
      try {
        const { backupStore } = await import('../store/storeBackup');
        const key = await backupKey(deps.env, flags.storeKeyFile);
        const result = await backupStore(flags.dataDir, flags.out, key);
        deps.log(
          `Backup written: ${flags.out} (${result.bytes} bytes, AES-256-GCM; store ${result.storeEncrypted ? 'encrypted' : 'plain'})`
        );
      } catch (err) {
        command.error(`twin backup: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });
  program
    .command('restore')
    .description('restore an encrypted backup into a data directory (stop the server first)')
    .requiredOption('--in <file>', 'backup file written by twin backup')
    .option('--data-dir <dir>', 'store folder to restore into (env DATA_DIR)', deps.env.DATA_DIR ?? './data')
    .option('--force', 'replace the store of a data directory that is not empty')
    .option(
      '--store-key-file <file>',
      'store key file, mode 600 (env TWIN_STORE_KEY_FILE)',
      deps.env.TWIN_STORE_KEY_FILE
    )
    .action(async (flags: RestoreFlags, command: Command) => {
      try {
        const { restoreStore } = await import('../store/storeBackup');
        const key = await backupKey(deps.env, flags.storeKeyFile);
        const result = await restoreStore(flags.in, flags.dataDir, key, { force: flags.force === true });
        deps.log(
          `Restored ${result.resources} resources into ${flags.dataDir} (store ${result.storeEncrypted ? 'encrypted' : 'plain'})`
        );
      } catch (err) {
        command.error(`twin restore: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });
};
