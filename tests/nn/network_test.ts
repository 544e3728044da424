import {
  assert,
  assertEquals,
  assertNotEquals,
  assertThrows,
} from "@std/assert";
import type { Activation } from "../../src/nn/activation.ts";
import { type Cost, costGradient } from "../../src/nn/cost.ts";
import { evaluate } from "../../src/nn/metrics.ts";
import {
  type Architecture,
  createNetwork,
  Network,
  roundParamsToFloat32,
  validateCost,
} from "../../src/nn/network.ts";
import { createRandom } from "../../src/nn/random.ts";
import { Trainer } from "../../src/nn/trainer.ts";
import { syntheticDataset } from "./_fixtures.ts";

function tinyArchitecture(
  hidden: Activation,
  output: Activation,
): Architecture {
  return {
    input: [6],
    layers: [
      { type: "dense", units: 5, activation: hidden },
      { type: "dense", units: 4, activation: hidden },
      { type: "dense", units: 3, activation: output },
    ],
  };
}

/** The mean cost of a batch at the network's current parameters. */
function costOf(
  net: Network,
  x: Float64Array,
  labels: Uint8Array,
  n: number,
  cost: Cost,
): number {
  const a = net.forward(x, n, true);
  return costGradient(
    new Float64Array(n * net.outputSize),
    cost,
    a,
    labels,
    n,
    net.outputSize,
  );
}

const CASES: [Activation, Activation, Cost][] = [
  ["sigmoid", "sigmoid", "mse"],
  ["relu", "sigmoid", "mse"],
  ["sigmoid", "softmax", "cross-entropy"],
  ["relu", "softmax", "cross-entropy"],
  ["relu", "softmax", "mse"],
];

for (const [hidden, output, cost] of CASES) {
  Deno.test(`backprop() matches finite differences for ${hidden} hidden, ${output} output, ${cost}`, () => {
    const random = createRandom(3);
    const net = createNetwork(tinyArchitecture(hidden, output), { random });
    const n = 4;
    const x = Float64Array.from({ length: n * 6 }, () => random() * 2 - 1);
    const labels = Uint8Array.from([0, 1, 2, 1]);
    net.zeroGrads();
    net.backprop(x, labels, n, cost);
    const grads = net.grads.map((g) => g.slice());
    const h = 1e-6;
    let worst = 0;
    for (const [k, p] of net.params.entries()) {
      for (let i = 0; i < p.length; i++) {
        const keep = p[i];
        p[i] = keep + h;
        const plus = costOf(net, x, labels, n, cost);
        p[i] = keep - h;
        const minus = costOf(net, x, labels, n, cost);
        p[i] = keep;
        const numeric = (plus - minus) / (2 * h);
        const analytic = grads[k][i];
        const rel = Math.abs(numeric - analytic) /
          Math.max(1e-8, Math.abs(numeric) + Math.abs(analytic));
        worst = Math.max(worst, Math.abs(numeric - analytic) < 1e-9 ? 0 : rel);
      }
    }
    assert(worst < 1e-5, `worst relative error ${worst}`);
  });
}

Deno.test("backprop() gives the notebook's gradients (dw = (1/n)·dz·aᵀ, dz = 2(a − y)·σ'(z))", () => {
  // A 3-4-2 sigmoid network with MSE, written out with the notebook's formulas:
  // weights as [out × in] and examples as columns.
  const random = createRandom(9);
  const net = createNetwork({
    input: [3],
    layers: [
      { type: "dense", units: 4, activation: "sigmoid" },
      { type: "dense", units: 2, activation: "sigmoid" },
    ],
  }, { random, init: "notebook" });
  const n = 5;
  const x = Float64Array.from({ length: n * 3 }, () => random());
  const labels = Uint8Array.from([0, 1, 1, 0, 1]);
  net.zeroGrads();
  net.backprop(x, labels, n, "mse");

  const [w2t, b2, w3t, b3] = net.params; // ours: [in × out]
  const W2 = (j: number, i: number) => w2t[i * 4 + j]; // notebook: w2[j][i], [4 × 3]
  const W3 = (j: number, i: number) => w3t[i * 2 + j]; // [2 × 4]
  const sig = (z: number) => 1 / (1 + Math.exp(-z));
  const dw2 = Array.from({ length: 4 }, () => [0, 0, 0]);
  const db2 = [0, 0, 0, 0];
  const dw3 = Array.from({ length: 2 }, () => [0, 0, 0, 0]);
  const db3 = [0, 0];
  for (let e = 0; e < n; e++) {
    const daten = [0, 1, 2].map((i) => x[e * 3 + i]);
    const z2 = [0, 1, 2, 3].map((j) =>
      b2[j] + daten.reduce((s, v, i) => s + W2(j, i) * v, 0)
    );
    const a2 = z2.map(sig);
    const z3 = [0, 1].map((j) =>
      b3[j] + a2.reduce((s, v, i) => s + W3(j, i) * v, 0)
    );
    const a3 = z3.map(sig);
    const y = [0, 1].map((j) => (j === labels[e] ? 1 : 0));
    // dC_da3 = 2 (a3 − y); dz3 = dC_da3 · σ'(z3)
    const dz3 = a3.map((a, j) => 2 * (a - y[j]) * a * (1 - a));
    // dC_da2 = w3ᵀ · dz3; dz2 = dC_da2 · σ'(z2)
    const dz2 = a2.map((a, i) =>
      [0, 1].reduce((s, j) => s + W3(j, i) * dz3[j], 0) * a * (1 - a)
    );
    for (let j = 0; j < 2; j++) {
      db3[j] += dz3[j] / n;
      for (let i = 0; i < 4; i++) dw3[j][i] += (dz3[j] * a2[i]) / n; // (1/n) dz3 · a2ᵀ
    }
    for (let j = 0; j < 4; j++) {
      db2[j] += dz2[j] / n;
      for (let i = 0; i < 3; i++) dw2[j][i] += (dz2[j] * daten[i]) / n;
    }
  }
  const [gw2, gb2, gw3, gb3] = net.grads;
  const close = (a: number, b: number) => Math.abs(a - b) < 1e-12;
  for (let j = 0; j < 4; j++) {
    assert(close(gb2[j], db2[j]));
    for (let i = 0; i < 3; i++) {
      assert(close(gw2[i * 4 + j], dw2[j][i]), `dw2[${j}][${i}]`);
    }
  }
  for (let j = 0; j < 2; j++) {
    assert(close(gb3[j], db3[j]));
    for (let i = 0; i < 4; i++) {
      assert(close(gw3[i * 2 + j], dw3[j][i]), `dw3[${j}][${i}]`);
    }
  }
});

Deno.test("Trainer overfits 16 examples to 100% accuracy", () => {
  const data = syntheticDataset(16, 784, 10, 4);
  const random = createRandom(1);
  const net = createNetwork({
    input: [784],
    layers: [
      { type: "dense", units: 32, activation: "relu" },
      { type: "dense", units: 10, activation: "softmax" },
    ],
  }, { random });
  const trainer = new Trainer(net, data, {
    cost: "cross-entropy",
    optimizer: { kind: "adam" },
    learningRate: 0.01,
    schedule: "constant",
    epochs: 100,
    batchSize: 16,
    random,
  });
  while (!trainer.done) trainer.trainBatch();
  assertEquals(evaluate(net, data).accuracy, 1);
  assert(trainer.epochLoss < 0.01, `loss ${trainer.epochLoss}`);
});

function trainedWeights(seed: number): Float64Array[] {
  const data = syntheticDataset(64, 20, 4, 2);
  const random = createRandom(seed);
  const net = createNetwork({
    input: [20],
    layers: [
      { type: "dense", units: 8, activation: "relu" },
      { type: "dropout", rate: 0.2 },
      { type: "dense", units: 4, activation: "softmax" },
    ],
  }, { random });
  const trainer = new Trainer(net, data, {
    cost: "cross-entropy",
    optimizer: { kind: "momentum" },
    learningRate: 0.05,
    schedule: "cosine",
    epochs: 3,
    batchSize: 10,
    random,
  });
  while (!trainer.done) trainer.trainBatch();
  return net.params;
}

Deno.test("training is bit-identical for the same seed and differs for another", () => {
  assertEquals(trainedWeights(5), trainedWeights(5));
  assertNotEquals(trainedWeights(5), trainedWeights(6));
});

Deno.test("Network rejects unknown layer types, bad units and bad activations", () => {
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => new Network({ input: [4], layers: [{ type: "lstm" } as any] }),
    TypeError,
    'type "lstm"',
  );
  assertThrows(
    () =>
      new Network({
        input: [4],
        layers: [{ type: "dense", units: 0, activation: "relu" }],
      }),
    RangeError,
    "got 0",
  );
  assertThrows(
    () =>
      new Network({
        input: [4],
        // deno-lint-ignore no-explicit-any
        layers: [{ type: "dense", units: 2, activation: "tanh" as any }],
      }),
    RangeError,
    '"tanh"',
  );
  assertThrows(
    () => new Network({ input: [], layers: [] }),
    TypeError,
    "input shape",
  );
});

Deno.test("validateCost() requires a softmax output for cross-entropy", () => {
  assertThrows(
    () => validateCost(tinyArchitecture("relu", "sigmoid"), "cross-entropy"),
    RangeError,
    "softmax",
  );
  validateCost(tinyArchitecture("relu", "softmax"), "cross-entropy");
});

Deno.test("createNetwork() draws He weights for relu and zero biases", () => {
  const net = createNetwork({
    input: [400],
    layers: [{ type: "dense", units: 100, activation: "relu" }],
  }, { random: createRandom(1) });
  const [w, b] = net.params;
  const variance = w.reduce((s, v) => s + v * v, 0) / w.length;
  assert(Math.abs(variance - 2 / 400) < 0.0005, `variance ${variance}`);
  assertEquals(b.every((v) => v === 0), true);
});

Deno.test("createNetwork() notebook init draws every parameter from [−0.5, 0.5)", () => {
  const net = createNetwork(tinyArchitecture("sigmoid", "sigmoid"), {
    random: createRandom(1),
    init: "notebook",
  });
  for (const p of net.params) {
    assert(p.every((v) => v >= -0.5 && v < 0.5 && v !== 0));
  }
});

Deno.test("roundParamsToFloat32() leaves only float32-representable values", () => {
  const net = createNetwork(tinyArchitecture("relu", "softmax"), {
    random: createRandom(2),
  });
  roundParamsToFloat32(net);
  for (const p of net.params) assert(p.every((v) => Math.fround(v) === v));
});
