import { normalizeErrorString } from '@medplum/core';
import type { Command } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import type { DayScore } from '../detect/causalScorer';
import type { SubjectSeries } from '../detect/detectionInput';
import type { CliDependencies } from './commands';

import { DEFAULT_DETECTOR_NAME, DETECTORS, detectorFor } from '../detect/detectorRegistry';

/** A detector name of the registry (src/detect/detectorRegistry.ts). */
type Detector = string;
const DETECTOR_NAMES = DETECTORS.map((d) => d.name).join(', ');

interface DetectFlags {
  readonly input: string;
  readonly out: string;
  readonly detector: Detector;
  readonly modelDir?: string;
}

interface EvalFlags {
  readonly input: string;
  readonly labels: string;
  readonly events: string;
  readonly detector?: Detector;
  readonly modelDir?: string;
}

/**
 * `twin detect --input FILE.csv --out ALARMS.csv [--detector NAME]` and
 * `twin eval detect --input FILE.csv --labels LABELS.csv [--events illness_symptoms]`: the batch doors of the
 * early-warning detectors (src/detect/: statistical detectors, and the learned LSTM autoencoder in src/detect/lstm/,
 * which runs in worker threads and refuses a model file that does not match its model card).
 */
export function registerDetectCommands(program: Command, deps: CliDependencies): void {
  program
    .command('detect')
    .description('score every subject-day of a long CSV (subject_id,day,metric,value) and write alarms')
    .requiredOption('--input <file>', 'long CSV: subject_id,day,metric,value (day: ISO date or integer index)')
    .requiredOption('--out <file>', 'output CSV: subject_id,day,score,alarm,reason')
    .option('--detector <name>', `one of ${DETECTOR_NAMES}`, parseDetector, DEFAULT_DETECTOR_NAME)
    .option(
      '--model-dir <dir>',
      'lstm only: folder with model-card.json and the ONNX file (default models/lstm-detector)'
    )
    .action(async (flags: DetectFlags, command: Command) => {
      try {
        const { readDetectionInput } = await import('../detect/detectionInput');
        const input = readDetectionInput(await readFile(flags.input, 'utf8'));
        warnAbout(input, deps);
        const scores = await scoreAll(input.subjects, flags.detector, flags.modelDir);
        const lines = ['subject_id,day,score,alarm,reason'];
        for (const [i, subject] of input.subjects.entries()) {
          for (const s of scores[i]) {
            lines.push(
              [
                subject.subjectId,
                subject.dayLabels.get(s.day) ?? String(s.day),
                s.score,
                s.alarm ? 1 : 0,
                csv(s.reason),
              ].join(',')
            );
          }
        }
        await writeFile(flags.out, lines.join('\n') + '\n');
        process.stderr.write(
          `twin detect: ${input.subjects.length} subjects, ${lines.length - 1} subject-days scored\n`
        );
      } catch (err) {
        command.error(`twin detect: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });

  const evalCommand = program.command('eval').description('evaluate a stage against labelled data');
  evalCommand
    .command('detect')
    .description('early-warning figures of the detectors against labelled event onsets (subject_id,day,event)')
    .requiredOption('--input <file>', 'long CSV: subject_id,day,metric,value')
    .requiredOption('--labels <file>', 'CSV subject_id (or subject),day,event, same day format as the input')
    .option('--events <list>', 'comma-separated event names scored as onsets', 'illness_symptoms')
    .option(
      '--detector <name>',
      'evaluate one detector only (default: ensemble and zscore in the same run)',
      parseDetector
    )
    .option(
      '--model-dir <dir>',
      'lstm only: folder with model-card.json and the ONNX file (default models/lstm-detector)'
    )
    .action(async (flags: EvalFlags, command: Command) => {
      try {
        const { readDetectionInput, dayOrdinal } = await import('../detect/detectionInput');
        const { evaluateDetection } = await import('../detect/detectionEvaluation');
        const { parseCsv } = await import('../ingest/importers/csvRows');
        const input = readDetectionInput(await readFile(flags.input, 'utf8'));
        warnAbout(input, deps);
        const labelTable = parseCsv(await readFile(flags.labels, 'utf8'));
        const labels = labelTable.rows.flatMap((r) => {
          const subjectId = (r.values.subject_id ?? r.values.subject ?? '').trim();
          const day = dayOrdinal((r.values.day ?? '').trim());
          const event = (r.values.event ?? '').trim();
          return subjectId && day !== undefined && event ? [{ subjectId, day, event }] : [];
        });
        const scored = new Set(flags.events.split(',').map((e) => e.trim()));
        const detectors: Detector[] = flags.detector ? [flags.detector] : ['ensemble', 'zscore'];
        deps.log(
          `subjects ${input.subjects.length}, labels ${labels.length}, scored events: ${[...scored].join(', ')}`
        );
        deps.log(
          '| detector | events | before onset | within [-7,+21] | median lead (days) | false alarms / 30 event-free days | precision | recall | F1 | F0.5 |'
        );
        deps.log('|---|---|---|---|---|---|---|---|---|---|');
        for (const detector of detectors) {
          const scores = await scoreAll(input.subjects, detector, flags.modelDir);
          const alarms = input.subjects.flatMap((s, i) =>
            scores[i].map((d) => ({ subjectId: s.subjectId, day: d.day, alarm: d.alarm }))
          );
          const f = evaluateDetection(alarms, labels, scored);
          const pct = (n: number): string => (f.events ? `${n} (${((100 * n) / f.events).toFixed(0)}%)` : '0');
          deps.log(
            `| ${detector} | ${f.events} | ${pct(f.detectedBeforeOnset)} | ${pct(f.detectedWithin)} | ${f.medianLeadDays ?? '-'} | ${f.falseAlarmsPer30Days.toFixed(2)} | ${f.precision.toFixed(2)} | ${f.recall.toFixed(2)} | ${f.f1.toFixed(2)} | ${f.f05.toFixed(2)} |`
          );
        }
      } catch (err) {
        command.error(`twin eval detect: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });
}

function parseDetector(value: string): Detector {
  if (!DETECTORS.some((d) => d.name === value)) {
    throw new Error(`--detector must be one of ${DETECTOR_NAMES}`);
  }
  return value;
}

/** Scores every subject with one detector of the registry; the result is in the order of `subjects`. */
async function scoreAll(
  subjects: readonly SubjectSeries[],
  detector: Detector,
  modelDir: string | undefined
): Promise<DayScore[][]> {
  const opened = await detectorFor(detector).open({ modelDir });
  try {
    return await opened.scoreAll(subjects);
  } finally {
    await opened.close();
  }
}

function warnAbout(
  input: { unknownMetrics: string[]; rejectedRows: { line: number; reason: string }[] },
  deps: CliDependencies
): void {
  for (const metric of input.unknownMetrics) {
    process.stderr.write(`warning: unknown metric "${metric}" ignored\n`);
  }
  if (input.rejectedRows.length > 0) {
    const first = input.rejectedRows
      .slice(0, 5)
      .map((r) => `line ${r.line}`)
      .join(', ');
    process.stderr.write(
      `warning: ${input.rejectedRows.length} row(s) skipped (${first}...): ${input.rejectedRows[0].reason}\n`
    );
  }
  void deps;
}

function csv(text: string): string {
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
