import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { packageRoot } from '../../fhir/packageRoot';
import type { DenseEncoder } from './hybridRetriever';

/**
 * The sentence-embedding model folder the engine looks for: `TWIN_EMBEDDING_MODEL`, else `models/embedding` in the
 * package. The folder is a Hugging Face model in the layout transformers.js reads (config.json, tokenizer.json,
 * tokenizer_config.json, onnx/model.onnx); README "Installing a sentence-embedding model" says how a hospital adds one.
 */
export function defaultEmbeddingModelDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.TWIN_EMBEDDING_MODEL ?? join(packageRoot(), 'models', 'embedding'));
}

/**
 * Loads the model with @huggingface/transformers, from the local folder only (`allowRemoteModels = false`: these
 * machines have no hub access, and a clinical system must not fetch code or weights at run time).
 * Returns undefined when the folder has no model, so the caller runs lexically and says so; a folder that exists but
 * does not load is an error, not a silent fallback.
 */
export async function loadDenseEncoder(modelDir: string): Promise<DenseEncoder | undefined> {
  if (!existsSync(join(modelDir, 'config.json'))) {
    return undefined;
  }
  const transformers = await import('@huggingface/transformers');
  transformers.env.allowRemoteModels = false;
  transformers.env.allowLocalModels = true;
  transformers.env.localModelPath = dirname(modelDir) + '/';
  const extractor = await transformers.pipeline('feature-extraction', basename(modelDir), {
    dtype: 'fp32',
    local_files_only: true,
  });
  return {
    description: `sentence embeddings from ${basename(modelDir)} (transformers.js, local)`,
    async embed(texts) {
      if (texts.length === 0) {
        return [];
      }
      const output = await extractor([...texts], { pooling: 'mean', normalize: true });
      const [rows, dims] = output.dims as [number, number];
      const data = output.data as Float32Array;
      const out: Float32Array[] = [];
      for (let r = 0; r < rows; r++) {
        out.push(data.slice(r * dims, (r + 1) * dims));
      }
      return out;
    },
  };
}
