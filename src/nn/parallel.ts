/**
 * Data-parallel training: each mini-batch is split into W shards, one per
 * thread (the caller's plus W − 1 Web Workers), which backprop at the same
 * time on one SharedArrayBuffer of parameters; then the gradients are summed
 * and applied, each thread updating its own slice of the parameters.
 *
 * The batch gradient is the mean over all n examples. Shard t holds n_t of
 * them and its backprop gives the mean over its own n_t (the 1/n_t enters in
 * cost.ts), so
 *
 *   dC/dθ = Σ_t (n_t / n) · dC_t/dθ
 *
 * summed in the fixed order t = 0, 1, …, W − 1: the same seed and worker
 * count always give bit-identical weights. With W = 1 a step is exactly
 * {@link Trainer.trainBatch}'s. Where workers are unavailable (no Worker or
 * SharedArrayBuffer, e.g. a page without cross-origin isolation) the W shards
 * run one after the other in the calling thread, with identical results.
 *
 * One step, on thread t (thread 0 is the caller's: it draws shuffles and
 * augmentation from the run's generator, and its shard runs on the caller's
 * network):
 *
 *   1. copy shard t's rows of the batch, backprop them into gradient slot t
 *                                                          (all threads at once)
 *   2. barrier A: every slot is complete
 *   3. for θ_i in slice t: g_i = Σ_k (n_k/n) · slot_k[i], optimizer step,
 *      zero the slots                                      (all threads at once)
 *   4. barrier B: every parameter is updated
 *
 * Two things keep a step short (each measured, see the README):
 *
 * - Each thread copies its own rows of the training set (step 1; a shared
 *   copy of the set on Web Workers), so a row lands in the cache of the
 *   core that reads it. With augmentation, thread 0 augments every row
 *   before step 1, since the random draws must follow the batch order.
 * - For gd/sgd without weight decay, step 3 skips the rows of a dense first
 *   layer's w whose input was 0 in every shard's rows (MNIST's border: ~40%
 *   of the pixels in a batch of 32): their gradient is exactly 0, so
 *   θ − η · 0 = θ and the skip changes no bit.
 *
 * A barrier is a counter in an Int32Array: each thread adds 1, spins briefly,
 * then sleeps in `Atomics.wait` (a postMessage round trip costs more than a
 * whole step at batch 32).
 *
 * Layers with a `useStorage` method (dense) read and write the shared arrays
 * directly; other layers (conv2d) keep their own arrays and are copied in and
 * out each step. Dropout in shards t ≥ 1 draws from generators reseeded each
 * step from the run's generator, so a {@link TrainerState} checkpoint still
 * resumes exactly.
 *
 * @module
 */

import type { Cost } from "./cost.ts";
import { type Dataset, imageViews } from "./dataset.ts";
import type { Layer } from "./layer.ts";
import { DenseLayer } from "./dense.ts";
import { type Architecture, Network } from "./network.ts";
import { Optimizer, type OptimizerOptions } from "./optimizer.ts";
import { createRandom, type Random, shuffleInPlace } from "./random.ts";
import { learningRateAt, type ScheduleProgress } from "./schedule.ts";
import {
  type Augment,
  type BatchResult,
  Trainer,
  type TrainerOptions,
  type TrainerState,
} from "./trainer.ts";

/** How to train in parallel: {@link TrainerOptions} plus the thread count. */
export interface ParallelTrainerOptions extends TrainerOptions {
  /** W, the threads computing each batch, the calling one included (default 1). */
  workers?: number;
  /**
   * "auto" (default): Web Workers when the runtime has them and
   * SharedArrayBuffer, else (or when they fail to start, see
   * {@link ParallelTrainer.workerError}) the single-thread path; "single-thread": always
   * compute the W shards in this thread (same results, for tests and pages
   * without cross-origin isolation).
   */
  mode?: "auto" | "single-thread";
  /** Where parallel_worker.ts is served from (after bundling for a page). */
  workerUrl?: string | URL;
}

/** A layer that can move its parameters into caller-provided arrays (see DenseLayer). */
interface StorageLayer extends Layer {
  useStorage(params: Float64Array[], grads: Float64Array[]): void;
}

function hasStorage(layer: Layer): layer is StorageLayer {
  return typeof (layer as Partial<StorageLayer>).useStorage === "function";
}

/** True when this runtime can run the shards on Web Workers. */
export function workersAvailable(): boolean {
  return typeof Worker === "function" &&
    typeof SharedArrayBuffer === "function" &&
    (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !==
      false;
}

/** The number of logical cores, or 1 when the runtime does not say. */
export function coreCount(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } })
    .navigator?.hardwareConcurrency;
  return Number.isInteger(n) && n! > 0 ? n! : 1;
}

// Slots of the control Int32Array.
const GEN = 0; // generation of the current command, bumped by thread 0
const CMD = 1; // the command
const ARRIVED_A = 2; // arrivals at barrier A, cumulative over commands
const ARRIVED_B = 3; // arrivals at barrier B, cumulative over commands
const FAILED = 4; // 1 + index of a worker that threw, or 0
const ROWS = 5; // n, the rows of the current batch
const STEPS = 6; // optimizer steps, for CMD_SET_STEPS
const START = 7; // where the current batch starts in the epoch's order (shards gathering their own rows)
const SEEDS = 8; // 4 words per shard: its dropout generator's state this step

const CMD_STEP = 1;
const CMD_STOP = 2;
const CMD_SET_STEPS = 3;

/** Polls of a barrier counter before the thread sleeps in Atomics.wait (4,000 ≈ 40 µs here). */
const SPINS = 4000;

/** Offsets (in float64s) of everything in the shared values array. */
export interface SharedLayout {
  workers: number;
  /** P, all parameters of the network. */
  paramCount: number;
  /** Optimizer state slots (momentum 1, adam 2). */
  stateSlots: number;
  /** Capacity of each shard's batch region, in examples. */
  shardRows: number;
  inputSize: number;
  params: number;
  /** Gradient slot t starts at grads + t · P. */
  grads: number;
  /** Optimizer state slot s starts at state + s · P. */
  state: number;
  /** Shard t's examples start at x + t · shardRows · inputSize. */
  x: number;
  learningRate: number;
  /** Shard t's mean cost is at loss + t. */
  loss: number;
  /** Total float64s. */
  size: number;
  /** Int32s of the control array. */
  controlSize: number;
}

function sharedLayout(
  workers: number,
  paramCount: number,
  stateSlots: number,
  batchSize: number,
  inputSize: number,
): SharedLayout {
  const shardRows = Math.ceil(batchSize / workers);
  const params = 0;
  const grads = params + paramCount;
  const state = grads + workers * paramCount;
  const x = state + stateSlots * paramCount;
  const learningRate = x + workers * shardRows * inputSize;
  const loss = learningRate + 1;
  return {
    workers,
    paramCount,
    stateSlots,
    shardRows,
    inputSize,
    params,
    grads,
    state,
    x,
    learningRate,
    loss,
    size: loss + workers,
    controlSize: SEEDS + 4 * workers,
  };
}

/** The buffers every thread shares (plain ArrayBuffers on the single-thread path). */
export interface SharedBuffers {
  values: ArrayBufferLike;
  control: ArrayBufferLike;
  labels: ArrayBufferLike;
  /** Uint8 [W × nIn]: which inputs of a dense first layer each shard saw non-zero (see Shard.update). */
  active: ArrayBufferLike;
  /**
   * The training set and the epoch's order, when each shard copies its own
   * rows of a batch (no augmentation): a row written by the thread that
   * reads it stays in that core's cache, where rows copied by thread 0 for
   * another thread would cross between cores every step.
   */
  dataset?: ShardDataset;
}

/**
 * The training set as the shards read it: views of a shared copy for Web
 * Workers, the dataset's own arrays on the single-thread path.
 */
export interface ShardDataset extends Dataset {
  /** The epoch's order of the examples (shuffled by thread 0). */
  order: Uint32Array;
}

/** Inputs of the network's first layer when it is dense (its rows can be skipped), else 0. */
function activityWidth(network: Network): number {
  const first = network.layers[0];
  return first instanceof DenseLayer ? first.nIn : 0;
}

/**
 * `data` and an order for the shards: copied into shared memory when they
 * run on Web Workers (`shared`), else the dataset's own arrays.
 */
function shardDataset(data: Dataset, shared: boolean): ShardDataset {
  const { count, shape } = data;
  if (!shared) {
    return { ...data, shape: [...shape], order: new Uint32Array(count) };
  }
  const images = new Float32Array(
    new SharedArrayBuffer(data.images.length * 4),
  );
  images.set(data.images);
  const labels = new Uint8Array(new SharedArrayBuffer(count));
  labels.set(data.labels.subarray(0, count));
  const order = new Uint32Array(new SharedArrayBuffer(count * 4));
  return { images, labels, count, shape: [...shape], order };
}

/** The first row of shard t when a batch of n rows is split W ways; shard t ends where t + 1 starts. */
function shardStart(n: number, workers: number, t: number): number {
  return Math.floor((t * n) / workers);
}

/** What {@link Shard} needs besides its network. */
interface ShardOptions {
  cost: Cost;
  optimizer: OptimizerOptions;
  /** Generator of this shard's dropout, reseeded each step (shards t ≥ 1). */
  random?: Random;
}

/**
 * One thread's part of a step: its shard's network, bound to the shared
 * parameters and its own gradient slot, and the optimizer of its slice.
 */
export class Shard {
  readonly index: number;
  readonly network: Network;
  readonly layout: SharedLayout;
  readonly optimizer: Optimizer;
  #cost: Cost;
  #values: Float64Array;
  #control: Int32Array;
  #x: Float64Array;
  #labels: Uint8Array;
  /** The training set and the epoch's order when this shard copies its own rows (no augmentation). */
  #data?: { images: Float32Array[]; labels: Uint8Array; order: Uint32Array };
  /** Gradient slots 0..W−1, each [P]. */
  #slots: Float64Array[];
  /** Tensors of layers without useStorage: [layer's array, shared view] pairs. */
  #copiedParams: [Float64Array, Float64Array][] = [];
  #copiedGrads: [Float64Array, Float64Array][] = [];
  #lo: number;
  #hi: number;
  /** The optimizer's pieces of θ: views of the shared parameters, their offsets in θ, λ of each. */
  #pieces: Float64Array[];
  #pieceStart: number[];
  #pieceDecay: number[];
  /** n_t / n of the current batch, per shard. */
  #shares: Float64Array;
  /** True for gd/sgd, whose update is fused with the gradient sum. */
  #plainSgd: boolean;
  /** Per shard: 1 for each input of the dense first layer its rows had non-zero. */
  #active: Uint8Array[];
  /** Outputs of the dense first layer (the length of a row of its w), or 0. */
  #activeCols: number;
  /** Parameters in the dense first layer's w (θ[0, this) are its rows). */
  #activeParams: number;
  #random?: Random;
  #seed = new Uint32Array(4);

  /**
   * Binds `network` to the shared arrays. Shard 0 writes its network's
   * parameters into them (`initialize`); the others read them.
   */
  constructor(
    network: Network,
    index: number,
    buffers: SharedBuffers,
    layout: SharedLayout,
    options: ShardOptions,
    initialize: boolean,
  ) {
    this.index = index;
    this.network = network;
    this.layout = layout;
    this.#cost = options.cost;
    this.#random = options.random;
    const values = new Float64Array(buffers.values);
    this.#values = values;
    this.#control = new Int32Array(buffers.control);
    const { paramCount: P, workers: W, shardRows, inputSize } = layout;
    this.#x = values.subarray(
      layout.x + index * shardRows * inputSize,
      layout.x + (index + 1) * shardRows * inputSize,
    );
    this.#labels = new Uint8Array(buffers.labels).subarray(
      index * shardRows,
      (index + 1) * shardRows,
    );
    if (buffers.dataset) {
      const data = buffers.dataset;
      this.#data = {
        images: imageViews(data),
        labels: data.labels,
        order: data.order,
      };
    }
    this.#slots = Array.from(
      { length: W },
      (_, t) =>
        values.subarray(layout.grads + t * P, layout.grads + (t + 1) * P),
    );
    const own = this.#slots[index];
    const shared = values.subarray(layout.params, layout.params + P);
    let offset = 0;
    for (const layer of network.layers) {
      const params: Float64Array[] = [];
      const grads: Float64Array[] = [];
      for (const p of layer.params) {
        params.push(shared.subarray(offset, offset + p.length));
        grads.push(own.subarray(offset, offset + p.length));
        offset += p.length;
      }
      params.forEach((view, k) => {
        if (initialize) view.set(layer.params[k]);
        else layer.params[k].set(view);
      });
      if (hasStorage(layer)) {
        layer.useStorage(params, grads);
      } else {
        params.forEach((view, k) =>
          this.#copiedParams.push([layer.params[k], view])
        );
        grads.forEach((view, k) =>
          this.#copiedGrads.push([layer.grads[k], view])
        );
      }
    }
    if (offset !== P) {
      throw new TypeError(
        `Cannot share the parameters as the network holds ${offset} and the layout ${P}`,
      );
    }
    // This thread's slice of θ, cut into pieces at tensor boundaries.
    const per = Math.ceil(P / W / 8) * 8;
    this.#lo = Math.min(P, index * per);
    this.#hi = Math.min(P, this.#lo + per);
    const pieceParams: Float64Array[] = [];
    const pieceGrads: Float64Array[] = [];
    const pieceDecays: boolean[] = [];
    const pieceStart: number[] = [];
    const decays = network.layers.flatMap((l) => l.decays);
    offset = 0;
    network.params.forEach((p, k) => {
      const a = Math.max(offset, this.#lo),
        b = Math.min(offset + p.length, this.#hi);
      if (a < b) {
        pieceParams.push(shared.subarray(a, b));
        pieceGrads.push(this.#slots[0].subarray(a, b));
        pieceDecays.push(decays[k]);
        pieceStart.push(a);
      }
      offset += p.length;
    });
    this.optimizer = new Optimizer(
      pieceParams,
      pieceGrads,
      pieceDecays,
      options.optimizer,
    );
    this.#pieces = pieceParams;
    this.#pieceStart = pieceStart;
    this.#pieceDecay = pieceDecays.map((d) =>
      d ? this.optimizer.options.weightDecay : 0
    );
    this.#shares = new Float64Array(W);
    const width = activityWidth(network);
    this.#active = Array.from(
      { length: W },
      (_, t) => new Uint8Array(buffers.active, t * width, width),
    );
    const first = network.layers[0];
    this.#activeCols = first instanceof DenseLayer ? first.nOut : 0;
    this.#activeParams = first instanceof DenseLayer ? first.w.length : 0;
    this.#plainSgd = this.optimizer.kind === "sgd" ||
      this.optimizer.kind === "gd";
    // Keep the optimizer's state in shared memory too, so thread 0 can
    // checkpoint it: slot s of piece q is at state + s·P + start of q.
    const pieces = pieceParams.length;
    for (let s = 0; s < layout.stateSlots; s++) {
      for (let q = 0; q < pieces; q++) {
        const at = layout.state + s * P + pieceStart[q];
        this.optimizer.state[s * pieces + q] = values.subarray(
          at,
          at + pieceParams[q].length,
        );
      }
    }
  }

  /** Step 1: backprop this shard's rows of the current batch into its gradient slot. */
  compute(): void {
    const { workers: W, loss } = this.layout;
    const n = this.#control[ROWS];
    const start = shardStart(n, W, this.index);
    const end = shardStart(n, W, this.index + 1);
    if (end === start) {
      this.#values[loss + this.index] = 0;
      this.#active[this.index].fill(0);
      return;
    }
    if (this.#data) {
      // This shard's rows of the batch, copied by the thread that reads them.
      const { images, labels, order } = this.#data;
      const first = this.#control[START] + start;
      const size = this.layout.inputSize;
      for (let r = 0; r < end - start; r++) {
        const i = order[first + r];
        this.#x.set(images[i], r * size);
        this.#labels[r] = labels[i];
      }
    }
    // Index loops: for-of with destructuring would allocate every step.
    const copiedParams = this.#copiedParams, copiedGrads = this.#copiedGrads;
    for (let k = 0; k < copiedParams.length; k++) {
      copiedParams[k][0].set(copiedParams[k][1]);
    }
    for (let k = 0; k < copiedGrads.length; k++) copiedGrads[k][0].fill(0);
    if (this.#random) {
      for (let j = 0; j < 4; j++) {
        this.#seed[j] = this.#control[SEEDS + 4 * this.index + j];
      }
      this.#random.setState(this.#seed);
    }
    this.#values[loss + this.index] = this.network.backprop(
      this.#x,
      this.#labels,
      end - start,
      this.#cost,
    );
    for (let k = 0; k < copiedGrads.length; k++) {
      copiedGrads[k][1].set(copiedGrads[k][0]);
    }
    if (this.#activeCols > 0) {
      (this.network.layers[0] as DenseLayer).inputActivity(
        this.#active[this.index],
      );
    }
  }

  /**
   * Step 3: for this thread's slice, sum the gradient slots (weighted by
   * shard size, in shard order), apply the optimizer, and zero the slots for
   * the next batch. For gd/sgd the three are one pass over memory (the same
   * arithmetic as Optimizer.step: θ ← θ − η (g + λθ)); other optimizers get
   * the sum in slot 0 and run their own step.
   */
  update(): void {
    const W = this.layout.workers;
    const n = this.#control[ROWS];
    const shares = this.#shares;
    for (let t = 0; t < W; t++) {
      shares[t] = (shardStart(n, W, t + 1) - shardStart(n, W, t)) / n;
    }
    const slots = this.#slots;
    const g0 = slots[0];
    if (this.#plainSgd) {
      const eta = this.#values[this.layout.learningRate];
      const cols = this.#activeCols, active = this.#active;
      for (let q = 0; q < this.#pieces.length; q++) {
        const p = this.#pieces[q], lambda = this.#pieceDecay[q];
        const o = this.#pieceStart[q], len = p.length;
        if (lambda !== 0 || o >= this.#activeParams) {
          this.#sgd(p, o, 0, len, eta, lambda);
          continue;
        }
        // Rows of the first layer's w whose input was 0 in every shard got
        // a zero gradient: θ − η·0 = θ, and their slots are still 0. Skipping
        // them (~40% of MNIST's pixels in a batch of 32) changes no bit.
        for (let i = 0; i < len;) {
          const row = Math.floor((o + i) / cols);
          const next = Math.min(len, (row + 1) * cols - o);
          let used = 0;
          for (let t = 0; t < W; t++) used |= active[t][row];
          if (used !== 0) this.#sgd(p, o, i, next, eta, 0);
          i = next;
        }
      }
      this.optimizer.steps++;
      return;
    }
    const lo = this.#lo, hi = this.#hi;
    for (let t = 1; t < W; t++) {
      const c = shares[t], g = slots[t];
      // (c0·g0 + c1·g1) + c2·g2 …: the first pass scales slot 0 too.
      if (t === 1) {
        const c0 = shares[0];
        for (let i = lo; i < hi; i++) g0[i] = c0 * g0[i] + c * g[i];
      } else {
        for (let i = lo; i < hi; i++) g0[i] += c * g[i];
      }
      g.fill(0, lo, hi);
    }
    this.optimizer.step(this.#values[this.layout.learningRate]);
    g0.fill(0, lo, hi);
  }

  /**
   * θ ← θ − η (g + λθ) for entries from..to−1 of piece `p` (at offset `o` in
   * θ), g being the share-weighted sum of the gradient slots in shard order;
   * the slots are zeroed on the way (the same arithmetic as Optimizer.step).
   */
  #sgd(
    p: Float64Array,
    o: number,
    from: number,
    to: number,
    eta: number,
    lambda: number,
  ): void {
    const W = this.layout.workers;
    const slots = this.#slots, shares = this.#shares, g0 = slots[0];
    if (W === 1) {
      for (let i = from; i < to; i++) {
        p[i] -= eta * (g0[o + i] + lambda * p[i]);
        g0[o + i] = 0;
      }
      return;
    }
    const c0 = shares[0], c1 = shares[1], g1 = slots[1];
    for (let i = from; i < to; i++) {
      let g = c0 * g0[o + i] + c1 * g1[o + i];
      g0[o + i] = 0;
      g1[o + i] = 0;
      for (let t = 2; t < W; t++) {
        g += shares[t] * slots[t][o + i];
        slots[t][o + i] = 0;
      }
      p[i] -= eta * (g + lambda * p[i]);
    }
  }

  /** Copies the shared parameters into layers that keep their own arrays. */
  refresh(): void {
    const copiedParams = this.#copiedParams;
    for (let k = 0; k < copiedParams.length; k++) {
      copiedParams[k][0].set(copiedParams[k][1]);
    }
  }
}

/** What a worker is sent to build its shard. */
export interface WorkerInit {
  buffers: SharedBuffers;
  layout: SharedLayout;
  index: number;
  architecture: Architecture;
  cost: Cost;
  optimizer: OptimizerOptions;
  hasDropout: boolean;
}

/** The parts of a worker's global scope that {@link runWorker} uses. */
export interface WorkerScope {
  postMessage(message: unknown): void;
  close(): void;
}

/**
 * A worker's whole life (called by parallel_worker.ts with the init message):
 * build the shard, report ready, then serve commands until told to stop.
 */
export function runWorker(init: WorkerInit, scope: WorkerScope): void {
  const { layout, index } = init;
  const random = init.hasDropout ? createRandom(0) : undefined;
  const network = new Network(init.architecture, random);
  const shard = new Shard(network, index, init.buffers, layout, {
    cost: init.cost,
    optimizer: init.optimizer,
    random,
  }, false);
  const control = new Int32Array(init.buffers.control);
  scope.postMessage({ ready: index });
  const W = layout.workers;
  for (let gen = 1;; gen++) {
    awaitAtLeast(control, GEN, gen, true);
    const command = Atomics.load(control, CMD);
    if (command === CMD_STOP) break;
    let error: unknown;
    try {
      if (command === CMD_STEP) shard.compute();
      else if (command === CMD_SET_STEPS) {
        shard.optimizer.steps = control[STEPS];
      }
    } catch (e) {
      error = e;
    }
    arrive(control, ARRIVED_A, gen * W);
    awaitAtLeast(control, ARRIVED_A, gen * W, true);
    try {
      if (command === CMD_STEP && error === undefined) shard.update();
    } catch (e) {
      error = e;
    }
    if (error !== undefined) {
      Atomics.store(control, FAILED, index + 1);
      scope.postMessage({ error: String(error), index });
    }
    arrive(control, ARRIVED_B, gen * W);
  }
  scope.close();
}

/** Adds this thread's arrival to a barrier counter; the last one wakes the sleepers. */
export function arrive(
  control: Int32Array,
  slot: number,
  target: number,
): void {
  if (Atomics.add(control, slot, 1) + 1 >= target) {
    Atomics.notify(control, slot);
  }
}

/** Returns once control[slot] ≥ target: spins, then sleeps if allowed. */
export function awaitAtLeast(
  control: Int32Array,
  slot: number,
  target: number,
  canSleep: boolean,
): void {
  for (let spin = 0; spin < SPINS; spin++) {
    if (Atomics.load(control, slot) >= target) return;
  }
  for (;;) {
    const seen = Atomics.load(control, slot);
    if (seen >= target) return;
    if (canSleep) Atomics.wait(control, slot, seen, 1000);
  }
}

/** True when this thread may block in Atomics.wait (a page's main thread may not). */
export function canSleepHere(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** How long a worker may take to load its modules and report ready. */
const WORKER_START_MS = 60_000;

/**
 * Starts workers 1..count from `url` and waits until each has answered
 * `{ ready: k }` to its message `initFor(k)`. When one fails (or
 * {@link WORKER_START_MS} pass), terminates them all and returns no threads
 * and the error: the caller then computes everything on its own thread.
 * Shared by the trainer and parallel_predict.ts.
 */
export async function startWorkersOrNone(
  url: string | URL,
  count: number,
  initFor: (index: number) => unknown,
): Promise<{ threads: Worker[]; error?: Error }> {
  const threads: Worker[] = [];
  try {
    await startWorkers(threads, url, count, initFor);
    return { threads };
  } catch (error) {
    for (const worker of threads) worker.terminate();
    return {
      threads: [],
      error: error instanceof Error ? error : new Error(String(error)),
    };
  }
}

/**
 * Starts workers 1..count from `url` (pushed onto `threads` as they are
 * created), sends worker k the message `initFor(k)`, and resolves when each
 * has answered `{ ready: k }`; rejects on the first error or after
 * {@link WORKER_START_MS}.
 */
async function startWorkers(
  threads: Worker[],
  url: string | URL,
  count: number,
  initFor: (index: number) => unknown,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`Workers did not start within ${WORKER_START_MS} ms`)),
      WORKER_START_MS,
    );
  });
  const ready = Array.from({ length: count }, (_, k) => {
    const index = k + 1;
    const worker = new Worker(url, { type: "module" });
    threads.push(worker);
    return new Promise<void>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent) => {
        if (e.data?.ready === index) resolve();
        else if (e.data?.error) reject(new Error(e.data.error));
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        reject(new Error(`Cannot start worker ${index}: ${e.message}`));
      };
      worker.postMessage(initFor(index));
    });
  });
  try {
    await Promise.race([Promise.all(ready), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Trains like {@link Trainer} (same options, state and per-batch results)
 * with each batch split over W threads; see the module comment.
 *
 * @example
 * ```ts
 * import { createNetwork } from "./network.ts";
 * import { createRandom } from "./random.ts";
 * import { ParallelTrainer } from "./parallel.ts";
 * const random = createRandom(1);
 * const net = createNetwork({
 *   input: [4],
 *   layers: [{ type: "dense", units: 2, activation: "softmax" }],
 * }, { random });
 * const data = {
 *   images: new Float32Array(32).fill(0.5),
 *   labels: new Uint8Array(8),
 *   count: 8,
 *   shape: [4],
 * };
 * const trainer = await ParallelTrainer.create(net, data, {
 *   cost: "cross-entropy", optimizer: { kind: "sgd" }, learningRate: 0.1,
 *   schedule: "constant", epochs: 1, batchSize: 4, random, workers: 2,
 * });
 * try {
 *   while (!trainer.done) trainer.trainBatch();
 * } finally {
 *   trainer.close();
 * }
 * ```
 */
export class ParallelTrainer {
  readonly network: Network;
  readonly data: Dataset;
  readonly options: ParallelTrainerOptions;
  readonly batchesPerEpoch: number;
  /** W, threads per batch (the calling one included). */
  readonly workers: number;
  /** True when the shards run on Web Workers, false on the single-thread path. */
  readonly parallel: boolean;
  /** Why the workers could not start, when they were wanted but the single-thread path runs. */
  workerError?: Error;
  /** The current epoch, 0-based; equals `options.epochs` when done. */
  epoch = 0;
  /** The next batch within the epoch. */
  batch = 0;
  #shards: Shard[];
  #threads: Worker[];
  #layout: SharedLayout;
  #values: Float64Array;
  #control: Int32Array;
  #labels: Uint8Array;
  #order: Uint32Array;
  /** One view per training image, for augmenting batches on this thread. */
  #images: Float32Array[];
  #batchSize: number;
  #lossSum = 0;
  #lossCount = 0;
  #progress: ScheduleProgress = { done: 0, total: 0, stepsPerEpoch: 0 };
  #generation = 0;
  #canSleep: boolean;
  #hasDropout: boolean;
  #closed = false;

  private constructor(
    network: Network,
    data: Dataset,
    options: ParallelTrainerOptions,
    shards: Shard[],
    threads: Worker[],
    buffers: SharedBuffers,
    layout: SharedLayout,
  ) {
    this.network = network;
    this.data = data;
    this.options = { shuffle: true, ...options };
    this.#shards = shards;
    this.#threads = threads;
    this.#layout = layout;
    this.workers = layout.workers;
    this.parallel = threads.length > 0;
    this.#values = new Float64Array(buffers.values);
    this.#control = new Int32Array(buffers.control);
    this.#labels = new Uint8Array(buffers.labels);
    this.#batchSize = Math.min(options.batchSize, data.count);
    this.batchesPerEpoch = Math.ceil(data.count / this.#batchSize);
    this.#images = imageViews(data);
    this.#order = buffers.dataset?.order ?? new Uint32Array(data.count);
    for (let i = 0; i < data.count; i++) this.#order[i] = i;
    this.#canSleep = this.parallel && canSleepHere();
    this.#hasDropout = network.layers.some((l) => l.spec.type === "dropout");
  }

  /**
   * Prepares a run, starting the workers; throws like {@link Trainer} when the
   * options cannot train this network. Call {@link ParallelTrainer.close} when
   * done, or the workers keep the process alive.
   */
  static async create(
    network: Network,
    data: Dataset,
    options: ParallelTrainerOptions,
  ): Promise<ParallelTrainer> {
    new Trainer(network, data, options); // the same checks and messages
    const workers = options.workers ?? 1;
    if (!(Number.isInteger(workers) && workers >= 1 && workers <= 64)) {
      throw new RangeError(
        `Cannot train in parallel as workers must be an integer in 1..64: got ${workers}`,
      );
    }
    const useWorkers = workers > 1 && options.mode !== "single-thread" &&
      workersAvailable();
    const stateSlots = options.optimizer.kind === "adam"
      ? 2
      : options.optimizer.kind === "momentum"
      ? 1
      : 0;
    const layout = sharedLayout(
      workers,
      network.parameterCount,
      stateSlots,
      Math.min(options.batchSize, data.count),
      network.inputSize,
    );
    const Buffer = useWorkers ? SharedArrayBuffer : ArrayBuffer;
    const buffers: SharedBuffers = {
      values: new Buffer(layout.size * 8),
      control: new Buffer(layout.controlSize * 4),
      labels: new Buffer(workers * layout.shardRows),
      active: new Buffer(workers * activityWidth(network)),
      // Augmentation draws from the run's generator row by row, so thread 0
      // keeps gathering (and augmenting) every row when there is any.
      dataset: options.augment ? undefined : shardDataset(data, useWorkers),
    };
    const hasDropout = network.layers.some((l) => l.spec.type === "dropout");
    const shardOptions = { cost: options.cost, optimizer: options.optimizer };
    const shards = [
      new Shard(network, 0, buffers, layout, shardOptions, true),
    ];
    // Without workers, the same shards run in turn on this thread.
    const { threads, error: workerError } = useWorkers
      ? await startWorkersOrNone(
        options.workerUrl ?? new URL("./parallel_worker.ts", import.meta.url),
        workers - 1,
        (index): WorkerInit => ({
          buffers,
          layout,
          index,
          architecture: network.architecture,
          cost: options.cost,
          optimizer: options.optimizer,
          hasDropout,
        }),
      )
      : { threads: [], error: undefined };
    if (threads.length === 0) {
      for (let t = 1; t < workers; t++) {
        const random = hasDropout ? createRandom(0) : undefined;
        shards.push(
          new Shard(
            new Network(network.architecture, random),
            t,
            buffers,
            layout,
            {
              ...shardOptions,
              random,
            },
            false,
          ),
        );
      }
    }
    const trainer = new ParallelTrainer(
      network,
      data,
      options,
      shards,
      threads,
      buffers,
      layout,
    );
    trainer.workerError = workerError;
    return trainer;
  }

  /** True once every epoch has been trained. */
  get done(): boolean {
    return this.epoch >= this.options.epochs;
  }

  /** Total optimizer steps of the whole run. */
  get totalSteps(): number {
    return this.options.epochs * this.batchesPerEpoch;
  }

  /** Mean cost of the batches trained so far in the current (or just ended) epoch. */
  get epochLoss(): number {
    return this.#lossCount ? this.#lossSum / this.#lossCount : NaN;
  }

  /** Optimizer steps taken. */
  get steps(): number {
    return this.#shards[0].optimizer.steps;
  }

  /** Trains one batch: gather into the shards, backprop them, sum, step. */
  trainBatch(): BatchResult {
    if (this.#closed) {
      throw new RangeError("Cannot train after close(): the workers are gone");
    }
    if (this.done) {
      throw new RangeError(
        `Cannot train past the last epoch: ${this.epoch} done`,
      );
    }
    const { random } = this.options;
    if (this.batch === 0) {
      if (this.options.shuffle) shuffleInPlace(this.#order, random);
      this.#lossSum = 0;
      this.#lossCount = 0;
    }
    const start = this.batch * this.#batchSize;
    const n = Math.min(this.#batchSize, this.data.count - start);
    if (this.options.augment) {
      this.#augmentBatch(this.options.augment, start, n);
    } else this.#control[START] = start; // each shard copies its own rows
    const progress = this.#progress; // reused: no object per step
    progress.done = this.steps;
    progress.total = this.totalSteps;
    progress.stepsPerEpoch = this.batchesPerEpoch;
    const learningRate = learningRateAt(
      this.options.schedule,
      this.options.learningRate,
      progress,
    );
    const layout = this.#layout;
    const W = layout.workers;
    this.#values[layout.learningRate] = learningRate;
    this.#control[ROWS] = n;
    if (this.#hasDropout) {
      for (let k = 4; k < 4 * W; k++) {
        this.#control[SEEDS + k] = Math.floor(random() * 4294967296) | 0;
      }
    }
    if (this.parallel) {
      this.#run(CMD_STEP);
    } else {
      for (const shard of this.#shards) shard.compute();
      for (const shard of this.#shards) shard.update();
    }
    this.#shards[0].refresh();
    let loss = 0;
    for (let t = 0; t < W; t++) {
      const share = (shardStart(n, W, t + 1) - shardStart(n, W, t)) / n;
      const l = this.#values[layout.loss + t];
      loss = W === 1 ? l : loss + share * l;
    }
    this.#lossSum += loss * n;
    this.#lossCount += n;
    const result: BatchResult = {
      epoch: this.epoch,
      batch: this.batch,
      loss,
      learningRate,
      epochEnded: false,
    };
    this.batch++;
    if (this.batch === this.batchesPerEpoch) {
      this.batch = 0;
      this.epoch++;
      result.epochEnded = true;
    }
    return result;
  }

  /** Augments the batch's rows into their shards' regions, in batch order. */
  #augmentBatch(augment: Augment, start: number, n: number): void {
    const { data } = this;
    const { random } = this.options;
    const { workers: W, shardRows, inputSize: size, x } = this.#layout;
    const values = this.#values, images = this.#images;
    for (let t = 0; t < W; t++) {
      const s = shardStart(n, W, t), e = shardStart(n, W, t + 1);
      for (let r = s; r < e; r++) {
        const i = this.#order[start + r];
        const row = t * shardRows + r - s;
        const o = x + row * size;
        augment(values, o, images[i], random);
        this.#labels[row] = data.labels[i];
      }
    }
  }

  /** Runs a command on every thread (this one as shard 0) and waits for barrier B. */
  #run(command: number): void {
    const control = this.#control;
    const W = this.#layout.workers;
    const gen = ++this.#generation;
    Atomics.store(control, CMD, command);
    Atomics.store(control, GEN, gen);
    Atomics.notify(control, GEN);
    const shard = this.#shards[0];
    if (command === CMD_STEP) shard.compute();
    arrive(control, ARRIVED_A, gen * W);
    awaitAtLeast(control, ARRIVED_A, gen * W, this.#canSleep);
    if (command === CMD_STEP) shard.update();
    arrive(control, ARRIVED_B, gen * W);
    awaitAtLeast(control, ARRIVED_B, gen * W, this.#canSleep);
    const failed = Atomics.load(control, FAILED);
    if (failed) {
      this.close();
      throw new Error(
        `Cannot continue training as worker ${
          failed - 1
        } failed (see its error event)`,
      );
    }
  }

  /** A deep copy of everything needed to continue exactly where the run is now. */
  getState(): TrainerState {
    const { params, state, paramCount: P, stateSlots } = this.#layout;
    const values = this.#values;
    const slices = (base: number) => {
      let offset = base;
      return this.network.params.map((p) => {
        const copy = values.slice(offset, offset + p.length);
        offset += p.length;
        return copy;
      });
    };
    const optimizer: Float64Array[] = [];
    for (let s = 0; s < stateSlots; s++) {
      optimizer.push(...slices(state + s * P));
    }
    return {
      epoch: this.epoch,
      batch: this.batch,
      steps: this.steps,
      lossSum: this.#lossSum,
      lossCount: this.#lossCount,
      order: this.#order.slice(),
      random: this.options.random.getState(),
      params: slices(params),
      optimizer,
    };
  }

  /** Continues from a {@link TrainerState} of a run with the same options (any worker count). */
  setState(state: TrainerState): void {
    const sizes = this.network.params.map((p) => p.length);
    const { params, state: stateAt, paramCount: P, stateSlots } = this.#layout;
    const sameShapes = state.params.length === sizes.length &&
      state.params.every((p, k) => p.length === sizes[k]) &&
      state.optimizer.length === stateSlots * sizes.length &&
      state.optimizer.every((s, k) => s.length === sizes[k % sizes.length]) &&
      state.order.length === this.#order.length;
    if (!sameShapes) {
      throw new TypeError(
        "Cannot resume training as the saved state does not match this network, optimizer or dataset",
      );
    }
    const values = this.#values;
    let offset = 0;
    state.params.forEach((p, k) => {
      values.set(p, params + offset);
      for (let s = 0; s < stateSlots; s++) {
        values.set(
          state.optimizer[s * sizes.length + k],
          stateAt + s * P + offset,
        );
      }
      offset += p.length;
    });
    this.epoch = state.epoch;
    this.batch = state.batch;
    this.#lossSum = state.lossSum;
    this.#lossCount = state.lossCount;
    this.#order.set(state.order);
    this.options.random.setState(state.random);
    for (const shard of this.#shards) shard.optimizer.steps = state.steps;
    if (this.parallel) {
      this.#control[STEPS] = state.steps;
      this.#run(CMD_SET_STEPS);
    }
    this.#shards[0].refresh();
  }

  /** Stops the workers. The network keeps its trained weights. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.parallel) {
      const control = this.#control;
      Atomics.store(control, CMD, CMD_STOP);
      Atomics.store(control, GEN, ++this.#generation);
      Atomics.notify(control, GEN);
      for (const worker of this.#threads) worker.terminate();
    }
  }

  /** Same as {@link ParallelTrainer.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
