import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertMatch,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "@std/assert";
import {
  decodeModel,
  encodeModel,
  infoOf,
  type Model,
  weightsOf,
} from "../../src/nn/model_file.ts";
import { type Architecture, createNetwork } from "../../src/nn/network.ts";
import { createRandom } from "../../src/nn/random.ts";
import { CHUNK_BYTES, writeChunks } from "../../src/store/chunks.ts";
import { ConflictError, NotFoundError } from "../../src/store/errors.ts";
import { keys } from "../../src/store/keys.ts";
import {
  activateModel,
  type ActivePointer,
  checkModelId,
  deleteModel,
  getActivePointer,
  getModelMeta,
  listModels,
  loadActiveModel,
  loadModel,
  newModelId,
  removeOrphanChunks,
  saveModel,
  saveModelBytes,
  watchActivePointer,
} from "../../src/store/models.ts";

/** Deno KV's limit on one value. */
const KV_VALUE_LIMIT = 65_536;

function mlp(sizes: number[]): Architecture {
  const layers: Architecture["layers"] = [];
  for (let i = 1; i < sizes.length; i++) {
    const last = i === sizes.length - 1;
    layers.push({
      type: "dense",
      units: sizes[i],
      activation: last ? "softmax" : "relu",
    });
  }
  return { input: [1, 28, 28], layers };
}

/** A model with seeded random weights (no training needed to test storage). */
function makeModel(
  id: string,
  { sizes = [784, 16, 10], seed = 1 } = {},
): Model {
  const architecture = mlp(sizes);
  const network = createNetwork(architecture, { random: createRandom(seed) });
  return {
    id,
    createdAt: "2024-05-01T12:00:00.000Z",
    architecture,
    config: { layers: sizes, seed },
    seed,
    metrics: {
      testAccuracy: 0.5,
      testCount: 2,
      confusion: [[1, 0], [1, 0]],
      epochs: [{ epoch: 1, loss: 0.25, testAccuracy: 0.5, trainMs: 12 }],
      trainMs: 12,
    },
    weights: weightsOf(network),
  };
}

/** The weights as raw bits, so that -0/NaN/rounding differences cannot hide. */
const bitsOf = (w: Float32Array) =>
  new Uint32Array(w.buffer, w.byteOffset, w.length);

async function withKv(fn: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(kv);
  } finally {
    kv.close();
  }
}

async function listKeys(
  kv: Deno.Kv,
  prefix: Deno.KvKey,
): Promise<Deno.KvKey[]> {
  const out: Deno.KvKey[] = [];
  for await (const entry of kv.list({ prefix })) out.push(entry.key);
  return out;
}

Deno.test("saveModel() then loadModel() round-trips the exact bytes and model", async () => {
  await withKv(async (kv) => {
    const model = makeModel("m-one");
    const meta = await saveModel(kv, model);
    const expectedBytes = encodeModel(model);
    assertEquals(meta.byteLength, expectedBytes.length);
    assertEquals(
      meta.chunkCount,
      Math.ceil(expectedBytes.length / CHUNK_BYTES),
    );
    assertEquals(meta.info, infoOf(model));
    assertMatch(meta.savedAt, /^\d{4}-\d\d-\d\dT/);

    const loaded = await loadModel(kv, "m-one");
    assertEquals(loaded.bytes, expectedBytes);
    assertEquals(bitsOf(loaded.model.weights), bitsOf(model.weights));
    assertEquals(loaded.model, model);
    assertEquals(loaded.meta, meta);
    assertEquals(await getModelMeta(kv, "m-one"), meta);
  });
});

Deno.test("saveModelBytes() stores an encoded file that loads back unchanged", async () => {
  await withKv(async (kv) => {
    const bytes = encodeModel(makeModel("m-bytes", { seed: 3 }));
    const meta = await saveModelBytes(kv, bytes);
    assertEquals(meta.info.id, "m-bytes");
    assertEquals((await loadModel(kv, "m-bytes")).bytes, bytes);
  });
});

Deno.test("saveModelBytes() rejects a corrupt file and stores nothing", async () => {
  await withKv(async (kv) => {
    const bytes = encodeModel(makeModel("m-corrupt"));
    bytes[bytes.length - 10] ^= 0xff;
    await assertRejects(
      () => saveModelBytes(kv, bytes),
      SyntaxError,
      "checksum",
    );
    assertEquals(await listKeys(kv, []), []);
  });
});

Deno.test("saveModel() rejects a malformed id and stores nothing", async () => {
  await withKv(async (kv) => {
    await assertRejects(
      () => saveModel(kv, makeModel("../evil")),
      RangeError,
      '"../evil"',
    );
    assertEquals(await listKeys(kv, []), []);
  });
});

Deno.test("saveModel() chunks a 2 MB model (784-512-256-10) under 64 KiB per value and loads it back", async () => {
  await withKv(async (kv) => {
    const model = makeModel("m-big", { sizes: [784, 512, 256, 10], seed: 5 });
    assertEquals(
      model.weights.length,
      784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10,
    );
    const bytes = encodeModel(model);
    assert(
      bytes.length > 819_200,
      `expected more than one commit's worth: ${bytes.length}`,
    );

    const meta = await saveModel(kv, model);
    assertEquals(meta.chunkCount, Math.ceil(bytes.length / CHUNK_BYTES));
    const chunks: Deno.KvEntry<unknown>[] = [];
    for await (
      const entry of kv.list({ prefix: keys.modelChunkPrefix("m-big") })
    ) {
      chunks.push(entry);
    }
    assertEquals(chunks.length, meta.chunkCount);
    let total = 0;
    for (const { value } of chunks) {
      if (!(value instanceof Uint8Array)) {
        throw new Error(`not bytes: ${value}`);
      }
      assert(value.length < KV_VALUE_LIMIT, `chunk of ${value.length} bytes`);
      total += value.length;
    }
    assertEquals(total, bytes.length);

    const loaded = await loadModel(kv, "m-big");
    assertEquals(loaded.bytes, bytes);
    assertEquals(bitsOf(loaded.model.weights), bitsOf(model.weights));
  });
});

Deno.test("saveModel() refuses an existing id with ConflictError and keeps the first copy", async () => {
  await withKv(async (kv) => {
    const first = makeModel("m-same", { sizes: [784, 64, 10], seed: 1 });
    const second = makeModel("m-same", { sizes: [784, 64, 10], seed: 2 });
    const meta = await saveModel(kv, first);
    await assertRejects(() => saveModel(kv, second), ConflictError, "m-same");
    const loaded = await loadModel(kv, "m-same");
    assertEquals(loaded.bytes, encodeModel(first));
    assertEquals(loaded.meta, meta);
    assertEquals(loaded.model.seed, 1);
  });
});

Deno.test("loadModel() of an unknown id throws NotFoundError", async () => {
  await withKv(async (kv) => {
    await assertRejects(
      () => loadModel(kv, "m-missing"),
      NotFoundError,
      "m-missing",
    );
    assertEquals(await getModelMeta(kv, "m-missing"), null);
  });
});

Deno.test("loadModel() rejects a tampered chunk with a SyntaxError naming the checksum", async () => {
  await withKv(async (kv) => {
    await saveModel(kv, makeModel("m-tamper", { sizes: [784, 64, 10] }));
    const chunk = (await kv.get<Uint8Array>(keys.modelChunk("m-tamper", 1)))
      .value!;
    const changed = chunk.slice();
    changed[100] ^= 0x01; // one bit inside the weights
    await kv.set(keys.modelChunk("m-tamper", 1), changed);
    await assertRejects(
      () => loadModel(kv, "m-tamper"),
      SyntaxError,
      "checksum",
    );
  });
});

Deno.test("loadModel() rejects a missing chunk with a SyntaxError naming it", async () => {
  await withKv(async (kv) => {
    const meta = await saveModel(
      kv,
      makeModel("m-gap", { sizes: [784, 64, 10] }),
    );
    assert(meta.chunkCount >= 3);
    await kv.delete(keys.modelChunk("m-gap", 2));
    await assertRejects(
      () => loadModel(kv, "m-gap"),
      SyntaxError,
      "chunk model_chunk/m-gap/2 is missing",
    );
  });
});

Deno.test("loadModel() rejects chunks shorter or longer than the recorded length", async () => {
  await withKv(async (kv) => {
    await saveModel(kv, makeModel("m-short", { sizes: [784, 64, 10] }));
    const key = keys.modelChunk("m-short", 0);
    const chunk = (await kv.get<Uint8Array>(key)).value!;
    await kv.set(key, chunk.subarray(0, chunk.length - 1).slice());
    await assertRejects(
      () => loadModel(kv, "m-short"),
      SyntaxError,
      "chunks hold",
    );
    const longer = new Uint8Array(chunk.length + 1);
    longer.set(chunk);
    await kv.set(key, longer);
    await assertRejects(
      () => loadModel(kv, "m-short"),
      SyntaxError,
      "more than the recorded",
    );
  });
});

Deno.test("checkModelId() rejects ids that could break keys and accepts well-formed ones", () => {
  for (
    const bad of [
      "../x",
      "",
      "Model",
      "ABC",
      "a".repeat(65),
      "a/b",
      "a b",
      "ä",
      "a_b",
    ]
  ) {
    assertThrows(() => checkModelId(bad), RangeError, JSON.stringify(bad));
  }
  assertThrows(
    () => checkModelId(42 as unknown as string),
    RangeError,
    "got 42",
  );
  for (const good of ["a", "a".repeat(64), "0-9", newModelId()]) {
    checkModelId(good);
  }
});

Deno.test("store functions that take an id reject a malformed one before touching KV", async () => {
  await withKv(async (kv) => {
    await assertRejects(() => loadModel(kv, "../x"), RangeError);
    await assertRejects(() => getModelMeta(kv, "../x"), RangeError);
    await assertRejects(() => activateModel(kv, "../x"), RangeError);
    await assertRejects(() => deleteModel(kv, "../x"), RangeError);
  });
});

Deno.test("newModelId() makes well-formed ids that sort by creation time", () => {
  const early = newModelId(1_700_000_000_000);
  const late = newModelId(1_700_000_000_001);
  assertMatch(early, /^m-[0-9a-z]{9}-[0-9a-f]{8}$/);
  checkModelId(early);
  assert(early < late, `${early} should sort before ${late}`);
  assert(newModelId(0) < newModelId(1_700_000_000_000));
  assertNotEquals(newModelId(5), newModelId(5));
});

Deno.test("activateModel() switches the pointer and loadActiveModel() follows it", async () => {
  await withKv(async (kv) => {
    assertEquals(await getActivePointer(kv), null);
    assertEquals(await loadActiveModel(kv), null);
    await saveModel(kv, makeModel("m-a", { seed: 1 }));
    await saveModel(kv, makeModel("m-b", { seed: 2 }));

    const a = await activateModel(kv, "m-a");
    assertEquals(a.id, "m-a");
    assertEquals(await getActivePointer(kv), a);
    assertEquals((await loadActiveModel(kv))!.model.seed, 1);

    const b = await activateModel(kv, "m-b");
    assertEquals(await getActivePointer(kv), b);
    assertEquals((await loadActiveModel(kv))!.model.id, "m-b");
  });
});

Deno.test("activateModel() of a missing id throws NotFoundError and leaves the pointer", async () => {
  await withKv(async (kv) => {
    await saveModel(kv, makeModel("m-a"));
    const before = await activateModel(kv, "m-a");
    await assertRejects(
      () => activateModel(kv, "m-nope"),
      NotFoundError,
      "m-nope",
    );
    assertEquals(await getActivePointer(kv), before);
  });
});

Deno.test("activateModel() of a missing id on an empty store leaves no pointer", async () => {
  await withKv(async (kv) => {
    await assertRejects(() => activateModel(kv, "m-nope"), NotFoundError);
    assertEquals(await getActivePointer(kv), null);
  });
});

Deno.test("listModels() returns every model, newest id first", async () => {
  await withKv(async (kv) => {
    assertEquals(await listModels(kv), []);
    const t = 1_700_000_000_000;
    const ids = [newModelId(t), newModelId(t + 1000), newModelId(t + 60_000)];
    for (const id of ids) await saveModel(kv, makeModel(id));
    const listed = await listModels(kv);
    assertEquals(listed.map((m) => m.info.id), [...ids].reverse());
    assert(
      listed.every((m) => !("weights" in m.info)),
      "metadata must not carry weights",
    );
  });
});

Deno.test("deleteModel() refuses the active model with ConflictError and deletes nothing", async () => {
  await withKv(async (kv) => {
    const model = makeModel("m-active", { sizes: [784, 64, 10] });
    const meta = await saveModel(kv, model);
    await activateModel(kv, "m-active");
    await assertRejects(
      () => deleteModel(kv, "m-active"),
      ConflictError,
      "active",
    );
    assertEquals(await getModelMeta(kv, "m-active"), meta);
    assertEquals(
      (await listKeys(kv, keys.modelChunkPrefix("m-active"))).length,
      meta.chunkCount,
    );
    assertEquals((await loadModel(kv, "m-active")).bytes, encodeModel(model));
    assertEquals((await getActivePointer(kv))?.id, "m-active");
  });
});

Deno.test("deleteModel() removes another model's record and all its chunks", async () => {
  await withKv(async (kv) => {
    const keep = makeModel("m-keep", { sizes: [784, 64, 10], seed: 1 });
    await saveModel(kv, keep);
    const gone = await saveModel(
      kv,
      makeModel("m-gone", { sizes: [784, 64, 10], seed: 2 }),
    );
    assert(gone.chunkCount > 1);
    await activateModel(kv, "m-keep");

    await deleteModel(kv, "m-gone");
    assertEquals(await getModelMeta(kv, "m-gone"), null);
    assertEquals(await listKeys(kv, keys.modelChunkPrefix("m-gone")), []);
    await assertRejects(() => loadModel(kv, "m-gone"), NotFoundError);
    assertEquals((await listModels(kv)).map((m) => m.info.id), ["m-keep"]);
    assertEquals((await loadModel(kv, "m-keep")).bytes, encodeModel(keep));
  });
});

Deno.test("deleteModel() works when no model is active", async () => {
  await withKv(async (kv) => {
    await saveModel(kv, makeModel("m-only"));
    await deleteModel(kv, "m-only");
    assertEquals(await listKeys(kv, []), []);
  });
});

Deno.test("deleteModel() of a missing id throws NotFoundError", async () => {
  await withKv(async (kv) => {
    await assertRejects(
      () => deleteModel(kv, "m-nope"),
      NotFoundError,
      "m-nope",
    );
  });
});

Deno.test("removeOrphanChunks() removes old chunks without a record and keeps recent ones and complete models", async () => {
  await withKv(async (kv) => {
    const now = 1_700_000_000_000;
    const oldOrphan = newModelId(now - 20 * 60_000);
    const recentOrphan = newModelId(now - 60_000);
    const oldComplete = newModelId(now - 60 * 60_000);
    const bytes = encodeModel(makeModel(oldOrphan, { sizes: [784, 64, 10] }));
    await writeChunks(kv, bytes, (i) => keys.modelChunk(oldOrphan, i));
    await writeChunks(kv, bytes, (i) => keys.modelChunk(recentOrphan, i));
    const complete = await saveModel(kv, makeModel(oldComplete));

    const removed = await removeOrphanChunks(kv, { now });
    assertEquals(removed, [oldOrphan]);
    assertEquals(await listKeys(kv, keys.modelChunkPrefix(oldOrphan)), []);
    assert(
      (await listKeys(kv, keys.modelChunkPrefix(recentOrphan))).length > 0,
    );
    assertEquals(
      (await listKeys(kv, keys.modelChunkPrefix(oldComplete))).length,
      complete.chunkCount,
    );
    await loadModel(kv, oldComplete);

    // Once the recent orphan is old enough it goes too; a second pass finds nothing more.
    assertEquals(await removeOrphanChunks(kv, { now, olderThanMs: 30_000 }), [
      recentOrphan,
    ]);
    assertEquals(await removeOrphanChunks(kv, { now, olderThanMs: 0 }), []);
    await loadModel(kv, oldComplete);
  });
});

Deno.test("removeOrphanChunks() treats ids without a creation time as old", async () => {
  await withKv(async (kv) => {
    await kv.set(keys.modelChunk("handmade", 0), new Uint8Array(3));
    assertEquals(await removeOrphanChunks(kv), ["handmade"]);
    assertEquals(await listKeys(kv, keys.allModelChunks()), []);
  });
});

/** Collects watch callbacks and lets a test wait for the n-th one. */
function recorder() {
  const calls: (ActivePointer | null)[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  return {
    calls,
    onChange(pointer: ActivePointer | null) {
      calls.push(pointer);
      for (const w of waiters.filter((w) => calls.length >= w.n)) w.resolve();
    },
    waitFor(n: number): Promise<void> {
      if (calls.length >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

Deno.test("watchActivePointer() reports the pointer now and on changes in the same handle", async () => {
  await withKv(async (kv) => {
    await saveModel(kv, makeModel("m-a"));
    await saveModel(kv, makeModel("m-b"));
    await activateModel(kv, "m-a");
    const seen = recorder();
    const stop = watchActivePointer(kv, seen.onChange);
    try {
      await seen.waitFor(1);
      assertEquals(seen.calls[0]?.id, "m-a");
      await activateModel(kv, "m-b");
      await seen.waitFor(2);
      assertEquals(seen.calls[1]?.id, "m-b");
    } finally {
      stop();
    }
  });
});

Deno.test("watchActivePointer() sees an activation made through a second KV handle on the same file", async () => {
  const path = await Deno.makeTempFile({
    prefix: "ziffer-watch-",
    suffix: ".sqlite",
  });
  const watcher = await Deno.openKv(path);
  const writer = await Deno.openKv(path);
  try {
    const seen = recorder();
    const stop = watchActivePointer(watcher, seen.onChange);
    try {
      await seen.waitFor(1);
      assertEquals(seen.calls, [null]);
      await saveModel(writer, makeModel("m-remote"));
      const pointer = await activateModel(writer, "m-remote");
      await seen.waitFor(2);
      assertEquals(seen.calls[1], pointer);
    } finally {
      stop();
    }
    // After stop() nothing more is reported, even when the pointer changes again.
    await saveModel(writer, makeModel("m-later"));
    await activateModel(writer, "m-later");
    await new Promise((resolve) => setTimeout(resolve, 300));
    assertEquals(seen.calls.length, 2);
  } finally {
    watcher.close();
    writer.close();
    await Deno.remove(path).catch(() => {});
  }
});

Deno.test("decodeModel() of stored bytes equals the saved model (store keeps float32 bits)", async () => {
  await withKv(async (kv) => {
    const model = makeModel("m-bits", { seed: 9 });
    model.weights[0] = -0;
    model.weights[1] = 1.401298464324817e-45; // the smallest float32 subnormal
    await saveModel(kv, model);
    const decoded = decodeModel((await loadModel(kv, "m-bits")).bytes);
    assertEquals(bitsOf(decoded.weights), bitsOf(model.weights));
  });
});

Deno.test("two saves of one id at once: one wins whole, the other gets ConflictError", async () => {
  await withKv(async (kv) => {
    const a = makeModel("m-race", { seed: 1, sizes: [784, 200, 10] });
    const b = makeModel("m-race", { seed: 2, sizes: [784, 200, 10] });
    const results = await Promise.allSettled([
      saveModel(kv, a),
      saveModel(kv, b),
    ]);
    const won = results.filter((r) => r.status === "fulfilled").length;
    assertEquals(won, 1);
    const lost = results.find((r) =>
      r.status === "rejected"
    ) as PromiseRejectedResult;
    assertInstanceOf(lost.reason, ConflictError);
    const loaded = await loadModel(kv, "m-race");
    const winner = loaded.meta.info.seed === 1 ? a : b;
    assertEquals(loaded.model.seed, winner.seed);
    assertEquals(bitsOf(loaded.model.weights), bitsOf(winner.weights));
    assertEquals((await kv.get(keys.modelSaving("m-race"))).value, null);
  });
});

Deno.test("StoredModelMeta.checksum differs between models (it is the file's own CRC)", async () => {
  await withKv(async (kv) => {
    const one = await saveModel(kv, makeModel("m-one", { seed: 1 }));
    const two = await saveModel(kv, makeModel("m-two", { seed: 2 }));
    assertNotEquals(one.checksum, two.checksum);
  });
});
