import { stat } from 'node:fs/promises';
import { loadVerifiedModel, type LstmModelCard } from './modelCard';

/** What the start-up check found: the verified card, or no model folder at all. */
export type LearnedDetectorStatus =
  { readonly installed: true; readonly card: LstmModelCard } | { readonly installed: false; readonly dir: string };

/**
 * Start-up check of the learned detector (models/lstm-detector/MODEL_CARD.md: at start the engine checks the model's sha256 against its card and
 * refuses a mismatched file with a clear error). No folder: the detector is not installed, which is a supported
 * set-up (the statistical detectors need no model), so it is logged and start-up goes on. A folder that is there is
 * an installation and must be whole: a missing or invalid card, a missing ONNX file or a sha256 mismatch throws the
 * OperationOutcomeError of loadVerifiedModel, and the caller refuses to start. Reads and hashes one small file.
 */
export async function checkLearnedDetector(dir: string, log: (line: string) => void): Promise<LearnedDetectorStatus> {
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        return false;
      }
      throw err;
    }
  );
  if (!isDir) {
    log(`Learned detector: not installed (no model folder at ${dir}); statistical detectors only`);
    return { installed: false, dir };
  }
  const { card } = await loadVerifiedModel(dir);
  log(`Learned detector: ${card.name} ${card.version}, sha256 ${card.sha256.slice(0, 12)}... matches its model card`);
  return { installed: true, card };
}
