import { OperationOutcomeError } from '@medplum/core';
import { Bm25Index } from './bm25Index';
import { createBm25Retriever, createHybridRetriever, type DenseEncoder } from './hybridRetriever';
import { parseCorpus, parseQueries, parseTrecRun, trecRunLine } from './retrievalFiles';
import { evaluateRun, parseQrels } from './retrievalMetrics';
import { indexTerms } from './textAnalysis';

const DOCS = [
  {
    id: 'acl',
    title: 'ACL reconstruction rehabilitation',
    text: 'Knee exercises after anterior cruciate ligament surgery.',
  },
  { id: 'ankle', title: 'Ankle sprain', text: 'Sprained ankles heal with early movement and balance training.' },
  { id: 'heart', title: 'Cardiac rehabilitation', text: 'Exercise training after a heart attack or bypass surgery.' },
  { id: 'back', title: 'Low back pain', text: 'Stay active; exercise therapy helps persistent back pain.' },
];

describe('retrieval', () => {
  test('index terms are lemmas without stop words', () => {
    expect(indexTerms('The knees were swelling after running')).toEqual(['knee', 'swell', 'run']);
  });

  test('BM25 ranks the document sharing the rare terms first, deterministically', async () => {
    const bm25 = createBm25Retriever(DOCS);
    const hits = await bm25.search('I sprained my ankle', 10);
    expect(hits[0]?.id).toBe('ankle');
    expect(await bm25.search('I sprained my ankle', 10)).toEqual(hits);
    expect(await bm25.search('zzzz qqqq', 10)).toEqual([]);
  });

  test('BM25 idf is positive even for a term in every document', () => {
    const index = new Bm25Index(
      [
        { id: 'a', fields: { text: ['x', 'y'] } },
        { id: 'b', fields: { text: ['x'] } },
      ],
      { k1: 1.2, fields: [{ name: 'text', weight: 1, b: 0.75 }] }
    );
    expect(index.idf('x')).toBeGreaterThan(0);
    expect(index.idf('y')).toBeGreaterThan(index.idf('x'));
    expect(index.search(['y'], 5).map((d) => d.id)).toEqual(['a']);
  });

  test('the hybrid ranks a title phrase above the same words apart', async () => {
    const docs = [
      { id: 'apart', title: 'Replacement of the hip, and knee pain', text: 'Knee pain after a hip replacement.' },
      { id: 'phrase', title: 'Knee replacement', text: 'Recovery after the operation on the hip and knee.' },
    ];
    expect((await (await createHybridRetriever(docs)).search('knee replacement recovery', 2))[0]?.id).toBe('phrase');
  });

  test('the hybrid without a model is lexical and says so', async () => {
    const hybrid = await createHybridRetriever(DOCS);
    expect(hybrid.description).toMatch(/no model installed/);
    expect((await hybrid.search('rehab after heart attack', 3))[0]?.id).toBe('heart');
  });

  test('the hybrid fuses a dense model: a synonym the words miss is found through the embedding', async () => {
    // A stand-in encoder that knows one synonym pair, to test the fusion arithmetic (the real model path is tested
    // in evidence.denseModel.test.ts with the project's own tiny model).
    const encoder: DenseEncoder = {
      description: 'test encoder',
      embed: async (texts) =>
        texts.map((t) => (/myocardial|heart/i.test(t) ? Float32Array.from([1, 0]) : Float32Array.from([0, 1]))),
    };
    const hybrid = await createHybridRetriever(DOCS, encoder);
    expect(hybrid.description).toMatch(/test encoder/);
    expect((await hybrid.search('myocardial infarction', 2))[0]?.id).toBe('heart');
    const lexical = await createHybridRetriever(DOCS);
    expect(await lexical.search('myocardial infarction', 2)).toEqual([]);
  });

  test('corpus and query files: every bad line reported with its number, duplicates refused', () => {
    expect(parseCorpus('{"id":"a","title":"t","text":"x"}\n\n{"id":2,"text":"y"}\n')).toEqual([
      { id: 'a', title: 't', text: 'x' },
      { id: '2', title: '', text: 'y' },
    ]);
    try {
      parseCorpus('{"id":"a","text":"x"}\nnot json\n{"id":"a","text":"y"}\n{"id":"b"}\n', 'c.jsonl');
      throw new Error('expected an error');
    } catch (err) {
      expect(err).toBeInstanceOf(OperationOutcomeError);
      const texts = (err as OperationOutcomeError).outcome.issue?.map((i) => i.details?.text);
      expect(texts).toEqual([
        'c.jsonl line 2: not valid JSON',
        'c.jsonl line 3: duplicate id "a"',
        'c.jsonl line 4: "text" must be a non-empty string',
      ]);
    }
    expect(() => parseQueries('[1,2]\n')).toThrow(OperationOutcomeError);
  });

  test('TREC run lines round-trip', () => {
    const text = [trecRunLine('q1', 'd2', 2, 0.5, 'bm25'), trecRunLine('q1', 'd1', 1, 0.9, 'bm25')].join('\n');
    expect(text.split('\n')[1]).toBe('q1 Q0 d1 1 0.900000 bm25');
    expect(parseTrecRun(text)).toEqual(new Map([['q1', ['d1', 'd2']]]));
    expect(() => parseTrecRun('q1 d1 1')).toThrow(/line 1/);
  });

  test('nDCG@10, Recall@100 and MRR by hand', () => {
    const qrels = parseQrels('1 0 a 3\n1 0 b 1\n1 0 c 0\n2 0 x 0\n3 0 z 2\n');
    // q1: ranking c, b, a -> DCG = 1/log2(3) + 3/log2(4) = 0.6309 + 1.5; ideal = 3 + 1/log2(3) = 3.6309.
    // q2 has no relevant document and is not counted; q3 has no run: counts 0.
    const f = evaluateRun(new Map([['1', ['c', 'b', 'a']]]), qrels);
    expect(f.queries).toBe(2);
    expect(f.ndcgAt10).toBeCloseTo((0.6309298 + 1.5) / 3.6309298 / 2, 5);
    expect(f.recallAt100).toBeCloseTo(0.5, 10);
    expect(f.mrr).toBeCloseTo(0.25, 10);
    // Relevant from grade 2: only a counts for q1.
    expect(evaluateRun(new Map([['1', ['c', 'b', 'a']]]), qrels, 2).mrr).toBeCloseTo(1 / 3 / 2, 10);
    expect(() => parseQrels('1 0 a high')).toThrow(/line 1/);
  });
});
