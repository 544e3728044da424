/**
 * Ziffer's server — the composition root: read the environment, open KV,
 * build the app, serve. Runs as is on Deno Deploy (no flags: `deno.json`
 * enables KV and cron) and locally.
 *
 * Usage:
 *   deno task start                              # http://localhost:8000/
 *   PORT=9000 ADMIN_TOKEN=… deno task start
 *   deno serve -A main.ts                        # the same app under `deno serve`
 *   deno serve -A --parallel --port 9000 main.ts # one instance per CPU core
 *
 * Environment:
 *   PORT                 port for `deno task start` (default 8000; `deno serve` uses --port)
 *   KV_PATH              Deno KV location: file, :memory:, KV Connect URL, or "none" to run
 *                        without KV (default .kv/ziffer.sqlite; on Deno Deploy the attached database)
 *   ADMIN_TOKEN          enables the admin endpoints (train, activate, delete, upload)
 *   TRAIN_WHEN_EMPTY     "0" to not train at start-up when KV has no model and there is no shipped one
 *   TRAIN_IN_WORKER      "0" to train on the main thread (in slices) instead of a Web Worker
 *   CHECKPOINT_EVERY_MS  least time between training checkpoints in KV (default 10000; 0 = none)
 *   TRAIN_LEASE_TTL_MS   how long a dead instance's training lease blocks others (default 30000)
 *   POLL_MS              how often to re-read the active model pointer besides watching it
 *                        (default 250; a watch on a local SQLite file misses other processes)
 *
 * Without KV (no database attached, `Deno.openKv` missing or failing, or
 * KV_PATH=none) the server says so in its log, serves the shipped model
 * (static/models/default.zifr) and answers 503 on what needs KV.
 *
 * Training that survives eviction: a `Deno.cron` job, registered below at
 * the top level (Deno Deploy reads crons by evaluating the module's top
 * level), resumes an interrupted training job every minute from its last
 * checkpoint in KV; the server also does so at start-up.
 *
 * `deno serve` evaluates this module and then starts its own server by
 * calling `Deno.serve` with the default export. `import.meta.main` is true
 * under both `deno run` and `deno serve`, so to tell them apart we watch for
 * that call: if nothing has called `Deno.serve` by the first timer after
 * evaluation, we were started with `deno run` and serve on PORT ourselves.
 * (`deno run` prints a harmless warning about the default export: it cannot
 * be avoided while the module also works under `deno serve`.)
 *
 * @module
 */

import { fromFileUrl } from "@std/path";
import { createApp, type ZifferApp } from "./src/server/app.ts";
import { consoleLog } from "./src/server/log.ts";
import {
  loadBundledModel,
  STARTUP_TRAIN_CONFIG,
} from "./src/server/startup.ts";
import { openKv, resolveKvPath } from "./src/store/kv.ts";

const log = consoleLog();
const ready = Promise.withResolvers<ZifferApp>();
// Never an unhandled rejection: a failed start-up is reported where it happens.
ready.promise.catch(() => {});

// Top level, before any await: Deno Deploy discovers crons by evaluating this.
if (typeof Deno.cron === "function") {
  try {
    Deno.cron("resume interrupted training", "* * * * *", async () => {
      const ziffer = await ready.promise;
      const resumed = await ziffer.training.resumeInterrupted();
      // Keep this invocation (and so the instance) busy while the job trains.
      if (resumed) await ziffer.training.idle();
    });
  } catch (e) {
    // E.g. a second isolate of `deno serve --parallel` registering the same name.
    log.warn(`Cannot register the training cron: ${(e as Error).message}`);
  }
}

const denoServe = Deno.serve;
let servedByRuntime = false;
if (import.meta.main) {
  Deno.serve = ((...args: Parameters<typeof Deno.serve>) => {
    servedByRuntime = true;
    return denoServe(...args);
  }) as typeof Deno.serve;
}

const env = (name: string) => Deno.env.get(name);
const port = parseInteger("PORT", env("PORT"), 8000, 0, 65535);
const kvPath = resolveKvPath(Deno.env);
const kv = await openKvOrNull(kvPath);
const adminToken = env("ADMIN_TOKEN") || undefined;
if (adminToken && adminToken.length < 16) {
  log.warn("ADMIN_TOKEN is shorter than 16 characters: use a long random one");
}
const bundled = await loadBundledModel();
if (!bundled) {
  log.warn(
    "No shipped model (static/models/default.zifr): run `deno task default-model`",
  );
}
const ziffer = await createApp({
  kv,
  adminToken,
  staticRoot: fromFileUrl(new URL("./static", import.meta.url)),
  log,
  bundled,
  trainWhenEmpty: env("TRAIN_WHEN_EMPTY") === "0" ? null : STARTUP_TRAIN_CONFIG,
  pollMs: parseInteger("POLL_MS", env("POLL_MS"), 250, 0, 3_600_000),
  training: {
    leaseTtlMs: parseInteger(
      "TRAIN_LEASE_TTL_MS",
      env("TRAIN_LEASE_TTL_MS"),
      30_000,
      500,
      3_600_000,
    ),
    checkpointEveryMs: parseInteger(
      "CHECKPOINT_EVERY_MS",
      env("CHECKPOINT_EVERY_MS"),
      10_000,
      0,
      3_600_000,
    ),
    runMode: env("TRAIN_IN_WORKER") === "0" ? "inline" : "auto",
  },
});
ready.resolve(ziffer);
const served = ziffer.models.current;
log.info(
  `KV ${kv ? kvPath ?? "(attached database)" : "unavailable"}, admin ${
    adminToken ? "enabled" : "disabled"
  }, model ${served ? `${served.info.id} (${served.source})` : "none yet"}`,
);

/** The app's fetch handler, for `deno serve`. */
export default { fetch: ziffer.fetch } satisfies Deno.ServeDefaultExport;

// Stop training without failing its job (another instance resumes it), then exit.
let stopping = false;
let server: Deno.HttpServer | null = null;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  log.info("shutting down");
  await ziffer.close();
  // Requests in flight get a moment; long event streams do not hold the exit.
  if (server) {
    await Promise.race([
      server.shutdown(),
      new Promise((r) => setTimeout(r, 2_000)),
    ]);
  }
  kv?.close();
  Deno.exit(0);
};

if (import.meta.main) {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, stop);
    } catch {
      // Not available here (e.g. a worker isolate of `deno serve --parallel`).
    }
  }
  setTimeout(() => {
    Deno.serve = denoServe;
    if (servedByRuntime) return;
    server = Deno.serve({
      port,
      onListen: ({ hostname, port }) =>
        log.info(`listening on http://${hostname}:${port}/`),
    }, ziffer.fetch);
  }, 0);
}

/** Opens KV, or returns null (and says why) when there is none to open. */
async function openKvOrNull(path: string | undefined): Promise<Deno.Kv | null> {
  if (path === "none") {
    log.warn("KV disabled (KV_PATH=none): serving the shipped model only");
    return null;
  }
  if (typeof Deno.openKv !== "function") {
    log.warn(
      "Deno KV is not available in this runtime: serving the shipped model only; stored models and training answer 503",
    );
    return null;
  }
  try {
    return await openKv(path);
  } catch (e) {
    log.warn(
      `${
        (e as Error).message
      }: serving the shipped model only; stored models and training answer 503`,
    );
    return null;
  }
}

function parseInteger(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new RangeError(
      `Cannot start as ${name} must be an integer from ${min} to ${max}: got ${
        JSON.stringify(value)
      }`,
    );
  }
  return n;
}
