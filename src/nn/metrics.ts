/**
 * Measuring a network: accuracy, mean cost and the confusion matrix on a
 * dataset, and prediction for single images.
 *
 * @module
 */

import { type Dataset, imageSize } from "./dataset.ts";
import type { Network } from "./network.ts";

/** What {@link evaluate} measures. */
export interface Evaluation {
  /** Fraction of examples whose most probable class is the label, 0..1. */
  accuracy: number;
  /** Examples measured. */
  count: number;
  /** confusion[label][predicted] = how many examples. */
  confusion: number[][];
}

/** Index of the largest of `size` values starting at `offset`. */
export function argmax(
  values: ArrayLike<number>,
  offset = 0,
  size = values.length,
): number {
  let best = 0;
  for (let j = 1; j < size; j++) {
    if (values[offset + j] > values[offset + best]) best = j;
  }
  return best;
}

/**
 * What {@link evaluate} runs: a {@link Network}, or anything that infers
 * like one (a ParallelPredictor, which splits each batch over threads).
 */
export interface BatchModel {
  readonly inputSize: number;
  readonly outputSize: number;
  /** Outputs [n × outputSize] for the n rows of x, valid until the next call. */
  forward(x: Float64Array, n: number, training?: boolean): Float64Array;
}

/**
 * Runs `network` over every example of `data` in batches and counts what it
 * gets right.
 */
export function evaluate(
  network: BatchModel,
  data: Dataset,
  batchSize = 100, // small batches keep a CNN's per-batch buffers (≈ 16 MB per conv layer) small
): Evaluation {
  const size = imageSize(data);
  const classes = network.outputSize;
  const confusion = Array.from(
    { length: classes },
    () => new Array<number>(classes).fill(0),
  );
  const x = new Float64Array(batchSize * size);
  let correct = 0;
  for (let start = 0; start < data.count; start += batchSize) {
    const n = Math.min(batchSize, data.count - start);
    for (let i = 0; i < n * size; i++) x[i] = data.images[start * size + i];
    const a = network.forward(x, n, false);
    for (let r = 0; r < n; r++) {
      const predicted = argmax(a, r * classes, classes);
      const label = data.labels[start + r];
      confusion[label][predicted]++;
      if (predicted === label) correct++;
    }
  }
  return {
    accuracy: data.count ? correct / data.count : 0,
    count: data.count,
    confusion,
  };
}

/**
 * The output activations (probabilities for a softmax output) for one image.
 *
 * @param pixels `network.inputSize` values, 0 = background … 1 = ink
 */
export function predictProbabilities(
  network: Network,
  pixels: ArrayLike<number>,
): Float64Array {
  if (pixels.length !== network.inputSize) {
    throw new TypeError(
      `Cannot predict as pixels must hold ${network.inputSize} numbers: got ${pixels.length}`,
    );
  }
  const x = Float64Array.from(pixels);
  return network.forward(x, 1, false).slice(0, network.outputSize);
}

/**
 * Turns output activations into probabilities that sum to 1: unchanged for
 * softmax, divided by their sum for sigmoid outputs (MSE-trained networks).
 */
export function normalizeProbabilities(a: ArrayLike<number>): number[] {
  let sum = 0;
  for (let j = 0; j < a.length; j++) sum += a[j];
  const out = new Array<number>(a.length);
  for (let j = 0; j < a.length; j++) {
    out[j] = sum > 0 ? a[j] / sum : 1 / a.length;
  }
  return out;
}
