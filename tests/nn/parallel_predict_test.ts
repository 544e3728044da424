import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "@std/assert";
import type { LayerSpec } from "../../src/nn/layer.ts";
import { evaluate } from "../../src/nn/metrics.ts";
import { createNetwork, type Network } from "../../src/nn/network.ts";
import { ParallelPredictor } from "../../src/nn/parallel_predict.ts";
import { createRandom } from "../../src/nn/random.ts";
import { syntheticDataset } from "./_fixtures.ts";

const SIGMOID_MLP: LayerSpec[] = [
  { type: "dense", units: 16, activation: "sigmoid" },
  { type: "dense", units: 8, activation: "sigmoid" },
  { type: "dense", units: 10, activation: "sigmoid" },
];

const CNN: LayerSpec[] = [
  {
    type: "conv2d",
    filters: 3,
    kernelSize: 3,
    activation: "relu",
    padding: "same",
  },
  { type: "maxpool2d", size: 2 },
  { type: "dense", units: 12, activation: "relu" },
  { type: "dropout", rate: 0.3 },
  { type: "dense", units: 10, activation: "softmax" },
];

function network(layers: LayerSpec[], input: number[], seed = 1): Network {
  return createNetwork({ input, layers }, { random: createRandom(seed) });
}

/** n rows of `size` inputs, about 80% zeros like MNIST pixels. */
function images(n: number, size: number, seed = 2): Float64Array {
  const r = createRandom(seed);
  return Float64Array.from({ length: n * size }, () => r() < 0.8 ? 0 : r());
}

/** Runs `f` with a predictor and closes it whatever happens. */
async function withPredictor(
  net: Network,
  options: Parameters<typeof ParallelPredictor.create>[1],
  f: (p: ParallelPredictor) => void | Promise<void>,
): Promise<void> {
  const predictor = await ParallelPredictor.create(net, options);
  try {
    await f(predictor);
  } finally {
    predictor.close();
  }
}

Deno.test("ParallelPredictor on 2 workers equals network.forward bit for bit (sparse inputs, sigmoid layers)", async () => {
  const net = network(SIGMOID_MLP, [64]);
  const x = images(50, 64);
  await withPredictor(net, { workers: 2, maxRows: 50 }, (p) => {
    assert(p.parallel, "the workers should start here");
    for (const n of [1, 2, 7, 50]) {
      const expected = net.forward(x, n).slice();
      assertEquals(p.predict(x, n), expected, `${n} rows`);
    }
  });
});

Deno.test("ParallelPredictor runs a CNN with dropout (off at inference) like network.forward", async () => {
  const net = network(CNN, [1, 8, 8]);
  const x = images(9, 64, 3);
  await withPredictor(net, { workers: 3, maxRows: 9 }, (p) => {
    const expected = net.forward(x, 9).slice();
    const got = p.predict(x, 9);
    let worst = 0;
    for (let i = 0; i < got.length; i++) {
      worst = Math.max(worst, Math.abs(got[i] - expected[i]));
    }
    assert(worst < 1e-12, `largest difference ${worst}`);
    assertEquals(got.length, 90);
  });
});

Deno.test("ParallelPredictor takes batches smaller than its thread count", async () => {
  const net = network(SIGMOID_MLP, [64]);
  const x = images(2, 64);
  await withPredictor(net, { workers: 3, maxRows: 4 }, (p) => {
    assertEquals(p.predict(x, 1), net.forward(x, 1).slice());
    assertEquals(p.predict(x, 2), net.forward(x, 2).slice());
  });
});

Deno.test("ParallelPredictor's workers see weight changes only after syncWeights()", async () => {
  // Wide enough that a chunk takes long: the worker claims some of the 8.
  const net = network([
    { type: "dense", units: 256, activation: "sigmoid" },
    { type: "dense", units: 10, activation: "sigmoid" },
  ], [784]);
  const rows = 128, x = images(rows, 784);
  await withPredictor(net, { workers: 2, maxRows: rows }, (p) => {
    const before = net.forward(x, rows).slice();
    for (const param of net.params) {
      for (let i = 0; i < param.length; i++) param[i] *= 1.5;
    }
    const after = net.forward(x, rows).slice();
    assertNotEquals(before, after);
    // Chunks the worker claims still come out with the old weights.
    let staleRows = 0;
    for (let call = 0; call < 200 && staleRows === 0; call++) {
      const out = p.predict(x, rows);
      for (let r = 0; r < rows; r++) {
        const o = r * 10;
        if (out[o] === before[o] && out[o] !== after[o]) staleRows++;
      }
    }
    assert(staleRows > 0, "the worker never answered with its old weights");
    p.syncWeights();
    for (let call = 0; call < 20; call++) {
      assertEquals(p.predict(x, rows), after);
    }
  });
});

Deno.test("ParallelPredictor gives the same outputs for any thread count, on workers or not", async () => {
  const net = network(CNN, [1, 8, 8], 7);
  const x = images(70, 64, 8);
  const outputs: Float64Array[] = [];
  for (const workers of [1, 2, 3]) {
    await withPredictor(net, { workers, maxRows: 70 }, (p) => {
      outputs.push(p.predict(x, 70));
    });
  }
  assertEquals(outputs[1], outputs[0]);
  assertEquals(outputs[2], outputs[0]);
});

Deno.test("evaluate() gives the same accuracy and confusion through a predictor", async () => {
  const data = syntheticDataset(37, 64, 10, 4);
  const net = network(SIGMOID_MLP, [64], 5);
  await withPredictor(net, { workers: 2, maxRows: 10 }, (p) => {
    assertEquals(evaluate(p, data, 10), evaluate(net, data, 10));
  });
});

Deno.test("ParallelPredictor falls back to this thread, with the same outputs, when its workers cannot start", async () => {
  const net = network(SIGMOID_MLP, [64]);
  const x = images(6, 64);
  await withPredictor(net, {
    workers: 2,
    maxRows: 6,
    workerUrl: 'data:text/javascript,postMessage({ error: "no worker here" })',
  }, (p) => {
    assert(!p.parallel);
    assertEquals(p.workerError?.message, "no worker here");
    assertEquals(p.predict(x, 6), net.forward(x, 6).slice());
    p.syncWeights(); // nothing to hand over, and no error
  });
});

Deno.test("ParallelPredictor with 1 worker computes in this thread", async () => {
  const net = network(SIGMOID_MLP, [64]);
  const x = images(3, 64);
  await withPredictor(net, { workers: 1, maxRows: 3 }, (p) => {
    assert(!p.parallel);
    assertEquals(p.workerError, undefined);
    assertEquals(p.predict(x, 3), net.forward(x, 3).slice());
  });
});

Deno.test("ParallelPredictor.create() rejects bad worker counts and row limits", async () => {
  const net = network(SIGMOID_MLP, [64]);
  for (const workers of [0, 1.5, 65, NaN]) {
    await assertRejects(
      () => ParallelPredictor.create(net, { workers }),
      RangeError,
      "workers must be an integer in 1..64",
    );
  }
  for (const maxRows of [0, -1, 2.5, 100_001]) {
    await assertRejects(
      () => ParallelPredictor.create(net, { maxRows }),
      RangeError,
      "maxRows must be an integer in 1..100000",
    );
  }
});

Deno.test("ParallelPredictor refuses bad calls with clear errors and stays usable", async () => {
  const net = network(SIGMOID_MLP, [64]);
  const x = images(4, 64);
  await withPredictor(net, { workers: 2, maxRows: 4 }, (p) => {
    assertThrows(() => p.predict(x, 0), RangeError, "takes 1 to 4");
    assertThrows(() => p.predict(x, 5), RangeError, "takes 1 to 4");
    assertThrows(() => p.predict(x, 1.5), RangeError, "takes 1 to 4");
    assertThrows(
      () => p.predict(x.subarray(0, 100), 2),
      RangeError,
      "x holds 100 numbers, not 128",
    );
    assertThrows(() => p.forward(x, 2, true), RangeError, "only infers");
    assertEquals(p.predict(x, 4), net.forward(x, 4).slice());
  });
});

Deno.test("ParallelPredictor throws after close(), which may be called twice", async () => {
  const net = network(SIGMOID_MLP, [64]);
  const p = await ParallelPredictor.create(net, { workers: 2, maxRows: 4 });
  p.close();
  p.close();
  assertThrows(
    () => p.predict(images(1, 64), 1),
    RangeError,
    "Cannot predict after close()",
  );
  assertThrows(() => p.syncWeights(), RangeError, "after close()");
});
