/**
 * What every layer of a network provides. A network is a list of layers; the
 * output of one is the input of the next. Shapes are per example, e.g.
 * `[784]` for a flat image or `[1, 28, 28]` for channels × height × width;
 * a batch of n examples is stored as one flat row-major Float64Array.
 *
 * Backprop is split the way Nielsen splits it: `backward` only computes and
 * accumulates gradients (`grads[k] += …`), an optimizer applies them.
 *
 * @module
 */

import type { Activation } from "./activation.ts";

/** A serialisable description of one layer (stored in model files). */
export type LayerSpec =
  | { type: "dense"; units: number; activation: Activation }
  | {
    type: "conv2d";
    filters: number;
    kernelSize: number;
    activation: Activation;
    /** "same" keeps height × width; "valid" shrinks them by kernelSize − 1. */
    padding: "same" | "valid";
  }
  | { type: "maxpool2d"; size: number }
  | { type: "dropout"; rate: number };

/** A layer with its parameters and the buffers it reuses between batches. */
export interface Layer {
  readonly spec: LayerSpec;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  /** Learned parameters (e.g. [w, b]); updated in place by optimizers. */
  readonly params: Float64Array[];
  /** dC/dparam for each of `params`, accumulated by `backward`. */
  readonly grads: Float64Array[];
  /** Which params L2 weight decay applies to (weights yes, biases no). */
  readonly decays: boolean[];
  /** Inputs feeding one output (for initialisation scales); 0 without weights. */
  readonly fanIn: number;
  /** Outputs fed by one input (for initialisation scales); 0 without weights. */
  readonly fanOut: number;
  /**
   * Computes the layer's output for n examples. The returned array is owned by
   * the layer and valid until its next `forward`; only its first
   * n × outputSize entries are meaningful.
   */
  forward(x: Float64Array, n: number, training: boolean): Float64Array;
  /**
   * Takes dC/da of this layer's output (or dC/dz when `isPreActivation`, for
   * a softmax output fused with cross-entropy), adds the parameter gradients
   * into `grads`, and returns dC/dx for the layer below (unless `needInput`
   * is false, when it returns an empty array).
   */
  backward(
    dA: Float64Array,
    n: number,
    needInput: boolean,
    isPreActivation: boolean,
  ): Float64Array;
}

/** The number of values in a shape: [1, 28, 28] → 784. */
export function shapeSize(shape: readonly number[]): number {
  let s = 1;
  for (const d of shape) s *= d;
  return s;
}

/**
 * Returns `buffer` when it holds at least `size` values, or a new, larger one.
 * Layers call it at the start of forward/backward, so buffers are allocated on
 * the first batch of a given size and reused afterwards: the training hot loop
 * allocates nothing.
 */
export function ensureCapacity(
  buffer: Float64Array,
  size: number,
): Float64Array {
  return buffer.length >= size ? buffer : new Float64Array(size);
}
