/**
 * Small deterministic networks and datasets for the nn tests.
 *
 * @module
 */

import type { Dataset } from "../../src/nn/dataset.ts";
import { createRandom } from "../../src/nn/random.ts";

/** n random "images" of `size` values, ~60% zeros like MNIST, labels 0..classes-1. */
export function syntheticDataset(
  n: number,
  size: number,
  classes: number,
  seed = 1,
): Dataset {
  const r = createRandom(seed);
  const images = new Float32Array(n * size);
  for (let i = 0; i < images.length; i++) images[i] = r() < 0.6 ? 0 : r();
  const labels = Uint8Array.from({ length: n }, (_, i) => i % classes);
  return { images, labels, count: n, shape: [size] };
}
