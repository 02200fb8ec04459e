import { OperationOutcomeError } from '@medplum/core';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { VerifiedLstmModel } from './modelCard';

/**
 * Runs the ONNX model in worker threads, so `session.run` never runs on the main thread and the server's event loop
 * stays responsive while a cohort is scored (issue 5, Performance: "scoring runs in worker threads so the server's
 * event loop is never blocked more than 20 ms").
 *
 * The worker is plain CommonJS given as a string (`eval: true`): a .ts worker file would not load in plain node and
 * tsc does not copy .js files to dist/, while this runs the same under ts-jest, tsx and the built CLI. It requires
 * onnxruntime-node by the absolute path resolved here, creates one InferenceSession from the model bytes the main
 * thread has already checked against the model card (no second read of the file, so nothing can swap it in between),
 * and does only session.run on transferred Float32Arrays.
 */
export interface WindowRunner {
  /** Runs `batch` windows ([batch, window, channels] in `input`, which is transferred) and resolves with the output. */
  run(input: Float32Array, batch: number): Promise<Float32Array>;
  close(): Promise<void>;
}

export interface OrtWorkerPoolOptions {
  /** Worker threads; default min(2, available cores). Each session uses one intra-op thread. */
  readonly workers?: number;
}

const WORKER_SOURCE = `
'use strict';
process.env.ORT_DISABLE_TELEMETRY = '1';
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const dims = [workerData.window, workerData.channels];
ort.InferenceSession.create(new Uint8Array(workerData.model), {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
}).then(
  (session) => {
    const inputName = session.inputNames[0];
    const outputName = session.outputNames[0];
    parentPort.on('message', (msg) => {
      const input = new ort.Tensor('float32', new Float32Array(msg.buffer), [msg.batch, dims[0], dims[1]]);
      session.run({ [inputName]: input }).then(
        (out) => {
          const data = out[outputName].data;
          const copy = new Float32Array(data.length);
          copy.set(data);
          parentPort.postMessage({ id: msg.id, buffer: copy.buffer }, [copy.buffer]);
        },
        (err) => parentPort.postMessage({ id: msg.id, error: String((err && err.message) || err) })
      );
    });
    parentPort.postMessage({ ready: true });
  },
  (err) => parentPort.postMessage({ ready: false, error: String((err && err.message) || err) })
);
`;

interface Pending {
  readonly resolve: (out: Float32Array) => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
}

interface WorkerReply {
  readonly id?: number;
  readonly ready?: boolean;
  readonly buffer?: ArrayBuffer;
  readonly error?: string;
}

function failure(text: string): OperationOutcomeError {
  return new OperationOutcomeError({
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'exception', details: { text } }],
  });
}

export class OrtWorkerPool implements WindowRunner {
  private nextId = 1;
  private closed = false;

  private constructor(
    private readonly slots: Slot[],
    private readonly windowValues: number
  ) {}

  /** Starts the workers and waits until every one has its session (or rejects with the first failure). */
  static async create(model: VerifiedLstmModel, options: OrtWorkerPoolOptions = {}): Promise<OrtWorkerPool> {
    const count = Math.max(1, options.workers ?? Math.min(2, availableParallelism()));
    const channels = 2 * model.card.features.length;
    const workerData = {
      ortPath: require.resolve('onnxruntime-node'),
      model: model.bytes,
      window: model.card.window,
      channels,
    };
    const slots: Slot[] = [];
    const starts: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData,
        env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
      });
      const slot: Slot = { worker, pending: new Map() };
      slots.push(slot);
      starts.push(
        new Promise<void>((resolve, reject) => {
          const onReady = (msg: WorkerReply): void => {
            if (msg.ready === undefined) {
              return;
            }
            worker.off('message', onReady);
            if (msg.ready) {
              resolve();
            } else {
              reject(failure(`LSTM worker could not load the model: ${msg.error ?? 'unknown error'}`));
            }
          };
          worker.on('message', onReady);
          worker.once('error', (err: Error) => reject(failure(`LSTM worker failed to start: ${err.message}`)));
        })
      );
      worker.on('message', (msg: WorkerReply) => settle(slot, msg));
      worker.on('error', (err: Error) => failAll(slot, failure(`LSTM worker crashed: ${err.message}`)));
      worker.on('exit', (code) => failAll(slot, failure(`LSTM worker exited (code ${code})`)));
    }
    const pool = new OrtWorkerPool(slots, model.card.window * channels);
    try {
      await Promise.all(starts);
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  run(input: Float32Array, batch: number): Promise<Float32Array> {
    if (this.closed) {
      return Promise.reject(failure('LSTM worker pool is closed'));
    }
    if (input.length !== batch * this.windowValues) {
      return Promise.reject(failure(`LSTM input has ${input.length} values, expected ${batch} x ${this.windowValues}`));
    }
    // Least-loaded worker; requests queue inside each worker, so several can be in flight and message latency
    // overlaps with inference.
    let slot = this.slots[0];
    for (const s of this.slots) {
      if (s.pending.size < slot.pending.size) {
        slot = s;
      }
    }
    const id = this.nextId++;
    const buffer =
      input.byteOffset === 0 && input.byteLength === input.buffer.byteLength ? input.buffer : input.slice().buffer;
    return new Promise<Float32Array>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, batch, buffer }, [buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

function settle(slot: Slot, msg: WorkerReply): void {
  if (msg.id === undefined) {
    return;
  }
  const p = slot.pending.get(msg.id);
  if (!p) {
    return;
  }
  slot.pending.delete(msg.id);
  if (msg.buffer) {
    p.resolve(new Float32Array(msg.buffer));
  } else {
    p.reject(failure(`LSTM inference failed: ${msg.error ?? 'unknown error'}`));
  }
}

function failAll(slot: Slot, err: Error): void {
  for (const p of slot.pending.values()) {
    p.reject(err);
  }
  slot.pending.clear();
}
