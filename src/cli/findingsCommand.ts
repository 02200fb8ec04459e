import { normalizeErrorString } from '@medplum/core';
import { InvalidArgumentError, type Command } from 'commander';
import type { CommandRegistration } from './commands';
import { DEFAULT_DETECTOR_NAME, DETECTORS, detectorFor } from '../detect/detectorRegistry';
import { openEngineTarget } from './engineTarget';
import { readFile } from 'node:fs/promises';
import {
  DEFAULT_FINDINGS_BUDGET,
  type BudgetedDetector,
  type OperatingPointsFile,
} from '../detect/operating/operatingPoint';

/** A detector name of the registry (src/detect/detectorRegistry.ts). */
type Detector = string;
const DETECTOR_NAMES = DETECTORS.map((d) => d.name).join(', ');

interface FindingsFlags {
  readonly patient?: string[];
  readonly all?: boolean;
  readonly detector: Detector;
  readonly taskThreshold: number;
  readonly taskRisk: 'low' | 'moderate';
  readonly taskExpiryDays: number;
  readonly taskOwner?: string;
  readonly fhir?: string;
  readonly dataDir: string;
  readonly modelDir?: string;
  readonly budget: number;
  readonly mode: 'dense' | 'sparse';
  readonly points?: string;
}

/**
 * `twin findings [--patient ID ... | --all] [--detector NAME] [--task-risk moderate]
 * [--task-threshold 0.5] [--task-owner REF] [--fhir URL | --data-dir DIR] [--model-dir DIR]`: runs early-warning detection over each
 * patient's Observations on the server and writes the findings back (src/detect/findings/): a RiskAssessment per alarm
 * episode, a review Task for those at or above the threshold, the detector's model Device; one transaction per
 * patient, idempotent. With `lstm` the model is checked against its card first (a mismatched file is refused, nothing
 * is written) and its Device is built from the card. Prints counts only (no health data).
 */
export const registerFindingsCommand: CommandRegistration = (program, deps) => {
  program
    .command('findings')
    .description("detect alarm episodes in patients' data and write them as RiskAssessments (and review Tasks)")
    .option('--patient <id...>', 'Patient id(s)')
    .option('--all', 'every Patient on the server')
    .option('--detector <name>', `one of ${DETECTOR_NAMES}`, parseDetector, DEFAULT_DETECTOR_NAME)
    .option(
      '--task-threshold <p>',
      'create a review Task for findings with a calibrated probability >= p (0..1)',
      parseProbability,
      0.5
    )
    .option(
      '--task-risk <level>',
      'without calibration (all detectors today): lowest qualitative likelihood that gets a review Task, low | moderate',
      parseRisk,
      'moderate'
    )
    .option(
      '--task-expiry-days <n>',
      'cancel a review Task nobody picked up this many days after its episode ended (and create none for older episodes)',
      parsePositive,
      28
    )
    .option(
      '--task-owner <reference>',
      'who reviews: Practitioner/..., PractitionerRole/..., Organization/... or CareTeam/... (env TWIN_REVIEW_OWNER)',
      deps.env.TWIN_REVIEW_OWNER
    )
    .option(
      '--budget <b>',
      'false-alarm budget (episodes per 30 event-free days): the detector runs at its operating point for it',
      parsePositive,
      DEFAULT_FINDINGS_BUDGET
    )
    .option(
      '--mode <mode>',
      'dense (daily wearables) | sparse (spot measurements): options and operating points',
      parseMode,
      'dense'
    )
    .option('--points <file>', 'operating points file (default models/detector-operating-points.json)')
    .option('--fhir <url>', 'FHIR R4 base URL of the server (default: the embedded store in --data-dir)')
    .option('--data-dir <dir>', 'embedded store folder (env DATA_DIR)', deps.env.DATA_DIR ?? './data')
    .option(
      '--model-dir <dir>',
      'lstm only: folder with model-card.json and the ONNX file (env TWIN_LSTM_MODEL_DIR; default models/lstm-detector)',
      deps.env.TWIN_LSTM_MODEL_DIR
    )
    .action(async (flags: FindingsFlags, command: Command) => {
      try {
        if (!flags.all && !flags.patient?.length) {
          throw new Error('give --patient ID or --all');
        }
        const { writeFindingsForPatients, DEFAULT_FINDINGS_OPTIONS } =
          await import('../detect/findings/findingsWriter');
        const log = (line: string): void => void process.stderr.write(line + '\n');
        // The alarm threshold is the operating point chosen for the false-alarm budget (models/detector-operating-
        // points.json, written by `twin eval tune-detect`), not a fixed one. A detector with no tuned point runs at
        // its own default, and says so.
        const { DEFAULT_OPERATING_POINTS_FILE, storedThreshold } = await import('../detect/operating/operatingPoint');
        const pointsFile = flags.points ?? DEFAULT_OPERATING_POINTS_FILE();
        const points = JSON.parse(await readFile(pointsFile, 'utf8')) as OperatingPointsFile;
        const tuned = points.modes[flags.mode]?.[flags.detector as BudgetedDetector];
        const threshold =
          tuned === undefined
            ? undefined
            : storedThreshold(points, flags.mode, flags.detector as BudgetedDetector, flags.budget);
        log(
          threshold === undefined
            ? `twin findings: ${flags.detector} has no tuned operating point; its default threshold (mode ${flags.mode})`
            : `twin findings: ${flags.detector} at threshold ${threshold} (budget ${flags.budget}, mode ${flags.mode})`
        );
        // A learned model is checked (and its workers started) before the server is touched: a refused model
        // writes nothing. Findings score one patient at a time, so one worker is enough.
        const detector = await detectorFor(flags.detector).open({
          modelDir: flags.modelDir,
          workers: 1,
          mode: flags.mode,
          ...(threshold === undefined ? {} : { threshold }),
        });
        const target = await openEngineTarget(flags).catch(async (err: unknown) => {
          await detector.close();
          throw err;
        });
        try {
          const summary = await writeFindingsForPatients(
            flags.all ? 'all' : (flags.patient ?? []),
            { client: target.client, validate: target.validate, today: () => new Date().toISOString().slice(0, 10) },
            {
              ...DEFAULT_FINDINGS_OPTIONS,
              source: detector.source,
              taskThreshold: flags.taskThreshold,
              taskRisk: flags.taskRisk,
              taskExpiryDays: flags.taskExpiryDays,
              taskOwner: flags.taskOwner,
            },
            log
          );
          deps.log(JSON.stringify(summary));
          if (summary.failed > 0) {
            process.exitCode = 1;
          }
        } finally {
          target.close();
          await detector.close();
        }
      } catch (err) {
        command.error(`twin findings: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });
};

function parseDetector(value: string): Detector {
  if (!DETECTORS.some((d) => d.name === value)) {
    throw new InvalidArgumentError(`must be one of ${DETECTOR_NAMES}`);
  }
  return value;
}

function parsePositive(value: string): number {
  const x = Number(value);
  if (!Number.isFinite(x) || x <= 0) {
    throw new InvalidArgumentError('must be a positive number');
  }
  return x;
}

function parseMode(value: string): 'dense' | 'sparse' {
  if (value !== 'dense' && value !== 'sparse') {
    throw new InvalidArgumentError('must be dense or sparse');
  }
  return value;
}

function parseRisk(value: string): 'low' | 'moderate' {
  if (value !== 'low' && value !== 'moderate') {
    throw new InvalidArgumentError('must be low or moderate');
  }
  return value;
}

function parseProbability(value: string): number {
  const p = Number(value);
  if (!Number.isFinite(p) || p < 0 || p > 1) {
    throw new InvalidArgumentError('must be a number from 0 to 1');
  }
  return p;
}
