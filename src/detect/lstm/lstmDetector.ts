import type { DayScore } from '../causalScorer';
import type { SubjectSeries } from '../detectionInput';
import { DEFAULT_LSTM_MODEL_DIR, loadVerifiedModel, type LstmModelCard } from './modelCard';
import {
  DEFAULT_LSTM_SCORING_OPTIONS,
  dayErrorsOfSubjectsLstm,
  scoreSubjectsLstm,
  type DayError,
  type LstmScoringOptions,
} from './lstmScorer';
import { OrtWorkerPool, type OrtWorkerPoolOptions } from './ortWorkerPool';

/** The learned detector, ready to score: a verified model running in a worker pool. Close it when done. */
export interface LstmDetector {
  readonly card: LstmModelCard;
  /** The scoring options it runs with (onThreshold is its alarm threshold). */
  readonly scoring: LstmScoringOptions;
  score(subjects: readonly SubjectSeries[]): Promise<DayScore[][]>;
  /** Raw day errors before calibration (lstmScorer.calibrate turns them into scores at any threshold). */
  errors(subjects: readonly SubjectSeries[]): Promise<DayError[][]>;
  close(): Promise<void>;
}

export interface LstmDetectorOptions extends OrtWorkerPoolOptions {
  /** Folder with model-card.json and the ONNX file; default models/lstm-detector in the package. */
  readonly modelDir?: string;
  readonly scoring?: LstmScoringOptions;
}

/**
 * Checks the model against its card (refuses a mismatched or missing file with an OperationOutcomeError) and starts
 * the workers. The workers build the features and run the model; the main thread only packs series and calibrates.
 */
export async function openLstmDetector(options: LstmDetectorOptions = {}): Promise<LstmDetector> {
  const model = await loadVerifiedModel(options.modelDir ?? DEFAULT_LSTM_MODEL_DIR());
  const pool = await OrtWorkerPool.create(model, options);
  const scoring = options.scoring ?? DEFAULT_LSTM_SCORING_OPTIONS;
  return {
    card: model.card,
    scoring,
    score: (subjects) => scoreSubjectsLstm(subjects, pool, scoring),
    errors: (subjects) => dayErrorsOfSubjectsLstm(subjects, pool, scoring),
    close: () => pool.close(),
  };
}
