import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { join, toFileUrl } from "@std/path";
import { encodeModel } from "../../src/nn/model_file.ts";
import { memoryLog } from "../../src/server/log.ts";
import { ModelService } from "../../src/server/model_service.ts";
import {
  type BundledModel,
  loadBundledModel,
  seedBundledModel,
  STARTUP_TRAIN_CONFIG,
} from "../../src/server/startup.ts";
import {
  activateModel,
  getActivePointer,
  listModels,
  saveModel,
} from "../../src/store/models.ts";
import { stripeModel } from "./_helpers.ts";

function bundledStripe(): BundledModel {
  const model = stripeModel({ id: "m-default-00c0ffee", testAccuracy: 0.98 });
  return { model, bytes: encodeModel(model) };
}

async function tempFile(
  bytes: Uint8Array,
): Promise<{ url: URL } & AsyncDisposable> {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "default.zifr");
  await Deno.writeFile(path, bytes);
  return {
    url: toFileUrl(path),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("STARTUP_TRAIN_CONFIG is the quick preset with seed 42", () => {
  assertEquals(STARTUP_TRAIN_CONFIG.arch, "quick");
  assertEquals(STARTUP_TRAIN_CONFIG.seed, 42);
  assert(Object.isFrozen(STARTUP_TRAIN_CONFIG));
});

Deno.test("loadBundledModel() reads and verifies a model file; null when there is none", async () => {
  const { model, bytes } = bundledStripe();
  await using file = await tempFile(bytes);
  const loaded = await loadBundledModel(file.url);
  assertEquals(loaded?.model.id, model.id);
  assertEquals(loaded?.bytes, bytes);
  assertEquals(
    await loadBundledModel(new URL("./no-such-file.zifr", file.url)),
    null,
  );
});

Deno.test("loadBundledModel() refuses a corrupt shipped model with a SyntaxError naming the file", async () => {
  const bytes = bundledStripe().bytes.slice();
  bytes[200] ^= 0xff;
  await using file = await tempFile(bytes);
  const error = await assertRejects(
    () => loadBundledModel(file.url),
    SyntaxError,
  );
  assertMatch(error.message, /Cannot use the shipped model .*default\.zifr/);
  assertMatch(error.message, /checksum does not match/);
});

Deno.test("seedBundledModel() stores and activates the shipped model when KV has no active model", async () => {
  using kv = await Deno.openKv(":memory:");
  const log = memoryLog();
  const models = new ModelService({ kv, log, pollMs: 0 });
  const bundled = bundledStripe();
  models.use(bundled.model, { source: "bundled", bytes: bundled.bytes });
  assertEquals(models.current?.source, "bundled");
  assertEquals(await seedBundledModel(kv, bundled, { models, log }), true);
  assertEquals((await getActivePointer(kv))?.id, bundled.model.id);
  assertEquals((await listModels(kv)).map((m) => m.info.id), [
    bundled.model.id,
  ]);
  // Same model, now KV's active one: served without reloading, source "kv".
  assertEquals(models.current?.info.id, bundled.model.id);
  assertEquals(models.current?.source, "kv");
  assert(
    log.lines.some((l) => /stored and activated the shipped model/.test(l)),
  );
  // Once seeded, never again.
  assertEquals(await seedBundledModel(kv, bundled, { models, log }), false);
  await models.close();
});

Deno.test("seedBundledModel() leaves an existing active model alone", async () => {
  using kv = await Deno.openKv(":memory:");
  const other = stripeModel({ scale: 2 });
  await saveModel(kv, other);
  const pointer = await activateModel(kv, other.id);
  const log = memoryLog();
  const models = new ModelService({ kv, log, pollMs: 0 });
  assertEquals(
    await seedBundledModel(kv, bundledStripe(), { models, log }),
    false,
  );
  assertEquals(await getActivePointer(kv), pointer);
  assertEquals((await listModels(kv)).length, 1);
  await models.close();
});

Deno.test("seedBundledModel() from several instances at once activates the shipped model once", async () => {
  using kv = await Deno.openKv(":memory:");
  const bundled = bundledStripe();
  const instances = Array.from({ length: 4 }, () => {
    const log = memoryLog();
    return { log, models: new ModelService({ kv, log, pollMs: 0 }) };
  });
  const seeded = await Promise.all(
    instances.map((i) => seedBundledModel(kv, bundled, i)),
  );
  assert(seeded.filter(Boolean).length <= 1, JSON.stringify(seeded));
  assertEquals((await getActivePointer(kv))?.id, bundled.model.id);
  // If every save lost the race, the next start-up finishes the job.
  if (!seeded.some(Boolean)) {
    assertEquals(await seedBundledModel(kv, bundled, instances[0]), true);
  }
  for (const i of instances) await i.models.close();
});
