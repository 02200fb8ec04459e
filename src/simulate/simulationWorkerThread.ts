import { parentPort } from 'node:worker_threads';
import { runSimulation, type SimulationOutcome, type SimulationRequest } from './runSimulation';

/** A request to the simulation worker and its reply. */
export interface SimulationWorkerRequest {
  readonly id: number;
  readonly request: SimulationRequest;
}

export type SimulationWorkerReply =
  | { readonly id: number; readonly outcome: SimulationOutcome; readonly error?: undefined }
  | { readonly id: number; readonly outcome?: undefined; readonly error: string };

/**
 * The body of the simulation worker (started by simulationWorker.ts, never imported by the main thread): answers
 * each request with runSimulation's outcome. The fit and the Monte Carlo run here, so the server's event loop is
 * never blocked by them.
 */
export function runSimulationWorker(): void {
  const port = parentPort;
  if (!port) {
    throw new Error('runSimulationWorker runs in a worker thread only');
  }
  port.on('message', (msg: SimulationWorkerRequest) => {
    try {
      port.postMessage({ id: msg.id, outcome: runSimulation(msg.request) } satisfies SimulationWorkerReply);
    } catch (err) {
      port.postMessage({
        id: msg.id,
        error: err instanceof Error ? err.message : String(err),
      } satisfies SimulationWorkerReply);
    }
  });
}
