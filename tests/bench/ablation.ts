/**
 * What each optimisation of issue 5 bought: one epoch of the notebook's
 * network (784-128-64-10, sigmoid, MSE, SGD, batch 32, 8,000 digits) with the
 * optimisations switched on one after another. Variants run interleaved,
 * `--runs` times each; the table shows median (min–max) wall and CPU time and
 * the speed-up over the previous row.
 *
 * Usage: deno run --allow-read --allow-env tests/bench/ablation.ts [--runs 5] [--workers 2]
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "@std/cli";
import { loadMnistSplit } from "../../src/data/mnist_package.ts";
import { DenseLayer } from "../../src/nn/dense.ts";
import type { LayerSpec } from "../../src/nn/layer.ts";
import { createNetwork, registerLayer } from "../../src/nn/network.ts";
import { ParallelTrainer } from "../../src/nn/parallel.ts";
import { createRandom } from "../../src/nn/random.ts";
import { Trainer } from "../../src/nn/trainer.ts";
import { AblationDenseLayer, type AblationOptions } from "./_ablation_dense.ts";

const args = parseArgs(Deno.args, {
  string: ["runs", "workers"],
  default: { runs: "5", workers: "2" },
});
const RUNS = Number(args.runs);
const WORKERS = Number(args.workers);
const { train } = loadMnistSplit();

type Variant = { name: string; layer?: AblationOptions; workers?: number };
const variants: Variant[] = [
  {
    name: "seed kernels (skip zero pixels, 4-way unroll), Math.exp",
    layer: { tiled: false, sparse: false, tableExp: false },
  },
  {
    name: "+ 4×4 / 2×4 register tiles for dense inputs (layers 2, 3)",
    layer: { tiled: true, sparse: false, tableExp: false },
  },
  {
    name: "+ CSR/CSC sparse kernels with row views (layer 1)",
    layer: { tiled: true, sparse: true, tableExp: false },
  },
  {
    name: "+ table-driven exp (= src/nn/dense.ts)",
    layer: { tiled: true, sparse: true, tableExp: true },
  },
  { name: `+ ${WORKERS} workers (ParallelTrainer)`, workers: WORKERS },
];

function dense(options?: AblationOptions) {
  return (spec: LayerSpec, shape: readonly number[]) => {
    const s = spec as Extract<LayerSpec, { type: "dense" }>;
    return options
      ? new AblationDenseLayer(shape, s.units, s.activation, options)
      : new DenseLayer(shape, s.units, s.activation);
  };
}

async function epoch(
  variant: Variant,
  seed: number,
): Promise<[number, number, number]> {
  registerLayer("dense", dense(variant.layer));
  const random = createRandom(seed);
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
    epochs: 1,
    batchSize: 32,
    random,
  };
  const trainer = variant.workers
    ? await ParallelTrainer.create(network, train, {
      ...options,
      workers: variant.workers,
    })
    : new Trainer(network, train, options);
  const c0 = process.cpuUsage(), t0 = performance.now();
  while (!trainer.done) trainer.trainBatch();
  const wall = performance.now() - t0, c = process.cpuUsage(c0);
  if (trainer instanceof ParallelTrainer) trainer.close();
  registerLayer("dense", dense());
  return [wall, (c.user + c.system) / 1000, trainer.epochLoss];
}

const wall: number[][] = variants.map(() => []),
  cpu: number[][] = variants.map(() => []);
for (let run = 0; run < RUNS; run++) {
  for (const [v, variant] of variants.entries()) {
    const [w, c, loss] = await epoch(variant, run + 1);
    wall[v].push(w);
    cpu[v].push(c);
    console.error(
      `run ${run + 1} ${variant.name}: ${w.toFixed(0)} ms (cpu ${
        c.toFixed(0)
      } ms), loss ${loss.toFixed(5)}`,
    );
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const fmt = (xs: number[]) =>
  `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${
    Math.max(...xs).toFixed(0)
  })`;
console.log(
  `\nOne epoch, 784-128-64-10 sigmoid/MSE/SGD batch 32, ${train.count} digits; median (min–max) of ${RUNS} runs; load ${loadAverage()}\n`,
);
console.log(
  "| change | wall ms | CPU ms | speed-up (wall, vs previous row) | vs seed |",
);
console.log("|---|---|---|---|---|");
for (const [v, variant] of variants.entries()) {
  const step = v === 0
    ? "–"
    : `${(median(wall[v - 1]) / median(wall[v])).toFixed(2)}×`;
  const total = `${(median(wall[0]) / median(wall[v])).toFixed(2)}×`;
  console.log(
    `| ${variant.name} | ${fmt(wall[v])} | ${
      fmt(cpu[v])
    } | ${step} | ${total} |`,
  );
}

/** The 1, 5 and 15 minute load averages (other work on the machine skews every timing). */
function loadAverage(): string {
  try {
    return Deno.loadavg().map((l) => l.toFixed(1)).join(" ");
  } catch {
    return "unknown (needs --allow-sys)";
  }
}
