/**
 * Load on `POST /api/predict` (JSON, one real MNIST digit) with wrk over
 * loopback, side by side with a bare Hono endpoint that only parses the same
 * body (scripts/_bare_server.ts). Also the latency of single predictions sent
 * one after another.
 *
 * Usage:
 *   deno run -A scripts/load.ts                       # 3 rounds × 10 s each, 50 connections
 *   deno run -A scripts/load.ts --rounds 5 --seconds 5 --connections 20 --kv .kv/bench.sqlite
 *
 * Needs `wrk` (apt-get install wrk). Rounds alternate between the two
 * servers so background load hits both alike; the whole run is bounded
 * (about rounds × 2 × (seconds + 2) s, plus start-up). If the KV file has no
 * model, the server's start-up config is trained once first (about a minute).
 *
 * @module
 */

import { parseArgs } from "@std/cli";
import { join } from "@std/path";
import {
  digitBody,
  ensureModel,
  quantile,
  spawnDeno,
  type Spawned,
  summary,
  until,
} from "./_server_bench.ts";

const args = parseArgs(Deno.args, {
  string: ["rounds", "seconds", "connections", "kv", "sequential"],
  default: {
    rounds: "3",
    seconds: "10",
    connections: "50",
    kv: ".kv/bench.sqlite",
    sequential: "2000",
  },
});
const rounds = Number(args.rounds);
const seconds = Number(args.seconds);
const connections = Number(args.connections);
const sequential = Number(args.sequential);

const modelId = await ensureModel(args.kv);
const body = await digitBody();
const dir = await Deno.makeTempDir();
const lua = join(dir, "post.lua");
await Deno.writeTextFile(
  lua,
  `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${
    JSON.stringify(body)
  }\n`,
);

interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** Parses wrk's `--latency` report: requests/s, 50% and 99% latency in ms, non-2xx count. */
function parseWrk(text: string): WrkResult {
  const ms = (label: string) => {
    const m = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)`, "m").exec(
      text,
    );
    if (!m) {
      throw new Error(
        `Cannot find the ${label}% latency in wrk's output:\n${text}`,
      );
    }
    const v = Number(m[1]);
    return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
  const errors =
    Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0) +
    Number(/Socket errors:.*?timeout (\d+)/.exec(text)?.[1] ?? 0);
  return { rps, p50: ms("50"), p99: ms("99"), errors };
}

async function wrk(port: number, duration: number): Promise<WrkResult> {
  const out = await new Deno.Command("wrk", {
    args: [
      "-t1",
      `-c${connections}`,
      `-d${duration}s`,
      "--latency",
      "-s",
      lua,
      `http://127.0.0.1:${port}/api/predict`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return parseWrk(new TextDecoder().decode(out.stdout));
}

async function ready(server: Spawned): Promise<void> {
  await until(async () => {
    const r = await fetch(`http://127.0.0.1:${server.port}/api/predict`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    await r.body?.cancel();
    return r.status === 200;
  });
}

const ziffer = spawnDeno("main.ts", {
  env: { KV_PATH: args.kv, TRAIN_WHEN_EMPTY: "0" },
});
const bare = spawnDeno("scripts/_bare_server.ts");
try {
  await Promise.all([ready(ziffer), ready(bare)]);

  // Single predictions, one after another (keep-alive): client round trip and server inference.
  const roundTrip: number[] = [];
  const inference: number[] = [];
  for (let i = 0; i < sequential; i++) {
    const t0 = performance.now();
    const r = await fetch(`http://127.0.0.1:${ziffer.port}/api/predict`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const answer = await r.json();
    roundTrip.push(performance.now() - t0);
    inference.push(answer.ms.predict);
  }

  // Warm both up, then alternate.
  await wrk(ziffer.port, 2);
  await wrk(bare.port, 2);
  const results: Record<string, WrkResult[]> = { ziffer: [], bare: [] };
  for (let round = 0; round < rounds; round++) {
    results.ziffer.push(await wrk(ziffer.port, seconds));
    results.bare.push(await wrk(bare.port, seconds));
  }

  const rt = summary(roundTrip.slice(100));
  const inf = summary(inference.slice(100));
  console.log(
    `model ${modelId}; body ${body.length} bytes; loopback; wrk -t1 -c${connections}`,
  );
  console.log(
    `single predictions, sequential (${
      sequential - 100
    } after 100 warm-up): round trip median ${rt.median.toFixed(3)} ms, p99 ${
      quantile(roundTrip.slice(100), 0.99).toFixed(3)
    } ms; server inference median ${inf.median.toFixed(3)} ms, p99 ${
      quantile(inference.slice(100), 0.99).toFixed(3)
    } ms`,
  );
  console.log(
    "\n| endpoint | req/s median (min–max) | p50 ms median | p99 ms median (min–max) | non-2xx |",
  );
  console.log("|---|---|---|---|---|");
  for (
    const [name, label] of [["ziffer", "POST /api/predict (Ziffer)"], [
      "bare",
      "bare Hono, JSON parse only",
    ]]
  ) {
    const rs = results[name];
    const rps = summary(rs.map((r) => r.rps));
    const p50 = summary(rs.map((r) => r.p50));
    const p99 = summary(rs.map((r) => r.p99));
    console.log(
      `| ${label} | ${rps.median.toFixed(0)} (${rps.min.toFixed(0)}–${
        rps.max.toFixed(0)
      }) | ${p50.median.toFixed(2)} | ${p99.median.toFixed(2)} (${
        p99.min.toFixed(2)
      }–${p99.max.toFixed(2)}) | ${rs.reduce((s, r) => s + r.errors, 0)} |`,
    );
  }
} finally {
  await ziffer.stop();
  await bare.stop();
  await Deno.remove(dir, { recursive: true });
}
