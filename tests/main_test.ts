/**
 * main.ts in real processes: `deno task start`, `deno serve` and
 * `deno serve --parallel`, a model activated by another process, raw
 * path-traversal request lines, and a clean shutdown; at the edge: a server
 * killed with SIGKILL mid-training and resumed by the next process, two
 * processes on one KV switching models, running without KV, and the page's
 * hashed asset URLs.
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

// ---------------------------------------------------------------------------
// At the edge: eviction with SIGKILL, several instances on one KV, no KV.

const ADMIN = "edge-test-admin-token-0123456789";

async function tempKvPath(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir();
  return {
    path: join(dir, "kv.sqlite"),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

async function waitForHealth(port: number): Promise<Record<string, unknown>> {
  for (let i = 0; i < 600; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/api/health`);
      if (r.ok) return await r.json();
      await r.body?.cancel();
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Nothing answered on port ${port} within 15 s`);
}

/** The config of the eviction test: 784-64-10, 4 epochs of 2,000 digits (320 batches). */
const EVICTION_CONFIG = {
  arch: "mlp",
  layers: [784, 64, 10],
  epochs: 4,
  trainCount: 2000,
  testCount: 300,
  batchSize: 25,
  learningRate: 0.005,
  seed: 11,
};

Deno.test("a server killed with SIGKILL mid-training: the next process resumes the job from its KV checkpoint and ends with the uninterrupted run's exact weights", async () => {
  const { validateTrainConfig } = await import("../src/training/config.ts");
  const { trainRun } = await import("../src/server/train_runner.ts");
  const { loadModel } = await import("../src/store/models.ts");
  const { getJob } = await import("../src/store/jobs.ts");
  const { keys } = await import("../src/store/keys.ts");
  // The run that is never interrupted, in this process.
  const uninterrupted = trainRun({
    type: "train",
    config: validateTrainConfig(EVICTION_CONFIG),
    id: "m-reference",
    createdAt: new Date(0).toISOString(),
    progressEveryMs: 1e9,
    checkpointEveryMs: 0,
  }, { onBatch() {}, onEpoch() {}, onCheckpoint() {} });

  await using store = await tempKvPath();
  const env = {
    KV_PATH: store.path,
    ADMIN_TOKEN: ADMIN,
    TRAIN_LEASE_TTL_MS: "1500",
    CHECKPOINT_EVERY_MS: "100",
  };
  const port1 = freePort();
  const first = spawn(
    ["run", "-A", "main.ts"],
    { ...env, PORT: String(port1) },
    port1,
  );
  let jobId: string;
  let killedAt: number;
  try {
    await waitForHealth(port1);
    const r = await fetch(`http://127.0.0.1:${port1}/api/train`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${ADMIN}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ ...EVICTION_CONFIG, activate: "always" }),
    });
    assertEquals(r.status, 202);
    jobId = (await r.json()).jobId;
    // Kill it once a checkpoint past step 60 is in KV (of 320 steps).
    const kv = await openKv(store.path);
    try {
      for (let i = 0;; i++) {
        const meta =
          (await kv.get<{ steps: number }>(keys.checkpointMeta(jobId)))
            .value;
        if (meta && meta.steps >= 60) {
          killedAt = meta.steps;
          break;
        }
        if (i > 1200) throw new Error("no checkpoint within 30 s");
        await new Promise((r) => setTimeout(r, 25));
      }
      first.child.kill("SIGKILL");
      await first.child.status;
      const job = await getJob(kv, jobId);
      assertEquals(job?.status, "running", "the killed job is not failed");
    } finally {
      kv.close();
    }
  } finally {
    await first[Symbol.asyncDispose]();
  }
  assert(killedAt! < 320, `killed after the run ended (step ${killedAt!})`);

  // A new instance on the same KV picks the job up once the dead one's lease expires.
  const port2 = freePort();
  await using second = spawn(
    ["run", "-A", "main.ts"],
    { ...env, PORT: String(port2) },
    port2,
  );
  await waitForHealth(port2);
  let job: Record<string, unknown> = {};
  for (let i = 0; i < 2400 && job.status !== "succeeded"; i++) {
    await new Promise((r) => setTimeout(r, 25));
    const r = await fetch(`http://127.0.0.1:${port2}/api/train/${jobId}`);
    job = await r.json();
    assert(
      job.status === "running" || job.status === "succeeded",
      JSON.stringify(job),
    );
  }
  assertEquals(job.status, "succeeded");
  assertEquals(job.resumes, 1);
  const kv = await openKv(store.path);
  try {
    const modelId = (job.result as { modelId: string }).modelId;
    const resumed = (await loadModel(kv, modelId)).model;
    const reference = (await uninterrupted).model;
    assertEquals(resumed.weights, reference.weights);
    assertEquals(resumed.metrics.testAccuracy, reference.metrics.testAccuracy);
  } finally {
    kv.close();
  }
  second.child.kill("SIGTERM");
  await second.child.status;
  const log = await second.output();
  assertMatch(
    log,
    new RegExp(
      `training job ${jobId} resumed \\(1 of at most \\d+\\) from its checkpoint at step \\d+`,
    ),
  );
});

/** What one instance answered, with the time it was received. */
interface Answer {
  at: number;
  modelId: string;
  probabilities: number[][];
}

Deno.test("two server processes on one KV switch to a newly activated model within a second, and never mix two models in one answer", async () => {
  const { serveModel, predictWith } = await import(
    "../src/server/model_service.ts"
  );
  await using store = await tempKvPath();
  const before = stripeModel({ id: newModelId(10_000), scale: 1 });
  const after = stripeModel({ id: newModelId(20_000), scale: 4 });
  let kv = await openKv(store.path);
  await saveModel(kv, before);
  await activateModel(kv, before.id);
  await saveModel(kv, after);
  kv.close();
  // What each model answers for the test images (one image, and a batch of two).
  const images = [stripePixels(3), stripePixels(8)];
  const x = Float64Array.from(images.flat());
  const expected = new Map(
    [before, after].map((m) => [
      m.id,
      predictWith(serveModel(m), x, 2).map((p) => p.probabilities),
    ]),
  );

  const ports = [freePort(), freePort()];
  await using a = spawn(["run", "-A", "main.ts"], {
    KV_PATH: store.path,
    PORT: String(ports[0]),
  }, ports[0]);
  await using b = spawn(["run", "-A", "main.ts"], {
    KV_PATH: store.path,
    PORT: String(ports[1]),
  }, ports[1]);
  for (const port of ports) {
    assertEquals((await waitForPrediction(port)).model?.id, before.id);
  }
  assert(a.child.pid !== b.child.pid);

  // Both instances answer a stream of requests while the model is switched.
  const answers: Answer[][] = [[], []];
  let stop = false;
  const load = ports.map(async (port, k) => {
    while (!stop) {
      const r = await fetch(`http://127.0.0.1:${port}/api/predict`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ images }),
      });
      const body = await r.json();
      assertEquals(r.status, 200, JSON.stringify(body));
      answers[k].push({
        at: performance.now(),
        modelId: body.model.id,
        probabilities: body.predictions.map((p: { probabilities: number[] }) =>
          p.probabilities
        ),
      });
    }
  });
  await new Promise((r) => setTimeout(r, 300));
  kv = await openKv(store.path);
  await activateModel(kv, after.id);
  const activatedAt = performance.now();
  kv.close();
  const switched = [Infinity, Infinity];
  for (let i = 0; i < 200 && switched.some((t) => t === Infinity); i++) {
    await new Promise((r) => setTimeout(r, 25));
    for (const k of [0, 1]) {
      const first = answers[k].find((x) => x.modelId === after.id);
      if (first) switched[k] = first.at - activatedAt;
    }
  }
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(load);

  for (const k of [0, 1]) {
    assert(
      switched[k] <= 1000,
      `instance ${k} switched after ${switched[k].toFixed(0)} ms`,
    );
    // Every answer is entirely one model's: its probabilities are that model's.
    for (const answer of answers[k]) {
      assertEquals(answer.probabilities, expected.get(answer.modelId));
    }
    // Once switched, never back.
    const firstNew = answers[k].findIndex((x) => x.modelId === after.id);
    assert(answers[k].slice(firstNew).every((x) => x.modelId === after.id));
    assert(answers[k].length > 10, `only ${answers[k].length} answers`);
  }
  console.log(
    `switch seen after ${
      switched.map((t) => t.toFixed(0)).join(" ms and ")
    } ms; ${answers[0].length + answers[1].length} answers checked`,
  );
});

for (
  const [what, kvPath, logged] of [
    ["KV_PATH=none", "none", /KV disabled \(KV_PATH=none\)/],
    [
      "a KV that cannot be opened",
      "/proc/ziffer-no-such-dir/kv.sqlite",
      /Cannot open Deno KV at \/proc\/ziffer-no-such-dir\/kv\.sqlite.*: serving the shipped model only/,
    ],
  ] as const
) {
  Deno.test(`without KV (${what}) the server logs it, serves the shipped model and answers 503 on training`, async () => {
    const shipped = JSON.parse(
      await Deno.readTextFile(join(ROOT, "static/models/default.json")),
    );
    const port = freePort();
    await using server = spawn(["run", "-A", "main.ts"], {
      KV_PATH: kvPath,
      ADMIN_TOKEN: ADMIN,
      PORT: String(port),
    }, port);
    const health = await waitForHealth(port);
    assertEquals(health.kv, "unavailable");
    const model = await (await fetch(`http://127.0.0.1:${port}/api/model`))
      .json();
    assertEquals(model.id, shipped.id);
    assertEquals(model.source, "bundled");
    assertEquals(model.kv, "unavailable");
    assertEquals(model.metrics.testAccuracy, shipped.testAccuracy);
    const predicted = await predict(port);
    assertEquals(predicted.status, 200);
    assertEquals(predicted.body.model?.id, shipped.id);
    const train = await fetch(`http://127.0.0.1:${port}/api/train`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${ADMIN}`,
        "content-type": "application/json",
      },
      body: "{}",
    });
    assertEquals(train.status, 503);
    assertMatch((await train.json()).error, /without Deno KV/);
    server.child.kill("SIGTERM");
    await server.child.status;
    assertMatch(await server.output(), logged);
  });
}

Deno.test("the page references its assets by content hash; hashed assets are immutable, the page is revalidated", async () => {
  const port = freePort();
  await using _server = spawn(["run", "-A", "main.ts"], {
    KV_PATH: "none",
    PORT: String(port),
  }, port);
  await waitForHealth(port);
  const page = await fetch(`http://127.0.0.1:${port}/`);
  assertEquals(page.headers.get("cache-control"), "no-cache");
  // Deno 2.5's Deno.serve gzips text for clients that accept it and then weakens the tag.
  assertMatch(page.headers.get("etag")!, /^(W\/)?"[0-9a-f]{16}"$/);
  const html = await page.text();
  const again = await fetch(`http://127.0.0.1:${port}/`, {
    headers: { "if-none-match": page.headers.get("etag")! },
  });
  assertEquals(again.status, 304);
  await again.body?.cancel();
  for (const asset of ["/app.js", "/style.css", "/favicon.svg"]) {
    const match = html.match(
      new RegExp(`"(${asset.replace(".", "\\.")}\\?v=[0-9a-f]{16})"`),
    );
    assert(match, `${asset} is not referenced with its hash`);
    const r = await fetch(`http://127.0.0.1:${port}${match![1]}`);
    assertEquals(r.status, 200);
    assertEquals(
      r.headers.get("cache-control"),
      "public, max-age=31536000, immutable",
      asset,
    );
    await r.body?.cancel();
  }
});

Deno.test("deno serve --parallel on a new, empty KV file: the shipped model is stored once and every worker serves it", async () => {
  const shipped = JSON.parse(
    await Deno.readTextFile(join(ROOT, "static/models/default.json")),
  );
  await using store = await tempKvPath();
  const port = freePort();
  await using server = spawn(
    ["serve", "-A", "--parallel", "--port", String(port), "main.ts"],
    { KV_PATH: store.path, DENO_JOBS: "2" },
    port,
  );
  assertEquals((await waitForPrediction(port)).model?.id, shipped.id);
  for (let i = 0; i < 10; i++) {
    assertEquals((await predict(port)).body.model?.id, shipped.id);
  }
  server.child.kill("SIGKILL");
  await server.child.status;
  const log = await server.output();
  assert(!/error|Uncaught/i.test(log), log);
  const { listModels, getActivePointer } = await import(
    "../src/store/models.ts"
  );
  const kv = await openKv(store.path);
  try {
    assertEquals((await getActivePointer(kv))?.id, shipped.id);
    assertEquals((await listModels(kv)).map((m) => m.info.id), [shipped.id]);
  } finally {
    kv.close();
  }
});
