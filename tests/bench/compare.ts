/**
 * Side-by-side speed of our pure-TS network and TensorFlow.js on the seed
 * notebook's configuration, in one process on the same data:
 * 784-128-64-10, sigmoid, MSE, plain SGD, batch 32, one epoch of the 8,000
 * training digits; then inference of one digit and of 1,000 digits (the
 * latter also split over threads by ParallelPredictor, `--workers` of them).
 *
 * Usage:
 *   deno task bench                                  # kernels (deno bench), then this
 *   deno run --allow-read --allow-env --allow-sys --v8-flags=--expose-gc tests/bench/compare.ts [--runs 5] [--hidden 128]
 *       [--epochs 2] [--workers 2] [--no-tf-cpu] [--json]
 *
 * Each implementation trains `--runs` fresh networks for `--epochs` epochs
 * (default 2; runs interleaved, so drift in machine load hits every row
 * alike) and reports, for the first epoch (cold: JIT compilation, worker
 * start-up, TF's first-call setup) and for the last one (warm: what every
 * further epoch of a training run costs), the median and spread (min–max)
 * of wall time, the CPU time of the process, and the ratio to our
 * single-thread time. The summary line compares TF.js wasm with our fastest
 * row on the warm epoch. TF.js `wasm` is the `@tensorflow/tfjs-backend-wasm`
 * build for this platform (SIMD, single thread under Deno), loaded from the
 * package's own directory in Deno's npm cache via `setWasmPaths`.
 *
 * TF's meanSquaredError averages over the 10 outputs too, so its learning
 * rate is 10× ours for the same steps; that changes no timing.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "@std/cli";
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { loadMnistSplit } from "../../src/data/mnist_package.ts";
import type { Dataset } from "../../src/nn/dataset.ts";
import { predictProbabilities } from "../../src/nn/metrics.ts";
import { createNetwork, type Network } from "../../src/nn/network.ts";
import { coreCount, ParallelTrainer } from "../../src/nn/parallel.ts";
import { ParallelPredictor } from "../../src/nn/parallel_predict.ts";
import { createRandom } from "../../src/nn/random.ts";
import { Trainer } from "../../src/nn/trainer.ts";

const args = parseArgs(Deno.args, {
  string: ["runs", "hidden", "workers", "lr", "epochs"],
  boolean: ["tf-cpu", "json", "help"],
  default: { runs: "5", hidden: "128", "tf-cpu": true, lr: "2", epochs: "2" },
  negatable: ["tf-cpu"],
});
if (args.help) {
  console.log(
    "Usage: tests/bench/compare.ts [--runs 5] [--hidden 128] [--epochs 2] [--workers N] [--lr 2] [--no-tf-cpu] [--json]",
  );
  Deno.exit(0);
}
const RUNS = Number(args.runs);
const HIDDEN = Number(args.hidden);
const WORKERS = Number(args.workers ?? Math.min(2, coreCount()));
const LR = Number(args.lr);
const EPOCHS = Number(args.epochs);
for (
  const [flag, value, min] of [["runs", RUNS, 1], ["hidden", HIDDEN, 1], [
    "epochs",
    EPOCHS,
    1,
  ], ["workers", WORKERS, 1]] as const
) {
  if (!Number.isInteger(value) || value < min) {
    console.error(`--${flag} must be an integer ≥ ${min}: got ${args[flag]}`);
    Deno.exit(2);
  }
}
const BATCH = 32;

const { train, test } = loadMnistSplit();

// ---------------------------------------------------------------- timing

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

interface Sample {
  wallMs: number;
  cpuMs: number;
}

/**
 * A full garbage collection when the runtime exposes one (`--v8-flags=--expose-gc`,
 * as `deno task bench` runs this): each timed run then starts with an empty
 * heap instead of paying for the garbage of the implementation before it.
 */
const collectGarbage = (globalThis as { gc?: () => void }).gc ?? (() => {});

/** Times consecutive epochs: call `begin()` as one starts and `end()` as it ends. */
class EpochClock {
  readonly epochs: Sample[] = [];
  #wall = 0;
  #cpu = 0;
  begin(): void {
    this.#cpu = cpuMs();
    this.#wall = performance.now();
  }
  end(): void {
    const wallMs = performance.now() - this.#wall;
    this.epochs.push({ wallMs, cpuMs: cpuMs() - this.#cpu });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Mean µs per call of `f` over `calls` calls, `rounds` times. */
function latency(f: () => void, calls: number, rounds: number): number[] {
  for (let i = 0; i < calls; i++) f(); // warm up
  collectGarbage();
  const out: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) f();
    out.push(((performance.now() - t0) * 1000) / calls);
  }
  return out;
}

// ---------------------------------------------------------------- ours

function ourNetwork(
  seed: number,
): { network: Network; random: ReturnType<typeof createRandom> } {
  const random = createRandom(seed);
  const network = createNetwork({
    input: [784],
    layers: [
      { type: "dense", units: HIDDEN, activation: "sigmoid" },
      { type: "dense", units: 64, activation: "sigmoid" },
      { type: "dense", units: 10, activation: "sigmoid" },
    ],
  }, { random, init: "notebook" });
  return { network, random };
}

function trainerOptions(random: ReturnType<typeof createRandom>) {
  return {
    cost: "mse" as const,
    optimizer: { kind: "sgd" as const },
    learningRate: LR,
    schedule: "constant" as const,
    epochs: EPOCHS,
    batchSize: BATCH,
    random,
  };
}

/** Trains a fresh network for EPOCHS epochs; the time of each (workers 0 = Trainer). */
async function ourEpochs(seed: number, workers: number): Promise<Sample[]> {
  const { network, random } = ourNetwork(seed);
  const trainer = workers === 0
    ? new Trainer(network, train, trainerOptions(random))
    : await ParallelTrainer.create(network, train, {
      ...trainerOptions(random),
      workers,
    });
  const clock = new EpochClock();
  try {
    collectGarbage();
    while (!trainer.done) {
      clock.begin();
      while (!trainer.trainBatch().epochEnded);
      clock.end();
    }
    return clock.epochs;
  } finally {
    if (trainer instanceof ParallelTrainer) trainer.close();
  }
}

function toFloat64(data: Dataset, count: number): Float64Array {
  return Float64Array.from(data.images.subarray(0, count * 784));
}

// ---------------------------------------------------------------- TF.js

const wasmDir = new URL(
  ".",
  import.meta.resolve("@tensorflow/tfjs-backend-wasm"),
);
setWasmPaths(decodeURIComponent(wasmDir.pathname));

function tfModel(): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [784],
        units: HIDDEN,
        activation: "sigmoid",
      }),
      tf.layers.dense({ units: 64, activation: "sigmoid" }),
      tf.layers.dense({ units: 10, activation: "sigmoid" }),
    ],
  });
  model.compile({ optimizer: tf.train.sgd(LR * 10), loss: "meanSquaredError" });
  return model;
}

/** Trains a fresh TF.js model for EPOCHS epochs; the time of each. */
async function tfEpochs(backend: string): Promise<Sample[]> {
  await tf.setBackend(backend);
  await tf.ready();
  const xs = tf.tensor2d(train.images, [train.count, 784]);
  const ys = tf.oneHot(tf.tensor1d(train.labels, "int32"), 10).toFloat();
  const model = tfModel();
  const clock = new EpochClock();
  try {
    collectGarbage();
    await model.fit(xs, ys, {
      batchSize: BATCH,
      epochs: EPOCHS,
      shuffle: true,
      verbose: 0,
      yieldEvery: "never",
      callbacks: {
        onEpochBegin: () => Promise.resolve(clock.begin()),
        onEpochEnd: () => Promise.resolve(clock.end()),
      },
    });
    return clock.epochs;
  } finally {
    xs.dispose();
    ys.dispose();
    model.dispose();
  }
}

// ---------------------------------------------------------------- runs

type Row = {
  name: string;
  /** The first epoch of each run. */
  cold: Sample[];
  /** The last epoch of each run. */
  epochs: Sample[];
  predictOneUs: number[];
  predictBatchMs: number[];
};

const rows: Row[] = [];
function row(name: string): Row {
  let r = rows.find((x) => x.name === name);
  if (!r) {
    rows.push(
      r = { name, cold: [], epochs: [], predictOneUs: [], predictBatchMs: [] },
    );
  }
  return r;
}

const OURS = "ours, Trainer (1 thread)";
const FUSED = "ours, ParallelTrainer, 1 worker";
const PARALLEL = `ours, ParallelTrainer, ${WORKERS} workers`;
const backends = ["wasm", ...(args["tf-cpu"] ? ["cpu"] : [])];

console.error(
  `Comparing on ${train.count} digits, 784-${HIDDEN}-64-10 sigmoid, MSE, SGD, batch ${BATCH}, ${RUNS} runs of ${EPOCHS} epochs (first/last epoch ms)` +
    ` (${coreCount()} cores, load ${loadAverage()})`,
);
/** Files a run's epochs under its row: the first as cold, the last as warm. */
function record(name: string, epochs: Sample[]): void {
  const r = row(name);
  r.cold.push(epochs[0]);
  r.epochs.push(epochs[epochs.length - 1]);
}

for (let run = 0; run < RUNS; run++) {
  record(OURS, await ourEpochs(run + 1, 0));
  record(FUSED, await ourEpochs(run + 1, 1));
  if (WORKERS > 1) record(PARALLEL, await ourEpochs(run + 1, WORKERS));
  for (const backend of backends) {
    record(`TF.js ${backend}`, await tfEpochs(backend));
  }
  console.error(
    `run ${run + 1}/${RUNS}: ` +
      rows.map((r) =>
        `${r.name} ${r.cold[run].wallMs.toFixed(0)}/${
          r.epochs[run].wallMs.toFixed(0)
        } ms`
      ).join(
        ", ",
      ),
  );
}

// Inference: one digit (latency) and 1,000 digits (throughput).
{
  const { network } = ourNetwork(1);
  const x1 = toFloat64(test, 1);
  const x1000 = toFloat64(test, 1000);
  const pixels = Array.from(test.images.subarray(0, 784));
  row(OURS).predictOneUs = latency(() => network.forward(x1, 1), 2000, RUNS);
  row("ours, predictProbabilities() (1 digit, incl. copy)").predictOneUs =
    latency(
      () => predictProbabilities(network, pixels),
      2000,
      RUNS,
    );
  row(OURS).predictBatchMs = latency(
    () => network.forward(x1000, 1000),
    20,
    RUNS,
  )
    .map((us) => us / 1000);
  const predictor = await ParallelPredictor.create(network, {
    workers: WORKERS,
    maxRows: 1000,
  });
  try {
    row(
      predictor.parallel
        ? `ours, ParallelPredictor, ${WORKERS} threads`
        : "ours, ParallelPredictor (workers unavailable: 1 thread)",
    ).predictBatchMs = latency(() => predictor.predict(x1000, 1000), 20, RUNS)
      .map((us) => us / 1000);
  } finally {
    predictor.close();
  }
  for (const backend of backends) {
    await tf.setBackend(backend);
    await tf.ready();
    const model = tfModel();
    const t1 = tf.tensor2d(test.images.subarray(0, 784), [1, 784]);
    const t1000 = tf.tensor2d(test.images.subarray(0, 784_000), [1000, 784]);
    const predict = (t: tf.Tensor) =>
      tf.tidy(() => (model.predict(t) as tf.Tensor).dataSync());
    const r = row(`TF.js ${backend}`);
    r.predictOneUs = latency(
      () => predict(t1),
      backend === "cpu" ? 200 : 1000,
      RUNS,
    );
    r.predictBatchMs = latency(
      () => predict(t1000),
      backend === "cpu" ? 3 : 10,
      RUNS,
    )
      .map((us) => us / 1000);
    t1.dispose();
    t1000.dispose();
    model.dispose();
  }
}

// ---------------------------------------------------------------- report

const base = median(row(OURS).epochs.map((s) => s.wallMs));
const baseOne = median(row(OURS).predictOneUs);
const baseBatch = median(row(OURS).predictBatchMs);
const fmt = (xs: number[], digits = 0) =>
  xs.length
    ? `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${
      Math.max(...xs).toFixed(digits)
    })`
    : "–";
const ratio = (xs: number[], b: number) =>
  xs.length ? `${(median(xs) / b).toFixed(1)}×` : "–";

const wasm = row("TF.js wasm").epochs.map((s) => s.wallMs);
const fastest = rows.filter((r) => r.name.startsWith("ours") && r.epochs.length)
  .reduce((a, b) =>
    median(a.epochs.map((s) => s.wallMs)) <=
        median(b.epochs.map((s) => s.wallMs))
      ? a
      : b
  );
const fastestMs = median(fastest.epochs.map((s) => s.wallMs));

if (args.json) {
  console.log(
    JSON.stringify(
      { runs: RUNS, epochs: EPOCHS, hidden: HIDDEN, workers: WORKERS, rows },
      null,
      1,
    ),
  );
} else {
  console.log(
    `\n784-${HIDDEN}-64-10 sigmoid/MSE/SGD, batch ${BATCH}, ${train.count} digits; median (min–max) of ${RUNS} runs; ` +
      `cold = epoch 1 of a fresh network, warm = epoch ${EPOCHS}; ratio = time / ours, Trainer\n`,
  );
  console.log(
    "| implementation | cold epoch ms | warm epoch wall ms | warm CPU ms | warm ratio | predict 1 µs | ratio | predict 1,000 ms | ratio |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    const wall = r.epochs.map((s) => s.wallMs);
    console.log(
      `| ${r.name} | ${fmt(r.cold.map((s) => s.wallMs))} | ${fmt(wall)} | ${
        fmt(r.epochs.map((s) => s.cpuMs))
      } | ${ratio(wall, base)} | ${fmt(r.predictOneUs, 1)} | ${
        ratio(r.predictOneUs, baseOne)
      } | ${fmt(r.predictBatchMs, 1)} | ${
        ratio(r.predictBatchMs, baseBatch)
      } |`,
    );
  }
  console.log(
    `\nwarm epoch, TF.js wasm ÷ ${fastest.name}: ${
      (median(wasm) / fastestMs).toFixed(1)
    }× (medians ${median(wasm).toFixed(0)} / ${fastestMs.toFixed(0)} ms)`,
  );
  const memory = (() => {
    try {
      const kb = Deno.readTextFileSync("/proc/self/status").match(
        /VmHWM:\s+(\d+)/,
      )?.[1];
      return `peak RSS of this process ${(Number(kb) / 1024).toFixed(0)} MB`;
    } catch {
      return `RSS now ${
        (Deno.memoryUsage().rss / 2 ** 20).toFixed(0)
      } MB (peak needs -A)`;
    }
  })();
  console.log(`\nload average at the end: ${loadAverage()}; ${memory}`);
}

/** The 1, 5 and 15 minute load averages (other work on the machine skews every timing). */
function loadAverage(): string {
  try {
    return Deno.loadavg().map((l) => l.toFixed(1)).join(" ");
  } catch {
    return "unknown (needs --allow-sys)";
  }
}
