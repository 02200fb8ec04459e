import type { Bm25Index, ScoredDocument } from './bm25Index';

/**
 * Query expansion by pseudo-relevance feedback, in the shape of RM3 (Abdul-Jaleel et al., "UMass at TREC 2004":
 * a relevance model estimated from the top-ranked documents, interpolated with the original query). Consumer questions
 * rarely use the words of the answer ("heart attack" vs "myocardial infarction"); the first-pass top documents
 * supply them.
 */
export interface FeedbackOptions {
  /** Documents taken as pseudo-relevant. */
  readonly documents: number;
  /** Expansion terms added. */
  readonly terms: number;
  /** Weight of the original query in the interpolation, 0..1. */
  readonly originalWeight: number;
}

export const DEFAULT_FEEDBACK_OPTIONS: Readonly<FeedbackOptions> = Object.freeze({
  documents: 8,
  terms: 20,
  originalWeight: 0.7,
});

export function expandQuery(
  index: Bm25Index,
  query: ReadonlyMap<string, number>,
  firstPass: readonly ScoredDocument[],
  options: FeedbackOptions = DEFAULT_FEEDBACK_OPTIONS
): Map<string, number> {
  const feedback = firstPass.slice(0, options.documents);
  if (feedback.length === 0 || options.terms === 0) {
    return new Map(query);
  }
  // P(d | q) ~ exp(score - max): scores are log-like in BM25, so this keeps the best documents dominant.
  const max = feedback[0]?.score ?? 0;
  const docWeights = feedback.map((d) => Math.exp(d.score - max));
  const docWeightSum = docWeights.reduce((a, b) => a + b, 0);
  const model = new Map<string, number>();
  feedback.forEach((d, i) => {
    const terms = index.termsOf(d.id);
    let length = 0;
    for (const n of terms.values()) {
      length += n;
    }
    if (length === 0) {
      return;
    }
    const w = (docWeights[i] ?? 0) / docWeightSum;
    for (const [term, n] of terms) {
      // Weighted by IDF so words common to every answer ("symptom", "doctor") do not crowd the expansion.
      model.set(term, (model.get(term) ?? 0) + (w * n * index.idf(term)) / length);
    }
  });
  const expansion = [...model.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, options.terms);
  const expansionSum = expansion.reduce((s, [, v]) => s + v, 0) || 1;
  let querySum = 0;
  for (const v of query.values()) {
    querySum += v;
  }
  querySum ||= 1;
  const out = new Map<string, number>();
  for (const [term, v] of query) {
    out.set(term, (options.originalWeight * v) / querySum);
  }
  for (const [term, v] of expansion) {
    out.set(term, (out.get(term) ?? 0) + ((1 - options.originalWeight) * v) / expansionSum);
  }
  return out;
}
