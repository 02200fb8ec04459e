import { Bm25Index, countTerms, DEFAULT_BM25_OPTIONS, type ScoredDocument } from './bm25Index';
import { DEFAULT_FEEDBACK_OPTIONS, expandQuery, type FeedbackOptions } from './pseudoRelevanceFeedback';
import type { RetrievalDocument } from './retrievalFiles';
import { indexTerms } from './textAnalysis';
import { topOf } from './topK';

/** Turns texts into unit-length vectors (a sentence-embedding model); see denseEncoder.ts. */
export interface DenseEncoder {
  /** What the model is, for logs and for the run name. */
  readonly description: string;
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

export type RetrieverName = 'bm25' | 'hybrid';

export interface Retriever {
  readonly name: RetrieverName;
  /** What the ranking uses, in words ("BM25F + RM3 feedback; dense: none installed"). */
  readonly description: string;
  search(text: string, top: number): Promise<ScoredDocument[]>;
}

/** Plain BM25 (k1 1.2, b 0.75) over title and text as one field: the reference every figure is compared with. */
export function createBm25Retriever(documents: readonly RetrievalDocument[]): Retriever {
  const index = new Bm25Index(
    documents.map((d) => ({ id: d.id, fields: { all: indexTerms(`${d.title}\n${d.text}`) } })),
    { k1: 1.2, fields: [{ name: 'all', weight: 1, b: 0.75 }] }
  );
  return {
    name: 'bm25',
    description: 'BM25 (k1 1.2, b 0.75) over title + text',
    search: async (text, top) => index.search(indexTerms(text), top),
  };
}

export interface HybridOptions {
  /** Weight of each pair of adjacent query words matched as a phrase in the title (0 = words only). */
  readonly phraseWeight: number;
  /** RM3-style pseudo-relevance feedback; `terms: 0` turns it off. */
  readonly feedback: FeedbackOptions;
  /** First-pass candidates re-scored by the dense model, and dense-only candidates added. */
  readonly denseCandidates: number;
  /** Weight of the dense cosine in the fused score (lexical weight = 1 - this). */
  readonly denseWeight: number;
}

// Chosen on the odd-numbered LiveQA questions (sum of nDCG@10 and MRR), reported on the even ones: title phrases at
// 0.5 helped on both halves; RM3 feedback raised nDCG on the tuning half only and lowered MRR on both, so it is off.
export const DEFAULT_HYBRID_OPTIONS: Readonly<HybridOptions> = Object.freeze({
  phraseWeight: 0.5,
  feedback: { ...DEFAULT_FEEDBACK_OPTIONS, terms: 0 },
  denseCandidates: 200,
  denseWeight: 0.5,
});

/**
 * The engine's ranker: fielded BM25 (the title — for MedQuAD the question with its "also called" synonyms, for a
 * protocol its title and indications — weighs three times the body, and adjacent word pairs of the title are indexed
 * as phrases, in the spirit of Metzler & Croft's sequential dependence model, SIGIR 2005), optionally RM3-style
 * feedback from the first pass, then,
 * when a sentence-embedding model is installed, fusion with the dense cosine similarity (scores min-max normalised per
 * query, then mixed). Without a model it is lexical and says so in `description`.
 */
export async function createHybridRetriever(
  documents: readonly RetrievalDocument[],
  encoder?: DenseEncoder,
  options: HybridOptions = DEFAULT_HYBRID_OPTIONS
): Promise<Retriever> {
  const index = new Bm25Index(
    documents.map((d) => {
      const title = indexTerms(d.title);
      return { id: d.id, fields: { title: [...title, ...phrases(title)], text: indexTerms(d.text) } };
    }),
    DEFAULT_BM25_OPTIONS
  );
  // Document vectors as one row-major matrix: a query is one pass of dot products, no object per document.
  const vectors = new Map<string, Float32Array>();
  let matrix = new Float32Array(0);
  let dim = 0;
  if (encoder) {
    const embedded = await embedInBatches(
      encoder,
      documents.map((d) => `${d.title}\n${d.text}`)
    );
    dim = embedded[0]?.length ?? 0;
    matrix = new Float32Array(documents.length * dim);
    documents.forEach((d, i) => {
      const v = embedded[i] ?? new Float32Array(dim);
      matrix.set(v, i * dim);
      vectors.set(d.id, matrix.subarray(i * dim, (i + 1) * dim));
    });
  }

  const lexical = (text: string, top: number): ScoredDocument[] => {
    const words = indexTerms(text);
    const query = countTerms(words);
    if (options.phraseWeight > 0) {
      for (const phrase of phrases(words)) {
        query.set(phrase, (query.get(phrase) ?? 0) + options.phraseWeight);
      }
    }
    if (options.feedback.terms === 0) {
      return index.search(query, top);
    }
    const first = index.search(query, Math.max(top, options.feedback.documents));
    return index.search(expandQuery(index, query, first, options.feedback), top);
  };

  return {
    name: 'hybrid',
    description: `BM25F (title x3, title phrases)${options.feedback.terms > 0 ? ' + RM3 feedback' : ''}; dense: ${encoder ? encoder.description : 'no model installed (lexical only)'}`,
    async search(text, top) {
      if (!encoder) {
        return lexical(text, top);
      }
      const candidates = lexical(text, Math.max(top, options.denseCandidates));
      const [q] = await encoder.embed([text]);
      const query = q ?? new Float32Array(dim);
      const scores = new Float64Array(documents.length);
      for (let doc = 0; doc < documents.length; doc++) {
        let s = 0;
        const base = doc * dim;
        for (let k = 0; k < dim; k++) {
          s += query[k] * matrix[base + k];
        }
        scores[doc] = s;
      }
      const dense = topOf(scores.keys(), scores, options.denseCandidates).map((doc) => ({
        id: documents[doc]?.id ?? '',
        score: scores[doc],
      }));
      return fuse(candidates, dense, vectors, query, options.denseWeight).slice(0, top);
    },
  };
}

function fuse(
  lexical: readonly ScoredDocument[],
  dense: readonly ScoredDocument[],
  vectors: ReadonlyMap<string, Float32Array>,
  query: Float32Array,
  denseWeight: number
): ScoredDocument[] {
  const lexMax = lexical[0]?.score ?? 0;
  const lexMin = lexical.at(-1)?.score ?? 0;
  const ids = new Set([...lexical.map((d) => d.id), ...dense.map((d) => d.id)]);
  const lexScore = new Map(lexical.map((d) => [d.id, d.score]));
  const cos = new Map<string, number>();
  for (const id of ids) {
    const v = vectors.get(id);
    cos.set(id, v ? dot(query, v) : 0);
  }
  const cosValues = [...cos.values()];
  const cosMax = Math.max(...cosValues);
  const cosMin = Math.min(...cosValues);
  const norm = (x: number, lo: number, hi: number): number => (hi > lo ? (x - lo) / (hi - lo) : 0);
  return [...ids]
    .map((id) => ({
      id,
      score:
        (1 - denseWeight) * norm(lexScore.get(id) ?? lexMin, lexMin, lexMax) +
        denseWeight * norm(cos.get(id) ?? cosMin, cosMin, cosMax),
    }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
}

/** Adjacent word pairs as single index terms ("knee_replacement"); "_" never occurs in an analysed word. */
function phrases(terms: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 1; i < terms.length; i++) {
    out.push(`${terms[i - 1] ?? ''}_${terms[i] ?? ''}`);
  }
  return out;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    s += a[i] * b[i];
  }
  return s;
}

async function embedInBatches(encoder: DenseEncoder, texts: readonly string[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += 32) {
    out.push(...(await encoder.embed(texts.slice(i, i + 32))));
  }
  return out;
}
