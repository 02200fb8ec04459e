import { normalizeErrorString } from '@medplum/core';
import type { Command } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import type { DayScore } from '../detect/causalScorer';
import type { SubjectSeries } from '../detect/detectionInput';
import type { CliDependencies } from './commands';
import type { DetectionFigures, LabelRow } from '../detect/detectionEvaluation';
import type { DayError } from '../detect/lstm/lstmScorer';
import { BUDGETED_DETECTORS, type BudgetedDetector } from '../detect/operating/operatingPoint';
import { DETECTOR_MODES, type DetectorMode } from '../detect/operating/budgetScoring';

/** Where `twin eval tune-detect` writes the operating points and `twin eval detect --budget` reads them. */
const DEFAULT_POINTS_FILE = 'models/detector-operating-points.json';
/** The model card whose person split (`heldOut.split`) `--split SOURCE:train|held-out` reads. */
const SPLIT_CARD = 'models/lstm-detector/model-card.json';

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
  readonly budget?: number[];
  readonly mode: DetectorMode;
  readonly points: string;
  readonly split?: string;
  readonly detectors?: BudgetedDetector[];
}

interface TuneFlags {
  readonly set: string[];
  readonly budget: number[];
  readonly mode: DetectorMode;
  readonly detectors: BudgetedDetector[];
  readonly out: string;
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
    .option(
      '--budget <list>',
      'false-alarm budgets (episodes per 30 event-free days), e.g. 0.35,0.5: run each detector at its stored operating point for each budget',
      parseBudgets
    )
    .option('--detectors <list>', `with --budget: detectors (${BUDGETED_DETECTORS.join(', ')})`, parseDetectors)
    .option(
      '--mode <mode>',
      `with --budget: ${DETECTOR_MODES.join(' | ')} operating points and options`,
      parseMode,
      'dense'
    )
    .option('--points <file>', 'with --budget: operating points file', DEFAULT_POINTS_FILE)
    .option(
      '--split <source:part>',
      `only the people of one part of a model-card split (${SPLIT_CARD}), e.g. pmdata:held-out`
    )
    .action(async (flags: EvalFlags, command: Command) => {
      try {
        const { evaluateDetection } = await import('../detect/detectionEvaluation');
        const data = await readEvalSet(flags.input, flags.labels, flags.split, deps);
        const scored = new Set(flags.events.split(',').map((e) => e.trim()));
        deps.log(
          `subjects ${data.subjects.length}, labels ${data.labels.length}, scored events: ${[...scored].join(', ')}${flags.split ? `, people: ${flags.split}` : ''}`
        );
        if (flags.budget) {
          const { storedThreshold } = await import('../detect/operating/operatingPoint');
          const { scoreAtThreshold, MODE_OPTIONS } = await import('../detect/operating/budgetScoring');
          const points = JSON.parse(
            await readFile(flags.points, 'utf8')
          ) as import('../detect/operating/operatingPoint').OperatingPointsFile;
          const detectors = flags.detectors ?? ['ensemble', 'zscore'];
          const lstmErrors = detectors.some((d) => d.includes('lstm'))
            ? await lstmDayErrors(data.subjects, flags.modelDir)
            : undefined;
          deps.log(`operating points: ${flags.points}, mode ${flags.mode}`);
          deps.log(`| budget | detector | threshold | ${FIGURE_HEADER}`);
          deps.log(`|---|---|---|${FIGURE_RULE}`);
          for (const budget of flags.budget) {
            for (const detector of detectors) {
              const threshold = storedThreshold(points, flags.mode, detector, budget);
              const scores = scoreAtThreshold(detector, threshold, data.subjects, MODE_OPTIONS[flags.mode], lstmErrors);
              const f = evaluateDetection(alarmsOf(data.subjects, scores), data.labels, scored);
              deps.log(`| ${budget} | ${detector} | ${threshold} | ${figureRow(f)}`);
            }
          }
          return;
        }
        const detectors: Detector[] = flags.detector ? [flags.detector] : ['ensemble', 'zscore'];
        deps.log(`| detector | ${FIGURE_HEADER}`);
        deps.log(`|---|${FIGURE_RULE}`);
        for (const detector of detectors) {
          const scores = await scoreAll(data.subjects, detector, flags.modelDir);
          const f = evaluateDetection(alarmsOf(data.subjects, scores), data.labels, scored);
          deps.log(`| ${detector} | ${figureRow(f)}`);
        }
      } catch (err) {
        command.error(`twin eval detect: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });

  evalCommand
    .command('tune-detect')
    .description(
      "choose each detector's operating point by false-alarm budget on tuning sets (never on held-out people) and store it"
    )
    .requiredOption(
      '--set <spec...>',
      'tuning set "INPUT.csv LABELS.csv EVENTS [SOURCE:PART]" (EVENTS comma-separated; PART train for real cohorts)'
    )
    .option('--budget <list>', 'false-alarm budgets, episodes per 30 event-free days', parseBudgets, [0.35, 0.5])
    .option('--detectors <list>', `detectors (${BUDGETED_DETECTORS.join(', ')})`, parseDetectors, [
      'ensemble',
      'zscore',
      'cusum',
    ])
    .option('--mode <mode>', DETECTOR_MODES.join(' | '), parseMode, 'dense')
    .option('--out <file>', 'operating points file (merged: other modes and detectors are kept)', DEFAULT_POINTS_FILE)
    .option('--model-dir <dir>', 'lstm only: folder with model-card.json and the ONNX file')
    .action(async (flags: TuneFlags, command: Command) => {
      try {
        const { evaluateDetection } = await import('../detect/detectionEvaluation');
        const { chooseThreshold, thresholdGrid, budgetKey } = await import('../detect/operating/operatingPoint');
        const { scoreAtThreshold, MODE_OPTIONS } = await import('../detect/operating/budgetScoring');
        const sets = [];
        for (const spec of flags.set) {
          const [input, labels, events, split] = spec.trim().split(/\s+/);
          if (!input || !labels || !events) {
            throw new Error(`--set needs "INPUT LABELS EVENTS [SOURCE:PART]", got "${spec}"`);
          }
          if (split?.endsWith(':held-out')) {
            throw new Error('tuning on held-out people is refused: use SOURCE:train');
          }
          const data = await readEvalSet(input, labels, split, deps);
          const needLstm = flags.detectors.some((d) => d.includes('lstm'));
          sets.push({
            name: `${input}${split ? ` (${split})` : ''}`,
            data,
            scored: new Set(events.split(',').map((e) => e.trim())),
            lstmErrors: needLstm ? await lstmDayErrors(data.subjects, flags.modelDir) : undefined,
          });
        }
        let file: import('../detect/operating/operatingPoint').OperatingPointsFile = {
          description:
            'Detector operating points chosen by false-alarm budget: the lowest threshold whose false-alarm rate is within the budget on every tuning set, at it and every higher grid point (src/detect/operating/operatingPoint.ts).',
          budgetUnit: 'false-alarm episodes per 30 event-free days (src/detect/detectionEvaluation.ts)',
          command: '',
          tunedOn: [],
          modes: {},
        };
        try {
          file = JSON.parse(await readFile(flags.out, 'utf8')) as typeof file;
        } catch {
          // no file yet
        }
        const modePoints: Record<string, Record<string, number | null>> = { ...(file.modes[flags.mode] ?? {}) };
        deps.log(`| detector | budget | threshold | ${sets.map((s) => `FA/30 ${s.name}`).join(' | ')} |`);
        deps.log(`|---|---|---|${sets.map(() => '---|').join('')}`);
        for (const detector of flags.detectors) {
          const grid = thresholdGrid(detector);
          const sweeps = sets.map((set) =>
            grid.map((threshold) => ({
              threshold,
              figures: evaluateDetection(
                alarmsOf(
                  set.data.subjects,
                  scoreAtThreshold(detector, threshold, set.data.subjects, MODE_OPTIONS[flags.mode], set.lstmErrors)
                ),
                set.data.labels,
                set.scored
              ),
            }))
          );
          const byBudget: Record<string, number | null> = {};
          for (const budget of flags.budget) {
            const t = chooseThreshold(sweeps, budget);
            byBudget[budgetKey(budget)] = t ?? null;
            const at = t === undefined ? undefined : grid.indexOf(t);
            deps.log(
              `| ${detector} | ${budget} | ${t ?? 'none'} | ${sweeps.map((sw) => (at === undefined ? '-' : sw[at].figures.falseAlarmsPer30Days.toFixed(2))).join(' | ')} |`
            );
          }
          modePoints[detector] = byBudget;
        }
        const out = {
          ...file,
          command: `twin eval tune-detect ${process.argv
            .slice(process.argv.indexOf('tune-detect') + 1)
            .map((a) => (/\s/.test(a) ? JSON.stringify(a) : a))
            .join(' ')}`,
          tunedOn: sets.map((s) => s.name),
          modes: { ...file.modes, [flags.mode]: modePoints },
        };
        await writeFile(flags.out, JSON.stringify(out, null, 2) + '\n');
        process.stderr.write(`twin eval tune-detect: operating points written to ${flags.out}\n`);
      } catch (err) {
        command.error(`twin eval tune-detect: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });
}

const FIGURE_HEADER =
  'events | before onset | within [-7,+21] | median lead (days) | false alarms / 30 event-free days | precision | recall | F1 | F0.5 |';
const FIGURE_RULE = '---|---|---|---|---|---|---|---|---|';

function figureRow(f: DetectionFigures): string {
  const pct = (n: number): string => (f.events ? `${n} (${((100 * n) / f.events).toFixed(0)}%)` : '0');
  return `${f.events} | ${pct(f.detectedBeforeOnset)} | ${pct(f.detectedWithin)} | ${f.medianLeadDays ?? '-'} | ${f.falseAlarmsPer30Days.toFixed(2)} | ${f.precision.toFixed(2)} | ${f.recall.toFixed(2)} | ${f.f1.toFixed(2)} | ${f.f05.toFixed(2)} |`;
}

function alarmsOf(
  subjects: readonly SubjectSeries[],
  scores: readonly (readonly DayScore[])[]
): { subjectId: string; day: number; alarm: boolean }[] {
  return subjects.flatMap((s, i) => scores[i].map((d) => ({ subjectId: s.subjectId, day: d.day, alarm: d.alarm })));
}

/** An evaluation set: the input's subjects (only those of a model-card split part, when one is named) and labels. */
async function readEvalSet(
  inputFile: string,
  labelsFile: string,
  split: string | undefined,
  deps: CliDependencies
): Promise<{ subjects: SubjectSeries[]; labels: LabelRow[] }> {
  const { readDetectionInput, dayOrdinal } = await import('../detect/detectionInput');
  const { parseCsv } = await import('../ingest/importers/csvRows');
  const input = readDetectionInput(await readFile(inputFile, 'utf8'));
  warnAbout(input, deps);
  const people = split === undefined ? undefined : await splitPeople(split);
  const labelTable = parseCsv(await readFile(labelsFile, 'utf8'));
  const labels = labelTable.rows.flatMap((r) => {
    const subjectId = (r.values.subject_id ?? r.values.subject ?? '').trim();
    const day = dayOrdinal((r.values.day ?? '').trim());
    const event = (r.values.event ?? '').trim();
    return subjectId && day !== undefined && event && (!people || people.has(subjectId))
      ? [{ subjectId, day, event }]
      : [];
  });
  return { subjects: input.subjects.filter((s) => !people || people.has(s.subjectId)), labels };
}

/** The people of `source:train` or `source:held-out` in the model card's person split. */
async function splitPeople(spec: string): Promise<Set<string>> {
  const [source, part] = spec.split(':');
  if (part !== 'train' && part !== 'held-out') {
    throw new Error('--split must be SOURCE:train or SOURCE:held-out');
  }
  const card = JSON.parse(await readFile(SPLIT_CARD, 'utf8')) as {
    heldOut?: { split?: { source: string; trainPeople: string[]; heldOutPeople: string[] }[] };
  };
  const entry = card.heldOut?.split?.find((s) => s.source === source);
  if (!entry) {
    throw new Error(`no split for source "${source}" in ${SPLIT_CARD}`);
  }
  return new Set(part === 'train' ? entry.trainPeople : entry.heldOutPeople);
}

/** The LSTM's raw day errors (the model is checked against its card first). */
async function lstmDayErrors(subjects: readonly SubjectSeries[], modelDir: string | undefined): Promise<DayError[][]> {
  const { openLstmDetector } = await import('../detect/lstm/lstmDetector');
  const lstm = await openLstmDetector({ modelDir });
  try {
    return await lstm.errors(subjects);
  } finally {
    await lstm.close();
  }
}

function parseBudgets(value: string): number[] {
  const budgets = value.split(',').map((b) => Number(b.trim()));
  if (budgets.some((b) => !Number.isFinite(b) || b <= 0)) {
    throw new Error('--budget must be positive numbers, comma-separated');
  }
  return budgets;
}

function parseDetectors(value: string): BudgetedDetector[] {
  return value.split(',').map((d) => {
    const name = d.trim();
    if (!(BUDGETED_DETECTORS as readonly string[]).includes(name)) {
      throw new Error(`detectors must be among ${BUDGETED_DETECTORS.join(', ')}`);
    }
    return name as BudgetedDetector;
  });
}

function parseMode(value: string): DetectorMode {
  if (!(DETECTOR_MODES as readonly string[]).includes(value)) {
    throw new Error(`--mode must be one of ${DETECTOR_MODES.join(', ')}`);
  }
  return value as DetectorMode;
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
