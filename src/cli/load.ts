/**
 * `deno task load` — load on `POST /api/predict` with wrk, over loopback.
 *
 * Usage:
 *   deno task load                              # 1, 10, 50 connections × 3 rounds × 10 s
 *   deno task load --levels 1,10,50,100 --seconds 5 --rounds 5
 *   deno task load --kv .kv/ziffer.sqlite       # serve the active model of that KV
 *
 * Starts `main.ts` on a free loopback port (a fresh temporary KV unless
 * `--kv` is given: the server then serves the model it ships with, as a new
 * deployment would) and posts one real MNIST test digit as JSON, the way the
 * page does, with wrk (`apt-get install wrk`): one wrk thread, keep-alive,
 * each concurrency level for `--seconds`, the levels taken in turn for
 * `--rounds` rounds so background load hits all alike. Prints one table:
 * requests per second, p50/p99/max latency, errors (non-2xx answers, socket
 * errors and timeouts — any is a failure), and the server's resident memory
 * (VmRSS from /proc) before and after each level, with its peak (VmHWM).
 *
 * Flags:
 *   --levels 1,10,50   connection counts
 *   --seconds N        length of each measured run (default 10, at most 120)
 *   --rounds N         runs per level; the table shows the median and the spread (default 3)
 *   --warmup N         seconds of warm-up at the highest level first (default 3)
 *   --kv PATH          a KV file to serve from instead of a fresh one
 *
 * Bounded: about rounds × levels × (seconds + 1) s plus start-up; loopback only.
 *
 * @module
 */

import { parseArgs } from "@std/cli";
import { join } from "@std/path";
import { digitBody } from "./_server_bench.ts";
import {
  mib,
  type ProcessMemory,
  randomModel,
  readMemory,
  spawnServer,
  storeModels,
} from "./_server_process.ts";

/** What wrk measured in one run. */
export interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
  /** Non-2xx/3xx answers plus socket errors (connect, read, write, timeout). */
  errors: number;
}

/** One concurrency level over all rounds. */
export interface LevelResult {
  connections: number;
  runs: WrkResult[];
  memoryBefore: ProcessMemory;
  memoryAfter: ProcessMemory;
}

/** Options of {@link runLoad}. */
export interface LoadOptions {
  levels: number[];
  seconds: number;
  rounds: number;
  warmupSeconds: number;
  kvPath?: string;
  /** The JSON body to post (default: one MNIST test digit). */
  body?: string;
  onRun?: (connections: number, result: WrkResult) => void;
}

/** The whole measurement. */
export interface LoadReport {
  modelId: string;
  bodyBytes: number;
  levels: LevelResult[];
  peak: ProcessMemory;
}

const DURATION = /^\s*([\d.]+)(us|ms|s|m)\s*$/;

/** A wrk duration ("812.00us", "1.20ms", "2.00s") in ms. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text);
  if (!m) {
    throw new SyntaxError(`Cannot read wrk's duration ${JSON.stringify(text)}`);
  }
  const v = Number(m[1]);
  return m[2] === "us"
    ? v / 1000
    : m[2] === "ms"
    ? v
    : m[2] === "s"
    ? v * 1000
    : v * 60_000;
}

/** Reads wrk's `--latency` report. Throws a SyntaxError naming what is missing. */
export function parseWrk(text: string): WrkResult {
  const need = (re: RegExp, what: string) => {
    const m = re.exec(text);
    if (!m) {
      throw new SyntaxError(`Cannot find ${what} in wrk's output:\n${text}`);
    }
    return m;
  };
  const latency = need(
    /^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)/m,
    "the latency line",
  );
  const p50 = need(/^\s*50%\s+(\S+)/m, "the 50% latency");
  const p99 = need(/^\s*99%\s+(\S+)/m, "the 99% latency");
  const rps = need(/Requests\/sec:\s+([\d.]+)/, "Requests/sec");
  const requests = need(/(\d+) requests in/, "the request count");
  const non2xx = Number(
    /Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0,
  );
  const socket =
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
      text,
    );
  const socketErrors = socket
    ? socket.slice(1).reduce((s, n) => s + Number(n), 0)
    : 0;
  return {
    requestsPerSecond: Number(rps[1]),
    p50Ms: parseDuration(p50[1]),
    p99Ms: parseDuration(p99[1]),
    maxMs: parseDuration(latency[3]),
    requests: Number(requests[1]),
    errors: non2xx + socketErrors,
  };
}

/** Runs wrk once; throws with its stderr when it fails (or is not installed). */
async function wrk(
  url: string,
  { connections, seconds, script }: {
    connections: number;
    seconds: number;
    script: string;
  },
): Promise<WrkResult> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("wrk", {
      args: [
        "-t1",
        `-c${connections}`,
        `-d${seconds}s`,
        "--timeout",
        "10s",
        "--latency",
        "-s",
        script,
        url,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        "Cannot run wrk as it is not installed: apt-get install -y wrk",
      );
    }
    throw e;
  }
  if (!out.success) {
    throw new Error(`wrk failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return parseWrk(new TextDecoder().decode(out.stdout));
}

/** Measures every level; the server is stopped at the end. */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const dir = await Deno.makeTempDir({ prefix: "ziffer-load-" });
  try {
    const kvPath = options.kvPath ?? join(dir, "load.sqlite");
    const body = options.body ?? await digitBody();
    const script = join(dir, "post.lua");
    await Deno.writeTextFile(
      script,
      `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${
        JSON.stringify(body)
      }\n`,
    );
    let server = await spawnServer({ kvPath });
    let modelId = await servedModel(server.url("/api/health"));
    if (!modelId) {
      // No shipped model in this tree: serve a random 784-256-128-10 MLP (the size of the start-up MLP).
      await server.stop();
      await storeModels(kvPath, [
        randomModel({ id: "m-load-random", layers: [784, 256, 128, 10] }),
      ], {
        active: "m-load-random",
      });
      server = await spawnServer({ kvPath });
      modelId = (await servedModel(server.url("/api/health")))!;
    }
    try {
      const url = server.url("/api/predict");
      const check = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      if (check.status !== 200) {
        throw new Error(
          `The server refused the load's request: ${check.status} ${await check
            .text()}`,
        );
      }
      await check.body?.cancel();
      const top = Math.max(...options.levels);
      if (options.warmupSeconds > 0) {
        await wrk(url, {
          connections: top,
          seconds: options.warmupSeconds,
          script,
        });
      }
      const levels: LevelResult[] = [];
      for (let round = 0; round < options.rounds; round++) {
        for (const [i, connections] of options.levels.entries()) {
          const before = await readMemory(server.pid);
          const result = await wrk(url, {
            connections,
            seconds: options.seconds,
            script,
          });
          const after = await readMemory(server.pid);
          options.onRun?.(connections, result);
          if (round === 0) {
            levels.push({
              connections,
              runs: [result],
              memoryBefore: before,
              memoryAfter: after,
            });
          } else {
            levels[i].runs.push(result);
            levels[i].memoryAfter = after;
          }
        }
      }
      if (server.ended) {
        throw new Error(
          `The server died during the load: ${JSON.stringify(server.ended)}`,
        );
      }
      return {
        modelId,
        bodyBytes: body.length,
        levels,
        peak: await readMemory(server.pid),
      };
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function servedModel(healthUrl: string): Promise<string | null> {
  const health = await (await fetch(healthUrl)).json();
  return health.model?.id ?? null;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function spread(values: number[], digits: number): string {
  const m = median(values).toFixed(digits);
  if (values.length < 2) return m;
  return `${m} (${Math.min(...values).toFixed(digits)}–${
    Math.max(...values).toFixed(digits)
  })`;
}

/** The table: one row per level, medians with min–max over the rounds. */
export function formatLoad(report: LoadReport): string {
  const lines = [
    "| connections | req/s | p50 ms | p99 ms | max ms | requests | errors | server VmRSS before → after (MiB) |",
    "|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const level of report.levels) {
    const { runs } = level;
    lines.push(
      `| ${level.connections} | ${
        spread(runs.map((r) => r.requestsPerSecond), 0)
      } | ${spread(runs.map((r) => r.p50Ms), 2)} | ${
        spread(runs.map((r) => r.p99Ms), 2)
      } | ${Math.max(...runs.map((r) => r.maxMs)).toFixed(1)} | ${
        runs.reduce((s, r) => s + r.requests, 0)
      } | ${runs.reduce((s, r) => s + r.errors, 0)} | ${
        mib(level.memoryBefore.rssKiB)
      } → ${mib(level.memoryAfter.rssKiB)} |`,
    );
  }
  lines.push(
    "",
    `model ${report.modelId}; body ${report.bodyBytes} B (one MNIST test digit as JSON); wrk -t1, keep-alive, loopback; ` +
      `median (min–max) over ${
        report.levels[0]?.runs.length ?? 0
      } rounds; max = slowest request of all rounds; ` +
      `server peak VmHWM ${mib(report.peak.hwmKiB)} MiB`,
  );
  return lines.join("\n");
}

/** Parses the flags strictly. */
export function parseLoadArgs(args: string[]): LoadOptions {
  const names = ["levels", "seconds", "rounds", "warmup", "kv"];
  const unknown: string[] = [];
  const flags = parseArgs(args, {
    string: names,
    default: { levels: "1,10,50", seconds: "10", rounds: "3", warmup: "3" },
    unknown: (a: string) => {
      unknown.push(a);
      return false;
    },
  });
  if (unknown.length) {
    throw new RangeError(
      `Cannot use ${unknown.join(" ")}: the flags are --${names.join(", --")}`,
    );
  }
  const levels = String(flags.levels).split(",").map((s: string) =>
    Number(s.trim())
  );
  if (
    !levels.length ||
    levels.some((n: number) => !Number.isInteger(n) || n < 1 || n > 1000)
  ) {
    throw new RangeError(
      `Cannot use --levels as it must list connection counts from 1 to 1000: got "${flags.levels}"`,
    );
  }
  const int = (name: string, raw: string, min: number, max: number) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new RangeError(
        `Cannot use --${name} as it must be an integer from ${min} to ${max}: got "${raw}"`,
      );
    }
    return n;
  };
  return {
    levels,
    seconds: int("seconds", flags.seconds, 1, 120),
    rounds: int("rounds", flags.rounds, 1, 20),
    warmupSeconds: int("warmup", flags.warmup, 0, 60),
    kvPath: flags.kv,
  };
}

if (import.meta.main) {
  let options: LoadOptions;
  try {
    options = parseLoadArgs(Deno.args);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(2);
  }
  console.log(
    `ziffer load: POST /api/predict at ${
      options.levels.join(", ")
    } connections, ${options.rounds} × ${options.seconds} s each`,
  );
  const report = await runLoad({
    ...options,
    onRun: (c, r) =>
      console.error(
        `  ${c} connections: ${r.requestsPerSecond.toFixed(0)} req/s, p99 ${
          r.p99Ms.toFixed(2)
        } ms, ${r.errors} errors`,
      ),
  });
  console.log(formatLoad(report));
  const errors = report.levels.reduce(
    (s, l) => s + l.runs.reduce((t, r) => t + r.errors, 0),
    0,
  );
  if (errors > 0) {
    console.log(`\nFAILED: ${errors} errors`);
    Deno.exit(1);
  }
}
