import { normalizeErrorString } from '@medplum/core';
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandRegistration } from './commands';
import type { ErasureSummary } from '../withdrawal/erasePatient';

interface EraseFlags {
  readonly patient?: string;
  readonly dataDir: string;
  readonly yes?: boolean;
}

/** Site policy switch: erasure removes records for good, so a site turns it on deliberately. */
export const ALLOW_ERASE_ENV = 'TWIN_ALLOW_ERASE';

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/**
 * `twin erase --patient ID [--data-dir DIR] [--yes]`: on the patient's request, removes from the EMBEDDED store what the
 * twin derived from their data (twin Observations, findings, unapproved proposals, review Tasks, their Provenance)
 * together with every stored version of it (src/withdrawal/erasePatient.ts). Source data and approved clinical
 * decisions stay, and the report says why. Without --yes it prints the plan and changes nothing. Allowed only when
 * the site's policy says so (TWIN_ALLOW_ERASE=true). Idempotent: a rerun removes nothing.
 */
export const registerEraseCommand: CommandRegistration = (program, deps) => {
  program
    .command('erase')
    .description("erase what the twin derived from one patient's data (embedded store; site policy TWIN_ALLOW_ERASE)")
    .requiredOption('--patient <id>', 'Patient id')
    .option('--data-dir <dir>', 'embedded store folder (env DATA_DIR)', deps.env.DATA_DIR ?? './data')
    .option('--yes', 'erase; without it the plan is printed and nothing changes')
    .action(async (flags: EraseFlags, command: Command) => {
      try {
        if (deps.env[ALLOW_ERASE_ENV] !== 'true') {
          throw new Error(
            `erasure is not allowed by this site's policy; an administrator enables it with ${ALLOW_ERASE_ENV}=true`
          );
        }
        const patient = flags.patient ?? '';
        if (!FHIR_ID.test(patient)) {
          throw new Error('--patient must be a FHIR id');
        }
        const summary = await runErase(patient, flags, deps.env);
        // A mistyped id or data directory must not read as "erased": neither the Patient nor anything derived from it
        // is in this store. The message names no identifier (the report never does).
        if (summary.source.Patient === undefined && Object.keys(summary.erased).length === 0) {
          throw new Error(
            `no Patient with this id in the store in ${flags.dataDir}, and nothing derived from one: check --patient and --data-dir`
          );
        }
        for (const line of describeErasure(summary, flags.yes === true)) {
          deps.log(line);
        }
      } catch (err) {
        command.error(`twin erase: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });
};

async function runErase(patient: string, flags: EraseFlags, env: NodeJS.ProcessEnv): Promise<ErasureSummary> {
  const { erasePatient } = await import('../withdrawal/erasePatient');
  const { openSqliteStore } = await import('../store/sqliteStore');
  const { createEmbeddedRouter } = await import('../store/transactionBundle');
  const { LocalFhirClient } = await import('../fhir/localFhirClient');
  const { loadStoreKey } = await import('../store/storeKey');
  // Opening a store creates one: a mistyped --data-dir would otherwise become a new, empty store.
  if (!existsSync(join(flags.dataDir, 'fhir.sqlite'))) {
    throw new Error(`no store in ${flags.dataDir} (no fhir.sqlite): check --data-dir`);
  }
  // An encrypted store opens with its key (TWIN_STORE_KEY / TWIN_STORE_KEY_FILE) and is refused without it.
  const key = loadStoreKey({ env });
  const store = await openSqliteStore(flags.dataDir, key ? { key } : {});
  try {
    return await erasePatient(
      patient,
      {
        client: new LocalFhirClient(store.repo, createEmbeddedRouter()),
        purge: (keys) => store.repo.purgeResources(keys),
        today: () => new Date().toISOString().slice(0, 10),
      },
      flags.yes === true
    );
  } finally {
    store.close();
  }
}

/** The report: counts by type and reasons, never identifiers or values. */
export function describeErasure(summary: ErasureSummary, applied: boolean): string[] {
  const lines: string[] = [];
  const types = Object.entries(summary.erased);
  if (types.length === 0) {
    lines.push('Nothing to erase: no resource derived by the twin is left for this patient.');
  } else {
    lines.push(
      applied
        ? `Erased ${summary.removed} resource(s) derived by the twin, with all their stored versions:`
        : 'Plan (nothing changed; run again with --yes to erase): would erase, with all their stored versions:'
    );
    for (const [type, count] of types) {
      lines.push(`  erase ${type}: ${count}`);
    }
  }
  lines.push('Kept:');
  for (const k of summary.kept) {
    lines.push(`  keep ${k.resourceType}: ${k.count} (${k.reason})`);
  }
  const source = Object.entries(summary.source)
    .map(([type, count]) => `${type} ${count}`)
    .join(', ');
  lines.push(`  keep the patient's own data: ${source || 'none found'} (source data, not derived by the twin)`);
  lines.push('  keep model Devices (shared descriptions of the models; no personal data)');
  if (summary.consentAllowsProcessing) {
    lines.push(
      "Note: the patient's Consents still allow processing, so the next refresh computes the twin again; record a " +
        'Consent that denies processing (twin withdraw) to stop that.'
    );
  }
  return lines;
}
