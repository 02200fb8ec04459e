import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { once } from 'node:events';
import type { BundleSink } from '../ingest/importers/bundleSink';
import { GROUND_TRUTH_HEADER, groundTruthLine } from './events';
import type { GeneratedPatient } from './generateCohort';

/** Long format shared with the detection command and the csv importer (day = integer day index here). */
export const LONG_CSV_HEADER = 'subject_id,day,metric,value';

export interface CohortWriteOptions {
  readonly sink: BundleSink;
  /** Ground-truth CSV path (`subject,day,event`); omitted = not written. */
  readonly groundTruthPath?: string;
  /** Long-format CSV of every generated value; omitted = not written. */
  readonly longCsvPath?: string;
  /** Called after each patient (for progress on stderr). */
  readonly onProgress?: (done: number) => void;
}

export interface CohortWriteSummary {
  readonly patients: number;
  readonly resources: number;
  readonly events: number;
}

/**
 * Streams a generated cohort out patient by patient: each bundle goes to the sink as soon as it exists and is then
 * dropped, so memory stays flat however many patients there are.
 */
export async function writeCohort(
  cohort: Iterable<GeneratedPatient>,
  options: CohortWriteOptions
): Promise<CohortWriteSummary> {
  const truth = options.groundTruthPath ? await openCsv(options.groundTruthPath, GROUND_TRUTH_HEADER) : undefined;
  const long = options.longCsvPath ? await openCsv(options.longCsvPath, LONG_CSV_HEADER) : undefined;
  let patients = 0;
  let resources = 0;
  let events = 0;
  try {
    for (const patient of cohort) {
      await options.sink.write(patient.subjectKey, patient.bundle);
      resources += patient.bundle.entry?.length ?? 0;
      if (truth) {
        await writeLines(truth, patient.groundTruth.map(groundTruthLine));
      }
      events += patient.groundTruth.length;
      if (long) {
        const lines: string[] = [];
        for (const record of patient.daily) {
          for (const [metric, value] of Object.entries(record.values)) {
            lines.push(`${patient.subjectKey},${record.day},${metric},${value}`);
          }
        }
        await writeLines(long, lines);
      }
      patients++;
      options.onProgress?.(patients);
    }
  } finally {
    await Promise.all([truth, long].filter((s): s is WriteStream => s !== undefined).map(closeStream));
  }
  return { patients, resources, events };
}

async function openCsv(path: string, header: string): Promise<WriteStream> {
  await mkdir(dirname(path), { recursive: true });
  const stream = createWriteStream(path, { encoding: 'utf8' });
  await writeLines(stream, [header]);
  return stream;
}

async function writeLines(stream: WriteStream, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) {
    return;
  }
  if (!stream.write(lines.join('\n') + '\n')) {
    await once(stream, 'drain');
  }
}

async function closeStream(stream: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    stream.end((err?: Error | null) => (err ? reject(err) : resolve()));
  });
}
