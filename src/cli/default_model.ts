/**
 * `deno task default-model` — trains the model that ships with the
 * repository (static/models/default.zifr) and writes what it is next to it
 * (static/models/default.json: held-out accuracy, config, seed, the exact
 * command, a SHA-256 of the weights). The server predicts with it when it
 * has no Deno KV, or when KV holds no model yet (see src/server/startup.ts).
 *
 * Usage:
 *   deno task default-model                     # the shipped model: --arch default, seed 42
 *   deno task default-model --out /tmp/models   # write elsewhere
 *   deno task default-model --epochs 1 --train-count 500 --test-count 200 --out /tmp/m   # a quick check
 *
 * Flags:
 *   --arch NAME         a preset of src/nn/presets.ts (default "default")
 *   --seed N            weight init, shuffling, augmentation (default 42)
 *   --epochs N  --train-count N  --test-count N   override the preset (for quick checks)
 *   --workers N         threads per batch (default 2; part of what fixes the weights)
 *   --out DIR           folder to write default.zifr and default.json (default static/models)
 *   --help
 *
 * The weights are deterministic: the same flags give the same weights (and
 * so the same `weightsSha256`) on any machine; only the timings differ.
 *
 * @module
 */

import { parseArgs } from "@std/cli";
import { fromFileUrl, join } from "@std/path";
import { encodeModel, type Model } from "../nn/model_file.ts";
import { type TrainConfig, validateTrainConfig } from "../training/config.ts";
import { loadPackageData } from "../training/data.ts";
import { runTraining } from "../training/run.ts";

/** Where the shipped model lives, relative to the repository root. */
export const DEFAULT_MODEL_DIR = "static/models";
/**
 * The id the shipped model carries: "m-default-" and the first 8 hex digits
 * of its weights' SHA-256, so a retrained shipped model gets a new id (stored
 * models are immutable) and never collides with `newModelId()` ids.
 */
export function defaultModelId(weightsHash: string): string {
  return `m-default-${weightsHash.slice(0, 8)}`;
}

/** What static/models/default.json holds. */
export interface DefaultModelRecord {
  id: string;
  /** The model file next to this record. */
  file: string;
  byteLength: number;
  /** Accuracy of the stored (float32) weights on the held-out split, 0..1. */
  testAccuracy: number;
  testCount: number;
  trainCount: number;
  /** Hex SHA-256 of the float32 weights: equal for every run of the same command. */
  weightsSha256: string;
  seed: number;
  config: TrainConfig;
  /** The command that produced the files. */
  command: string;
  trainMs: number;
  createdAt: string;
  deno: string;
}

/** What the flags ask for. */
export interface DefaultModelCommand {
  config: TrainConfig;
  out: string;
  /** The flags as given (for the record's `command`). */
  args: string[];
  help: boolean;
}

const NUMBER_FLAGS = {
  seed: "seed",
  epochs: "epochs",
  "train-count": "trainCount",
  "test-count": "testCount",
  workers: "workers",
} as const;

/**
 * Threads of the shipped model's run: fixed (not "every core") so that the
 * same flags give the same weights on any machine.
 */
export const DEFAULT_MODEL_WORKERS = 2;

/** Parses the flags strictly; throws a RangeError naming the allowed flags. */
export function parseDefaultModelArgs(args: string[]): DefaultModelCommand {
  const unknown: string[] = [];
  const flags = parseArgs(args, {
    string: ["arch", "out", ...Object.keys(NUMBER_FLAGS)],
    boolean: ["help"],
    unknown: (arg: string) => {
      unknown.push(arg);
      return false;
    },
  });
  if (unknown.length || flags._.length) {
    throw new RangeError(
      `Cannot use ${
        [...unknown, ...flags._].join(" ")
      }: the flags are --arch, --seed, --epochs, --train-count, --test-count, --workers, --out, --help`,
    );
  }
  const given: Record<string, unknown> = {
    arch: flags.arch ?? "default",
    seed: 42,
    workers: DEFAULT_MODEL_WORKERS,
  };
  if (given.arch === "mlp") {
    throw new RangeError(
      'Cannot use --arch mlp: the shipped model is built from a preset (e.g. "default" or "quick")',
    );
  }
  for (const [flag, field] of Object.entries(NUMBER_FLAGS)) {
    const raw = flags[flag as keyof typeof flags] as string | undefined;
    if (raw === undefined) continue;
    const value = raw.trim() === "" ? NaN : Number(raw);
    if (Number.isNaN(value)) {
      throw new RangeError(
        `Cannot use --${flag} as it must be a number: got "${raw}"`,
      );
    }
    given[field] = value;
  }
  return {
    config: validateTrainConfig(given),
    out: flags.out ??
      fromFileUrl(new URL(`../../${DEFAULT_MODEL_DIR}`, import.meta.url)),
    args,
    help: flags.help,
  };
}

/** Hex SHA-256 of a model's float32 weights (little-endian bytes). */
export async function weightsSha256(weights: Float32Array): Promise<string> {
  const bytes = new Uint8Array(weights.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < weights.length; i++) {
    view.setFloat32(i * 4, weights[i], true);
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Trains the model and writes default.zifr and default.json into `command.out`. */
export async function buildDefaultModel(
  command: DefaultModelCommand,
  log: (line: string) => void = console.log,
): Promise<{ model: Model; record: DefaultModelRecord }> {
  const { config } = command;
  log(`config ${JSON.stringify(config)}`);
  const data = await loadPackageData(config);
  log(
    `data ${data.source}: ${data.train.count} train, ${data.test.count} test`,
  );
  const createdAt = new Date().toISOString();
  const { model: trained, evaluation } = await runTraining(config, {
    data,
    now: () => performance.now(),
    createdAt,
    id: defaultModelId("0".repeat(8)),
    onEpoch: (r) =>
      log(
        `epoch ${r.epoch}/${config.epochs} | loss ${
          r.loss.toFixed(4)
        } | test accuracy ${(100 * r.testAccuracy).toFixed(2)}% | ${
          r.trainMs.toFixed(0)
        } ms`,
      ),
  });
  const hash = await weightsSha256(trained.weights);
  const model: Model = { ...trained, id: defaultModelId(hash) };
  const bytes = encodeModel(model);
  await Deno.mkdir(command.out, { recursive: true });
  await Deno.writeFile(join(command.out, "default.zifr"), bytes);
  const record: DefaultModelRecord = {
    id: model.id,
    file: "default.zifr",
    byteLength: bytes.length,
    testAccuracy: evaluation.accuracy,
    testCount: evaluation.count,
    trainCount: data.train.count,
    weightsSha256: hash,
    seed: config.seed,
    config: model.config as unknown as TrainConfig,
    command: ["deno task default-model", ...command.args].join(" "),
    trainMs: Math.round(model.metrics.trainMs),
    createdAt,
    deno: Deno.version.deno,
  };
  await Deno.writeTextFile(
    join(command.out, "default.json"),
    JSON.stringify(record, null, 2) + "\n",
  );
  log(
    `wrote ${
      join(command.out, "default.zifr")
    } (${bytes.length} bytes) and default.json: test accuracy ${
      (100 * evaluation.accuracy).toFixed(2)
    }% of ${evaluation.count}, weights sha256 ${record.weightsSha256}`,
  );
  return { model, record };
}

/** Runs the command; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let command: DefaultModelCommand;
  try {
    command = parseDefaultModelArgs(args);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 2;
  }
  if (command.help) {
    const source = await Deno.readTextFile(new URL(import.meta.url));
    const usage = source.slice(
      source.indexOf("/**") + 4,
      source.indexOf("@module"),
    );
    console.log(usage.replace(/^ \* ?/gm, "").trim());
    return 0;
  }
  await buildDefaultModel(command);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
