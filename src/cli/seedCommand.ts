import { join } from 'node:path';
import { normalizeErrorString } from '@medplum/core';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { writeCohort } from '../cohort/bundleWriter';
import { generateCohort } from '../cohort/generateCohort';
import type { BundleSink } from '../ingest/importers/bundleSink';
import { directorySink, fhirServerSink } from '../ingest/importers/bundleSink';

/** Default day 0 of a seeded cohort: fixed (not "today") so that the same seed gives the same files. */
export const DEFAULT_START_DATE = '2024-01-01';

interface SeedOptions {
  patients: number;
  days: number;
  seed: number;
  startDate: string;
  out?: string;
  fhir?: string;
  groundTruth?: string;
}

/**
 * `twin seed --patients N --days D --seed S [--start-date YYYY-MM-DD] [--out DIR] [--fhir URL] [--ground-truth FILE]`
 *
 * With --out: DIR/bundles/<subject>.json (one transaction Bundle per patient), DIR/ground-truth.csv and
 * DIR/observations.csv (long format). With --fhir: each bundle is POSTed to the server base URL; --out may be
 * given as well to keep the ground truth, or --ground-truth FILE alone.
 */
export function registerSeedCommand(program: Command): void {
  program
    .command('seed')
    .description('generate a deterministic synthetic cohort as FHIR R4 transaction Bundles, with its ground truth')
    .option('--patients <n>', 'number of patients', positiveInt, 25)
    .option('--days <n>', 'days per patient', positiveInt, 180)
    .option('--seed <n>', 'random seed (same seed, same cohort)', integer, 1)
    .option('--start-date <date>', 'day 0 as YYYY-MM-DD', DEFAULT_START_DATE)
    .option('--out <dir>', 'write bundles, ground-truth.csv and observations.csv into this directory')
    .option('--fhir <url>', 'POST each transaction bundle to this FHIR server base URL')
    .option('--ground-truth <file>', 'ground-truth CSV path (default DIR/ground-truth.csv with --out)')
    .action(async (options: SeedOptions, command: Command) => {
      try {
        await runSeed(options);
      } catch (err) {
        command.error(`twin seed: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });
}

export async function runSeed(
  options: SeedOptions,
  log: (line: string) => void = (l) => process.stderr.write(l + '\n')
): Promise<void> {
  if (!options.out && !options.fhir) {
    throw new Error('give --out DIR and/or --fhir URL');
  }
  const sink: BundleSink = options.fhir
    ? fhirServerSink(options.fhir)
    : await directorySink(join(options.out as string, 'bundles'));
  const groundTruthPath = options.groundTruth ?? (options.out ? join(options.out, 'ground-truth.csv') : undefined);
  const longCsvPath = options.out ? join(options.out, 'observations.csv') : undefined;
  const every = Math.max(1, Math.ceil(options.patients / 20));
  const summary = await writeCohort(
    generateCohort({
      patients: options.patients,
      days: options.days,
      seed: options.seed,
      startDate: options.startDate,
    }),
    {
      sink,
      groundTruthPath,
      longCsvPath,
      onProgress: (done) => {
        if (done % every === 0 || done === options.patients) {
          log(`seed: ${done}/${options.patients} patients`);
        }
      },
    }
  );
  log(
    `seed: wrote ${summary.patients} patients, ${summary.resources} resources to ${sink.description}` +
      (groundTruthPath ? `; ${summary.events} ground-truth events in ${groundTruthPath}` : '')
  );
}

function positiveInt(value: string): number {
  const n = integer(value);
  if (n <= 0) {
    throw new InvalidArgumentError('must be a positive integer');
  }
  return n;
}

function integer(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) {
    throw new InvalidArgumentError('must be an integer');
  }
  return Number.parseInt(value, 10);
}
