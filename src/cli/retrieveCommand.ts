import { normalizeErrorString } from '@medplum/core';
import type { Command } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import type { CliDependencies } from './commands';

const RETRIEVERS = ['hybrid', 'bm25'] as const;
type RetrieverChoice = (typeof RETRIEVERS)[number];

interface RetrieveFlags {
  readonly corpus: string;
  readonly queries: string;
  readonly out: string;
  readonly top: number;
  readonly retriever: RetrieverChoice;
  readonly model?: string;
}

interface EvalRetrieveFlags {
  readonly corpus: string;
  readonly queries: string;
  readonly qrels: string;
  readonly top: number;
  readonly relevantFrom: number;
  readonly model?: string;
}

/**
 * `twin retrieve --corpus C.jsonl --queries Q.jsonl --out RUN.tsv [--top 100] [--retriever hybrid|bm25]` writes a TREC
 * run; `twin eval retrieve --corpus --queries --qrels QRELS.tsv` runs plain BM25 and the hybrid in the same run and
 * prints nDCG@10, Recall@100 and MRR for each (src/evidence/retrieval/).
 */
export function registerRetrieveCommands(program: Command, deps: CliDependencies): void {
  program
    .command('retrieve')
    .description('rank a JSONL corpus for each JSONL query and write a TREC run (qid Q0 docid rank score run)')
    .requiredOption('--corpus <file>', 'JSON Lines: {"id","title","text"}')
    .requiredOption('--queries <file>', 'JSON Lines: {"id","text"}')
    .requiredOption('--out <file>', 'TREC run file to write')
    .option('--top <n>', 'documents per query', parsePositiveInt, 100)
    .option('--retriever <name>', `one of ${RETRIEVERS.join(', ')}`, parseRetriever, 'hybrid')
    .option('--model <dir>', 'sentence-embedding model folder (default: TWIN_EMBEDDING_MODEL or models/embedding)')
    .action(async (flags: RetrieveFlags, command: Command) => {
      try {
        const { documents, queries } = await readInputs(flags);
        const retriever = await buildRetriever(flags.retriever, documents, flags.model, deps);
        const { trecRunLine } = await import('../evidence/retrieval/retrievalFiles');
        const lines: string[] = [];
        for (const q of queries) {
          (await retriever.search(q.text, flags.top)).forEach((hit, i) => {
            lines.push(trecRunLine(q.id, hit.id, i + 1, hit.score, retriever.name));
          });
        }
        await writeFile(flags.out, lines.join('\n') + (lines.length ? '\n' : ''));
        deps.log(
          `${retriever.description}: ${queries.length} queries over ${documents.length} documents -> ${flags.out}`
        );
      } catch (err) {
        command.error(`twin retrieve: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });

  evalGroup(program)
    .command('retrieve')
    .description('nDCG@10, Recall@100 and MRR of plain BM25 and of the hybrid ranker, in the same run')
    .requiredOption('--corpus <file>', 'JSON Lines: {"id","title","text"}')
    .requiredOption('--queries <file>', 'JSON Lines: {"id","text"}')
    .requiredOption('--qrels <file>', 'TREC qrels: qid 0 docid grade')
    .option('--top <n>', 'documents ranked per query', parsePositiveInt, 100)
    .option('--relevant-from <grade>', 'lowest grade counted relevant', parsePositiveInt, 1)
    .option('--model <dir>', 'sentence-embedding model folder (default: TWIN_EMBEDDING_MODEL or models/embedding)')
    .action(async (flags: EvalRetrieveFlags, command: Command) => {
      try {
        const { parseQrels, evaluateRun } = await import('../evidence/retrieval/retrievalMetrics');
        const { documents, queries } = await readInputs(flags);
        const qrels = parseQrels(await readFile(flags.qrels, 'utf8'), flags.qrels);
        deps.log(`${queries.length} queries, ${documents.length} documents, relevant = grade >= ${flags.relevantFrom}`);
        for (const name of ['bm25', 'hybrid'] as const) {
          const retriever = await buildRetriever(name, documents, flags.model, deps);
          const run = new Map<string, string[]>();
          for (const q of queries) {
            run.set(
              q.id,
              (await retriever.search(q.text, flags.top)).map((h) => h.id)
            );
          }
          const f = evaluateRun(run, qrels, flags.relevantFrom);
          deps.log(
            `${name.padEnd(6)} nDCG@10 ${f.ndcgAt10.toFixed(4)}  Recall@100 ${f.recallAt100.toFixed(4)}  ` +
              `MRR ${f.mrr.toFixed(4)}  (${f.queries} judged queries; ${retriever.description})`
          );
        }
      } catch (err) {
        command.error(`twin eval retrieve: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });
}

/** The `eval` command group, shared with `twin eval detect` (whichever registers first creates it). */
function evalGroup(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'eval') ??
    program.command('eval').description('evaluate a stage against labelled data')
  );
}

async function readInputs(flags: { corpus: string; queries: string }): Promise<{
  documents: import('../evidence/retrieval/retrievalFiles').RetrievalDocument[];
  queries: import('../evidence/retrieval/retrievalFiles').RetrievalQuery[];
}> {
  const { parseCorpus, parseQueries } = await import('../evidence/retrieval/retrievalFiles');
  const documents = parseCorpus(await readFile(flags.corpus, 'utf8'), flags.corpus);
  const queries = parseQueries(await readFile(flags.queries, 'utf8'), flags.queries);
  return { documents, queries };
}

async function buildRetriever(
  name: RetrieverChoice,
  documents: import('../evidence/retrieval/retrievalFiles').RetrievalDocument[],
  modelDir: string | undefined,
  deps: CliDependencies
): Promise<import('../evidence/retrieval/hybridRetriever').Retriever> {
  const { createBm25Retriever, createHybridRetriever } = await import('../evidence/retrieval/hybridRetriever');
  if (name === 'bm25') {
    return createBm25Retriever(documents);
  }
  const { defaultEmbeddingModelDir, loadDenseEncoder } = await import('../evidence/retrieval/denseEncoder');
  const dir = modelDir ?? defaultEmbeddingModelDir(deps.env);
  const encoder = await loadDenseEncoder(dir);
  if (!encoder) {
    deps.log(`no sentence-embedding model at ${dir}: ranking lexically (see README, "Sentence-embedding model")`);
  }
  return createHybridRetriever(documents, encoder);
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`expected a positive integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

function parseRetriever(value: string): RetrieverChoice {
  if (!(RETRIEVERS as readonly string[]).includes(value)) {
    throw new Error(`unknown retriever ${JSON.stringify(value)} (use ${RETRIEVERS.join(', ')})`);
  }
  return value as RetrieverChoice;
}
