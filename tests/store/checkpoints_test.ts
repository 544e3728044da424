import { assertEquals, assertRejects } from "@std/assert";
import {
  deleteCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
} from "../../src/store/checkpoints.ts";
import { keys } from "../../src/store/keys.ts";
import type { TrainerState } from "../../src/nn/trainer.ts";

function state(steps: number, size = 40_000): TrainerState {
  return {
    epoch: 0,
    batch: steps,
    steps,
    lossSum: steps,
    lossCount: steps,
    order: Uint32Array.from({ length: 100 }, (_, i) => i),
    random: Uint32Array.from([steps, 2, 3, 4]),
    params: [Float64Array.from({ length: size }, (_, i) => i * steps)],
    optimizer: [],
  };
}

async function countKeys(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix })) n++;
  return n;
}

Deno.test("saveCheckpoint() replaces the previous generation and loadCheckpoint() reads the latest", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    assertEquals(await loadCheckpoint(kv, "job-1"), null);
    await saveCheckpoint(kv, "job-1", { meta: { n: 1 }, state: state(1) });
    const chunksOfOne = await countKeys(kv, ["checkpoint", "job-1", "chunk"]);
    await saveCheckpoint(kv, "job-1", { meta: { n: 2 }, state: state(2) });
    const loaded = await loadCheckpoint(kv, "job-1");
    assertEquals(loaded, { meta: { n: 2 }, state: state(2) });
    // 320 kB of float64 → several chunks, and only one generation remains
    assertEquals(
      await countKeys(kv, ["checkpoint", "job-1", "chunk"]),
      chunksOfOne,
    );
    await deleteCheckpoint(kv, "job-1");
    assertEquals(await countKeys(kv, keys.checkpointPrefix("job-1")), 0);
  } finally {
    kv.close();
  }
});

Deno.test("a checkpoint whose new chunks were written but not committed still loads the old one", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await saveCheckpoint(kv, "job-2", { meta: { n: 1 }, state: state(1) });
    // A writer killed after writing generation 2's first chunk, before its meta switch:
    await kv.set(
      keys.checkpointChunk("job-2", 2, 0),
      new Uint8Array([1, 2, 3]),
    );
    assertEquals((await loadCheckpoint(kv, "job-2"))?.meta, { n: 1 });
  } finally {
    kv.close();
  }
});

Deno.test("loadCheckpoint() rejects a tampered chunk", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await saveCheckpoint(kv, "job-3", { meta: {}, state: state(1, 10) });
    const key = keys.checkpointChunk("job-3", 1, 0);
    const bytes = (await kv.get<Uint8Array>(key)).value!;
    bytes[20] ^= 1;
    await kv.set(key, bytes);
    await assertRejects(
      () => loadCheckpoint(kv, "job-3"),
      SyntaxError,
      "checksum",
    );
  } finally {
    kv.close();
  }
});
