import { assert, assertEquals, assertMatch } from "@std/assert";
import { join } from "@std/path";
import { getActivePointer, listModels } from "../../src/store/models.ts";
import {
  AUTH,
  postJson,
  startServer,
  storeModel,
  stripeModel,
  stripePixels,
  TOKEN,
} from "./_helpers.ts";

/** A folder with a page and a secret next to it (which must never be served). */
async function site(): Promise<
  { root: string; dir: string } & AsyncDisposable
> {
  const dir = await Deno.makeTempDir();
  const root = join(dir, "static");
  await Deno.mkdir(join(root, "sub"), { recursive: true });
  await Deno.writeTextFile(
    join(root, "index.html"),
    "<!doctype html><title>Ziffer</title>",
  );
  await Deno.writeTextFile(join(root, "app.js"), "console.log(1);");
  await Deno.writeTextFile(join(root, "sub", "style.css"), "body{}");
  await Deno.writeTextFile(join(root, ".env"), "SECRET=1");
  await Deno.writeTextFile(join(root, "notes.md"), "not a served type");
  await Deno.writeTextFile(join(dir, "deno.json"), '{"secret": true}');
  await Deno.symlink(join(dir, "deno.json"), join(root, "link.json"));
  return {
    root,
    dir,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("GET / serves the page with a CSP and the other security headers", async () => {
  await using files = await site();
  await using s = await startServer({ staticRoot: files.root });
  const r = await s.app.request("/");
  assertEquals(r.status, 200);
  assertEquals(r.headers.get("content-type"), "text/html; charset=utf-8");
  assertEquals(await r.text(), "<!doctype html><title>Ziffer</title>");
  const csp = r.headers.get("content-security-policy")!;
  assertMatch(csp, /default-src 'self'/);
  assertMatch(csp, /script-src 'self'/);
  assertMatch(csp, /frame-ancestors 'none'/);
  assertMatch(csp, /object-src 'none'/);
  assertEquals(r.headers.get("x-content-type-options"), "nosniff");
  assertEquals(r.headers.get("x-frame-options"), "SAMEORIGIN");
  assert(r.headers.get("strict-transport-security"));
  assertEquals(r.headers.get("access-control-allow-origin"), null);
});

Deno.test("static files: nested paths, types, HEAD, and 304 on a matching ETag", async () => {
  await using files = await site();
  await using s = await startServer({ staticRoot: files.root });
  const css = await s.app.request("/sub/style.css");
  assertEquals(css.status, 200);
  assertEquals(css.headers.get("content-type"), "text/css; charset=utf-8");
  assertEquals(await css.text(), "body{}");
  const etag = css.headers.get("etag")!;
  assertMatch(etag, /^"[0-9a-f]{16}"$/);
  const again = await s.app.request("/sub/style.css", {
    headers: { "if-none-match": etag },
  });
  assertEquals(again.status, 304);
  const head = await s.app.request("/app.js", { method: "HEAD" });
  assertEquals(head.status, 200);
  assertEquals(head.headers.get("content-length"), "15");
  assertEquals(await head.text(), "");
});

const ESCAPES = [
  "/../deno.json",
  "/%2e%2e/deno.json",
  "/%2E%2E/deno.json",
  "/..%2fdeno.json",
  "/..%2Fdeno.json",
  "/sub/..%2f..%2fdeno.json",
  "/%252e%252e/deno.json",
  "/..%5cdeno.json",
  "/.%2e/deno.json",
  "//deno.json",
  "/sub//style.css",
  "/.env",
  "/%2eenv",
  "/link.json",
  "/notes.md",
  "/app.js%00.html",
  "/%ff",
  "/sub",
  "/sub/",
];

for (const path of ESCAPES) {
  Deno.test(`static files: ${path} is not served (404), nothing outside the folder leaks`, async () => {
    await using files = await site();
    await using s = await startServer({ staticRoot: files.root });
    const r = await s.app.request(path);
    assertEquals(r.status, 404);
    const text = await r.text();
    assert(!text.includes("secret") && !text.includes("SECRET"), text);
    assertMatch(JSON.parse(text).error, /Cannot find GET/);
  });
}

Deno.test("unknown API paths answer 404 JSON; wrong methods too", async () => {
  await using s = await startServer();
  for (
    const [method, path] of [["GET", "/api/nope"], ["GET", "/api/predict"], [
      "PUT",
      "/api/model",
    ]]
  ) {
    const r = await s.app.request(path, { method });
    assertEquals(r.status, 404, `${method} ${path}`);
    assertEquals((await r.json()).error, `Cannot find ${method} ${path}`);
  }
});

Deno.test("GET /api/health says what is served and whether admin is enabled", async () => {
  const model = stripeModel();
  await using s = await startServer({ before: (kv) => storeModel(kv, model) });
  const r = await s.app.request("/api/health");
  assertEquals(r.status, 200);
  const body = await r.json();
  assertEquals(body.ok, true);
  assertEquals(body.model.id, model.id);
  assertEquals(body.training, null);
  assertEquals(body.admin, "enabled");
});

Deno.test("CORS is open for /api/predict only", async () => {
  await using s = await startServer({
    before: (kv) => storeModel(kv, stripeModel()),
  });
  const r = await s.app.request("/api/model", {
    headers: { origin: "https://elsewhere.example" },
  });
  assertEquals(r.status, 200);
  assertEquals(r.headers.get("access-control-allow-origin"), null);
  const preflight = await s.app.request("/api/train", {
    method: "OPTIONS",
    headers: {
      origin: "https://elsewhere.example",
      "access-control-request-method": "POST",
    },
  });
  assertEquals(preflight.headers.get("access-control-allow-origin"), null);
});

Deno.test("an app without KV serves a given model and refuses store routes with 503", async () => {
  const model = stripeModel();
  const { createApp } = await import("../../src/server/app.ts");
  const { memoryLog } = await import("../../src/server/log.ts");
  const app = await createApp({
    kv: null,
    model,
    log: memoryLog(),
  });
  try {
    assertEquals(
      (await (await app.app.request("/api/model")).json()).id,
      model.id,
    );
    const list = await app.app.request("/api/models");
    assertEquals(list.status, 503);
    assertMatch((await list.json()).error, /without Deno KV/);
    const job = await app.app.request("/api/train/j-000000001-abcd");
    assertEquals(job.status, 503);
  } finally {
    await app.close();
  }
});

Deno.test("API answers carry the API security headers, errors included", async () => {
  await using s = await startServer({
    before: (kv) => storeModel(kv, stripeModel()),
  });
  for (
    const [path, init] of [
      ["/api/health", {}],
      ["/api/nope", {}],
      ["/api/predict", {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: "x",
      }],
      ["/api/model/file", {}],
    ] as [string, RequestInit][]
  ) {
    const r = await s.app.request(path, init);
    await r.body?.cancel();
    assertEquals(r.headers.get("x-content-type-options"), "nosniff", path);
    assertEquals(
      r.headers.get("content-security-policy"),
      "default-src 'none'; frame-ancestors 'none'",
      path,
    );
    assertEquals(r.headers.get("x-frame-options"), "DENY", path);
    assertEquals(r.headers.get("referrer-policy"), "no-referrer", path);
    assertMatch(
      r.headers.get("strict-transport-security")!,
      /max-age=\d+/,
      path,
    );
    assertEquals(
      r.headers.get("cross-origin-resource-policy"),
      path === "/api/predict" ? "cross-origin" : "same-origin",
      path,
    );
  }
});

Deno.test("without KV the app serves the shipped model, says so, and answers 503 on what needs KV", async () => {
  const model = stripeModel({ id: "m-default-0badcafe" });
  const { createApp } = await import("../../src/server/app.ts");
  const { memoryLog } = await import("../../src/server/log.ts");
  const { encodeModel } = await import("../../src/nn/model_file.ts");
  const app = await createApp({
    kv: null,
    adminToken: TOKEN,
    bundled: { model, bytes: encodeModel(model) },
    trainWhenEmpty: null,
    log: memoryLog(),
  });
  try {
    const info = await (await app.app.request("/api/model")).json();
    assertEquals(info.id, model.id);
    assertEquals(info.source, "bundled");
    assertEquals(info.kv, "unavailable");
    const health = await (await app.app.request("/api/health")).json();
    assertEquals(health.kv, "unavailable");
    assertEquals(health.model.source, "bundled");
    const predict = await app.app.request(
      "/api/predict",
      postJson({ pixels: stripePixels(4) }),
    );
    assertEquals(predict.status, 200);
    assertEquals((await predict.json()).digit, 4);
    for (
      const [method, path, body] of [
        ["POST", "/api/train", '{"epochs": 1}'],
        ["POST", "/api/models", "x"],
        ["POST", `/api/models/${model.id}/activate`, undefined],
        ["GET", "/api/models", undefined],
      ] as const
    ) {
      const r = await app.app.request(path, {
        method,
        headers: { ...AUTH, "content-type": "application/json" },
        body,
      });
      assertEquals(r.status, 503, `${method} ${path}`);
      assertMatch((await r.json()).error, /without Deno KV/, path);
    }
  } finally {
    await app.close();
  }
});

Deno.test("with KV but no model, the shipped model is stored, activated and served at once (no start-up training)", async () => {
  const model = stripeModel({ id: "m-default-0badcafe" });
  const { encodeModel } = await import("../../src/nn/model_file.ts");
  const { validateTrainConfig } = await import(
    "../../src/training/config.ts"
  );
  await using s = await startServer({
    bundled: { model, bytes: encodeModel(model) },
    trainWhenEmpty: validateTrainConfig({ arch: "quick", epochs: 1 }),
  });
  assertEquals((await getActivePointer(s.kv))?.id, model.id);
  const info = await (await s.app.request("/api/model")).json();
  assertEquals(info.id, model.id);
  assertEquals(info.source, "kv");
  assertEquals(info.kv, "connected");
  assertEquals(await s.training.status(), null);
  const list = await (await s.app.request("/api/models")).json();
  assertEquals(list.active, model.id);
});

Deno.test("with KV holding a model, the app serves it and does not seed the shipped one", async () => {
  const model = stripeModel({ id: "m-default-0badcafe" });
  const other = stripeModel({ scale: 2 });
  const { encodeModel } = await import("../../src/nn/model_file.ts");
  await using s = await startServer({
    before: (kv) => storeModel(kv, other),
    bundled: { model, bytes: encodeModel(model) },
  });
  const info = await (await s.app.request("/api/model")).json();
  assertEquals(info.id, other.id);
  assertEquals(info.source, "kv");
  assertEquals((await getActivePointer(s.kv))?.id, other.id);
  assertEquals((await listModels(s.kv)).length, 1);
});

Deno.test("when KV's active model cannot be loaded, the shipped model keeps answering", async () => {
  const model = stripeModel({ id: "m-default-0badcafe" });
  const other = stripeModel({ scale: 2 });
  const { encodeModel } = await import("../../src/nn/model_file.ts");
  const { keys } = await import("../../src/store/keys.ts");
  await using s = await startServer({
    before: async (kv) => {
      await storeModel(kv, other);
      // Break the stored file: its first chunk is gone.
      await kv.delete(keys.modelChunk(other.id, 0));
    },
    bundled: { model, bytes: encodeModel(model) },
  });
  const info = await (await s.app.request("/api/model")).json();
  assertEquals(info.id, model.id);
  assertEquals(info.source, "bundled");
  assert(s.log.lines.some((l) => l.includes(`Cannot load model ${other.id}`)));
});
