// Builds the training pairs for the project's tiny sentence-embedding model (fixtures/tiny-embedding-model, trained by
// scripts/trainEmbeddingModel.py) from the local MedQuAD XML folders, read at run time and never copied into the
// repository:
//   npx tsx scripts/buildEmbeddingTrainingPairs.ts <medquad-dir> <out.jsonl>
// One line per question-answer pair: {"id","source","focus","synonyms","question","answer"}.
// Only four collections are read (TRAINING_COLLECTIONS). The LiveQA test questions and their judgements
// (liveqa_med_2017_test, qrels_liveqa) are the retrieval evaluation set (scripts/buildMedquadRetrievalSet.ts) and are never opened here.
// MedQuAD: Ben Abacha & Demner-Fushman, "A Question-Entailment Approach to Question Answering", BMC Bioinformatics 2019;
// CC BY 4.0 (LICENSE.txt in the MedQuAD folder).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The MedQuAD collections with answers that the training may see; the rest either lack answers or are not used. */
export const TRAINING_COLLECTIONS: readonly string[] = Object.freeze([
  '4_MPlus_Health_Topics_QA',
  '6_NINDS_QA',
  '7_SeniorHealth_QA',
  '9_CDC_QA',
]);

export interface TrainingPair {
  /** MedQuAD question id, e.g. "0000001-1". */
  readonly id: string;
  /** The collection folder the pair comes from. */
  readonly source: string;
  readonly focus: string;
  readonly synonyms: readonly string[];
  readonly question: string;
  readonly answer: string;
}

/** The pairs of one MedQuAD XML document; pairs without an answer (removed for copyright) are skipped. */
export function parseMedquadDocument(xml: string, source: string): TrainingPair[] {
  const focus = clean(/<Focus>([\s\S]*?)<\/Focus>/.exec(xml)?.[1] ?? '');
  const synonyms = [...xml.matchAll(/<Synonym>([\s\S]*?)<\/Synonym>/g)].map((m) => clean(m[1] ?? '')).filter(Boolean);
  const pairs: TrainingPair[] = [];
  for (const m of xml.matchAll(/<QAPair[^>]*>([\s\S]*?)<\/QAPair>/g)) {
    const block = m[1] ?? '';
    const question = /<Question\s+qid="([^"]*)"[^>]*>([\s\S]*?)<\/Question>/.exec(block);
    const answer = clean(/<Answer>([\s\S]*?)<\/Answer>/.exec(block)?.[1] ?? '');
    const text = clean(question?.[2] ?? '');
    if (question?.[1] && text && answer) {
      pairs.push({ id: question[1], source, focus, synonyms, question: text, answer });
    }
  }
  return pairs;
}

function clean(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}

function main(): void {
  const [dir, out] = process.argv.slice(2);
  if (!dir || !out) {
    throw new Error('usage: buildEmbeddingTrainingPairs.ts <medquad-dir> <out.jsonl>');
  }
  const lines: string[] = [];
  for (const collection of TRAINING_COLLECTIONS) {
    // Sorted so the pair order, and with it the seeded training, is the same on every machine.
    for (const file of readdirSync(join(dir, collection))
      .filter((f) => f.endsWith('.xml'))
      .sort()) {
      for (const pair of parseMedquadDocument(readFileSync(join(dir, collection, file), 'utf8'), collection)) {
        lines.push(JSON.stringify(pair));
      }
    }
  }
  writeFileSync(out, lines.join('\n') + '\n');
  process.stdout.write(`${lines.length} question-answer pairs from ${TRAINING_COLLECTIONS.join(', ')} -> ${out}\n`);
}

if (require.main === module) {
  main();
}
