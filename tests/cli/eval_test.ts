import {
  assert,
  assertEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { stripAnsiCode } from "@std/fmt/colors";
import {
  type DatasetResult,
  EVAL_FLAGS,
  measure,
  parseEvalArgs,
} from "../../src/cli/eval.ts";
import type { PenDigit } from "../../src/data/pendigits.ts";
import { encodeModel, type Model, weightsOf } from "../../src/nn/model_file.ts";
import { createNetwork, type Network } from "../../src/nn/network.ts";
import { createRandom } from "../../src/nn/random.ts";
import { activateModel, saveModel } from "../../src/store/models.ts";

const ROOT = new URL("../../", import.meta.url);

/** A 784 → 10 softmax model with seeded random weights. */
function tinyModel(id: string): { model: Model; network: Network } {
  const architecture = {
    input: [784],
    layers: [{
      type: "dense" as const,
      units: 10,
      activation: "softmax" as const,
    }],
  };
  const network = createNetwork(architecture, { random: createRandom(3) });
  const model: Model = {
    id,
    createdAt: "2025-01-01T00:00:00.000Z",
    architecture,
    config: { trainCount: 8000, testCount: 2000, splitSeed: 1 },
    seed: 3,
    metrics: {
      testAccuracy: 0.1,
      testCount: 2000,
      confusion: [],
      epochs: [],
      trainMs: 0,
    },
    weights: weightsOf(network),
  };
  return { model, network };
}

const PEN: PenDigit[] = [
  {
    id: "a",
    label: 1,
    writer: 1,
    strokes: [[[0.5, 0], [0.5, 1]]],
    strokesInBox: [[[0.3, 0.2], [0.3, 0.5]]],
  },
  {
    id: "b",
    label: 7,
    writer: 2,
    strokes: [[[0.2, 0], [0.8, 0], [0.4, 1]]],
    strokesInBox: [[[0.6, 0.1], [0.8, 0.1], [0.7, 0.4]]],
  },
];

async function evalCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "src/cli/eval.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
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

/** A temp folder with a model file and a small pen-digits file. */
async function fixtures() {
  const dir = await Deno.makeTempDir({ prefix: "ziffer-eval-" });
  const { model } = tinyModel("m-eval-test");
  await Deno.writeFile(`${dir}/model.zifr`, encodeModel(model));
  await Deno.writeTextFile(`${dir}/pen.json`, JSON.stringify(PEN));
  return {
    dir,
    model,
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}

// ---------------------------------------------------------------------------
// parseEvalArgs() and measure()

Deno.test("parseEvalArgs() reads --model, --pen, --json and --help", () => {
  assertEquals(parseEvalArgs([]), {
    model: undefined,
    pen: undefined,
    json: false,
    help: false,
  });
  assertEquals(
    parseEvalArgs(["--model", "m.zifr", "--pen=p.json", "--json", "--help"]),
    { model: "m.zifr", pen: "p.json", json: true, help: true },
  );
});

Deno.test("parseEvalArgs() rejects unknown flags and lists the allowed ones", () => {
  assertThrows(
    () => parseEvalArgs(["--modle", "x"]),
    RangeError,
    `Cannot use --modle: the flags are --${EVAL_FLAGS.join(", --")}`,
  );
  assertThrows(
    () => parseEvalArgs(["--model"]),
    RangeError,
    "Cannot use --model without a value",
  );
});

Deno.test("measure() counts accuracy, per-digit accuracy, confusion, pairs and writers", () => {
  // A network that always predicts 3: only the 3s are right.
  const architecture = {
    input: [784],
    layers: [{
      type: "dense" as const,
      units: 10,
      activation: "softmax" as const,
    }],
  };
  const network = createNetwork(architecture, { random: createRandom(1) });
  network.params[0].fill(0);
  network.params[1].fill(0);
  network.params[1][3] = 5;
  const labels = new Uint8Array([3, 3, 5, 7, 7, 7]);
  const data = {
    images: new Float32Array(labels.length * 784),
    labels,
    count: labels.length,
    shape: [1, 28, 28],
  };
  const r: DatasetResult = measure("test", network, data, [1, 1, 1, 2, 2, 2]);
  assertEquals(r.accuracy, 2 / 6);
  assertEquals(r.perDigit[3], 1);
  assertEquals(r.perDigit[7], 0);
  assert(Number.isNaN(r.perDigit[0]));
  assertEquals(r.confusion[7][3], 3);
  assertEquals(r.confusedPairs, [
    { label: 7, predicted: 3, count: 3 },
    { label: 5, predicted: 3, count: 1 },
  ]);
  assertEquals(r.writers, [
    { writer: 1, count: 3, accuracy: 2 / 3 },
    { writer: 2, count: 3, accuracy: 0 },
  ]);
});

// ---------------------------------------------------------------------------
// The command, in a real subprocess

Deno.test("deno task eval --model FILE --pen PATH --json measures MNIST and every pen rendering", async () => {
  const f = await fixtures();
  try {
    const run = await evalCli([
      "--model",
      `${f.dir}/model.zifr`,
      "--pen",
      `${f.dir}/pen.json`,
      "--json",
    ]);
    assertEquals(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout);
    assertEquals(out.model.id, "m-eval-test");
    assertEquals(out.pen.found, true);
    assertEquals(
      out.results.map((r: DatasetResult) => [r.name, r.count]),
      [
        ["mnist", 2000],
        ["pen centred", 2],
        ["pen inBox", 2],
        ["pen inBox image", 2],
      ],
    );
    for (const r of out.results as DatasetResult[]) {
      assert(r.accuracy >= 0 && r.accuracy <= 1);
      assertEquals(r.confusion.flat().reduce((s, n) => s + n, 0), r.count);
    }
  } finally {
    await f.cleanup();
  }
});

Deno.test("deno task eval prints a summary, confusion matrices and confused pairs", async () => {
  const f = await fixtures();
  try {
    const run = await evalCli([
      "--model",
      `${f.dir}/model.zifr`,
      "--pen",
      `${f.dir}/pen.json`,
    ]);
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(run.stdout, "model m-eval-test");
    assertStringIncludes(run.stdout, "pen inBox image");
    assertStringIncludes(run.stdout, "most confused (true → predicted)");
    assertStringIncludes(run.stdout, "accuracy");
    assertStringIncludes(run.stdout, "writers: worst");
  } finally {
    await f.cleanup();
  }
});

Deno.test("deno task eval uses the active model in KV by default", async () => {
  const f = await fixtures();
  try {
    const kvPath = `${f.dir}/kv.sqlite`;
    const kv = await Deno.openKv(kvPath);
    const { model } = tinyModel("m-active-one");
    await saveModel(kv, model);
    await activateModel(kv, model.id);
    kv.close();
    const run = await evalCli(["--pen", `${f.dir}/pen.json`, "--json"], {
      KV_PATH: kvPath,
    });
    assertEquals(run.code, 0, run.stderr);
    assertEquals(JSON.parse(run.stdout).model.id, "m-active-one");
  } finally {
    await f.cleanup();
  }
});

Deno.test("deno task eval fails with exit 1 when KV has no active model", async () => {
  const f = await fixtures();
  try {
    const run = await evalCli([], { KV_PATH: `${f.dir}/empty.sqlite` });
    assertEquals(run.code, 1);
    assertStringIncludes(run.stderr, "has no active model");
    assertStringIncludes(run.stderr, "--model FILE");
  } finally {
    await f.cleanup();
  }
});

Deno.test("deno task eval says clearly when --pen or --model does not exist", async () => {
  const f = await fixtures();
  try {
    const pen = await evalCli([
      "--model",
      `${f.dir}/model.zifr`,
      "--pen",
      `${f.dir}/missing.json`,
    ]);
    assertEquals(pen.code, 1);
    assertStringIncludes(
      pen.stderr,
      `Cannot read the pen digits at ${f.dir}/missing.json`,
    );
    const model = await evalCli(["--model", `${f.dir}/nope.zifr`]);
    assertEquals(model.code, 1);
    assertStringIncludes(
      model.stderr,
      `Cannot read the model file ${f.dir}/nope.zifr`,
    );
  } finally {
    await f.cleanup();
  }
});

Deno.test("deno task eval exits 2 on an unknown flag and 0 with usage on --help", async () => {
  const bad = await evalCli(["--epochs", "3"]);
  assertEquals(bad.code, 2);
  assertStringIncludes(
    bad.stderr,
    "the flags are --help, --json, --model, --pen",
  );
  const help = await evalCli(["--help"]);
  assertEquals(help.code, 0);
  assertStringIncludes(help.stdout, "deno task eval --model model.zifr");
});
