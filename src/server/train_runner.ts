/**
 * The server side of the training worker (train_worker.ts): starts one run
 * on its own thread, turns its messages into callbacks and promises, and
 * terminates it when asked to stop.
 *
 * @module
 */

import type { EpochRecord, Model } from "../nn/model_file.ts";
import type { TrainConfig } from "../training/config.ts";
import type { BatchProgress } from "../training/run.ts";
import type { TrainWorkerAnswer, TrainWorkerRequest } from "./train_worker.ts";

/** One run in progress. */
export interface TrainingRun {
  /** The trained model; rejects when the run fails or is aborted. */
  readonly model: Promise<Model>;
  /**
   * The accuracy of another model (its file bytes) on this run's held-out
   * split, or null when it takes other inputs. Only after `model` resolved.
   */
  evaluate(bytes: Uint8Array): Promise<number | null>;
  /** Ends the worker (a run still going stops). */
  close(): void;
}

/** Options of {@link startTrainingRun}. */
export interface RunStartOptions {
  /** The new model's id and creation time. */
  id: string;
  createdAt: string;
  /** Aborting terminates the worker; pending promises reject with the reason. */
  signal: AbortSignal;
  onBatch(progress: BatchProgress): void;
  onEpoch(record: EpochRecord): void;
  /** Least time between two batch messages from the worker, ms. */
  progressEveryMs?: number;
}

/**
 * Starts training `config` in a new worker.
 *
 * @example
 * ```ts ignore
 * const run = startTrainingRun(config, { id, createdAt, signal, onBatch, onEpoch });
 * const model = await run.model;
 * const previous = await run.evaluate(activeModelBytes);
 * run.close();
 * ```
 */
export function startTrainingRun(
  config: TrainConfig,
  { id, createdAt, signal, onBatch, onEpoch, progressEveryMs = 100 }:
    RunStartOptions,
): TrainingRun {
  const worker = new Worker(new URL("./train_worker.ts", import.meta.url), {
    type: "module",
  });
  let closed = false;
  // The one request waiting for an answer: first the model, then evaluations.
  let pending: {
    resolve: (answer: TrainWorkerAnswer) => void;
    reject: (reason: unknown) => void;
  } | null = null;
  const next = () =>
    new Promise<TrainWorkerAnswer>((resolve, reject) => {
      pending = { resolve, reject };
    });
  const fail = (reason: unknown) => {
    const waiting = pending;
    pending = null;
    waiting?.reject(reason);
  };
  const close = () => {
    if (closed) return;
    closed = true;
    signal.removeEventListener("abort", abort);
    worker.terminate();
  };
  const abort = () => {
    close();
    fail(signal.reason);
  };
  signal.addEventListener("abort", abort);

  worker.onmessage = ({ data: answer }: MessageEvent<TrainWorkerAnswer>) => {
    if (answer.type === "batch") return onBatch(answer.progress);
    if (answer.type === "epoch") return onEpoch(answer.record);
    if (answer.type === "error") return fail(new Error(answer.message));
    const waiting = pending;
    pending = null;
    waiting?.resolve(answer);
  };
  worker.onerror = (event) => {
    event.preventDefault();
    close();
    fail(new Error(`The training worker failed: ${event.message}`));
  };

  const answered = next();
  const send = (request: TrainWorkerRequest) => worker.postMessage(request);
  if (signal.aborted) abort();
  else send({ type: "train", config, id, createdAt, progressEveryMs });

  return {
    model: answered.then((a) => (a as { model: Model }).model),
    async evaluate(bytes) {
      if (closed) throw new Error("Cannot evaluate as the run has ended");
      const answer = next();
      send({ type: "evaluate", bytes });
      return ((await answer) as { accuracy: number | null }).accuracy;
    },
    close,
  };
}
