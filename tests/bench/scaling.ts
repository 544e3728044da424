/**
 * How one epoch grows with the hidden width and the worker count:
 * 784-H-64-10 sigmoid, MSE, SGD on the 8,000 training digits, for
 * H ∈ --widths and W ∈ --workers, at batch sizes --batches. Each run trains
 * a fresh network for --epochs epochs (default 2) and times the last one:
 * the warm epoch, after JIT compilation and worker start-up, as every epoch
 * of a training run but its first. Runs are interleaved; the table shows
 * median (min–max) wall ms and the speed-up of each worker count over 1
 * worker.
 *
 * Usage: deno run --allow-read --allow-env --allow-sys tests/bench/scaling.ts
 *          [--runs 3] [--widths 128,256,512] [--workers 1,2] [--batches 32] [--epochs 2]
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "@std/cli";
import { loadMnistSplit } from "../../src/data/mnist_package.ts";
import { createNetwork } from "../../src/nn/network.ts";
import { ParallelTrainer } from "../../src/nn/parallel.ts";
import { createRandom } from "../../src/nn/random.ts";

const args = parseArgs(Deno.args, {
  string: ["runs", "widths", "workers", "batches", "epochs"],
  default: {
    runs: "3",
    widths: "128,256,512",
    workers: "1,2",
    batches: "32",
    epochs: "2",
  },
});
const RUNS = Number(args.runs);
const EPOCHS = Number(args.epochs);
if (!(Number.isInteger(EPOCHS) && EPOCHS >= 1)) {
  console.error(`--epochs must be an integer ≥ 1: got ${args.epochs}`);
  Deno.exit(2);
}
const list = (s: string) => s.split(",").map(Number);
const widths = list(args.widths),
  workerCounts = list(args.workers),
  batches = list(args.batches);
const { train } = loadMnistSplit();

async function epoch(
  hidden: number,
  workers: number,
  batchSize: number,
  seed: number,
) {
  const random = createRandom(seed);
  const network = createNetwork({
    input: [784],
    layers: [
      { type: "dense", units: hidden, activation: "sigmoid" },
      { type: "dense", units: 64, activation: "sigmoid" },
      { type: "dense", units: 10, activation: "sigmoid" },
    ],
  }, { random, init: "notebook" });
  const trainer = await ParallelTrainer.create(network, train, {
    cost: "mse",
    optimizer: { kind: "sgd" },
    learningRate: 2,
    schedule: "constant",
    epochs: EPOCHS,
    batchSize,
    random,
    workers,
  });
  while (trainer.epoch < EPOCHS - 1) trainer.trainBatch(); // warm-up, untimed
  const c0 = process.cpuUsage(), t0 = performance.now();
  while (!trainer.done) trainer.trainBatch();
  const wall = performance.now() - t0, c = process.cpuUsage(c0);
  trainer.close();
  return { wall, cpu: (c.user + c.system) / 1000 };
}

const results = new Map<string, { wall: number[]; cpu: number[] }>();
const key = (h: number, w: number, b: number) => `${h}/${w}/${b}`;
for (let run = 0; run < RUNS; run++) {
  for (const b of batches) {
    for (const h of widths) {
      for (const w of workerCounts) {
        const r = await epoch(h, w, b, run + 1);
        const k = key(h, w, b);
        if (!results.has(k)) results.set(k, { wall: [], cpu: [] });
        results.get(k)!.wall.push(r.wall);
        results.get(k)!.cpu.push(r.cpu);
        console.error(
          `run ${run + 1}: hidden ${h}, ${w} worker(s), batch ${b}: ${
            r.wall.toFixed(0)
          } ms (cpu ${r.cpu.toFixed(0)})`,
        );
      }
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const fmt = (xs: number[]) =>
  `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${
    Math.max(...xs).toFixed(0)
  })`;
console.log(
  `\nEpoch ${EPOCHS} of 784-H-64-10 on ${train.count} digits, wall ms, median (min–max) of ${RUNS}; load ${loadAverage()}\n`,
);
console.log(
  `| batch | hidden H | ${
    workerCounts.map((w) => `${w} worker${w > 1 ? "s" : ""}`).join(" | ")
  } | ${workerCounts.slice(1).map((w) => `speed-up ×${w}`).join(" | ")} |`,
);
console.log(
  `|---|---|${workerCounts.map(() => "---").join("|")}|${
    workerCounts.slice(1).map(() => "---").join("|")
  }|`,
);
for (const b of batches) {
  for (const h of widths) {
    const cells = workerCounts.map((w) => fmt(results.get(key(h, w, b))!.wall));
    const one = median(results.get(key(h, workerCounts[0], b))!.wall);
    const ups = workerCounts.slice(1).map((w) =>
      `${(one / median(results.get(key(h, w, b))!.wall)).toFixed(2)}×`
    );
    console.log(`| ${b} | ${h} | ${cells.join(" | ")} | ${ups.join(" | ")} |`);
  }
}

/** The 1, 5 and 15 minute load averages (other work on the machine skews every timing). */
function loadAverage(): string {
  try {
    return Deno.loadavg().map((l) => l.toFixed(1)).join(" ");
  } catch {
    return "unknown (needs --allow-sys)";
  }
}
