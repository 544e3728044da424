/**
 * The training configuration: one object, one default per field, one
 * validator shared by `deno task train` (flags) and the server's
 * `POST /api/train` (JSON). Every error names the field, the allowed values
 * and what was given.
 *
 * @module
 */

import { type Activation } from "../nn/activation.ts";
import { type Cost, COSTS } from "../nn/cost.ts";
import type { Architecture } from "../nn/network.ts";
import {
  DEFAULT_PRESET,
  getPreset,
  type Preset,
  PRESET_NAMES,
} from "../nn/presets.ts";
import { type OptimizerKind, OPTIMIZERS } from "../nn/optimizer.ts";
import { type Schedule, SCHEDULES } from "../nn/schedule.ts";

/** Hidden-layer activations offered on the command line. */
export const HIDDEN_ACTIVATIONS = ["sigmoid", "relu"] as const;

/** Everything that determines a training run. */
export interface TrainConfig {
  /** Layer sizes input,hidden…,output; used when `arch` is "mlp". */
  layers: number[];
  /**
   * A preset of src/nn/presets.ts (its architecture and training settings,
   * which other fields then override), or "mlp" for a dense network built
   * from `layers`, `activation` and `dropout`.
   */
  arch: string;
  /** Activation of the hidden dense layers. */
  activation: typeof HIDDEN_ACTIVATIONS[number];
  /** Cost; "mse" gives a sigmoid output layer (the notebook), "cross-entropy" softmax. */
  loss: Cost;
  optimizer: OptimizerKind;
  /** η₀, the base learning rate. */
  learningRate: number;
  /** μ for the momentum optimizer. */
  momentum: number;
  /** λ of the L2 penalty (0 = off). */
  weightDecay: number;
  /** How η changes over the run. */
  schedule: Schedule;
  /** Passes over the training set (for --classic: gradient-descent steps). */
  epochs: number;
  /** Examples per step; ignored by "gd", which uses the whole training set. */
  batchSize: number;
  /** Fraction of hidden activations dropped while training (0 = off). */
  dropout: number;
  /** Random shifts/rotations/scaling of training images (needs src/data/augment.ts). */
  augment: boolean;
  /** Seed of weight init, shuffling, dropout and augmentation. */
  seed: number;
  /** Training examples taken from the data source. */
  trainCount: number;
  /** Held-out test examples (never trained on, never used for model selection). */
  testCount: number;
  /** Seed of the train/test split (kept fixed so runs compare on the same test digits). */
  splitSeed: number;
  /** The notebook's algorithm: sigmoid, MSE, full-batch gradient descent. */
  classic: boolean;
  /**
   * Threads that compute each batch (src/nn/parallel.ts). Part of what
   * determines the weights: the same seed and worker count give the same
   * model, on any machine (where threads are missing, the shards run one
   * after another with identical results).
   */
  workers: number;
}

/** The defaults of `deno task train`. */
export const DEFAULT_TRAIN_CONFIG: Readonly<TrainConfig> = Object.freeze({
  layers: [784, 128, 64, 10],
  arch: DEFAULT_PRESET,
  activation: "relu",
  loss: "cross-entropy",
  optimizer: "adam",
  learningRate: 0.001,
  momentum: 0.9,
  weightDecay: 0,
  schedule: "cosine",
  epochs: 10,
  batchSize: 32,
  dropout: 0,
  augment: false,
  seed: 42,
  trainCount: 8000,
  testCount: 2000,
  splitSeed: 1,
  classic: false,
  workers: 1,
});

/** The most threads a run may ask for. */
export const MAX_WORKERS = 16;

/**
 * The worker count `deno task train` uses when none is given: every core, up
 * to 4. Beyond that a batch of 32 would be split into shards of fewer than 8
 * examples, and each step's two barriers would cost more than they save
 * (only 1 and 2 were measured: this machine has 2 cores).
 */
export function autoWorkers(cores: number): number {
  return Math.max(1, Math.min(4, Math.floor(cores)));
}

/** Fields that only shape the "mlp" arch (presets fix their own architecture). */
const MLP_FIELDS = ["layers", "activation", "dropout"] as const;

/** The training settings a preset brings, as config fields. */
export function presetDefaults(preset: Preset): Partial<TrainConfig> {
  return {
    loss: preset.cost,
    optimizer: preset.optimizer.kind,
    momentum: preset.optimizer.momentum ?? DEFAULT_TRAIN_CONFIG.momentum,
    weightDecay: preset.optimizer.weightDecay ?? 0,
    learningRate: preset.learningRate,
    schedule: preset.schedule,
    epochs: preset.epochs,
    batchSize: preset.batchSize,
    augment: preset.augment !== null,
  };
}

/** The most examples any source may provide (the full MNIST set has 70,000). */
const MAX_EXAMPLES = 1_000_000;

type Check = (value: unknown, field: string) => unknown;

/** A value as the user wrote it: NaN and Infinity stay readable (JSON would print null). */
const show = (value: unknown): string =>
  typeof value === "number"
    ? String(value)
    : Array.isArray(value)
    ? `[${value.map(show).join(",")}]`
    : JSON.stringify(value) ?? String(value);

const fail = (field: string, expected: string, value: unknown): never => {
  throw new RangeError(
    `Cannot use ${field} as it must be ${expected}: got ${show(value)}`,
  );
};

const integer = (min: number, max: number): Check => (v, f) =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max
    ? v
    : fail(f, `an integer from ${min} to ${max}`, v);

const number =
  (min: number, max: number, { openMin = false } = {}): Check => (v, f) =>
    typeof v === "number" && Number.isFinite(v) &&
      (openMin ? v > min : v >= min) && v <= max
      ? v
      : fail(f, `a number ${openMin ? ">" : "≥"} ${min} and ≤ ${max}`, v);

const oneOf = (allowed: readonly string[]): Check => (v, f) =>
  typeof v === "string" && allowed.includes(v)
    ? v
    : fail(f, `one of ${allowed.join(", ")}`, v);

const boolean: Check = (v, f) =>
  typeof v === "boolean" ? v : fail(f, "true or false", v);

const archName: Check = (v, f) =>
  typeof v === "string" && (v === "mlp" || PRESET_NAMES.includes(v))
    ? v
    : fail(f, `one of mlp, ${PRESET_NAMES.join(", ")}`, v);

const layerList: Check = (v, f) => {
  if (!Array.isArray(v) || v.length < 2 || v.length > 8) {
    return fail(f, "2 to 8 layer sizes, e.g. 784,128,64,10", v);
  }
  for (const n of v) {
    if (!Number.isInteger(n) || n < 1 || n > 4096) {
      return fail(f, "layer sizes that are integers from 1 to 4096", v);
    }
  }
  if (v[0] !== 784) {
    return fail(f, "layer sizes starting with 784 (28×28 pixels)", v);
  }
  if (v[v.length - 1] !== 10) {
    return fail(f, "layer sizes ending with 10 (the digits)", v);
  }
  return v;
};

const CHECKS: Record<keyof TrainConfig, Check> = {
  layers: layerList,
  arch: archName,
  activation: oneOf(HIDDEN_ACTIVATIONS),
  loss: oneOf(COSTS),
  optimizer: oneOf(OPTIMIZERS),
  learningRate: number(0, 100, { openMin: true }),
  momentum: number(0, 0.999),
  weightDecay: number(0, 1),
  schedule: oneOf(SCHEDULES),
  epochs: integer(1, 100_000),
  batchSize: integer(1, 60_000),
  dropout: number(0, 0.9),
  augment: boolean,
  seed: integer(0, 0xffffffff),
  trainCount: integer(1, MAX_EXAMPLES),
  testCount: integer(1, MAX_EXAMPLES),
  splitSeed: integer(0, 0xffffffff),
  classic: boolean,
  workers: integer(1, MAX_WORKERS),
};

/** The names of all config fields. */
export const TRAIN_CONFIG_FIELDS = Object.keys(CHECKS) as (keyof TrainConfig)[];

/**
 * Validates a partial config (from JSON or flags) and fills in defaults:
 * `--classic` defaults first, then the given fields. Throws TypeError for a
 * non-object or unknown field, RangeError for a bad value.
 *
 * @example
 * ```ts
 * import { validateTrainConfig } from "./config.ts";
 * const config = validateTrainConfig({ epochs: 3 });
 * console.assert(config.epochs === 3 && config.optimizer === "adam");
 * ```
 */
export function validateTrainConfig(input: unknown): TrainConfig {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new TypeError(
      `Cannot read the training config as it must be a JSON object: got ${
        JSON.stringify(input)
      }`,
    );
  }
  const given = input as Record<string, unknown>;
  for (const field of Object.keys(given)) {
    if (!Object.hasOwn(CHECKS, field)) {
      throw new TypeError(
        `Cannot use the training config field "${field}": known fields are ${
          TRAIN_CONFIG_FIELDS.join(", ")
        }`,
      );
    }
  }
  const checked: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(given)) {
    if (value !== undefined) {
      checked[field] = CHECKS[field as keyof TrainConfig](value, field);
    }
  }
  if (
    checked.classic === true && checked.arch !== undefined &&
    checked.arch !== "classic"
  ) {
    fail("arch", "classic (or left out) with classic: true", checked.arch);
  }
  const arch = checked.classic === true
    ? "classic"
    : (checked.arch as string | undefined) ??
      DEFAULT_TRAIN_CONFIG.arch;
  if (arch !== "mlp") {
    // Equal-to-default values are allowed so that a stored config validates again.
    const misplaced = MLP_FIELDS.filter((f) =>
      f in checked &&
      JSON.stringify(checked[f]) !== JSON.stringify(DEFAULT_TRAIN_CONFIG[f])
    );
    if (misplaced.length) {
      throw new RangeError(
        `Cannot use ${
          misplaced.join(", ")
        } with the preset "${arch}": they shape the "mlp" arch only`,
      );
    }
  }
  const result = {
    ...DEFAULT_TRAIN_CONFIG,
    ...(arch === "mlp" ? {} : presetDefaults(getPreset(arch))),
    ...checked,
    arch,
    classic: arch === "classic",
  } as TrainConfig;
  if (result.classic && result.loss !== "mse") {
    fail("loss", "mse with classic (the notebook's cost)", result.loss);
  }
  return structuredClone(result);
}

/** The dense network of `config.layers` (the "mlp" arch). */
export function mlpArchitecture(config: TrainConfig): Architecture {
  const hidden = config.layers.slice(1, -1);
  const output: Activation = config.loss === "mse" ? "sigmoid" : "softmax";
  const layers: Architecture["layers"] = [];
  for (const units of hidden) {
    layers.push({ type: "dense", units, activation: config.activation });
    if (config.dropout > 0) {
      layers.push({ type: "dropout", rate: config.dropout });
    }
  }
  layers.push({ type: "dense", units: 10, activation: output });
  return { input: [1, 28, 28], layers };
}
