import { assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import {
  col2im,
  conv2dBackwardReference,
  conv2dForwardReference,
  Conv2dLayer,
  convGeometry,
  im2col,
} from "../../src/nn/conv2d.ts";
import type { LayerSpec } from "../../src/nn/layer.ts";
import { createNetwork, type Network } from "../../src/nn/network.ts";
import { createRandom, type Random } from "../../src/nn/random.ts";
import { Trainer } from "../../src/nn/trainer.ts";
import type { Cost } from "../../src/nn/cost.ts";

function randomArray(length: number, random: Random): Float64Array {
  const a = new Float64Array(length);
  for (let i = 0; i < length; i++) a[i] = 2 * random() - 1;
  return a;
}

function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: number,
  what: string,
): void {
  assertEquals(actual.length, expected.length, `${what}: lengths differ`);
  for (let i = 0; i < expected.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i]));
    if (!(Math.abs(actual[i] - expected[i]) <= tolerance * scale)) {
      throw new Error(
        `${what}[${i}]: expected ${expected[i]}, got ${
          actual[i]
        } (tolerance ${tolerance})`,
      );
    }
  }
}

/** Geometries with odd and even kernels, several channels and an odd filter count. */
const CASES: [number[], number, number, "same" | "valid"][] = [
  [[1, 5, 5], 2, 3, "same"],
  [[2, 7, 6], 3, 3, "same"],
  [[3, 6, 7], 4, 3, "valid"],
  [[2, 8, 8], 3, 5, "same"],
  [[1, 6, 6], 5, 2, "same"],
  [[2, 5, 4], 1, 4, "valid"],
];

Deno.test("convGeometry() keeps height and width with same padding and shrinks them with valid", () => {
  const same = convGeometry([1, 28, 28], {
    filters: 8,
    kernelSize: 5,
    padding: "same",
  });
  assertEquals([same.outHeight, same.outWidth, same.pad], [28, 28, 2]);
  const valid = convGeometry([1, 28, 28], {
    filters: 8,
    kernelSize: 5,
    padding: "valid",
  });
  assertEquals([valid.outHeight, valid.outWidth, valid.pad], [24, 24, 0]);
});

Deno.test("Conv2dLayer.forward() matches a hand-computed 3x3 valid convolution", () => {
  const layer = new Conv2dLayer([1, 3, 3], {
    filters: 1,
    kernelSize: 2,
    activation: "linear",
    padding: "valid",
  });
  // x = 1 2 3 / 4 5 6 / 7 8 9, w = 1 0 / 0 −1, b = 10
  layer.w.set([1, 0, 0, -1]);
  layer.b[0] = 10;
  const x = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const a = layer.forward(x, 1);
  // z = b + x[i, j] − x[i+1, j+1] = 10 − 4 everywhere
  assertEquals(Array.from(a.subarray(0, 4)), [6, 6, 6, 6]);
  assertEquals(layer.outputShape, [1, 2, 2]);
});

Deno.test("Conv2dLayer.forward() pads with zeros for same padding", () => {
  const layer = new Conv2dLayer([1, 2, 2], {
    filters: 1,
    kernelSize: 3,
    activation: "linear",
    padding: "same",
  });
  layer.w.fill(1); // each output is the sum of its 3×3 neighbourhood
  const a = layer.forward(Float64Array.from([1, 2, 3, 4]), 1);
  assertEquals(Array.from(a.subarray(0, 4)), [10, 10, 10, 10]);
});

Deno.test("Conv2dLayer.forward() (im2col) matches the direct reference convolution", () => {
  const random = createRandom(7);
  for (const [shape, filters, kernelSize, padding] of CASES) {
    const layer = new Conv2dLayer(shape, {
      filters,
      kernelSize,
      activation: "linear",
      padding,
    });
    layer.w.set(randomArray(layer.w.length, random));
    layer.b.set(randomArray(layer.b.length, random));
    const n = 3;
    const x = randomArray(n * shape[0] * shape[1] * shape[2], random);
    const z = layer.forward(x, n);
    const expected = new Float64Array(
      n * layer.outputShape.reduce((s, d) => s * d),
    );
    conv2dForwardReference(expected, x, layer.w, layer.b, n, layer.geometry);
    assertAllClose(
      z.subarray(0, expected.length),
      expected,
      1e-12,
      `z ${shape}`,
    );
  }
});

Deno.test("Conv2dLayer.backward() matches the direct reference gradients for dense and sparse dz", () => {
  const random = createRandom(8);
  for (const sparse of [false, true]) {
    for (const [shape, filters, kernelSize, padding] of CASES) {
      const layer = new Conv2dLayer(shape, {
        filters,
        kernelSize,
        activation: "linear",
        padding,
      });
      layer.w.set(randomArray(layer.w.length, random));
      const n = 2;
      const inSize = shape[0] * shape[1] * shape[2];
      const x = randomArray(n * inSize, random);
      const outSize = layer.outputShape.reduce((s, d) => s * d);
      const dz = randomArray(n * outSize, random);
      // Mostly zeros, as below a max-pool: backward takes its sparse path.
      if (sparse) { for (let i = 0; i < dz.length; i++) if (i % 5) dz[i] = 0; }
      layer.forward(x, n);
      const dx = layer.backward(dz, n, true, false);
      const dw = new Float64Array(layer.w.length);
      const db = new Float64Array(layer.b.length);
      const dxExpected = new Float64Array(n * inSize);
      conv2dBackwardReference(
        dw,
        db,
        dxExpected,
        x,
        layer.w,
        dz,
        n,
        layer.geometry,
      );
      assertAllClose(layer.grads[0], dw, 1e-12, `dw ${shape} sparse=${sparse}`);
      assertAllClose(layer.grads[1], db, 1e-12, `db ${shape} sparse=${sparse}`);
      assertAllClose(
        dx.subarray(0, n * inSize),
        dxExpected,
        1e-12,
        `dx ${shape} sparse=${sparse}`,
      );
    }
  }
});

Deno.test("col2im() adds back exactly what im2col() copied (adjoint identity)", () => {
  // ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩ for every x and y.
  const random = createRandom(9);
  const g = convGeometry([2, 5, 6], {
    filters: 1,
    kernelSize: 3,
    padding: "same",
  });
  const K = 2 * 3 * 3, P = g.outHeight * g.outWidth;
  const x = randomArray(2 * 5 * 6, random);
  const y = randomArray(K * P, random);
  const col = new Float64Array(K * P);
  im2col(col, 0, x, 0, g);
  const back = new Float64Array(x.length);
  col2im(back, 0, y, 0, g);
  let left = 0, right = 0;
  for (let i = 0; i < col.length; i++) left += col[i] * y[i];
  for (let i = 0; i < x.length; i++) right += x[i] * back[i];
  assertAlmostEquals(left, right, 1e-12);
});

Deno.test("Conv2dLayer rejects inputs and settings it cannot use", () => {
  const spec = {
    filters: 2,
    kernelSize: 3,
    activation: "relu" as const,
    padding: "same" as const,
  };
  assertThrows(() => new Conv2dLayer([784], spec), TypeError, "[784]");
  assertThrows(
    () => new Conv2dLayer([1, 28, 28], { ...spec, activation: "softmax" }),
    RangeError,
    "softmax",
  );
  assertThrows(
    () => new Conv2dLayer([1, 28, 28], { ...spec, filters: 0 }),
    RangeError,
    "got 0",
  );
  assertThrows(
    () => new Conv2dLayer([1, 28, 28], { ...spec, kernelSize: 2.5 }),
    RangeError,
    "got 2.5",
  );
  assertThrows(
    () => new Conv2dLayer([1, 2, 2], { ...spec, padding: "valid" }),
    RangeError,
    "larger than the 2×2 input",
  );
});

/** Mean cost of the whole batch, recomputed from scratch. */
function costOf(
  network: Network,
  x: Float64Array,
  labels: Uint8Array,
  n: number,
  cost: Cost,
): number {
  const grads = network.grads.map((g) => g.slice());
  const loss = network.backprop(x, labels, n, cost);
  network.grads.forEach((g, k) => g.set(grads[k]));
  return loss;
}

function gradientCheck(layers: LayerSpec[], cost: Cost, seed: number): void {
  const random = createRandom(seed);
  const network = createNetwork({ input: [2, 6, 6], layers }, { random });
  // Biases start at 0; give them values so their gradients are tested too.
  for (const layer of network.layers) {
    if (layer.params.length === 2) {
      layer.params[1].set(randomArray(layer.params[1].length, random));
    }
  }
  const n = 3;
  const x = randomArray(n * 72, random);
  const labels = Uint8Array.from([0, 2, 1]);
  network.zeroGrads();
  network.backprop(x, labels, n, cost);
  const analytic = network.grads.map((g) => g.slice());
  const h = 1e-5;
  for (const [k, p] of network.params.entries()) {
    for (let i = 0; i < p.length; i++) {
      const saved = p[i];
      p[i] = saved + h;
      const plus = costOf(network, x, labels, n, cost);
      p[i] = saved - h;
      const minus = costOf(network, x, labels, n, cost);
      p[i] = saved;
      const numeric = (plus - minus) / (2 * h);
      const error = Math.abs(numeric - analytic[k][i]) /
        Math.max(1e-4, Math.abs(numeric) + Math.abs(analytic[k][i]));
      if (error > 1e-5) {
        throw new Error(
          `param ${k}[${i}]: numeric ${numeric}, backprop ${
            analytic[k][i]
          }, relative error ${error}`,
        );
      }
    }
  }
}

Deno.test("a conv2d → maxpool2d → dense network passes a finite-difference gradient check (cross-entropy)", () => {
  gradientCheck(
    [
      {
        type: "conv2d",
        filters: 3,
        kernelSize: 3,
        activation: "sigmoid",
        padding: "same",
      },
      { type: "maxpool2d", size: 2 },
      {
        type: "conv2d",
        filters: 2,
        kernelSize: 2,
        activation: "linear",
        padding: "valid",
      },
      { type: "dense", units: 3, activation: "softmax" },
    ],
    "cross-entropy",
    11,
  );
});

Deno.test("a conv2d → maxpool2d → dense network passes a finite-difference gradient check (mse)", () => {
  gradientCheck(
    [
      {
        type: "conv2d",
        filters: 2,
        kernelSize: 3,
        activation: "linear",
        padding: "valid",
      },
      { type: "maxpool2d", size: 2 },
      { type: "dense", units: 3, activation: "sigmoid" },
    ],
    "mse",
    12,
  );
});

const TINY_CNN: LayerSpec[] = [
  {
    type: "conv2d",
    filters: 4,
    kernelSize: 3,
    activation: "relu",
    padding: "same",
  },
  { type: "maxpool2d", size: 2 },
  { type: "dense", units: 3, activation: "softmax" },
];

function trainTiny(seed: number, epochs: number): Network {
  const random = createRandom(seed);
  const network = createNetwork({ input: [1, 6, 6], layers: TINY_CNN }, {
    random,
  });
  const count = 6;
  const images = new Float32Array(count * 36);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % 3;
    for (let j = 0; j < 36; j++) images[i * 36 + j] = random();
  }
  const trainer = new Trainer(network, {
    images,
    labels,
    count,
    shape: [1, 6, 6],
  }, {
    cost: "cross-entropy",
    optimizer: { kind: "adam" },
    learningRate: 0.01,
    schedule: "constant",
    epochs,
    batchSize: 3,
    random,
  });
  while (!trainer.done) trainer.trainBatch();
  return network;
}

Deno.test("a small CNN overfits six random images", () => {
  const random = createRandom(3);
  const network = trainTiny(3, 150);
  // Rebuild the same images to check the predictions.
  createNetwork({ input: [1, 6, 6], layers: TINY_CNN }, { random });
  const x = new Float64Array(6 * 36);
  for (let i = 0; i < 6; i++) {
    for (let j = 0; j < 36; j++) x[i * 36 + j] = random();
  }
  const a = network.forward(x, 6);
  for (let i = 0; i < 6; i++) {
    const row = Array.from(a.subarray(i * 3, i * 3 + 3));
    assertEquals(row.indexOf(Math.max(...row)), i % 3, `image ${i}: ${row}`);
  }
});

Deno.test("training a CNN twice with the same seed gives bit-identical weights", () => {
  const a = trainTiny(5, 3).params;
  const b = trainTiny(5, 3).params;
  assertEquals(a.map((p) => Array.from(p)), b.map((p) => Array.from(p)));
  const c = trainTiny(6, 3).params;
  assertEquals(
    a.every((p, k) => p.every((v, i) => v === c[k][i])),
    false,
    "a different seed should give different weights",
  );
});
