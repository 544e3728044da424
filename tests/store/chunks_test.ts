import { assertEquals, assertRejects } from "@std/assert";
import {
  CHUNK_BYTES,
  deletePrefix,
  readChunks,
  writeChunks,
} from "../../src/store/chunks.ts";

const keyOf = (i: number): Deno.KvKey => ["blob", "x", i];

/** Bytes whose every position is distinguishable (so a misplaced chunk shows). */
function pattern(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + (i >> 8)) & 0xff;
  return out;
}

async function withKv(fn: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(kv);
  } finally {
    kv.close();
  }
}

async function values(kv: Deno.Kv, prefix: Deno.KvKey): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const entry of kv.list({ prefix })) out.push(entry.value);
  return out;
}

Deno.test("writeChunks() and readChunks() round-trip lengths around the chunk size", async () => {
  await withKv(async (kv) => {
    for (
      const [length, chunks] of [
        [0, 1],
        [1, 1],
        [CHUNK_BYTES - 1, 1],
        [CHUNK_BYTES, 1],
        [CHUNK_BYTES + 1, 2],
        [3 * CHUNK_BYTES, 3],
      ]
    ) {
      await deletePrefix(kv, ["blob"]);
      const bytes = pattern(length);
      assertEquals(
        await writeChunks(kv, bytes, keyOf),
        chunks,
        `length ${length}`,
      );
      assertEquals((await values(kv, ["blob"])).length, chunks);
      assertEquals(
        await readChunks(kv, chunks, length, keyOf),
        bytes,
        `length ${length}`,
      );
    }
  });
});

Deno.test("writeChunks() keeps every value under 64 KiB and spans several commits and reads", async () => {
  await withKv(async (kv) => {
    // 25 chunks: three atomic commits of ≤ 10 on write, three getMany calls of ≤ 10 on read.
    const bytes = pattern(24 * CHUNK_BYTES + 123);
    const count = await writeChunks(kv, bytes, keyOf);
    assertEquals(count, 25);
    const stored = await values(kv, ["blob"]);
    assertEquals(stored.length, 25);
    for (const [i, value] of stored.entries()) {
      if (!(value instanceof Uint8Array)) {
        throw new Error(`chunk ${i} is not bytes`);
      }
      assertEquals(value.length, i === 24 ? 123 : CHUNK_BYTES);
    }
    assertEquals(await readChunks(kv, count, bytes.length, keyOf), bytes);
  });
});

Deno.test("readChunks() names a missing chunk", async () => {
  await withKv(async (kv) => {
    const bytes = pattern(2 * CHUNK_BYTES + 5);
    await writeChunks(kv, bytes, keyOf);
    await kv.delete(keyOf(1));
    await assertRejects(
      () => readChunks(kv, 3, bytes.length, keyOf),
      SyntaxError,
      "chunk blob/x/1 is missing",
    );
  });
});

Deno.test("readChunks() rejects a value that is not bytes", async () => {
  await withKv(async (kv) => {
    await kv.set(keyOf(0), "not bytes");
    await assertRejects(
      () => readChunks(kv, 1, 9, keyOf),
      SyntaxError,
      "missing",
    );
  });
});

Deno.test("readChunks() rejects chunks holding fewer or more bytes than recorded", async () => {
  await withKv(async (kv) => {
    const bytes = pattern(CHUNK_BYTES + 10);
    await writeChunks(kv, bytes, keyOf);
    await assertRejects(
      () => readChunks(kv, 2, bytes.length + 1, keyOf),
      SyntaxError,
      `hold ${bytes.length} bytes: recorded ${bytes.length + 1}`,
    );
    await assertRejects(
      () => readChunks(kv, 2, bytes.length - 1, keyOf),
      SyntaxError,
      `more than the recorded ${bytes.length - 1} bytes`,
    );
    // Reading fewer chunks than were written is a length mismatch too.
    await assertRejects(
      () => readChunks(kv, 1, bytes.length, keyOf),
      SyntaxError,
      "recorded",
    );
  });
});

Deno.test("deletePrefix() deletes more than one commit's worth of keys and nothing else", async () => {
  await withKv(async (kv) => {
    for (let i = 0; i < 250; i++) await kv.set(["doomed", i], i);
    await kv.set(["doomed-not"], 1);
    await kv.set(["kept", 0], 1);
    await deletePrefix(kv, ["doomed"]);
    assertEquals(await values(kv, ["doomed"]), []);
    assertEquals((await kv.get(["doomed-not"])).value, 1);
    assertEquals((await kv.get(["kept", 0])).value, 1);
    await deletePrefix(kv, ["nothing-here"]);
  });
});
