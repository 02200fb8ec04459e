import type { Detector } from '../detector';
import { lstmFindingSource } from '../findings/lstmFindingSource';
import { openLstmDetector } from './lstmDetector';
import { DEFAULT_LSTM_SCORING_OPTIONS } from './lstmScorer';

/**
 * The learned LSTM autoencoder (models/lstm-detector/). Opening it checks the model file against its card's sha256
 * (a mismatch is refused before anything is scored) and starts its worker threads; close it when done.
 */
export const lstmDetector: Detector = {
  name: 'lstm',
  description: 'learned LSTM autoencoder (ONNX, worker threads); refuses a model file that does not match its card',
  open: async ({ modelDir, workers, threshold }) => {
    const detector = await openLstmDetector({
      ...(modelDir ? { modelDir } : {}),
      ...(workers ? { workers } : {}),
      ...(threshold === undefined ? {} : { scoring: { ...DEFAULT_LSTM_SCORING_OPTIONS, onThreshold: threshold } }),
    });
    return {
      source: lstmFindingSource(detector),
      scoreAll: (subjects) => detector.score(subjects),
      close: () => detector.close(),
    };
  },
};
