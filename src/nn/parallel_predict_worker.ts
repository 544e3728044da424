/**
 * The entry point of one batch-inference worker (see parallel_predict.ts):
 * it waits for its init message, then computes its rows of every batch until
 * the predictor stops it. Started by {@link ParallelPredictor.create}.
 *
 * @module
 */

import type { WorkerScope } from "./parallel.ts";
import {
  type PredictWorkerInit,
  runPredictWorker,
} from "./parallel_predict.ts";

const scope = globalThis as unknown as WorkerScope & {
  onmessage: ((event: MessageEvent<PredictWorkerInit>) => void) | null;
};

scope.onmessage = (event) => {
  scope.onmessage = null;
  try {
    runPredictWorker(event.data, scope);
  } catch (error) {
    // Reaches create() as a start-up failure (it then falls back to one thread).
    scope.postMessage({ error: String(error) });
  }
};
