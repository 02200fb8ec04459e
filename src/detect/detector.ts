import type { DayScore } from './causalScorer';
import type { SubjectSeries } from './detectionInput';
import type { FindingSource } from './findings/findingSource';

/** What opening a detector may need from the outside world; each detector reads what it understands. */
export interface OpenDetectorOptions {
  /** Learned detectors: the folder with the model card and the model file (default: the one shipped). */
  readonly modelDir?: string;
  /** Learned detectors: worker threads to run the model in. */
  readonly workers?: number;
  /**
   * The alarm threshold, in the detector's own score units: the operating point chosen for a false-alarm budget
   * (src/detect/operating/). Default: the detector's built-in threshold.
   */
  readonly threshold?: number;
  /** `dense` (daily wearable data, the default) or `sparse` (spot measurements; src/detect/operating/budgetScoring.ts). */
  readonly mode?: 'dense' | 'sparse';
}

/** A detector ready to score: one source for findings, batch scoring for `twin detect` and evaluation. */
export interface OpenDetector {
  /** The finding source (name, model Device, alarm threshold, per-patient scoring) for src/detect/findings/. */
  readonly source: FindingSource;
  /** Causal day scores of every subject, in the order given (a learned detector batches them over its workers). */
  scoreAll(subjects: readonly SubjectSeries[]): Promise<DayScore[][]>;
  /** Releases what it holds (worker threads); a no-op for the statistical detectors. */
  close(): Promise<void>;
}

/**
 * One early-warning detector. Every score of day d reads only days up to d (tested per detector in
 * detectorRegistry.test.ts). A new detector is one file exporting a Detector plus one line in detectorRegistry.ts;
 * `twin detect`, `twin eval detect` and `twin findings` read their choices from the registry.
 */
export interface Detector {
  /** The `--detector` name; also in finding identifiers, so it never changes once findings are written. */
  readonly name: string;
  /** One line for `--help`. */
  readonly description: string;
  open(options: OpenDetectorOptions): Promise<OpenDetector>;
}
