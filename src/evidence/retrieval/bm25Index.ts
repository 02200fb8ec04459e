import { topOf } from './topK';

/**
 * Okapi BM25 over several weighted fields (the BM25F simplification of Robertson & Zaragoza, "The Probabilistic
 * Relevance Framework: BM25 and Beyond", 2009: per-field length-normalised term frequencies are weighted and summed
 * before the saturation k1, then multiplied by the term's IDF).
 *
 * Built once over analysed terms (see textAnalysis.ts); queried with an accumulator over postings, so a query costs
 * the length of its terms' postings lists, not the size of the corpus.
 */
export interface Bm25Field {
  readonly name: string;
  /** Multiplies the field's normalised term frequency (title-like fields weigh more than bodies). */
  readonly weight: number;
  /** Length normalisation b of this field, 0..1. */
  readonly b: number;
}

export interface Bm25Options {
  readonly k1: number;
  readonly fields: readonly Bm25Field[];
}

export const DEFAULT_BM25_OPTIONS: Readonly<Bm25Options> = Object.freeze({
  k1: 1.2,
  fields: Object.freeze([
    { name: 'title', weight: 3, b: 0.75 },
    { name: 'text', weight: 1, b: 0.75 },
  ]),
});

export interface IndexedDocument {
  readonly id: string;
  /** Analysed terms per field name; a field absent from a document is empty. */
  readonly fields: Readonly<Record<string, readonly string[]>>;
}

export interface ScoredDocument {
  readonly id: string;
  readonly score: number;
}

/**
 * A term's postings as impact scores: for each document, the term's BM25F weight (IDF x saturated pseudo term
 * frequency) computed once at build time, since none of it depends on the query (Anh & Moffat's impact-ordered
 * indexes, "Pruned query evaluation using pre-computed impacts", SIGIR 2006). A query then only adds numbers.
 */
interface Postings {
  readonly docs: Int32Array;
  readonly impacts: Float32Array;
}

export class Bm25Index {
  private readonly ids: string[] = [];
  private readonly byId = new Map<string, number>();
  private readonly lengths: number[] = [];
  private readonly postings = new Map<string, Postings>();
  private readonly df = new Map<string, number>();
  /** Terms of each document with their weighted frequency, for pseudo-relevance feedback. */
  private readonly docTerms: Map<string, number>[] = [];

  constructor(
    documents: readonly IndexedDocument[],
    readonly options: Bm25Options = DEFAULT_BM25_OPTIONS
  ) {
    const { k1, fields } = options;
    const totals = fields.map(() => 0);
    const fieldLengths: number[][] = [];
    const perDoc: Map<string, number[]>[] = [];
    documents.forEach((document, doc) => {
      this.ids.push(document.id);
      this.byId.set(document.id, doc);
      const perTerm = new Map<string, number[]>();
      const lengths = fields.map((field, f) => {
        const terms = document.fields[field.name] ?? [];
        for (const term of terms) {
          let tf = perTerm.get(term);
          if (!tf) {
            tf = fields.map(() => 0);
            perTerm.set(term, tf);
          }
          tf[f] = (tf[f] ?? 0) + 1;
        }
        totals[f] = (totals[f] ?? 0) + terms.length;
        return terms.length;
      });
      fieldLengths.push(lengths);
      this.lengths.push(lengths.reduce((a, b) => a + b, 0));
      perDoc.push(perTerm);
      const weighted = new Map<string, number>();
      for (const [term, tf] of perTerm) {
        this.df.set(term, (this.df.get(term) ?? 0) + 1);
        weighted.set(
          term,
          tf.reduce((sum, n, f) => sum + n * (fields[f]?.weight ?? 0), 0)
        );
      }
      this.docTerms.push(weighted);
    });
    const avgLength = totals.map((t) => (documents.length > 0 ? t / documents.length : 0));

    const building = new Map<string, { docs: number[]; impacts: number[] }>();
    perDoc.forEach((perTerm, doc) => {
      for (const [term, tf] of perTerm) {
        let pseudoTf = 0;
        for (let f = 0; f < fields.length; f++) {
          const n = tf[f] ?? 0;
          if (n === 0) {
            continue;
          }
          const field = fields[f];
          const norm = 1 - field.b + (field.b * (fieldLengths[doc]?.[f] ?? 0)) / (avgLength[f] || 1);
          pseudoTf += (field.weight * n) / norm;
        }
        let list = building.get(term);
        if (!list) {
          list = { docs: [], impacts: [] };
          building.set(term, list);
        }
        list.docs.push(doc);
        list.impacts.push((this.idf(term) * (pseudoTf * (k1 + 1))) / (pseudoTf + k1));
      }
    });
    for (const [term, list] of building) {
      this.postings.set(term, { docs: Int32Array.from(list.docs), impacts: Float32Array.from(list.impacts) });
    }
  }

  get size(): number {
    return this.ids.length;
  }

  /** Robertson-Sparck Jones IDF with the +1 inside the log, so a term in most documents never scores negative. */
  idf(term: string): number {
    const df = this.df.get(term) ?? 0;
    return Math.log(1 + (this.ids.length - df + 0.5) / (df + 0.5));
  }

  /**
   * The best `top` documents for a bag of weighted query terms (a repeated query term counts once per occurrence
   * unless weights are given), best first; ties by document order, so results are deterministic.
   */
  search(query: ReadonlyMap<string, number> | readonly string[], top: number): ScoredDocument[] {
    const weights = Array.isArray(query) ? countTerms(query) : (query as ReadonlyMap<string, number>);
    const scores = new Float64Array(this.ids.length);
    const touched: number[] = [];
    for (const [term, queryWeight] of weights) {
      const list = this.postings.get(term);
      if (!list) {
        continue;
      }
      const { docs, impacts } = list;
      for (let i = 0; i < docs.length; i++) {
        const doc = docs[i];
        if (scores[doc] === 0) {
          touched.push(doc);
        }
        scores[doc] = scores[doc] + queryWeight * impacts[i];
      }
    }
    return topOf(touched, scores, top).map((doc) => ({ id: this.ids[doc], score: scores[doc] }));
  }

  /** The weighted term frequencies of the document with this id (for feedback); empty when unknown. */
  termsOf(id: string): ReadonlyMap<string, number> {
    const doc = this.byId.get(id);
    return (doc !== undefined ? this.docTerms[doc] : undefined) ?? new Map<string, number>();
  }

  documentLength(id: string): number {
    const doc = this.byId.get(id);
    return doc !== undefined ? (this.lengths[doc] ?? 0) : 0;
  }
}

export function countTerms(terms: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const term of terms) {
    counts.set(term, (counts.get(term) ?? 0) + 1);
  }
  return counts;
}
