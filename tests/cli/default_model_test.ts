import { assert, assertEquals, assertMatch, assertThrows } from "@std/assert";
import { join } from "@std/path";
import {
  defaultModelId,
  type DefaultModelRecord,
  parseDefaultModelArgs,
  weightsSha256,
} from "../../src/cli/default_model.ts";
import { decodeModel } from "../../src/nn/model_file.ts";

const CLI = new URL("../../src/cli/default_model.ts", import.meta.url).pathname;
const SHIPPED = new URL("../../static/models/", import.meta.url);

Deno.test("parseDefaultModelArgs() defaults to the default preset with seed 42, written to static/models", () => {
  const command = parseDefaultModelArgs([]);
  assertEquals(command.config.arch, "default");
  assertEquals(command.config.seed, 42);
  assert(command.out.endsWith("static/models"), command.out);
  const quick = parseDefaultModelArgs([
    "--arch",
    "quick",
    "--epochs",
    "2",
    "--out",
    "/tmp/x",
  ]);
  assertEquals(quick.config.arch, "quick");
  assertEquals(quick.config.epochs, 2);
  assertEquals(quick.out, "/tmp/x");
});

Deno.test("parseDefaultModelArgs() refuses unknown flags, bad numbers and the mlp arch", () => {
  assertThrows(
    () => parseDefaultModelArgs(["--layers", "784,10"]),
    RangeError,
    "the flags are --arch, --seed",
  );
  assertThrows(
    () => parseDefaultModelArgs(["--seed", "x"]),
    RangeError,
    'Cannot use --seed as it must be a number: got "x"',
  );
  assertThrows(
    () => parseDefaultModelArgs(["--arch", "mlp"]),
    RangeError,
    "built from a preset",
  );
  assertThrows(
    () => parseDefaultModelArgs(["--arch", "resnet"]),
    RangeError,
    "arch as it must be one of",
  );
});

Deno.test("defaultModelId() is a valid model id that changes with the weights", () => {
  assertEquals(defaultModelId("add5fc36d1eea9ec"), "m-default-add5fc36");
  assertMatch(defaultModelId("0123456789abcdef"), /^[a-z0-9-]{1,64}$/);
});

async function runCli(out: string): Promise<DefaultModelRecord> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      CLI,
      "--arch",
      "quick",
      "--epochs",
      "1",
      "--train-count",
      "400",
      "--test-count",
      "100",
      "--out",
      out,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  assertEquals(result.code, 0, text.decode(result.stderr));
  assertMatch(text.decode(result.stdout), /wrote .*default\.zifr/);
  return JSON.parse(await Deno.readTextFile(join(out, "default.json")));
}

Deno.test("deno task default-model writes a model file and a record that describes it, with the same weights every time", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await runCli(join(dir, "a"));
    const bytes = await Deno.readFile(join(dir, "a", "default.zifr"));
    const model = decodeModel(bytes);
    assertEquals(first.id, model.id);
    assertEquals(first.byteLength, bytes.length);
    assertEquals(first.testAccuracy, model.metrics.testAccuracy);
    assertEquals(first.testCount, 100);
    assertEquals(first.trainCount, 400);
    assertEquals(first.weightsSha256, await weightsSha256(model.weights));
    assertEquals(first.id, defaultModelId(first.weightsSha256));
    assertEquals(first.seed, 42);
    assertEquals(
      first.command,
      "deno task default-model --arch quick --epochs 1 --train-count 400 --test-count 100 --out " +
        join(dir, "a"),
    );
    const second = await runCli(join(dir, "b"));
    assertEquals(second.weightsSha256, first.weightsSha256);
    assertEquals(second.id, first.id);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the shipped model (static/models) matches its record", async () => {
  const record: DefaultModelRecord = JSON.parse(
    await Deno.readTextFile(new URL("default.json", SHIPPED)),
  );
  const bytes = await Deno.readFile(new URL(record.file, SHIPPED));
  const model = decodeModel(bytes);
  assertEquals(model.id, record.id);
  assertEquals(bytes.length, record.byteLength);
  assertEquals(model.metrics.testAccuracy, record.testAccuracy);
  assertEquals(model.metrics.testCount, record.testCount);
  assertEquals(await weightsSha256(model.weights), record.weightsSha256);
  assertEquals(model.id, defaultModelId(record.weightsSha256));
  assertEquals(model.seed, 42);
  assertMatch(record.command, /^deno task default-model/);
  assert(record.testAccuracy > 0.95, `accuracy ${record.testAccuracy}`);
});
