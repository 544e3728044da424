/**
 * Batch inference on every core: a batch is cut into chunks of rows (about
 * 16, their size set by the batch size alone), and W threads (the caller's
 * plus W − 1 Web Workers) claim chunks one at a time from a shared counter,
 * each running its chunks forward through its own copy of the network into
 * one SharedArrayBuffer. Claiming instead of splitting in halves keeps both
 * cores busy when one runs slower for a while (on this 2-core VM, each core's
 * speed drops to ~55% for stretches of 100 ms or more, independently of the
 * other: see the README).
 *
 * A row's output depends only on that row and its chunk: every kernel sums a
 * row's terms in an order set by the row itself, except that a dense layer
 * picks its sparse or tiled kernel per forward call from how many inputs are
 * zero. Chunks are the same whatever the thread count, so the outputs are the
 * same for every W, on workers or not. They equal `network.forward(x, n)` on
 * the whole batch bit for bit when each chunk picks the kernels the whole
 * batch picks, as MNIST-like images through sigmoid layers do (tested);
 * otherwise that layer's sums are grouped differently and agree to rounding
 * (~1e-16 relative).
 *
 * One call:
 *
 *   1. thread 0 copies the batch into the shared input, resets the chunk
 *      counter and bumps GEN (after {@link ParallelPredictor.syncWeights},
 *      also VERSION)
 *   2. every thread claims chunks and runs them forward into the shared
 *      output (a worker first reloads the weights when VERSION moved)
 *   3. barrier: every chunk is done; thread 0 returns the outputs
 *
 * The barrier is the trainer's (parallel.ts): a counter in an Int32Array,
 * polled, then slept on with Atomics.wait.
 *
 * Where Web Workers or SharedArrayBuffer are missing (or fail to start), the
 * calling thread computes every chunk, with the same results.
 *
 * @module
 */

import { type Architecture, Network } from "./network.ts";
import {
  arrive,
  awaitAtLeast,
  canSleepHere,
  startWorkersOrNone,
  workersAvailable,
  type WorkerScope,
} from "./parallel.ts";

// Slots of the control Int32Array.
const GEN = 0; // bumped by thread 0 for each call (and to stop)
const ARRIVED = 1; // arrivals at the barrier, cumulative over calls
const ROWS = 2; // n, the rows of the current call
const STOP = 3; // 1 when the workers should end
const FAILED = 4; // 1 + index of a worker that threw, or 0
const VERSION = 5; // bumped when the shared weights change
const NEXT = 6; // the next unclaimed chunk of the current call
const CONTROL_SIZE = 7;

/** A batch is cut into about this many chunks, which the threads claim one at a time. */
const CHUNKS_PER_BATCH = 16;
/** Fewer rows than this are not worth a chunk of their own. */
const MIN_CHUNK_ROWS = 16;

/** Rows per chunk of an n-row batch: set by n alone, so the outputs do not depend on W. */
function chunkRows(n: number): number {
  return Math.max(MIN_CHUNK_ROWS, Math.ceil(n / CHUNKS_PER_BATCH));
}

/**
 * Claims chunks of the n rows of `input` (Atomics.add on control[NEXT]) and
 * runs each forward into `output`, until none is left.
 */
function runChunks(
  network: Network,
  input: Float64Array,
  output: Float64Array,
  control: Int32Array,
  n: number,
): void {
  const rows = chunkRows(n), chunks = Math.ceil(n / rows);
  for (;;) {
    const c = Atomics.add(control, NEXT, 1);
    if (c >= chunks) return;
    forwardRows(network, input, output, c * rows, Math.min(n, (c + 1) * rows));
  }
}

/** The most threads a predictor runs. */
export const MAX_PREDICT_WORKERS = 64;

/** The largest `maxRows` a predictor accepts (its buffers grow with it). */
export const MAX_PREDICT_ROWS = 100_000;

/** What a predictor's worker is sent to build its network. */
export interface PredictWorkerInit {
  index: number;
  workers: number;
  architecture: Architecture;
  /** Float64: every parameter of the network, in `network.params` order. */
  params: SharedArrayBuffer;
  /** Float64 [maxRows × inputSize]: the batch, copied by thread 0. */
  input: SharedArrayBuffer;
  /** Float64 [maxRows × outputSize]. */
  output: SharedArrayBuffer;
  control: SharedArrayBuffer;
}

/** Copies the flat parameter array into the network's own arrays. */
function loadParams(network: Network, flat: Float64Array): void {
  let offset = 0;
  for (const p of network.params) {
    p.set(flat.subarray(offset, offset + p.length));
    offset += p.length;
  }
}

/** Runs rows start..end−1 of `input` forward into the same rows of `output`. */
function forwardRows(
  network: Network,
  input: Float64Array,
  output: Float64Array,
  start: number,
  end: number,
): void {
  if (end <= start) return;
  const inSize = network.inputSize, outSize = network.outputSize;
  const a = network.forward(
    input.subarray(start * inSize, end * inSize),
    end - start,
    false,
  );
  output.set(a.subarray(0, (end - start) * outSize), start * outSize);
}

/**
 * A worker's whole life (called by parallel_predict_worker.ts with the init
 * message): build the network, report ready, then compute its rows of every
 * call until told to stop.
 */
export function runPredictWorker(
  init: PredictWorkerInit,
  scope: WorkerScope,
): void {
  const network = new Network(init.architecture);
  const params = new Float64Array(init.params);
  const input = new Float64Array(init.input);
  const output = new Float64Array(init.output);
  const control = new Int32Array(init.control);
  const W = init.workers;
  let version = -1;
  scope.postMessage({ ready: init.index });
  for (let gen = 1;; gen++) {
    awaitAtLeast(control, GEN, gen, true);
    if (Atomics.load(control, STOP)) break;
    const n = control[ROWS];
    try {
      const wanted = Atomics.load(control, VERSION);
      if (wanted !== version) {
        loadParams(network, params);
        version = wanted;
      }
      runChunks(network, input, output, control, n);
    } catch (error) {
      Atomics.store(control, FAILED, init.index + 1);
      scope.postMessage({ error: String(error), index: init.index });
    }
    arrive(control, ARRIVED, gen * W);
  }
  scope.close();
}

/** How to predict in parallel. */
export interface ParallelPredictorOptions {
  /** W, the threads computing each batch, the calling one included (default 2). */
  workers?: number;
  /** The largest batch {@link ParallelPredictor.predict} takes (default 1,000). */
  maxRows?: number;
  /** Where parallel_predict_worker.ts is served from. */
  workerUrl?: string | URL;
}

/**
 * Predicts batches with W threads; see the module comment. The workers see
 * the weights `network` had at {@link ParallelPredictor.create} or at the
 * last {@link ParallelPredictor.syncWeights}.
 *
 * @example
 * ```ts ignore
 * const predictor = await ParallelPredictor.create(network, { workers: 2 });
 * try {
 *   const outputs = predictor.predict(images, 1000); // [1000 × 10]
 * } finally {
 *   predictor.close();
 * }
 * ```
 */
export class ParallelPredictor {
  readonly network: Network;
  /** W: the threads asked for (all of them compute only when {@link ParallelPredictor.parallel}). */
  readonly workers: number;
  readonly maxRows: number;
  /** True when rows run on Web Workers, false when this thread computes them all. */
  readonly parallel: boolean;
  /** Why the workers did not start, when they were asked for and failed. */
  readonly workerError?: Error;
  #threads: Worker[];
  #params: Float64Array;
  #input: Float64Array;
  #output: Float64Array;
  #control: Int32Array;
  #generation = 0;
  #canSleep: boolean;
  #closed = false;

  private constructor(
    network: Network,
    workers: number,
    maxRows: number,
    threads: Worker[],
    buffers: PredictBuffers,
    workerError?: Error,
  ) {
    this.network = network;
    this.workers = workers;
    this.maxRows = maxRows;
    this.#threads = threads;
    this.parallel = threads.length > 0;
    this.workerError = workerError;
    this.#params = new Float64Array(buffers.params);
    this.#input = new Float64Array(buffers.input);
    this.#output = new Float64Array(buffers.output);
    this.#control = new Int32Array(buffers.control);
    this.#canSleep = this.parallel && canSleepHere();
  }

  /**
   * Starts the workers with a copy of `network`'s current weights. Falls
   * back to this thread alone when workers cannot start
   * ({@link ParallelPredictor.workerError} says why). Call
   * {@link ParallelPredictor.close} when done, or the workers keep the
   * process alive.
   */
  static async create(
    network: Network,
    options: ParallelPredictorOptions = {},
  ): Promise<ParallelPredictor> {
    const workers = options.workers ?? 2;
    const maxRows = options.maxRows ?? 1000;
    if (
      !(Number.isInteger(workers) && workers >= 1 &&
        workers <= MAX_PREDICT_WORKERS)
    ) {
      throw new RangeError(
        `Cannot predict in parallel as workers must be an integer in 1..${MAX_PREDICT_WORKERS}: got ${workers}`,
      );
    }
    if (
      !(Number.isInteger(maxRows) && maxRows >= 1 &&
        maxRows <= MAX_PREDICT_ROWS)
    ) {
      throw new RangeError(
        `Cannot predict in parallel as maxRows must be an integer in 1..${MAX_PREDICT_ROWS}: got ${maxRows}`,
      );
    }
    const useWorkers = workers > 1 && workersAvailable();
    const Buffer = useWorkers ? SharedArrayBuffer : ArrayBuffer;
    const buffers: PredictBuffers = {
      params: new Buffer(useWorkers ? network.parameterCount * 8 : 0),
      input: new Buffer(useWorkers ? maxRows * network.inputSize * 8 : 0),
      output: new Buffer(maxRows * network.outputSize * 8),
      control: new Buffer(CONTROL_SIZE * 4),
    };
    if (useWorkers) copyParams(network, new Float64Array(buffers.params));
    // Without workers, this thread computes every chunk, with the same results.
    const { threads, error: workerError } = useWorkers
      ? await startWorkersOrNone(
        options.workerUrl ??
          new URL("./parallel_predict_worker.ts", import.meta.url),
        workers - 1,
        (index): PredictWorkerInit => ({
          index,
          workers,
          architecture: network.architecture,
          params: buffers.params as SharedArrayBuffer,
          input: buffers.input as SharedArrayBuffer,
          output: buffers.output as SharedArrayBuffer,
          control: buffers.control as SharedArrayBuffer,
        }),
      )
      : { threads: [], error: undefined };
    return new ParallelPredictor(
      network,
      workers,
      maxRows,
      threads,
      buffers,
      workerError,
    );
  }

  /** Inputs per row (as {@link Network.inputSize}). */
  get inputSize(): number {
    return this.network.inputSize;
  }

  /** Outputs per row (as {@link Network.outputSize}). */
  get outputSize(): number {
    return this.network.outputSize;
  }

  /** Hands the network's current weights to the workers (after training steps). */
  syncWeights(): void {
    this.#checkOpen("sync weights");
    if (!this.parallel) return;
    copyParams(this.network, this.#params);
    Atomics.add(this.#control, VERSION, 1);
  }

  /**
   * The network's outputs for the n rows of `x` ([n × inputSize]) as a
   * view of this predictor's output buffer, valid until the next call (the
   * contract of {@link Network.forward}, so that {@link evaluate} can take a
   * predictor). `training` must be false: a predictor only infers.
   */
  forward(x: Float64Array, n: number, training = false): Float64Array {
    this.#checkOpen("predict");
    if (training) {
      throw new RangeError(
        "Cannot train through a ParallelPredictor: it only infers (training must be false)",
      );
    }
    const { inputSize, outputSize } = this.network;
    if (!(Number.isInteger(n) && n >= 1 && n <= this.maxRows)) {
      throw new RangeError(
        `Cannot predict ${n} rows: this predictor takes 1 to ${this.maxRows}`,
      );
    }
    if (x.length < n * inputSize) {
      throw new RangeError(
        `Cannot predict ${n} rows as x holds ${x.length} numbers, not ${
          n * inputSize
        }`,
      );
    }
    const W = this.workers;
    const control = this.#control;
    Atomics.store(control, NEXT, 0);
    if (!this.parallel) {
      runChunks(this.network, x, this.#output, control, n);
      return this.#output.subarray(0, n * outputSize);
    }
    // Any thread may claim any chunk: the workers read every row from here.
    this.#input.set(x.subarray(0, n * inputSize));
    control[ROWS] = n;
    const gen = ++this.#generation;
    Atomics.store(control, GEN, gen);
    Atomics.notify(control, GEN);
    let error: unknown;
    try {
      runChunks(this.network, x, this.#output, control, n);
    } catch (e) {
      error = e;
    }
    // Wait for the workers even after an error here: they write the output.
    arrive(control, ARRIVED, gen * W);
    awaitAtLeast(control, ARRIVED, gen * W, this.#canSleep);
    if (error !== undefined) throw error;
    const failed = Atomics.load(control, FAILED);
    if (failed) {
      this.close();
      throw new Error(
        `Cannot predict as worker ${failed - 1} failed (see its error event)`,
      );
    }
    return this.#output.subarray(0, n * outputSize);
  }

  /** As {@link ParallelPredictor.forward}, but returns a new array the caller keeps. */
  predict(x: Float64Array, n: number): Float64Array {
    return this.forward(x, n).slice();
  }

  /** Stops the workers; later calls throw. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.parallel) {
      Atomics.store(this.#control, STOP, 1);
      Atomics.store(this.#control, GEN, ++this.#generation);
      Atomics.notify(this.#control, GEN);
      for (const worker of this.#threads) worker.terminate();
    }
  }

  /** Same as {@link ParallelPredictor.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #checkOpen(what: string): void {
    if (this.#closed) {
      throw new RangeError(
        `Cannot ${what} after close(): the workers are gone`,
      );
    }
  }
}

/** The arrays a predictor's threads share (plain ArrayBuffers on the single-thread path). */
interface PredictBuffers {
  params: ArrayBufferLike;
  input: ArrayBufferLike;
  output: ArrayBufferLike;
  control: ArrayBufferLike;
}

/** Writes every parameter of `network`, in `network.params` order, into `flat`. */
function copyParams(network: Network, flat: Float64Array): void {
  let offset = 0;
  for (const p of network.params) {
    flat.set(p, offset);
    offset += p.length;
  }
}
