import { normalizeErrorString } from '@medplum/core';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { BundleSink } from '../ingest/importers/bundleSink';
import { directorySink, fhirServerSink } from '../ingest/importers/bundleSink';
import { buildImportBundles } from '../ingest/importers/importBundles';
import type { ParsedSource } from '../ingest/importers/importRecord';
import type { ImportSummary } from '../ingest/importers/importSummary';
import { formatImportSummary, summariseImport } from '../ingest/importers/importSummary';
import { importerFor, IMPORTERS } from '../ingest/importers/importerRegistry';

/** A format name of the importer registry (src/ingest/importers/importerRegistry.ts). */
export type ImportFormat = string;

export interface ImportOptions {
  patientId?: string;
  out?: string;
  fhir?: string;
  onError: 'skip' | 'fail';
  startDate?: string;
  source?: string;
}

/**
 * `twin import <format> <path> [--patient-id ID] [--out DIR | --fhir URL] [--on-error skip|fail]`
 *
 * Without --out or --fhir it is a dry run: everything is parsed and checked and the summary printed.
 * With --on-error fail, any malformed row rejects the whole import (nothing is written) and the command exits 1.
 */
export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description('import wearable / self-report exports as FHIR Observations (idempotent)')
    .argument('<format>', IMPORTERS.map((i) => `${i.format}: ${i.description}`).join('; '), importFormat)
    .argument('<path>', 'export file or folder (PMData participant folder, Welltory data folder, long CSV file)')
    .option('--patient-id <id>', 'write all values for this existing Patient id (single-subject sources)')
    .option('--out <dir>', 'write the transaction bundles into this directory')
    .option('--fhir <url>', 'POST the transaction bundles to this FHIR server base URL')
    .option('--on-error <mode>', 'skip malformed rows, or fail the whole import', onErrorMode, 'skip')
    .option('--start-date <date>', 'csv: day 0 for integer day indexes (YYYY-MM-DD)')
    .option('--source <label>', "csv: source label in record keys (default 'csv'; 'synthetic' for seed output)")
    .action(async (format: ImportFormat, path: string, options: ImportOptions, command: Command) => {
      try {
        const summary = await runImport(format, path, options);
        if (summary.rejected) {
          process.exitCode = 1;
        }
      } catch (err) {
        command.error(`twin import: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });
}

export async function runImport(
  format: ImportFormat,
  path: string,
  options: ImportOptions,
  log: (line: string) => void = (l) => process.stderr.write(l + '\n'),
  sinkOverride?: BundleSink
): Promise<ImportSummary> {
  if (options.out && options.fhir) {
    throw new Error('give either --out or --fhir, not both');
  }
  const parsed = await parseSource(format, path, options);
  const built = buildImportBundles(parsed, { patientId: options.patientId });
  const rejected = options.onError === 'fail' && built.issues.length > 0;
  if (!rejected) {
    const sink =
      sinkOverride ??
      (options.fhir ? fhirServerSink(options.fhir) : options.out ? await directorySink(options.out) : undefined);
    if (!sink) {
      log(`import ${format}: dry run (no --out or --fhir): nothing written`);
    } else {
      let sent = 0;
      for (const { name, bundle, observations } of built.bundles) {
        await sink.write(name, bundle);
        sent += observations;
        log(`import ${format}: ${sent}/${built.imported} observations written to ${sink.description}`);
      }
    }
  }
  const summary = summariseImport(format, built.imported, built.issues, parsed.notImported, rejected);
  log(formatImportSummary(summary));
  return summary;
}

/** Reads the files of an export and parses them with the format's importer (src/ingest/importers/importerRegistry.ts). */
export async function parseSource(format: ImportFormat, path: string, options: ImportOptions): Promise<ParsedSource> {
  return importerFor(format).read(path, options);
}

function importFormat(value: string): ImportFormat {
  if (!IMPORTERS.some((i) => i.format === value)) {
    throw new InvalidArgumentError(`must be one of ${IMPORTERS.map((i) => i.format).join(', ')}`);
  }
  return value;
}

function onErrorMode(value: string): 'skip' | 'fail' {
  if (value !== 'skip' && value !== 'fail') {
    throw new InvalidArgumentError("must be 'skip' or 'fail'");
  }
  return value;
}
