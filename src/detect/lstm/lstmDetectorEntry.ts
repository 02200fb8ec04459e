import type { Detector } from '../detector';
import { lstmFindingSource } from '../findings/lstmFindingSource';
import { openLstmDetector } from './lstmDetector';

/**
 * The learned LSTM autoencoder (models/lstm-detector/). Opening it checks the model file against its card's sha256
 * (a mismatch is refused before anything is scored) and starts its worker threads; close it when done.
 */
export const lstmDetector: Detector = {
  name: 'lstm',
  description: 'learned LSTM autoencoder (ONNX, worker threads); refuses a model file that does not match its card',
  open: async ({ modelDir, workers }) => {
    const detector = await openLstmDetector({
      ...(modelDir ? { modelDir } : {}),
      ...(workers ? { workers } : {}),
    });
    return {
      source: lstmFindingSource(detector),
      scoreAll: (subjects) => detector.score(subjects),
      close: () => detector.close(),
    };
  },
};
