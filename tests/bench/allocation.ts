/**
 * Checks that the training hot loop allocates nothing, two ways:
 *
 * 1. Bytes per step: after a warm-up epoch, reads V8's used heap before and
 *    after windows of 50 steps and prints the median growth per step over
 *    the windows without a garbage collection (a collection shrinks the
 *    heap; those windows are skipped). This is what the step allocates on
 *    the main thread: 0 means nothing per batch (the `BatchResult` each call
 *    returns is the one object, ~60 bytes).
 * 2. With `--v8-flags=--trace-gc`: V8 prints every GC of the main isolate
 *    with its time since start; the script prints when the measured epochs
 *    start and end, so count the GC lines in between. Worker isolates count
 *    time from their own start: compare the number of their GC lines for 2
 *    and for 6 epochs (equal = no per-step garbage).
 *
 * Usage: deno run --allow-read --allow-env [--v8-flags=--trace-gc] tests/bench/allocation.ts [trainer|parallel] [epochs]
 *
 * @module
 */

import { loadMnistSplit } from "../../src/data/mnist_package.ts";
import { createNetwork } from "../../src/nn/network.ts";
import { ParallelTrainer } from "../../src/nn/parallel.ts";
import { createRandom } from "../../src/nn/random.ts";
import { Trainer } from "../../src/nn/trainer.ts";

const which = Deno.args[0] ?? "trainer";
const { train } = loadMnistSplit();
const random = createRandom(1);
const network = createNetwork({
  input: [784],
  layers: [
    { type: "dense", units: 128, activation: "sigmoid" },
    { type: "dense", units: 64, activation: "sigmoid" },
    { type: "dense", units: 10, activation: "sigmoid" },
  ],
}, { random, init: "notebook" });
const options = {
  cost: "mse" as const,
  optimizer: { kind: "sgd" as const },
  learningRate: 2,
  schedule: "constant" as const,
  epochs: Number(Deno.args[1] ?? 2),
  batchSize: 32,
  random,
};
const trainer = which === "parallel"
  ? await ParallelTrainer.create(network, train, { ...options, workers: 2 })
  : new Trainer(network, train, options);
while (trainer.epoch === 0) trainer.trainBatch();
console.log(
  `--- ${which}: second epoch starts at ${performance.now().toFixed(0)} ms`,
);
const WINDOW = 50;
const perStep: number[] = [];
let steps = 0;
while (!trainer.done) {
  const before = Deno.memoryUsage().heapUsed;
  let k = 0;
  for (; k < WINDOW && !trainer.done; k++) trainer.trainBatch();
  const grown = Deno.memoryUsage().heapUsed - before;
  if (k === WINDOW && grown >= 0) perStep.push(grown / WINDOW);
  steps += k;
}
console.log(
  `--- ${which}: ${steps} steps done at ${performance.now().toFixed(0)} ms`,
);
perStep.sort((a, b) => a - b);
console.log(
  `--- ${which}: heap growth per step, median of ${perStep.length} windows of ${WINDOW} steps without a GC: ${
    perStep.length ? perStep[perStep.length >> 1].toFixed(0) : "–"
  } bytes (min ${perStep[0]?.toFixed(0) ?? "–"}, max ${
    perStep.at(-1)?.toFixed(0) ?? "–"
  })`,
);
if (trainer instanceof ParallelTrainer) trainer.close();
