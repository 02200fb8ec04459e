import { loadProtocolLibrary, type ProtocolLibrary } from '../protocols/protocolLibrary';
import { ProtocolMatcher } from './match/protocolMatcher';
import { defaultEmbeddingModelDir, loadDenseEncoder } from './retrieval/denseEncoder';

export interface EvidenceEngine {
  readonly library: ProtocolLibrary;
  readonly matcher: ProtocolMatcher;
  /** The dense model's description when one is installed. */
  readonly denseModel?: string;
}

/**
 * Loads what evidence matching needs, once per process: the protocol library, the sentence-embedding model when one
 * is installed (TWIN_EMBEDDING_MODEL or models/embedding), and the matcher over both. Says in the log which ranking
 * runs, so "lexical only" is never a silent downgrade.
 */
export async function openEvidenceEngine(world: {
  readonly env: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
  readonly protocolDir?: string;
}): Promise<EvidenceEngine> {
  const library = loadProtocolLibrary(world.protocolDir);
  const modelDir = defaultEmbeddingModelDir(world.env);
  const encoder = await loadDenseEncoder(modelDir);
  const matcher = await ProtocolMatcher.create(library, encoder);
  world.log(
    `Evidence matching: ${library.planDefinitions.length} protocols; ${
      encoder ? encoder.description : `no sentence-embedding model at ${modelDir}, lexical and concept matching only`
    }`
  );
  return { library, matcher, ...(encoder ? { denseModel: encoder.description } : {}) };
}
