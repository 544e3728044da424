/**
 * The real server as a child process, for the reliability commands
 * (`deno task fuzz`, `deno task load`, `deno task faults`) and their tests:
 * a free loopback port, a KV file holding models made here, `main.ts` spawned
 * with the permissions of `deno task start`, its output captured, its memory
 * read from `/proc/<pid>/status`, and a snapshot of the stored models to
 * compare before and after.
 *
 * Everything talks to 127.0.0.1 only.
 *
 * @module
 */

import { fromFileUrl } from "@std/path";
import { crc32 } from "../nn/crc32.ts";
import { type Model, weightsOf } from "../nn/model_file.ts";
import { createNetwork } from "../nn/network.ts";
import { createRandom } from "../nn/random.ts";
import {
  activateModel,
  type ActivePointer,
  getActivePointer,
  listModels,
  loadModel,
  saveModel,
} from "../store/models.ts";

/** The repository root (where `main.ts` and `deno.json` live). */
export const ROOT = fromFileUrl(new URL("../../", import.meta.url));

/** The loopback address every reliability command talks to. */
export const LOOPBACK = "127.0.0.1";

/** The permissions `deno task start` gives the server (see deno.json). */
export const SERVER_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-net",
];

/** A free TCP port on loopback (the OS picks it; another process could take it before the server does). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Resident memory of a process, from `/proc/<pid>/status`, in KiB. */
export interface ProcessMemory {
  /** VmRSS: resident now. */
  rssKiB: number;
  /** VmHWM: the most it was ever resident. */
  hwmKiB: number;
}

/** Reads VmRSS and VmHWM of `pid` (Linux only). */
export async function readMemory(pid: number): Promise<ProcessMemory> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
    if (!m) {
      throw new SyntaxError(
        `Cannot read ${name} of process ${pid} from /proc/${pid}/status`,
      );
    }
    return Number(m[1]);
  };
  return { rssKiB: field("VmRSS"), hwmKiB: field("VmHWM") };
}

/** KiB → MiB with one decimal, for tables. */
export function mib(kib: number): string {
  return (kib / 1024).toFixed(1);
}

/**
 * A model with seeded random weights: a ReLU MLP of `layers` (784 … 10) with
 * a softmax output, as `deno task train --layers …` would build it. Its
 * answers mean nothing; its size and inference cost are real.
 */
export function randomModel(
  { id, seed = 1, layers = [784, 128, 10] }: {
    id: string;
    seed?: number;
    layers?: number[];
  },
): Model {
  const hidden = layers.slice(1, -1);
  const network = createNetwork({
    input: [1, 28, 28],
    layers: [
      ...hidden.map((units) => ({
        type: "dense" as const,
        units,
        activation: "relu" as const,
      })),
      { type: "dense", units: 10, activation: "softmax" },
    ],
  }, { random: createRandom(seed) });
  return {
    id,
    createdAt: new Date(0).toISOString(),
    architecture: network.architecture,
    config: {
      note: "random weights made by src/cli/_server_process.ts",
      layers,
    },
    seed,
    metrics: {
      testAccuracy: 0.1,
      testCount: 0,
      confusion: Array.from({ length: 10 }, () => new Array(10).fill(0)),
      epochs: [],
      trainMs: 0,
    },
    weights: weightsOf(network),
  };
}

/** Stores `models` in the KV file at `path` and activates `active` (if given). */
export async function storeModels(
  path: string,
  models: Model[],
  { active }: { active?: string } = {},
): Promise<void> {
  const kv = await Deno.openKv(path);
  try {
    for (const model of models) await saveModel(kv, model);
    if (active) await activateModel(kv, active);
  } finally {
    kv.close();
  }
}

/** What KV holds about its models, to compare before and after. */
export interface ModelSnapshot {
  active: ActivePointer | null;
  /** One line per model: id, stored checksum, byte length, CRC of the bytes read back. */
  models: string[];
}

/** Reads every stored model (verifying each) through a fresh KV handle. */
export async function snapshotModels(path: string): Promise<ModelSnapshot> {
  const kv = await Deno.openKv(path);
  try {
    const active = await getActivePointer(kv);
    const models: string[] = [];
    for (const meta of await listModels(kv)) {
      const { bytes } = await loadModel(kv, meta.info.id);
      models.push(
        `${meta.info.id} checksum=${meta.checksum} bytes=${meta.byteLength} crc=${
          crc32(bytes)
        } savedAt=${meta.savedAt}`,
      );
    }
    return { active, models };
  } finally {
    kv.close();
  }
}

/** A running `main.ts`. */
export interface ServerProcess {
  port: number;
  pid: number;
  /** `http://127.0.0.1:<port>` + path. */
  url(path: string): string;
  /** Everything it printed so far (stdout and stderr, interleaved by arrival; last 4 MB). */
  output(): string;
  /** Set once the process has ended, with its exit status. */
  readonly ended: Deno.CommandStatus | null;
  /** SIGTERM, then SIGKILL after 5 s; waits for the exit. */
  stop(): Promise<Deno.CommandStatus>;
  /** SIGKILL; waits for the exit. */
  kill(): Promise<Deno.CommandStatus>;
}

/**
 * Spawns the server on a free loopback port with the KV file `kvPath` and
 * waits (up to `readyTimeoutMs`) until `GET /api/health` answers 200.
 * Training at start-up is off (`TRAIN_WHEN_EMPTY=0`).
 */
export async function spawnServer(
  { kvPath, adminToken, env = {}, script = "main.ts", readyTimeoutMs = 30_000 }:
    {
      kvPath: string;
      adminToken?: string;
      env?: Record<string, string>;
      script?: string;
      readyTimeoutMs?: number;
    },
): Promise<ServerProcess> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...SERVER_PERMISSIONS, "--quiet", script],
    cwd: ROOT,
    env: {
      PORT: String(port),
      KV_PATH: kvPath,
      TRAIN_WHEN_EMPTY: "0",
      NO_COLOR: "1",
      ...(adminToken ? { ADMIN_TOKEN: adminToken } : {}),
      ...env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      if (text.length > 4_000_000) text = text.slice(-2_000_000);
    }
  };
  const drained = Promise.all([collect(child.stdout), collect(child.stderr)]);
  let ended: Deno.CommandStatus | null = null;
  const status = child.status.then(async (s) => {
    ended = s;
    await drained.catch(() => {});
    return s;
  });
  const signal = async (name: Deno.Signal) => {
    if (ended) return ended;
    try {
      child.kill(name);
    } catch {
      // Already gone.
    }
    return await status;
  };
  const server: ServerProcess = {
    port,
    pid: child.pid,
    url: (path) => `http://${LOOPBACK}:${port}${path}`,
    output: () => text,
    get ended() {
      return ended;
    },
    kill: () => signal("SIGKILL"),
    async stop() {
      if (ended) return ended;
      const timer = setTimeout(() => signal("SIGKILL"), 5_000);
      try {
        return await signal("SIGTERM");
      } finally {
        clearTimeout(timer);
      }
    },
  };
  const deadline = performance.now() + readyTimeoutMs;
  while (true) {
    if (ended) {
      throw new Error(
        `Cannot start ${script}: it exited with code ${
          (ended as Deno.CommandStatus).code
        }:\n${text.slice(-4000)}`,
      );
    }
    try {
      const r = await fetch(server.url("/api/health"));
      await r.body?.cancel();
      if (r.status === 200) return server;
    } catch {
      // Not listening yet.
    }
    if (performance.now() > deadline) {
      await server.kill();
      throw new Error(
        `Cannot start ${script}: no answer on port ${port} within ${readyTimeoutMs} ms:\n${
          text.slice(-4000)
        }`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Error lines the server logged for requests that failed with a 500 (see src/server/errors.ts). */
export function serverErrors(output: string): string[] {
  return output.split("\n").filter((line) =>
    / ERROR .* failed: /.test(line) || /Uncaught/.test(line)
  );
}
