/**
 * Cold start to first prediction. Spawns the server (`deno run -A main.ts`)
 * on a KV file that already holds a model, polls `POST /api/predict` every
 * 2 ms from the moment of spawning, and times the first 200 answer. The same
 * for the bare Hono endpoint (src/cli/_bare_server.ts) gives the floor:
 * starting Deno and Hono. Loopback only; each run is bounded (30 s).
 *
 * Usage:
 *   deno run -A src/cli/cold_start.ts                # 7 runs each, .kv/bench.sqlite
 *   deno run -A src/cli/cold_start.ts --runs 11 --kv /tmp/other.sqlite
 *
 * If the KV file has no model, the server's start-up config is trained once
 * first (about a minute).
 *
 * @module
 */

import { parseArgs } from "@std/cli";
import {
  digitBody,
  ensureModel,
  spawnDeno,
  summary,
  until,
} from "./_server_bench.ts";

const args = parseArgs(Deno.args, {
  string: ["runs", "kv"],
  default: { runs: "7", kv: ".kv/bench.sqlite" },
});
const runs = Number(args.runs);
const kvPath = args.kv;
const modelId = await ensureModel(kvPath);
const body = await digitBody();

async function firstPrediction(
  script: string,
  env: Record<string, string>,
): Promise<number> {
  const t0 = performance.now();
  const server = spawnDeno(script, { env });
  try {
    await until(async () => {
      const r = await fetch(`http://127.0.0.1:${server.port}/api/predict`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      await r.body?.cancel();
      return r.status === 200;
    });
    return performance.now() - t0;
  } finally {
    await server.stop();
  }
}

const env = { KV_PATH: kvPath, TRAIN_WHEN_EMPTY: "0" };
const ziffer: number[] = [];
const bare: number[] = [];
// Alternate the two so that background load affects both alike.
for (let i = 0; i < runs; i++) {
  ziffer.push(await firstPrediction("main.ts", env));
  bare.push(await firstPrediction("src/cli/_bare_server.ts", {}));
}
const show = (name: string, values: number[]) => {
  const s = summary(values);
  console.log(
    `${name.padEnd(34)} median ${s.median.toFixed(0).padStart(4)} ms  (min ${
      s.min.toFixed(0)
    }, max ${s.max.toFixed(0)}, ${values.length} runs)`,
  );
};
console.log(`model ${modelId}, KV ${kvPath}`);
show("spawn → first prediction (main.ts)", ziffer);
show("spawn → first answer (bare Hono)", bare);
