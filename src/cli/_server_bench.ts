/**
 * Shared pieces of the server measurements (src/cli/cold_start.ts): a KV
 * file holding a model, spawning `main.ts`, waiting for it, and small
 * statistics. Loopback only.
 *
 * @module
 */

import { fromFileUrl } from "@std/path";
import {
  activateModel,
  getActivePointer,
  newModelId,
  saveModel,
} from "../store/models.ts";
import { openKv } from "../store/kv.ts";

/** The repository root. */
export const ROOT = fromFileUrl(new URL("../..", import.meta.url));

/**
 * Makes sure the KV file at `path` has an active model: if not, trains the
 * server's start-up config in this process and stores it (as the server
 * would at start-up). Returns the active model id.
 */
export async function ensureModel(path: string): Promise<string> {
  const kv = await openKv(path);
  try {
    const pointer = await getActivePointer(kv);
    if (pointer) return pointer.id;
    console.error(`No model in ${path}: training the start-up config once…`);
    const { STARTUP_TRAIN_CONFIG } = await import("../server/startup.ts");
    const { loadPackageData } = await import("../training/data.ts");
    const { runTraining } = await import("../training/run.ts");
    const data = await loadPackageData(STARTUP_TRAIN_CONFIG);
    const { model } = await runTraining(STARTUP_TRAIN_CONFIG, {
      data,
      now: () => performance.now(),
      createdAt: new Date().toISOString(),
      id: newModelId(),
    });
    await saveModel(kv, model);
    await activateModel(kv, model.id);
    console.error(
      `Stored ${model.id}: test accuracy ${
        (model.metrics.testAccuracy * 100).toFixed(2)
      }%`,
    );
    return model.id;
  } finally {
    kv.close();
  }
}

/** A free TCP port on loopback. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A spawned server process. */
export interface Spawned {
  port: number;
  child: Deno.ChildProcess;
  /** Kills the process (SIGTERM) and waits for it. */
  stop(): Promise<void>;
}

/** Spawns `deno run -A <script>` with `env`, output discarded. */
export function spawnDeno(
  script: string,
  { env = {}, port = freePort() }: {
    env?: Record<string, string>;
    port?: number;
  } = {},
): Spawned {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", script],
    cwd: ROOT,
    env: { ...env, PORT: String(port) },
    stdout: "null",
    stderr: "null",
  }).spawn();
  return {
    port,
    child,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      await child.status;
    },
  };
}

/** Polls `attempt` every `everyMs` until it returns true or `timeoutMs` passes. */
export async function until(
  attempt: () => Promise<boolean>,
  { everyMs = 2, timeoutMs = 30_000 } = {},
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await attempt().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`Gave up after ${timeoutMs} ms`);
}

/** One real MNIST test digit as the page sends it (3 decimals), as a JSON body. */
export async function digitBody(): Promise<string> {
  const { loadMnistSplit } = await import("../data/mnist_package.ts");
  const { test } = loadMnistSplit({ trainCount: 8000, testCount: 2000 });
  const pixels = Array.from(
    test.images.subarray(0, 784),
    (v) => Math.round(v * 1000) / 1000,
  );
  return JSON.stringify({ pixels });
}

/** Median, min and max of some numbers. */
export function summary(
  values: number[],
): { median: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2
    ? sorted[mid]
    : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

/** The q-quantile (0..1) of some numbers, nearest rank. */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}
