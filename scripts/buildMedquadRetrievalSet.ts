// Builds the retrieval benchmark (README "Benchmarks", `twin eval retrieve`) from ../shared/data/medquad (read at run time, nothing copied into the
// repository): `npx tsx scripts/buildMedquadRetrievalSet.ts <medquad-dir> <out-dir>` writes
//   <out-dir>/corpus.jsonl   {"id","title","text"}  the distinct MedQuAD answers among the 2,479 judged for the TREC 2017 LiveQA medical
//                            task (All-2479-Answers-retrieved-from-MedQuAD.csv); title = the MedQuAD question the answer
//                            belongs to (with its "Also called" synonyms), text = the answer
//   <out-dir>/queries.jsonl  {"id","text"}  the 104 LiveQA test questions as consumers wrote them (SUBJECT + MESSAGE);
//                            the NLM paraphrases are not used, so the figures are for real consumer wording
//   <out-dir>/qrels.tsv      TREC qrels `qid 0 docid grade`, grade = LiveQA judgement - 1 (1-Incorrect -> 0,
//                            2-Related -> 1, 3-Incomplete -> 2, 4-Excellent -> 3)
// The corpus is the judged pool only: every answer is judged for some question, and an unjudged answer counts as not
// relevant, so adding the unjudged rest of MedQuAD would only measure missing judgements.
// MedQuAD and the LiveQA-Med judgements: Ben Abacha & Demner-Fushman, "A Question-Entailment Approach to Question
// Answering", BMC Bioinformatics 2019; CC BY 4.0.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCsv } from '../src/ingest/importers/csvRows';

function main(): void {
  const [dir, out] = process.argv.slice(2);
  if (!dir || !out) {
    throw new Error('usage: buildMedquadRetrievalSet.ts <medquad-dir> <out-dir>');
  }
  mkdirSync(out, { recursive: true });
  const judged = join(dir, 'qrels_liveqa', 'QA-TestSet-LiveQA-Med-Qrels-2479-Answers');

  const answers = parseCsv(readFileSync(join(judged, 'All-2479-Answers-retrieved-from-MedQuAD.csv'), 'utf8'));
  const corpus: string[] = [];
  const seen = new Set<string>();
  for (const row of answers.rows) {
    const id = row.values.AnswerID?.trim();
    const body = row.values.Answer ?? '';
    // The file lists an answer once per question it was judged for; the corpus holds it once.
    if (!id || seen.has(id)) {
      continue;
    }
    seen.add(id);
    // "Question: ...\nURL: ...\nAnswer: ..." — split the parts; keep the text whole when the shape differs.
    const question = /^Question:\s*(.*)$/m.exec(body)?.[1]?.trim() ?? '';
    const answerAt = body.indexOf('Answer:');
    const text = (answerAt >= 0 ? body.slice(answerAt + 'Answer:'.length) : body).replace(/\s+/g, ' ').trim();
    corpus.push(JSON.stringify({ id, title: question, text }));
  }
  writeFileSync(join(out, 'corpus.jsonl'), corpus.join('\n') + '\n');

  const xml = readFileSync(
    join(dir, 'liveqa_med_2017_test', 'TREC-2017-LiveQA-Medical-Test-Questions-w-summaries.xml'),
    'utf8'
  );
  const queries: string[] = [];
  for (const m of xml.matchAll(/<NLM-QUESTION qid="TQ(\d+)">([\s\S]*?)<\/NLM-QUESTION>/g)) {
    const block = m[2] ?? '';
    const subject = /<SUBJECT>([\s\S]*?)<\/SUBJECT>/.exec(block)?.[1] ?? '';
    const message = /<MESSAGE>([\s\S]*?)<\/MESSAGE>/.exec(block)?.[1] ?? '';
    const text = decodeXml(`${subject}. ${message}`).replace(/\s+/g, ' ').trim();
    queries.push(JSON.stringify({ id: m[1], text }));
  }
  writeFileSync(join(out, 'queries.jsonl'), queries.join('\n') + '\n');

  const qrels: string[] = [];
  const raw = readFileSync(join(judged, 'All-qrels_LiveQAMed2017-TestQuestions_2479_Judged-Answers.txt'), 'utf8');
  for (const line of raw.split(/\r?\n/)) {
    const [qid, judgement, docid] = line.trim().split(/\s+/);
    const grade = Number(/^(\d)-/.exec(judgement ?? '')?.[1]);
    if (qid && docid && grade >= 1 && grade <= 4) {
      qrels.push(`${qid} 0 ${docid} ${grade - 1}`);
    }
  }
  writeFileSync(join(out, 'qrels.tsv'), qrels.join('\n') + '\n');
  process.stdout.write(`${corpus.length} documents, ${queries.length} queries, ${qrels.length} judgements -> ${out}\n`);
}

function decodeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

main();
