/**
 * `deno bench` for the dense-layer kernels on the notebook's shapes, each
 * fast kernel next to its reference, the seed version (tests/bench/_seed_kernels.ts,
 * the kernels before issue 5) and the variants that lost (tests/bench/_variants.ts).
 *
 * Usage: deno bench --allow-read --allow-env tests/bench/kernels_bench.ts
 *
 * The data is a real batch of 32 MNIST digits (19% of pixels non-zero) and,
 * for the hidden layers, sigmoid activations of it (never 0).
 *
 * @module
 */

import { loadMnistSplit } from "../../src/data/mnist_package.ts";
import { activate, activateReference } from "../../src/nn/activation.ts";
import {
  createSparseInput,
  denseBackwardInputReference,
  denseBackwardInputTiled,
  denseBackwardParamsReference,
  denseBackwardParamsSparse,
  denseBackwardParamsTiled,
  denseForwardReference,
  denseForwardSparse,
  denseForwardTiled,
  indexColumns,
  indexNonZeros,
  rowViews,
} from "../../src/nn/kernels.ts";
import { imageViews } from "../../src/nn/dataset.ts";
import { createNetwork } from "../../src/nn/network.ts";
import { createRandom, type Random } from "../../src/nn/random.ts";
import * as seed from "./_seed_kernels.ts";
import {
  denseBackwardParamsByRow,
  denseForwardSparseFloat32,
  denseForwardSparseOffsets,
} from "./_variants.ts";

const { train, test } = loadMnistSplit();
const random = createRandom(1);

function randomArray(length: number, r: Random, zeros = 0): Float64Array {
  const a = new Float64Array(length);
  for (let i = 0; i < length; i++) a[i] = r() < zeros ? 0 : r() - 0.5;
  return a;
}

const n = 32;
const x1 = Float64Array.from(train.images.subarray(0, n * 784));

function layerBenches(
  label: string,
  x: Float64Array,
  nIn: number,
  nOut: number,
  needInputGrads: boolean,
) {
  const w = randomArray(nIn * nOut, random);
  const b = randomArray(nOut, random);
  const z = new Float64Array(n * nOut);
  const dz = randomArray(n * nOut, random);
  const dw = new Float64Array(nIn * nOut), db = new Float64Array(nOut);
  const dx = new Float64Array(n * nIn);
  const sparse = createSparseInput();
  // Index every non-zero (maxDensity 1) so that the sparse kernels can also
  // be timed on dense input, to show why they are not used there.
  indexNonZeros(sparse, x, n, nIn, 1);
  const group = (what: string) => `${label} ${what}`;

  let g = group(`forward z = x·w + b, ${n}×${nIn}→${nOut}`);
  Deno.bench(
    { name: "reference", group: g },
    () => denseForwardReference(z, x, w, b, n, nIn, nOut),
  );
  Deno.bench(
    { name: "seed (skip zeros, 4-way)", group: g, baseline: true },
    () => seed.denseForward(z, x, w, b, n, nIn, nOut),
  );
  Deno.bench(
    { name: "tiled 4×4", group: g },
    () => denseForwardTiled(z, x, w, b, n, nIn, nOut),
  );
  {
    Deno.bench({ name: "sparse, incl. indexing", group: g }, () => {
      indexNonZeros(sparse, x, n, nIn, 1);
      denseForwardSparse(z, sparse, w, b, nOut);
    });
    Deno.bench(
      { name: "sparse, offsets instead of row views", group: g },
      () => {
        indexNonZeros(sparse, x, n, nIn, 1);
        denseForwardSparseOffsets(z, sparse, w, b, nOut);
      },
    );
    const w32 = Float32Array.from(w);
    const w32Rows = Array.from(
      { length: nIn },
      (_, i) => w32.subarray(i * nOut, (i + 1) * nOut),
    );
    Deno.bench({ name: "sparse, Float32 weights", group: g }, () => {
      indexNonZeros(sparse, x, n, nIn, 1);
      denseForwardSparseFloat32(z, sparse, w32Rows, b, nOut);
    });
  }

  g = group(`weight grads dw += xᵀ·dz, ${nIn}×${nOut}`);
  Deno.bench(
    { name: "reference", group: g },
    () => denseBackwardParamsReference(dw, db, x, dz, n, nIn, nOut),
  );
  Deno.bench(
    { name: "seed (skip zeros)", group: g, baseline: true },
    () => seed.denseBackwardParams(dw, db, x, dz, n, nIn, nOut),
  );
  Deno.bench(
    { name: "tiled 4×4", group: g },
    () => denseBackwardParamsTiled(dw, db, x, dz, n, nIn, nOut),
  );
  {
    Deno.bench(
      { name: "sparse by input (CSC), incl. indexing", group: g },
      () => {
        indexNonZeros(sparse, x, n, nIn, 1);
        indexColumns(sparse);
        denseBackwardParamsSparse(dw, db, sparse, dz, nOut);
      },
    );
    Deno.bench(
      { name: "sparse by row (CSR), incl. indexing", group: g },
      () => {
        indexNonZeros(sparse, x, n, nIn, 1);
        denseBackwardParamsByRow(
          rowViews(dw, nOut),
          rowViews(dz, nOut),
          sparse,
          nOut,
        );
      },
    );
  }

  if (needInputGrads) {
    g = group(`input grads dx = dz·wᵀ, ${n}×${nOut}→${nIn}`);
    Deno.bench(
      { name: "reference", group: g },
      () => denseBackwardInputReference(dx, dz, w, n, nIn, nOut),
    );
    Deno.bench(
      { name: "seed", group: g, baseline: true },
      () => seed.denseBackwardInput(dx, dz, w, n, nIn, nOut),
    );
    Deno.bench(
      { name: "tiled 2×4", group: g },
      () => denseBackwardInputTiled(dx, dz, w, n, nIn, nOut),
    );
  }
}

// Layer 1 on raw pixels (sparse), layer 2 on sigmoid activations (dense).
layerBenches("L1", x1, 784, 128, false);
const h = new Float64Array(n * 128);
activate(h, randomArray(n * 128, random), "sigmoid", n, 128);
layerBenches("L2", h, 128, 64, true);

// Where sparse stops paying: forward at several densities (SPARSE_MAX_DENSITY).
for (const density of [0.3, 0.5, 0.7]) {
  for (const nOut of [10, 64]) {
    const nIn = 256;
    const x = randomArray(n * nIn, random, 1 - density);
    const w = randomArray(nIn * nOut, random), b = randomArray(nOut, random);
    const z = new Float64Array(n * nOut);
    const sparse = createSparseInput();
    const g = `crossover: forward ${n}×${nIn}→${nOut}, ${
      density * 100
    }% non-zero`;
    Deno.bench(
      { name: "tiled", group: g, baseline: true },
      () => denseForwardTiled(z, x, w, b, n, nIn, nOut),
    );
    Deno.bench({ name: "sparse, incl. indexing", group: g }, () => {
      indexNonZeros(sparse, x, n, nIn, 1);
      denseForwardSparse(z, sparse, w, b, nOut);
    });
  }
}

{
  const z = randomArray(n * 128, random).map((v) => 8 * v);
  const a = new Float64Array(z.length);
  const g = `sigmoid of ${n}×128`;
  Deno.bench(
    { name: "Math.exp (activateReference)", group: g, baseline: true },
    () => activateReference(a, z, "sigmoid", n, 128),
  );
  Deno.bench(
    { name: "table exp (activate)", group: g },
    () => activate(a, z, "sigmoid", n, 128),
  );
}

{
  const network = createNetwork({
    input: [784],
    layers: [
      { type: "dense", units: 128, activation: "sigmoid" },
      { type: "dense", units: 64, activation: "sigmoid" },
      { type: "dense", units: 10, activation: "sigmoid" },
    ],
  }, { random: createRandom(1), init: "notebook" });
  const one = Float64Array.from(test.images.subarray(0, 784));
  const thousand = Float64Array.from(test.images.subarray(0, 784_000));
  Deno.bench(
    { name: "predict 1 digit (network.forward)", group: "inference" },
    () => {
      network.forward(one, 1);
    },
  );
  Deno.bench({
    name: "predict 1,000 digits (network.forward)",
    group: "inference",
    n: 50,
  }, () => {
    network.forward(thousand, 1000);
  });
}

{
  // Copying a shuffled batch of 32 digits (Float32 dataset → Float64 input),
  // as Trainer and ParallelTrainer do each step.
  const images = imageViews(train);
  const x = new Float64Array(n * 784);
  const order = Array.from({ length: n }, (_, r) => (r * 211) % train.count);
  Deno.bench(
    { name: "element loop", group: "gather a batch of 32", baseline: true },
    () => {
      for (let r = 0; r < n; r++) {
        const p = order[r] * 784, o = r * 784;
        for (let k = 0; k < 784; k++) x[o + k] = train.images[p + k];
      }
    },
  );
  Deno.bench(
    {
      name: "x.set(view) (Trainer, ParallelTrainer)",
      group: "gather a batch of 32",
    },
    () => {
      for (let r = 0; r < n; r++) x.set(images[order[r]], r * 784);
    },
  );
}
