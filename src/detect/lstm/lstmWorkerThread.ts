import { parentPort, workerData } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import { groupErrors, type PackedGroup, type WindowErrorOptions } from './subjectErrors';

/**
 * The body of one LSTM scoring worker (started by ortWorkerPool.ts; never imported by the main thread). It holds one
 * InferenceSession, created from the model bytes the main thread has already checked against the model card (no
 * second read of the file, so nothing can swap it in between), and answers two requests:
 * - `windows`: session.run on a transferred batch of windows (the raw runner, used by the throughput benchmark);
 * - `errors`: a group of packed series -> features, windows, session.run and raw errors, all here (subjectErrors.ts),
 *   so the main thread only packs and calibrates (docs/ARCHITECTURE.md, performance goals: event loop never blocked more than 20 ms).
 */
export interface LstmWorkerData {
  readonly model: Uint8Array;
  readonly window: number;
  readonly channels: number;
}

export type LstmWorkerRequest =
  | { readonly kind: 'windows'; readonly id: number; readonly batch: number; readonly buffer: ArrayBuffer }
  | {
      readonly kind: 'errors';
      readonly id: number;
      readonly group: PackedGroup;
      readonly options: WindowErrorOptions;
    };

export interface LstmWorkerReply {
  readonly id?: number;
  readonly ready?: boolean;
  readonly buffer?: ArrayBuffer;
  readonly errors?: Float64Array<ArrayBuffer>;
  readonly reasonStart?: Int32Array<ArrayBuffer>;
  readonly reasonCodes?: Uint8Array<ArrayBuffer>;
  readonly error?: string;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function runLstmWorker(): Promise<void> {
  const port = parentPort;
  if (!port) {
    throw new Error('runLstmWorker runs in a worker thread only');
  }
  const data = workerData as LstmWorkerData;
  let session: InferenceSession;
  // Loaded here, not at the top: only the worker needs the native runtime.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  try {
    session = await ort.InferenceSession.create(data.model, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (err) {
    port.postMessage({ ready: false, error: message(err) } satisfies LstmWorkerReply);
    return;
  }
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  const run = async (input: Float32Array, n: number): Promise<Float32Array> => {
    const tensor = new ort.Tensor('float32', input, [n, data.window, data.channels]);
    const out = await session.run({ [inputName]: tensor });
    return out[outputName].data as Float32Array;
  };
  const answer = async (msg: LstmWorkerRequest): Promise<void> => {
    if (msg.kind === 'windows') {
      const out = await run(new Float32Array(msg.buffer), msg.batch);
      const copy = new Float32Array(out.length);
      copy.set(out);
      port.postMessage({ id: msg.id, buffer: copy.buffer } satisfies LstmWorkerReply, [copy.buffer]);
      return;
    }
    const result = await groupErrors(msg.group, data.window, msg.options, run);
    port.postMessage({ id: msg.id, ...result } satisfies LstmWorkerReply, [
      result.errors.buffer,
      result.reasonStart.buffer,
      result.reasonCodes.buffer,
    ]);
  };
  // Every request starts at once (as many in flight as the main thread sends): runs of different requests may
  // overlap, and each request has its own buffers.
  port.on('message', (msg: LstmWorkerRequest) => {
    answer(msg).catch((err: unknown) => {
      port.postMessage({ id: msg.id, error: message(err) } satisfies LstmWorkerReply);
    });
  });
  port.postMessage({ ready: true } satisfies LstmWorkerReply);
}
