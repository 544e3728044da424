/**
 * main.ts in real processes: `deno task start`, `deno serve` and
 * `deno serve --parallel`, a model activated by another process, raw
 * path-traversal request lines, and a clean shutdown.
 *
 * @module
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
import { fromFileUrl, join } from "@std/path";
import { openKv } from "../src/store/kv.ts";
import { activateModel, newModelId, saveModel } from "../src/store/models.ts";
import { stripeModel, stripePixels } from "./server/_helpers.ts";

const ROOT = fromFileUrl(new URL("..", import.meta.url));

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A temporary KV file holding one active model. */
async function kvWithModel(): Promise<
  { path: string; modelId: string } & AsyncDisposable
> {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "kv.sqlite");
  const kv = await openKv(path);
  const model = stripeModel({ id: newModelId(1_000) });
  await saveModel(kv, model);
  await activateModel(kv, model.id);
  kv.close();
  return {
    path,
    modelId: model.id,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

interface Server extends AsyncDisposable {
  port: number;
  child: Deno.ChildProcess;
  output(): Promise<string>;
}

function spawn(
  args: string[],
  env: Record<string, string>,
  port: number,
): Server {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { TRAIN_WHEN_EMPTY: "0", NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const text = (async () => {
    const [out, err] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
    ]);
    return out + err;
  })();
  return {
    port,
    child,
    output: () => text,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await child.status;
      await text;
    },
  };
}

async function predict(
  port: number,
): Promise<{ status: number; body: { model?: { id: string } } }> {
  const r = await fetch(`http://127.0.0.1:${port}/api/predict`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ pixels: stripePixels(6) }),
  });
  return { status: r.status, body: await r.json() };
}

async function waitForPrediction(
  port: number,
): Promise<{ model?: { id: string } }> {
  for (let i = 0; i < 600; i++) {
    try {
      const r = await predict(port);
      if (r.status === 200) return r.body;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Nothing answered on port ${port} within 15 s`);
}

async function listening(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Sends one raw HTTP/1.1 request line (no URL normalisation by a client) and returns the answer. */
async function rawGet(port: number, target: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
    ),
  );
  return await new Response(conn.readable).text();
}

Deno.test("deno task start serves the model in KV on PORT, and stops cleanly on SIGTERM", async () => {
  await using store = await kvWithModel();
  const port = freePort();
  await using server = spawn(["task", "--quiet", "start"], {
    PORT: String(port),
    KV_PATH: store.path,
  }, port);
  const body = await waitForPrediction(port);
  assertEquals(body.model?.id, store.modelId);
  server.child.kill("SIGTERM");
  const status = await server.child.status;
  assertEquals(status.code, 0);
  const log = await server.output();
  assertMatch(log, /INFO {2}listening on http:\/\/0\.0\.0\.0:\d+\//);
  assertMatch(log, /INFO {2}shutting down/);
});

Deno.test("a model activated by another process reaches the running server without a restart", async () => {
  await using store = await kvWithModel();
  const port = freePort();
  await using _server = spawn(["run", "-A", "main.ts"], {
    PORT: String(port),
    KV_PATH: store.path,
  }, port);
  assertEquals((await waitForPrediction(port)).model?.id, store.modelId);
  const kv = await openKv(store.path);
  const next = stripeModel({ id: newModelId(2_000), scale: 3 });
  await saveModel(kv, next);
  await activateModel(kv, next.id);
  kv.close();
  let seen = "";
  for (let i = 0; i < 200 && seen !== next.id; i++) {
    await new Promise((r) => setTimeout(r, 50));
    seen = (await predict(port)).body.model?.id ?? "";
  }
  assertEquals(seen, next.id);
});

for (const parallel of [false, true]) {
  Deno.test(`deno serve${parallel ? " --parallel" : ""} main.ts serves the app and opens no second listener`, async () => {
    await using store = await kvWithModel();
    const port = freePort();
    const envPort = freePort();
    await using _server = spawn(
      [
        "serve",
        "-A",
        ...(parallel ? ["--parallel"] : []),
        "--port",
        String(port),
        "main.ts",
      ],
      { PORT: String(envPort), KV_PATH: store.path, DENO_JOBS: "2" },
      port,
    );
    assertEquals((await waitForPrediction(port)).model?.id, store.modelId);
    for (let i = 0; i < 10; i++) {
      assertEquals((await predict(port)).status, 200);
    }
    assertEquals(await listening(envPort), false);
  });
}

Deno.test("raw request lines cannot escape static/ (path traversal)", async () => {
  await using store = await kvWithModel();
  const port = freePort();
  await using _server = spawn(["run", "-A", "main.ts"], {
    PORT: String(port),
    KV_PATH: store.path,
  }, port);
  await waitForPrediction(port);
  const page = await rawGet(port, "/");
  assertMatch(page, /^HTTP\/1\.1 200/);
  for (
    const target of [
      "/../deno.json",
      "/../../etc/passwd",
      "/%2e%2e/deno.json",
      "/%2e%2e%2fdeno.json",
      "/..%2fdeno.json",
      "/..%5cdeno.json",
      "/static/../deno.json",
      "/.%2e/main.ts",
      "/%252e%252e/deno.json",
      "//etc/passwd",
      "/index.html/../../deno.json",
    ]
  ) {
    const answer = await rawGet(port, target);
    assert(
      !/^HTTP\/1\.1 200/.test(answer) || !answer.includes('"tasks"'),
      `${target}:\n${answer}`,
    );
    assert(
      !answer.includes('"tasks"') && !answer.includes("root:x:0"),
      `${target} leaked:\n${answer}`,
    );
  }
});
