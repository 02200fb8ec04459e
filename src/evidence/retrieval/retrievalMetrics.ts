import { badRequest, OperationOutcomeError } from '@medplum/core';

/** Graded judgements: qid -> docid -> grade (0 = not relevant). TREC qrels format `qid iter docid grade`. */
export type Qrels = ReadonlyMap<string, ReadonlyMap<string, number>>;

export function parseQrels(text: string, source = 'qrels'): Qrels {
  const qrels = new Map<string, Map<string, number>>();
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      return;
    }
    const parts = trimmed.split(/\s+/);
    const grade = Number(parts[3]);
    if (parts.length !== 4 || !Number.isFinite(grade)) {
      throw new OperationOutcomeError(
        badRequest(`${source} line ${i + 1}: expected "qid iteration docid grade" with a numeric grade`)
      );
    }
    const [qid, , docid] = parts as [string, string, string];
    let judged = qrels.get(qid);
    if (!judged) {
      judged = new Map();
      qrels.set(qid, judged);
    }
    judged.set(docid, grade);
  });
  return qrels;
}

export interface RetrievalFigures {
  readonly queries: number;
  readonly ndcgAt10: number;
  readonly recallAt100: number;
  readonly mrr: number;
}

/**
 * Mean nDCG@10 (gain = grade, log2 discount, ideal from the judgements; Järvelin & Kekäläinen 2002), Recall@100 and
 * MRR over the queries that have at least one relevant judgement (grade >= `relevantFrom`); a query with no run
 * counts 0. `relevantFrom` = 1 is trec_eval's default.
 */
export function evaluateRun(
  run: ReadonlyMap<string, readonly string[]>,
  qrels: Qrels,
  relevantFrom = 1
): RetrievalFigures {
  let n = 0;
  let ndcg = 0;
  let recall = 0;
  let mrr = 0;
  for (const [qid, judged] of qrels) {
    const relevant = [...judged.entries()].filter(([, g]) => g >= relevantFrom);
    if (relevant.length === 0) {
      continue;
    }
    n++;
    const ranked = run.get(qid) ?? [];
    const gain = (doc: string): number => {
      const g = judged.get(doc) ?? 0;
      return g >= relevantFrom ? g : 0;
    };
    let dcg = 0;
    ranked.slice(0, 10).forEach((doc, i) => {
      dcg += gain(doc) / Math.log2(i + 2);
    });
    const ideal = relevant
      .map(([, g]) => g)
      .sort((a, b) => b - a)
      .slice(0, 10)
      .reduce((s, g, i) => s + g / Math.log2(i + 2), 0);
    ndcg += ideal > 0 ? dcg / ideal : 0;
    const top100 = new Set(ranked.slice(0, 100));
    recall += relevant.filter(([doc]) => top100.has(doc)).length / relevant.length;
    const first = ranked.findIndex((doc) => gain(doc) > 0);
    mrr += first >= 0 ? 1 / (first + 1) : 0;
  }
  return {
    queries: n,
    ndcgAt10: n ? ndcg / n : 0,
    recallAt100: n ? recall / n : 0,
    mrr: n ? mrr / n : 0,
  };
}
