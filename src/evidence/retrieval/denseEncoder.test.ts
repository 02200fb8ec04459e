import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runInThisContext } from 'node:vm';
import { loadDenseEncoder } from './denseEncoder';
import type { DenseEncoder } from './hybridRetriever';

// The project's own tiny sentence-embedding model (scripts/trainEmbeddingModel.py; MODEL_CARD.md in the folder): it
// exists so the dense path runs end to end on machines that cannot download a real model.
const MODEL_DIR = resolve(__dirname, '..', '..', '..', 'fixtures', 'tiny-embedding-model');
const { hidden_size: hiddenSize } = JSON.parse(readFileSync(join(MODEL_DIR, 'config.json'), 'utf8')) as {
  hidden_size: number;
};

interface ReferenceEmbeddings {
  readonly texts: string[];
  readonly vectors: number[][];
}

function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    s += a[i] * b[i];
  }
  return s;
}

function norm(v: Float32Array): number {
  return Math.sqrt(cosine(v, v));
}

describe('tiny sentence-embedding model (transformers.js, local folder)', () => {
  let encoder: DenseEncoder | undefined;
  const realFetch = globalThis.fetch;
  const fetchCalls: string[] = [];
  const scratch: string[] = [];

  // Jest runs each test file in its own vm context, whose typed-array constructors differ from those of the Node realm
  // in which onnxruntime-node's native code creates output tensors; onnxruntime-common then refuses them
  // ("A float32 tensor's data must be type of function Float32Array()", the known jest "globals differ from Node
  // globals" problem, jestjs/jest#2549). Outside jest (CLI, server) there is one realm and nothing to do. So this file
  // lends the Node realm's constructors to its context while the model loads and runs, and restores them afterwards.
  const TYPED_ARRAYS = [
    'Float32Array',
    'Float64Array',
    'Int8Array',
    'Uint8Array',
    'Int16Array',
    'Uint16Array',
    'Int32Array',
    'Uint32Array',
    'BigInt64Array',
    'BigUint64Array',
  ] as const;
  const contextTypedArrays = TYPED_ARRAYS.map((name) => [name, globalThis[name]] as const);

  beforeAll(async () => {
    for (const name of TYPED_ARRAYS) {
      Object.assign(globalThis, { [name]: runInThisContext(name) as unknown });
    }
    // Any attempt to reach the network (the Hugging Face hub or elsewhere) is recorded and refused.
    globalThis.fetch = (input: string | URL | Request): Promise<Response> => {
      fetchCalls.push(input instanceof Request ? input.url : String(input));
      return Promise.reject(new Error('network disabled in this test'));
    };
    encoder = await loadDenseEncoder(MODEL_DIR);
  });

  afterAll(() => {
    globalThis.fetch = realFetch;
    for (const [name, ctor] of contextTypedArrays) {
      Object.assign(globalThis, { [name]: ctor });
    }
    for (const dir of scratch) {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  function model(): DenseEncoder {
    if (!encoder) {
      throw new Error(`no model loaded from ${MODEL_DIR}`);
    }
    return encoder;
  }

  function scratchDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'twin-dense-'));
    scratch.push(dir);
    return dir;
  }

  test('loads from the local folder without touching the network', async () => {
    expect(encoder).toBeDefined();
    expect(encoder?.description).toContain('tiny-embedding-model');
    await model().embed(['knee pain after running']);
    expect(fetchCalls).toEqual([]);
  });

  test('vectors are unit length and the same on every call', async () => {
    const texts = ['Swelling of the knee after ACL surgery', 'How much sleep does an athlete need?', ''];
    const first = await model().embed(texts);
    const second = await model().embed([...texts].reverse());
    expect(first).toHaveLength(3);
    for (const v of first) {
      expect(v.length).toBe(hiddenSize);
      expect(norm(v)).toBeCloseTo(1, 5);
    }
    // Same text, same vector, whatever the batch it came in (padding must not leak into the mean).
    for (let i = 0; i < texts.length; i++) {
      const again = second[texts.length - 1 - i];
      expect(cosine(first[i], again)).toBeCloseTo(1, 5);
    }
    expect(await model().embed([])).toEqual([]);
  });

  test('transformers.js reproduces the vectors PyTorch computed at training time (same tokens, same graph)', async () => {
    const reference = JSON.parse(
      readFileSync(join(MODEL_DIR, 'reference_embeddings.json'), 'utf8')
    ) as ReferenceEmbeddings;
    const vectors = await model().embed(reference.texts);
    reference.vectors.forEach((expected, i) => {
      const got = Array.from(vectors[i]);
      expect(got).toHaveLength(expected.length);
      got.forEach((x, j) => expect(x).toBeCloseTo(expected[j], 4));
    });
  });

  test('a question is closer to its own answer than to unrelated answers', async () => {
    // Texts written for this test, not taken from the training data.
    const cases = [
      {
        question: 'What are the symptoms of asthma?',
        own: 'Asthma causes wheezing, coughing, chest tightness and shortness of breath, often at night or after exercise.',
        other: 'A cataract is a clouding of the lens in the eye that makes vision blurry; surgery replaces the lens.',
      },
      {
        question: 'How is high blood pressure treated?',
        own: 'Hypertension is treated with lifestyle changes such as less salt and more exercise, and with medicines that lower blood pressure.',
        other: 'Head lice are tiny insects that live on the scalp; they spread by head-to-head contact among children.',
      },
      {
        question: 'What causes kidney stones?',
        own: 'Kidney stones form when urine contains more crystal-forming substances, such as calcium and oxalate, than the fluid can dilute.',
        other:
          'Shingles is a painful rash caused by the varicella zoster virus, the same virus that causes chickenpox.',
      },
    ];
    for (const c of cases) {
      const [q, own, other] = await model().embed([c.question, c.own, c.other]);
      expect(cosine(q, own)).toBeGreaterThan(cosine(q, other));
    }
  });

  test('a folder without config.json means "no model" (undefined), so the engine ranks lexically', async () => {
    const dir = scratchDir();
    copyFileSync(join(MODEL_DIR, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    expect(await loadDenseEncoder(dir)).toBeUndefined();
    expect(await loadDenseEncoder(join(dir, 'does-not-exist'))).toBeUndefined();
  });

  test('a folder with a broken ONNX file is an error, not a silent fall-back to lexical ranking', async () => {
    const dir = join(scratchDir(), 'broken-model');
    mkdirSync(join(dir, 'onnx'), { recursive: true });
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) {
      copyFileSync(join(MODEL_DIR, file), join(dir, file));
    }
    writeFileSync(join(dir, 'onnx', 'model.onnx'), 'this is not an ONNX protobuf');
    await expect(loadDenseEncoder(dir)).rejects.toThrow();
  });
});
