/**
 * Corrupt or foreign KV records — garbage under a model's metadata key, the
 * active pointer, or a chunk — give a clear CorruptRecordError naming the
 * key, are never followed into a huge allocation, and are never overwritten
 * by a save or an activation. Over HTTP they are a logged 500, and the
 * server keeps predicting with the model it has.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { randomModel } from "../../src/cli/_server_process.ts";
import { keys } from "../../src/store/keys.ts";
import {
  activateModel,
  getActivePointer,
  getModelMeta,
  listModels,
  loadActiveModel,
  loadModel,
  saveModel,
  watchActivePointer,
} from "../../src/store/models.ts";
import { ConflictError, CorruptRecordError } from "../../src/store/errors.ts";
import { startServer, stripePixels } from "../server/_helpers.ts";

const GARBAGE_METAS: [string, unknown][] = [
  ["a string", "garbage"],
  ["a number", 42],
  ["an empty object", {}],
  ["bytes", new Uint8Array([1, 2, 3])],
  ["an array", [1, 2, 3]],
  ["another model's record", {
    info: { id: "m-other" },
    byteLength: 100,
    chunkCount: 1,
    checksum: 1,
    savedAt: "2026-01-01T00:00:00.000Z",
  }],
  ["a record claiming a terabyte", {
    info: { id: "m-bad" },
    byteLength: 1e12,
    chunkCount: 1e9,
    checksum: 1,
    savedAt: "2026-01-01T00:00:00.000Z",
  }],
  ["a record with a negative checksum", {
    info: { id: "m-bad" },
    byteLength: 100,
    chunkCount: 1,
    checksum: -1,
    savedAt: "2026-01-01T00:00:00.000Z",
  }],
];

async function withKv(fn: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(kv);
  } finally {
    kv.close();
  }
}

for (const [what, garbage] of GARBAGE_METAS) {
  Deno.test(`a model record that is ${what}: clear errors, never overwritten or activated`, async () => {
    await withKv(async (kv) => {
      await saveModel(kv, randomModel({ id: "m-good" }));
      await activateModel(kv, "m-good");
      await kv.set(keys.modelMeta("m-bad"), garbage);
      const key = JSON.stringify(keys.modelMeta("m-bad"));
      for (
        const read of [
          () => loadModel(kv, "m-bad"),
          () => getModelMeta(kv, "m-bad"),
          () => listModels(kv),
        ]
      ) {
        await assertRejects(
          read,
          CorruptRecordError,
          `Cannot read model m-bad as its KV record ${key} is not a model record`,
        );
      }
      await assertRejects(
        () => saveModel(kv, randomModel({ id: "m-bad" })),
        ConflictError,
      );
      await assertRejects(
        () => activateModel(kv, "m-bad"),
        CorruptRecordError,
        "is not a model record",
      );
      assertEquals((await kv.get(keys.modelMeta("m-bad"))).value, garbage);
      assertEquals((await getActivePointer(kv))?.id, "m-good");
      assertEquals((await loadActiveModel(kv))?.model.id, "m-good");
    });
  });
}

const GARBAGE_POINTERS: [string, unknown][] = [
  ["a string", "garbage"],
  ["a number", 42],
  ["an empty object", {}],
  ["an id that is not a string", { id: 5, activatedAt: "x" }],
  ["a path", { id: "../x", activatedAt: "x" }],
  ["bytes", new Uint8Array(3)],
];

for (const [what, garbage] of GARBAGE_POINTERS) {
  Deno.test(`an active pointer that is ${what}: clear error, not replaced by an activation`, async () => {
    await withKv(async (kv) => {
      await saveModel(kv, randomModel({ id: "m-good" }));
      await kv.set(keys.activeModel(), garbage);
      const message =
        'Cannot read the active model pointer as its KV record ["active_model"] is not a pointer';
      await assertRejects(
        () => getActivePointer(kv),
        CorruptRecordError,
        message,
      );
      await assertRejects(
        () => loadActiveModel(kv),
        CorruptRecordError,
        message,
      );
      await assertRejects(
        () => activateModel(kv, "m-good"),
        CorruptRecordError,
        message,
      );
      assertEquals((await kv.get(keys.activeModel())).value, garbage);
    });
  });
}

Deno.test("a pointer to a model that is not stored is a NotFoundError, not a corrupt record", async () => {
  await withKv(async (kv) => {
    await kv.set(keys.activeModel(), { id: "m-gone", activatedAt: "x" });
    assertEquals((await getActivePointer(kv))?.id, "m-gone");
    await assertRejects(
      () => loadActiveModel(kv),
      Error,
      "no such model is stored",
    );
  });
});

Deno.test("watchActivePointer() skips a garbage pointer and keeps reporting the next real one", async () => {
  await withKv(async (kv) => {
    await saveModel(kv, randomModel({ id: "m-good" }));
    const seen: (string | null)[] = [];
    const stop = watchActivePointer(kv, (p) => seen.push(p?.id ?? null));
    try {
      await kv.set(keys.activeModel(), "garbage");
      await new Promise((r) => setTimeout(r, 50));
      await kv.delete(keys.activeModel());
      await activateModel(kv, "m-good");
      for (let i = 0; i < 100 && seen.at(-1) !== "m-good"; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assertEquals(seen.at(-1), "m-good");
      assert(!seen.includes(undefined as unknown as null));
    } finally {
      stop();
    }
  });
});

const GARBAGE_CHUNKS: [string, (chunk: Uint8Array) => unknown][] = [
  ["a string", () => "not bytes"],
  ["shorter", (c) => c.slice(0, 10)],
  ["longer", (c) => new Uint8Array(c.length + 1)],
  ["one bit flipped", (c) => {
    const b = c.slice();
    b[100] ^= 1;
    return b;
  }],
];

for (const [what, damage] of GARBAGE_CHUNKS) {
  Deno.test(`a chunk that is ${what}: loadModel() throws a CorruptRecordError`, async () => {
    await withKv(async (kv) => {
      await saveModel(kv, randomModel({ id: "m-good" }));
      const key = keys.modelChunk("m-good", 1);
      await kv.set(key, damage((await kv.get<Uint8Array>(key)).value!));
      await assertRejects(
        () => loadModel(kv, "m-good"),
        CorruptRecordError,
        "m-good",
      );
    });
  });
}

Deno.test("over HTTP a damaged record is a logged 500; predictions go on with the served model", async () => {
  await using s = await startServer({
    before: async (kv) => {
      await saveModel(kv, randomModel({ id: "m-good" }));
      await saveModel(kv, randomModel({ id: "m-broken", seed: 2 }));
      await activateModel(kv, "m-good");
    },
  });
  const key = keys.modelChunk("m-broken", 0);
  const chunk = (await s.kv.get<Uint8Array>(key)).value!.slice();
  chunk[50] ^= 1;
  await s.kv.set(key, chunk);

  const file = await s.app.request("/api/models/m-broken/file");
  assertEquals(file.status, 500);
  assertEquals(await file.json(), { error: "Internal server error" });
  const activate = await s.app.request("/api/models/m-broken/activate", {
    method: "POST",
    headers: { authorization: "Bearer test-admin-token-0123456789" },
  });
  assertEquals(activate.status, 500);
  assertEquals((await getActivePointer(s.kv))?.id, "m-good");
  assert(
    s.log.lines.some((l) =>
      l.includes("Cannot load model m-broken") && l.includes("checksum")
    ),
    s.log.lines.join("\n"),
  );

  await s.kv.set(keys.modelMeta("m-foreign"), { hello: "world" });
  const list = await s.app.request("/api/models");
  assertEquals(list.status, 500);
  assert(
    s.log.lines.some((l) =>
      l.includes('["model_meta","m-foreign"] is not a model record')
    ),
  );

  const predict = await s.app.request("/api/predict", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ pixels: stripePixels(3) }),
  });
  assertEquals(predict.status, 200);
  assertEquals((await predict.json()).model.id, "m-good");
});
