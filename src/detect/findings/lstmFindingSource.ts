import type { MetricName } from '../../fhir/metricCatalogue';
import type { DayScore } from '../causalScorer';
import type { SubjectSeries } from '../detectionInput';
import { LSTM_FEATURES } from '../lstm/featureWindows';
import type { LstmDetector } from '../lstm/lstmDetector';
import { buildLstmModelDevice } from '../lstm/lstmModelDevice';
import type { FindingSource } from './findingSource';

/**
 * The learned detector as a finding source: its Device comes from the verified model card (sha256 of the ONNX file,
 * card version), its alarm threshold is the hysteresis on-threshold of its scoring options, and its day scores come
 * from the worker pool. The caller opens the detector (which checks the model against its card) and closes it.
 */
export function lstmFindingSource(detector: LstmDetector): FindingSource {
  return {
    detector: 'lstm',
    device: buildLstmModelDevice(detector.card),
    alarmThreshold: detector.scoring.onThreshold,
    hysteresis: true,
    score: async (series) => {
      const [scores] = await detector.score([series]);
      return (scores ?? []).map((s) => (s.reason ? { ...s, reason: metricReason(s, series) } : s));
    },
  };
}

/**
 * The LSTM names features, and the feature `hrv` reads RMSSD, else SDNN (featureWindows.ts). A finding names
 * catalogue metrics (episodeExplanation.ts reads them from the reasons, and `basis` lists that metric's
 * Observations first), so each feature name becomes the metric that fed it on that day.
 */
function metricReason(score: DayScore, series: SubjectSeries): string {
  const values = series.values.get(score.day);
  return score.reason
    .split('; ')
    .map((part) => {
      const name = part.split(' ', 1)[0];
      const feature = LSTM_FEATURES.find((f) => f.name === name);
      const metric: MetricName | undefined = feature?.metrics.find((m) => values?.has(m));
      return metric === undefined ? part : metric + part.slice(name.length);
    })
    .join('; ');
}
