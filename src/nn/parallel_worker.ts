/**
 * The entry point of one parallel-training worker (see parallel.ts): it waits
 * for its init message, then computes its shard of every batch until the
 * trainer stops it. Started by {@link ParallelTrainer.create} as
 * `new Worker(new URL("./parallel_worker.ts", import.meta.url), { type: "module" })`;
 * a page bundles this file as its own entry and passes its URL as
 * `workerUrl`.
 *
 * @module
 */

import { runWorker, type WorkerInit, type WorkerScope } from "./parallel.ts";

const scope = globalThis as unknown as WorkerScope & {
  onmessage: ((event: MessageEvent<WorkerInit>) => void) | null;
};

scope.onmessage = (event) => {
  scope.onmessage = null;
  runWorker(event.data, scope);
};
