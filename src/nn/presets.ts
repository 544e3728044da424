/**
 * Named training presets: an architecture plus every setting needed to train
 * it, chosen by `--arch <name>`. Each was tuned on a validation split carved
 * out of the 8,000 training digits (7,000 train / 1,000 validation) and then
 * measured once on the 2,000 held-out test digits and on real pen-drawn
 * digits; the numbers are in the README.
 *
 * The time budgets are for this project's 2-core machine:
 *   quick    ≤ 30 s   the server's start-up model (one thread, as the server trains)
 *   default  ≤ 2 min  `deno task train` (2 workers: every core here)
 *   best     ≤ 10 min the most accurate (2 workers)
 *   classic           the seed notebook, for comparison
 *
 * Notation of the architectures: cF-k = conv2d with F filters of k × k
 * ("same" padding, ReLU), p = 2 × 2 max-pooling, dN = dense layer of N ReLU
 * units, x0.r = dropout of rate r, and a final dense softmax over the 10
 * digits.
 *
 * `augment` holds the options of `createAugment` (src/data/augment.ts); a
 * preset is plain data so it can be stored with a model and shown as JSON.
 *
 * @module
 */

import type { AugmentOptions } from "../data/augment.ts";
import type { Cost } from "./cost.ts";
import type { LayerSpec } from "./layer.ts";
import type { Architecture, InitScheme } from "./network.ts";
import type { OptimizerOptions } from "./optimizer.ts";
import type { Schedule } from "./schedule.ts";

/** Everything needed to build and train one network. */
export interface Preset {
  /** The name used with `--arch`. */
  name: string;
  /** One line for `--help` and the README. */
  description: string;
  architecture: Architecture;
  /** How the initial weights are drawn. */
  init: InitScheme;
  cost: Cost;
  /** The optimizer, its hyper-parameters and the L2 weight decay λ. */
  optimizer: OptimizerOptions;
  /** η₀, the base learning rate. */
  learningRate: number;
  schedule: Schedule;
  /** Passes over the training set (for full-batch gd: gradient steps). */
  epochs: number;
  /** Examples per step; the whole training set (8,000) for full-batch gd. */
  batchSize: number;
  /** Random distortions of each training digit, or null for none. */
  augment: AugmentOptions | null;
  /**
   * Writing styles MNIST lacks (flagged 1s, crossed 7s, curled 9s) drawn
   * into a fraction of the training digits before training (options of
   * `addWritingStyles`, src/data/writing_styles.ts, without `random`), or
   * null for none.
   */
  writingStyles: { fraction: number; footProbability?: number } | null;
}

const relu = "relu" as const;

function conv(filters: number, kernelSize: number): LayerSpec {
  return {
    type: "conv2d",
    filters,
    kernelSize,
    activation: relu,
    padding: "same",
  };
}
const POOL: LayerSpec = { type: "maxpool2d", size: 2 };
function dense(units: number): LayerSpec {
  return { type: "dense", units, activation: relu };
}
function dropout(rate: number): LayerSpec {
  return { type: "dropout", rate };
}
const SOFTMAX: LayerSpec = { type: "dense", units: 10, activation: "softmax" };

/**
 * Mild distortions: the MNIST recipe already normalises size and position,
 * so shifts and scales stay small; strokes are thinned more often than
 * thickened because pen-drawn digits are thinner than MNIST's (2.0 vs 2.5 px).
 * Stronger rotation and shear made pen-drawn 1s and 9s worse (measured).
 */
const HANDWRITING: AugmentOptions = {
  shift: 2,
  rotate: 8,
  scale: 0.1,
  aspect: 0.1,
  shear: 0.1,
  elastic: 0,
  thicken: 0.3,
  thin: 0.5,
};

/** Flagged 1s, crossed 7s and curled 9s in 60 % of those digits. */
const STYLES = { fraction: 0.6, footProbability: 0.4 };

/** The presets by name. */
export const PRESETS: Readonly<Record<string, Preset>> = Object.freeze({
  quick: {
    name: "quick",
    description:
      "MLP 784-256-10 with dropout, writing styles and augmentation; ≤ 30 s, for server start-up",
    architecture: {
      input: [1, 28, 28],
      layers: [dense(256), dropout(0.2), SOFTMAX],
    },
    init: "auto",
    cost: "cross-entropy",
    optimizer: { kind: "adam" },
    learningRate: 0.001,
    schedule: "cosine",
    epochs: 14,
    batchSize: 32,
    augment: HANDWRITING,
    writingStyles: STYLES,
  },
  default: {
    name: "default",
    description:
      "small CNN (c8-3 p c16-3 p d128 x0.3) with writing styles and augmentation; `deno task train`, ≤ 2 min on 2 cores",
    architecture: {
      input: [1, 28, 28],
      layers: [
        conv(8, 3),
        POOL,
        conv(16, 3),
        POOL,
        dense(128),
        dropout(0.3),
        SOFTMAX,
      ],
    },
    init: "auto",
    cost: "cross-entropy",
    optimizer: { kind: "adam" },
    learningRate: 0.001,
    schedule: "cosine",
    epochs: 16,
    batchSize: 32,
    augment: HANDWRITING,
    writingStyles: STYLES,
  },
  best: {
    name: "best",
    description:
      "CNN (c16-3 p c32-3 p d128 x0.3) with writing styles and augmentation; the most accurate, ≤ 10 min on 2 cores",
    architecture: {
      input: [1, 28, 28],
      layers: [
        conv(16, 3),
        POOL,
        conv(32, 3),
        POOL,
        dense(128),
        dropout(0.3),
        SOFTMAX,
      ],
    },
    init: "auto",
    cost: "cross-entropy",
    optimizer: { kind: "adam" },
    learningRate: 0.001,
    schedule: "cosine",
    epochs: 40,
    batchSize: 32,
    augment: HANDWRITING,
    writingStyles: STYLES,
  },
  classic: {
    name: "classic",
    description:
      "the seed notebook: 784-128-64-10 sigmoid, MSE, full-batch gradient descent",
    architecture: {
      input: [1, 28, 28],
      layers: [
        { type: "dense", units: 128, activation: "sigmoid" },
        { type: "dense", units: 64, activation: "sigmoid" },
        { type: "dense", units: 10, activation: "sigmoid" },
      ],
    },
    init: "notebook",
    cost: "mse",
    optimizer: { kind: "gd" },
    learningRate: 2,
    schedule: "constant",
    epochs: 300,
    batchSize: 8000,
    augment: null,
    writingStyles: null,
  },
});

/** The preset names, for flag validation and `--help`. */
export const PRESET_NAMES: readonly string[] = Object.keys(PRESETS);

/** The preset `deno task train` uses when no `--arch` is given. */
export const DEFAULT_PRESET = "default";

/** The preset the server trains at start-up when it has no model. */
export const STARTUP_PRESET = "quick";

/**
 * The preset called `name`, as a deep copy the caller may change. Throws a
 * RangeError listing the known names.
 *
 * @example
 * ```ts
 * import { getPreset } from "./presets.ts";
 * const preset = getPreset("default");
 * console.assert(preset.architecture.input.join("x") === "1x28x28");
 * ```
 */
export function getPreset(name: string): Preset {
  if (!Object.hasOwn(PRESETS, name)) {
    throw new RangeError(
      `Cannot use the preset "${name}": known presets are ${
        PRESET_NAMES.join(", ")
      }`,
    );
  }
  return structuredClone(PRESETS[name]);
}
