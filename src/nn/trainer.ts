/**
 * The training loop, one mini-batch at a time, as the notebook's
 * `gradientenabstieg` grown up: shuffle each epoch, gather a batch, backprop
 * (which computes the gradients), then let the optimizer apply them.
 *
 * The loop is driven from outside (`trainBatch()`), so the caller decides how
 * to show progress, when to evaluate and when to checkpoint; this module has
 * no clock and no I/O. `getState()` / `setState()` capture everything needed
 * to continue a run exactly: the same weights as if it had never stopped.
 *
 * @module
 */

import type { Cost } from "./cost.ts";
import { type Dataset, imageSize, imageViews } from "./dataset.ts";
import { type Network, validateCost } from "./network.ts";
import { Optimizer, type OptimizerOptions } from "./optimizer.ts";
import type { Random } from "./random.ts";
import {
  learningRateAt,
  type Schedule,
  type ScheduleProgress,
} from "./schedule.ts";

/**
 * Writes a randomly transformed copy of one image into `out` at `outOffset`
 * (data augmentation); must draw its randomness from `random` only.
 */
export type Augment = (
  out: Float64Array,
  outOffset: number,
  image: Float32Array,
  random: Random,
) => void;

/** How to train. */
export interface TrainerOptions {
  cost: Cost;
  optimizer: OptimizerOptions;
  /** η₀, the base learning rate. */
  learningRate: number;
  schedule: Schedule;
  epochs: number;
  /** Examples per step; use the training-set size for full-batch gradient descent. */
  batchSize: number;
  /** Draws the shuffles (and dropout masks and augmentation, via the same stream). */
  random: Random;
  /** Shuffle the examples at the start of each epoch (default true). */
  shuffle?: boolean;
  augment?: Augment;
}

/** What one call of {@link Trainer.trainBatch} did. */
export interface BatchResult {
  /** The epoch (0-based) the batch belonged to. */
  epoch: number;
  /** The batch's index within its epoch (0-based). */
  batch: number;
  /** The batch's mean cost. */
  loss: number;
  /** The learning rate used. */
  learningRate: number;
  /** True when the batch was the last of its epoch. */
  epochEnded: boolean;
}

/** A snapshot of a run in progress (plain data: typed arrays and numbers). */
export interface TrainerState {
  epoch: number;
  batch: number;
  steps: number;
  lossSum: number;
  lossCount: number;
  order: Uint32Array;
  random: Uint32Array;
  params: Float64Array[];
  optimizer: Float64Array[];
}

/** Trains a network on a dataset, one batch per {@link Trainer.trainBatch} call. */
export class Trainer {
  readonly network: Network;
  readonly data: Dataset;
  readonly options: TrainerOptions;
  readonly optimizer: Optimizer;
  readonly batchesPerEpoch: number;
  /** The current epoch, 0-based; equals `options.epochs` when done. */
  epoch = 0;
  /** The next batch within the epoch. */
  batch = 0;
  #order: Uint32Array;
  #x: Float64Array;
  #labels: Uint8Array;
  #lossSum = 0;
  #lossCount = 0;
  #progress: ScheduleProgress = { done: 0, total: 0, stepsPerEpoch: 0 };
  /** One view per training image, for copying batches. */
  #images: Float32Array[];

  /** Prepares a run; throws when the options cannot train this network. */
  constructor(network: Network, data: Dataset, options: TrainerOptions) {
    validateCost(network.architecture, options.cost);
    if (imageSize(data) !== network.inputSize) {
      throw new TypeError(
        `Cannot train as the images hold ${
          imageSize(data)
        } values and the network takes ${network.inputSize}`,
      );
    }
    if (data.count === 0) {
      throw new RangeError("Cannot train on an empty dataset: got 0 examples");
    }
    if (!(Number.isInteger(options.batchSize) && options.batchSize > 0)) {
      throw new RangeError(
        `Cannot train as the batch size must be a positive integer: got ${options.batchSize}`,
      );
    }
    if (!(Number.isInteger(options.epochs) && options.epochs > 0)) {
      throw new RangeError(
        `Cannot train as epochs must be a positive integer: got ${options.epochs}`,
      );
    }
    if (!(options.learningRate > 0 && Number.isFinite(options.learningRate))) {
      throw new RangeError(
        `Cannot train as the learning rate must be a positive number: got ${options.learningRate}`,
      );
    }
    this.network = network;
    this.data = data;
    this.options = { shuffle: true, ...options };
    const layers = network.layers;
    this.optimizer = new Optimizer(
      network.params,
      network.grads,
      layers.flatMap((l) => l.decays),
      options.optimizer,
    );
    const batchSize = Math.min(options.batchSize, data.count);
    this.batchesPerEpoch = Math.ceil(data.count / batchSize);
    this.#order = new Uint32Array(data.count);
    for (let i = 0; i < data.count; i++) this.#order[i] = i;
    this.#x = new Float64Array(batchSize * network.inputSize);
    this.#labels = new Uint8Array(batchSize);
    this.#images = imageViews(data);
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

  /** Trains one batch: gather, zero grads, backprop, optimizer step. */
  trainBatch(): BatchResult {
    if (this.done) {
      throw new RangeError(
        `Cannot train past the last epoch: ${this.epoch} done`,
      );
    }
    const { random, augment } = this.options;
    if (this.batch === 0) {
      if (this.options.shuffle) shuffleOrder(this.#order, random);
      this.#lossSum = 0;
      this.#lossCount = 0;
    }
    const size = this.network.inputSize;
    const batchSize = this.#labels.length;
    const start = this.batch * batchSize;
    const n = Math.min(batchSize, this.data.count - start);
    const images = this.#images;
    for (let r = 0; r < n; r++) {
      const i = this.#order[start + r];
      if (augment) augment(this.#x, r * size, images[i], random);
      else this.#x.set(images[i], r * size);
      this.#labels[r] = this.data.labels[i];
    }
    const progress = this.#progress; // reused: no object per step
    progress.done = this.optimizer.steps;
    progress.total = this.totalSteps;
    progress.stepsPerEpoch = this.batchesPerEpoch;
    const learningRate = learningRateAt(
      this.options.schedule,
      this.options.learningRate,
      progress,
    );
    this.network.zeroGrads();
    const loss = this.network.backprop(
      this.#x,
      this.#labels,
      n,
      this.options.cost,
    );
    this.optimizer.step(learningRate);
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

  /** A deep copy of everything needed to continue exactly where the run is now. */
  getState(): TrainerState {
    return {
      epoch: this.epoch,
      batch: this.batch,
      steps: this.optimizer.steps,
      lossSum: this.#lossSum,
      lossCount: this.#lossCount,
      order: this.#order.slice(),
      random: this.options.random.getState(),
      params: this.network.params.map((p) => p.slice()),
      optimizer: this.optimizer.state.map((s) => s.slice()),
    };
  }

  /** Continues from a {@link TrainerState} taken from a run with the same options. */
  setState(state: TrainerState): void {
    const params = this.network.params;
    const sameShapes = state.params.length === params.length &&
      state.params.every((p, k) => p.length === params[k].length) &&
      state.optimizer.length === this.optimizer.state.length &&
      state.order.length === this.#order.length;
    if (!sameShapes) {
      throw new TypeError(
        "Cannot resume training as the saved state does not match this network, optimizer or dataset",
      );
    }
    this.epoch = state.epoch;
    this.batch = state.batch;
    this.optimizer.steps = state.steps;
    this.#lossSum = state.lossSum;
    this.#lossCount = state.lossCount;
    this.#order.set(state.order);
    this.options.random.setState(state.random);
    state.params.forEach((p, k) => params[k].set(p));
    state.optimizer.forEach((s, k) => this.optimizer.state[k].set(s));
  }
}

/** Fisher–Yates shuffle of the example order. */
function shuffleOrder(order: Uint32Array, random: Random): void {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
}
