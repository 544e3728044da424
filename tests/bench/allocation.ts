/**
 * Checks that the training hot loop allocates nothing: after one warm-up
 * epoch, trains another and counts V8's garbage collections in between
 * (a scavenge runs every few MB allocated, so 0 GCs over 250 steps means
 * less than a few KB per step, i.e. nothing per batch beyond noise).
 *
 * Usage: deno run --allow-read --allow-env --v8-flags=--trace-gc tests/bench/allocation.ts [trainer|parallel] [epochs]
 *
 * Worker isolates count time from their own start: to check them, compare the
 * number of their GC lines for 2 and for 6 epochs (equal = no per-step garbage).
 *
 * Prints the times the second epoch starts and ends; V8 prints every GC of the
 * main isolate with its time since start (about the same origin): count those
 * in between.
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
let steps = 0;
while (!trainer.done) {
  trainer.trainBatch();
  steps++;
}
console.log(
  `--- ${which}: ${steps} steps done at ${performance.now().toFixed(0)} ms`,
);
if (trainer instanceof ParallelTrainer) trainer.close();
