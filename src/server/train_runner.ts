/**
 * One training run for the server, off the request path: in a Web Worker
 * (train_worker.ts) where the platform has them, else on the main thread,
 * yielding to the event loop every few milliseconds so requests are still
 * answered (slower to train, but it works on a runtime without Workers).
 * Either way the run reports batches, epochs and checkpoints through
 * callbacks, resolves to the model, and can then measure another model on
 * its own held-out split.
 *
 * Why both: the current Deno Deploy documents "the standard Deno runtime,
 * with full support for all features of the Deno CLI" (so Workers should
 * exist), while Deploy Classic had no `Worker` at all. `mode: "auto"` tries a
 * Worker and falls back to the main thread when there is no `Worker`
 * constructor or the worker dies before it says anything.
 *
 * @module
 */

import type { Dataset } from "../nn/dataset.ts";
import { imageSize } from "../nn/dataset.ts";
import { evaluate } from "../nn/metrics.ts";
import {
  decodeModel,
  type EpochRecord,
  type Model,
  networkFromModel,
} from "../nn/model_file.ts";
import type { TrainConfig } from "../training/config.ts";
import type {
  BatchProgress,
  RunCheckpoint,
  RunThreads,
} from "../training/run.ts";

/** What a run needs besides its callbacks. */
export interface TrainRequest {
  type: "train";
  config: TrainConfig;
  /** The new model's id and creation time. */
  id: string;
  createdAt: string;
  /** Least time between two batch reports, ms. */
  progressEveryMs: number;
  /** Least time between two checkpoints, ms; 0 = none. */
  checkpointEveryMs: number;
  /** Continue from this checkpoint (taken from a run of the same config). */
  resume?: RunCheckpoint;
  /**
   * An Int32Array's buffer the caller sets to 1 to stop the run between two
   * batches; the run then ends its own worker threads (src/nn/parallel.ts)
   * instead of relying on this worker's termination to end them.
   */
  stop?: SharedArrayBuffer;
}

/** A message to the worker. */
export type TrainWorkerRequest =
  | TrainRequest
  | { type: "evaluate"; bytes: Uint8Array };

/** A message from the worker. */
export type TrainWorkerAnswer =
  | { type: "batch"; progress: BatchProgress }
  | { type: "epoch"; record: EpochRecord }
  | { type: "threads"; threads: RunThreads }
  | { type: "checkpoint"; checkpoint: RunCheckpoint }
  | { type: "trained"; model: Model }
  | { type: "evaluated"; accuracy: number | null }
  | { type: "error"; message: string };

/** Where the reports of {@link trainRun} go. */
export interface TrainRunHooks {
  onBatch(progress: BatchProgress): void;
  onEpoch(record: EpochRecord): void;
  onCheckpoint(checkpoint: RunCheckpoint): void;
  /** How the batches are computed, once before the first. */
  onThreads?(threads: RunThreads): void;
  signal?: AbortSignal;
  /** Asked before every batch: true stops the run with an AbortError. */
  stopRequested?(): boolean;
  /** Yield to the event loop after this much training, ms (main-thread runs). */
  yieldEveryMs?: number;
}

/**
 * Loads the data and trains: the body of a run, shared by the worker and the
 * main-thread mode. Returns the model and the run's test split.
 */
export async function trainRun(
  request: TrainRequest,
  hooks: TrainRunHooks,
): Promise<{ model: Model; test: Dataset }> {
  const { loadPackageData } = await import("../training/data.ts");
  const { runTraining } = await import("../training/run.ts");
  const data = await loadPackageData(request.config);
  let lastReport = -Infinity;
  let lastYield = performance.now();
  const { yieldEveryMs } = hooks;
  const { model } = await runTraining(request.config, {
    data,
    now: () => performance.now(),
    createdAt: request.createdAt,
    id: request.id,
    signal: hooks.signal,
    resume: request.resume,
    checkpointEveryMs: request.checkpointEveryMs,
    onCheckpoint: request.checkpointEveryMs > 0
      ? (checkpoint) => hooks.onCheckpoint(checkpoint)
      : undefined,
    onBatch: async (progress) => {
      if (hooks.stopRequested?.()) {
        throw new DOMException("The training run was stopped", "AbortError");
      }
      const t = performance.now();
      const epochEnd = progress.batch === progress.batches - 1;
      if (epochEnd || t - lastReport >= request.progressEveryMs) {
        lastReport = t;
        hooks.onBatch(progress);
      }
      if (yieldEveryMs !== undefined && t - lastYield >= yieldEveryMs) {
        // A macrotask, so timers, I/O and requests get their turn.
        await new Promise((resolve) => setTimeout(resolve, 0));
        lastYield = performance.now();
      }
    },
    onEpoch: (record) => hooks.onEpoch(record),
    onThreads: hooks.onThreads,
  });
  return { model, test: data.test };
}

/** The accuracy of a model file on `test`, or null when it takes other inputs. */
export function accuracyOn(bytes: Uint8Array, test: Dataset): number | null {
  const network = networkFromModel(decodeModel(bytes));
  return network.inputSize === imageSize(test)
    ? evaluate(network, test).accuracy
    : null;
}

/** The buffers of a checkpoint that can be moved to another thread instead of copied. */
export function checkpointBuffers(checkpoint: RunCheckpoint): ArrayBuffer[] {
  const { state } = checkpoint;
  return [...state.params, ...state.optimizer, state.order, state.random].map(
    (a) => a.buffer as ArrayBuffer,
  );
}

/** One run in progress. */
export interface TrainingRun {
  /** The trained model; rejects when the run fails or is aborted. */
  readonly model: Promise<Model>;
  /** Where it trains (after a fallback: "inline"). */
  readonly mode: () => "worker" | "inline";
  /**
   * The accuracy of another model (its file bytes) on this run's held-out
   * split, or null when it takes other inputs. Only after `model` resolved.
   */
  evaluate(bytes: Uint8Array): Promise<number | null>;
  /**
   * Ends the run (a run still going stops) and frees its data; resolves
   * once its threads are gone.
   */
  close(): Promise<void>;
}

/** Options of {@link startTrainingRun}. */
export interface RunStartOptions {
  /** The new model's id and creation time. */
  id: string;
  createdAt: string;
  /** Aborting stops the run; pending promises reject with the reason. */
  signal: AbortSignal;
  onBatch(progress: BatchProgress): void;
  onEpoch(record: EpochRecord): void;
  /** Receives the run's full state at most every `checkpointEveryMs`. */
  onCheckpoint?(checkpoint: RunCheckpoint): void;
  /** Least time between two checkpoints, ms (0 or no `onCheckpoint` = none). */
  checkpointEveryMs?: number;
  /** Continue from this checkpoint. */
  resume?: RunCheckpoint;
  /** Least time between two batch reports, ms. */
  progressEveryMs?: number;
  /** "worker", "inline" (main thread), or "auto": a worker where possible. */
  mode?: "auto" | "worker" | "inline";
  /** Called when "auto" falls back to the main thread, with the reason. */
  onFallback?(reason: string): void;
  /** How the batches are computed (`config.workers` threads, or in turn), once before the first. */
  onThreads?(threads: RunThreads): void;
}

/** How long a stopped worker run may take to end its own threads before it is terminated, ms. */
export const STOP_GRACE_MS = 10_000;

/** How long a main-thread run trains before it lets other work in, ms. */
export const INLINE_SLICE_MS = 20;

/**
 * Starts training `config` in a worker or on the main thread.
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
  options: RunStartOptions,
): TrainingRun {
  const mode = options.mode ?? "auto";
  const request: TrainRequest = {
    type: "train",
    config,
    id: options.id,
    createdAt: options.createdAt,
    progressEveryMs: options.progressEveryMs ?? 100,
    checkpointEveryMs: options.onCheckpoint
      ? options.checkpointEveryMs ?? 0
      : 0,
    resume: options.resume,
  };
  if (mode === "inline") return inlineRun(request, options);
  if (typeof Worker !== "function") {
    if (mode === "worker") {
      throw new Error("Cannot train in a worker as this runtime has no Worker");
    }
    options.onFallback?.("this runtime has no Worker");
    return inlineRun(request, options);
  }
  let current: TrainingRun;
  try {
    current = workerRun(request, options, (reason) => {
      if (mode !== "auto") return false;
      options.onFallback?.(reason);
      current = inlineRun(request, options);
      return current;
    });
  } catch (e) {
    if (mode === "worker") throw e;
    options.onFallback?.(`the worker could not start: ${(e as Error).message}`);
    return inlineRun(request, options);
  }
  // Delegate, so a fallback after start is seen through the same object.
  return {
    get model() {
      return current.model;
    },
    mode: () => current.mode(),
    evaluate: (bytes) => current.evaluate(bytes),
    close: () => current.close(),
  };
}

/** Trains on the main thread, yielding every {@link INLINE_SLICE_MS}. */
function inlineRun(
  request: TrainRequest,
  options: RunStartOptions,
): TrainingRun {
  const { signal } = options;
  let test: Dataset | null = null;
  let closed = false;
  const model = trainRun(request, {
    onBatch: options.onBatch,
    onEpoch: options.onEpoch,
    onCheckpoint: (c) => options.onCheckpoint?.(c),
    onThreads: options.onThreads,
    signal,
    yieldEveryMs: INLINE_SLICE_MS,
  }).then((result) => {
    if (!closed) test = result.test;
    return result.model;
  }, (e) => {
    throw signal.aborted ? signal.reason : e;
  });
  return {
    model,
    mode: () => "inline",
    evaluate(bytes) {
      if (closed || !test) {
        return Promise.reject(
          new Error("Cannot evaluate as the run has not finished or has ended"),
        );
      }
      return Promise.resolve(accuracyOn(bytes, test));
    },
    close() {
      closed = true;
      test = null;
      return Promise.resolve();
    },
  };
}

/**
 * Trains in a worker. `fallback` is called when the worker fails before its
 * first message; it returns the run that replaces this one, or false.
 */
function workerRun(
  request: TrainRequest,
  options: RunStartOptions,
  fallback: (reason: string) => TrainingRun | false,
): TrainingRun {
  const { signal, onBatch, onEpoch } = options;
  const worker = new Worker(new URL("./train_worker.ts", import.meta.url), {
    type: "module",
  });
  let closed = false;
  let heard = false;
  // True until the run has ended (trained or failed).
  let training = true;
  const stop = typeof SharedArrayBuffer === "function"
    ? new Int32Array(new SharedArrayBuffer(4))
    : null;
  // The one request waiting for an answer: first the model, then evaluations.
  let pending: {
    resolve: (answer: TrainWorkerAnswer) => void;
    reject: (reason: unknown) => void;
  } | null = null;
  const next = () =>
    new Promise<TrainWorkerAnswer>((resolve, reject) => {
      pending = { resolve, reject };
    });
  const settle = (answer: TrainWorkerAnswer | { error: unknown }) => {
    const waiting = pending;
    pending = null;
    if ("error" in answer) waiting?.reject(answer.error);
    else waiting?.resolve(answer);
  };
  let ended: Promise<void> | null = null;
  const close = (): Promise<void> => {
    if (ended) return ended;
    closed = true;
    signal.removeEventListener("abort", abort);
    if (!training || !stop) {
      worker.terminate();
      return ended = Promise.resolve();
    }
    // Let the run stop its own workers between two batches, then end it (at
    // the latest after the grace time): terminating a worker did not always
    // end the workers it had started (Deno 2.9.6: a busy one kept running).
    Atomics.store(stop, 0, 1);
    return ended = new Promise<void>((resolve) => {
      const end = () => {
        clearTimeout(timer);
        worker.terminate();
        resolve();
      };
      const timer = setTimeout(end, STOP_GRACE_MS);
      worker.onmessage = ({ data }: MessageEvent<TrainWorkerAnswer>) => {
        if (data.type === "error" || data.type === "trained") end();
      };
      worker.onerror = (event) => {
        event.preventDefault();
        end();
      };
    });
  };
  const abort = () => {
    close();
    settle({ error: signal.reason });
  };
  signal.addEventListener("abort", abort);

  worker.onmessage = ({ data: answer }: MessageEvent<TrainWorkerAnswer>) => {
    heard = true;
    if (answer.type === "batch") return onBatch(answer.progress);
    if (answer.type === "epoch") return onEpoch(answer.record);
    if (answer.type === "threads") return options.onThreads?.(answer.threads);
    if (answer.type === "checkpoint") {
      return options.onCheckpoint?.(answer.checkpoint);
    }
    if (answer.type === "error") {
      training = false;
      return settle({ error: new Error(answer.message) });
    }
    if (answer.type === "trained") training = false;
    settle(answer);
  };
  worker.onerror = (event) => {
    event.preventDefault();
    close();
    const reason = `The training worker failed: ${event.message}`;
    if (!heard && !signal.aborted) {
      const replacement = fallback(reason);
      if (replacement) {
        replacement.model.then(
          (model) => settle({ type: "trained", model }),
          (error) => settle({ error }),
        );
        return;
      }
    }
    settle({ error: new Error(reason) });
  };

  const answered = next();
  if (signal.aborted) abort();
  else {
    worker.postMessage(
      {
        ...request,
        stop: stop?.buffer as SharedArrayBuffer | undefined,
      } satisfies TrainWorkerRequest,
    );
  }

  return {
    model: answered.then((a) => (a as { model: Model }).model),
    mode: () => "worker",
    async evaluate(bytes) {
      if (closed) throw new Error("Cannot evaluate as the run has ended");
      const answer = next();
      worker.postMessage(
        { type: "evaluate", bytes } satisfies TrainWorkerRequest,
      );
      return ((await answer) as { accuracy: number | null }).accuracy;
    },
    close,
  };
}
