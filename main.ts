/**
 * Ziffer's server — the composition root: read the environment, open KV,
 * build the app, serve.
 *
 * Usage:
 *   deno task start                              # http://localhost:8000/
 *   PORT=9000 ADMIN_TOKEN=… deno task start
 *   deno serve -A main.ts                        # the same app under `deno serve`
 *   deno serve -A --parallel --port 9000 main.ts # one instance per CPU core
 *
 * Environment:
 *   PORT              port for `deno task start` (default 8000; `deno serve` uses --port)
 *   KV_PATH           Deno KV location: file, :memory: or KV Connect URL (default .kv/ziffer.sqlite)
 *   ADMIN_TOKEN       enables the admin endpoints (train, activate, delete, upload)
 *   TRAIN_WHEN_EMPTY  "0" to not train a model at start-up when KV has none
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
import { createApp } from "./src/server/app.ts";
import { consoleLog } from "./src/server/log.ts";
import { STARTUP_TRAIN_CONFIG } from "./src/server/startup.ts";
import { openKv, resolveKvPath } from "./src/store/kv.ts";

const denoServe = Deno.serve;
let servedByRuntime = false;
if (import.meta.main) {
  Deno.serve = ((...args: Parameters<typeof Deno.serve>) => {
    servedByRuntime = true;
    return denoServe(...args);
  }) as typeof Deno.serve;
}

const log = consoleLog();
const port = parsePort(Deno.env.get("PORT"));
const kvPath = resolveKvPath(Deno.env);
const kv = await openKv(kvPath);
const adminToken = Deno.env.get("ADMIN_TOKEN") || undefined;
if (adminToken && adminToken.length < 16) {
  log.warn("ADMIN_TOKEN is shorter than 16 characters: use a long random one");
}
const ziffer = await createApp({
  kv,
  adminToken,
  staticRoot: fromFileUrl(new URL("./static", import.meta.url)),
  log,
  trainWhenEmpty: Deno.env.get("TRAIN_WHEN_EMPTY") === "0"
    ? null
    : STARTUP_TRAIN_CONFIG,
});
log.info(
  `KV ${kvPath ?? "(attached)"}, admin ${
    adminToken ? "enabled" : "disabled"
  }, model ${ziffer.models.current?.info.id ?? "none yet"}`,
);

/** The app's fetch handler, for `deno serve`. */
export default { fetch: ziffer.fetch } satisfies Deno.ServeDefaultExport;

if (import.meta.main) {
  setTimeout(() => {
    Deno.serve = denoServe;
    if (servedByRuntime) return;
    const server = Deno.serve({
      port,
      onListen: ({ hostname, port }) =>
        log.info(`listening on http://${hostname}:${port}/`),
    }, ziffer.fetch);
    const stop = async () => {
      log.info("shutting down");
      await server.shutdown();
      await ziffer.close();
      kv.close();
      Deno.exit(0);
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  }, 0);
}

function parsePort(value: string | undefined): number {
  if (value === undefined || value === "") return 8000;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new RangeError(
      `Cannot listen as PORT must be an integer from 0 to 65535: got ${
        JSON.stringify(value)
      }`,
    );
  }
  return n;
}
