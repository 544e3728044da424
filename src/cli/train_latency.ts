/**
 * How the server answers while it trains. Starts `main.ts` on an empty KV
 * (so it trains its start-up model in the background) and measures:
 *
 * 1. spawn → first answer (the server must answer at once, not after training);
 * 2. predictions sent one after another while the start-up model trains:
 *    all 503 with Retry-After, and their latency (the event loop is not blocked long);
 * 3. spawn → first 200 prediction (start-up training time) and the model's accuracy;
 * 4. prediction latency with no training, then while an admin-started run of
 *    the same config trains (`"activate": "never"`).
 *
 * Usage:
 *   deno run -A src/cli/train_latency.ts
 *
 * Loopback only; bounded (gives up after 10 minutes).
 *
 * @module
 */

import { join } from "@std/path";
import { digitBody, quantile, spawnDeno, until } from "./_server_bench.ts";

const TOKEN = "train-latency-token-0123456789";
const dir = await Deno.makeTempDir();
const body = await digitBody();
const t0 = performance.now();
const server = spawnDeno("main.ts", {
  env: { KV_PATH: join(dir, "kv.sqlite"), ADMIN_TOKEN: TOKEN },
});
const base = `http://127.0.0.1:${server.port}`;

async function predict(): Promise<
  { status: number; ms: number; retryAfter: string | null }
> {
  const start = performance.now();
  const r = await fetch(`${base}/api/predict`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  await r.arrayBuffer();
  return {
    status: r.status,
    ms: performance.now() - start,
    retryAfter: r.headers.get("retry-after"),
  };
}

function stats(values: number[]): string {
  return `n ${values.length}, p50 ${quantile(values, 0.5).toFixed(2)} ms, p99 ${
    quantile(values, 0.99).toFixed(2)
  } ms, max ${Math.max(...values).toFixed(2)} ms`;
}

try {
  await until(async () => {
    const r = await fetch(`${base}/api/health`);
    await r.body?.cancel();
    return r.ok;
  });
  const listening = performance.now() - t0;

  const waiting: number[] = [];
  let withoutRetryAfter = 0;
  let ready = 0;
  const deadline = performance.now() + 600_000;
  while (performance.now() < deadline) {
    const r = await predict();
    if (r.status === 200) {
      ready = performance.now() - t0;
      break;
    }
    if (r.status !== 503) {
      throw new Error(`Unexpected status ${r.status} while training`);
    }
    if (!r.retryAfter) withoutRetryAfter++;
    waiting.push(r.ms);
  }
  const info = await (await fetch(`${base}/api/model`)).json();

  const idle: number[] = [];
  for (let i = 0; i < 1000; i++) idle.push((await predict()).ms);

  const started = await fetch(`${base}/api/train`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${TOKEN}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ ...info.config, activate: "never" }),
  });
  const { jobId } = await started.json();
  const during: number[] = [];
  const trainStart = performance.now();
  while (performance.now() < deadline) {
    const r = await predict();
    if (r.status !== 200) {
      throw new Error(`Unexpected status ${r.status} during training`);
    }
    during.push(r.ms);
    if (during.length % 50 === 0) {
      const job = await (await fetch(`${base}/api/train/${jobId}`)).json();
      if (job.status !== "running") break;
    }
  }
  const trainSeconds = (performance.now() - trainStart) / 1000;

  console.log(`spawn → first answer: ${listening.toFixed(0)} ms`);
  console.log(
    `while the start-up model trained: ${waiting.length} predictions answered 503 (${withoutRetryAfter} without Retry-After); ${
      stats(waiting)
    }`,
  );
  console.log(
    `spawn → first 200 prediction (start-up training): ${
      (ready / 1000).toFixed(1)
    } s; model ${info.id}, test accuracy ${
      (info.metrics.testAccuracy * 100).toFixed(2)
    }%, training time ${(info.metrics.trainMs / 1000).toFixed(1)} s`,
  );
  console.log(`predictions, no training: ${stats(idle)}`);
  console.log(
    `predictions while job ${jobId} trained (${trainSeconds.toFixed(1)} s): ${
      stats(during)
    }`,
  );
} finally {
  await server.stop();
  await Deno.remove(dir, { recursive: true });
}
