/**
 * The victim of `deno task faults`' store trials: saves, activates and
 * deletes models in a loop through src/store, and says on stdout what it
 * starts and what has completed, one line each, until it is killed (or, to
 * stop by itself, after `maxMs` or `maxModels`).
 *
 *   ready
 *   saving <id>       saved <id>
 *   activating <id>   activated <id>
 *   deleting <id>     deleted <id>
 *
 * A "…ed" line is written only after the KV commit returned, so the parent
 * knows which operations completed before the kill.
 *
 * Usage: deno run --allow-read --allow-write --allow-env src/cli/_fault_worker.ts KV_PATH SEED [maxMs] [maxModels]
 *
 * @module
 */

import {
  activateModel,
  deleteModel,
  newModelId,
  saveModel,
} from "../store/models.ts";
import { randomModel } from "./_server_process.ts";

/** Layers of the models it writes: 637 KB files, 11 chunks, two chunk commits each. */
export const WORKER_LAYERS = [784, 200, 10];

/** Runs the loop; `say` gets each line. */
export async function workLoop(
  kv: Deno.Kv,
  { seed, maxMs, maxModels, say }: {
    seed: number;
    maxMs: number;
    maxModels: number;
    say: (line: string) => void;
  },
): Promise<void> {
  const start = performance.now();
  const saved: string[] = [];
  say("ready");
  for (let n = 0; n < maxModels && performance.now() - start < maxMs; n++) {
    const id = newModelId();
    const model = randomModel({
      id,
      seed: (seed * 1000 + n) >>> 0,
      layers: WORKER_LAYERS,
    });
    say(`saving ${id}`);
    await saveModel(kv, model);
    say(`saved ${id}`);
    say(`activating ${id}`);
    await activateModel(kv, id);
    say(`activated ${id}`);
    saved.push(id);
    // Keep the store small: drop the model from two activations ago.
    if (saved.length > 2) {
      const old = saved.shift()!;
      say(`deleting ${old}`);
      await deleteModel(kv, old);
      say(`deleted ${old}`);
    }
  }
}

if (import.meta.main) {
  const [path, seed = "1", maxMs = "60000", maxModels = "10000"] = Deno.args;
  const kv = await Deno.openKv(path);
  const encoder = new TextEncoder();
  // Synchronous writes: a line is out before the next operation starts.
  const say = (line: string) =>
    Deno.stdout.writeSync(encoder.encode(`${line}\n`));
  await workLoop(kv, {
    seed: Number(seed),
    maxMs: Number(maxMs),
    maxModels: Number(maxModels),
    say,
  });
  kv.close();
}
