import { assert, assertEquals, assertMatch } from "@std/assert";
import type { Hono } from "hono";
import { decodeModel, encodeModel } from "../../src/nn/model_file.ts";
import { keys } from "../../src/store/keys.ts";
import {
  activateModel,
  getActivePointer,
  listModels,
  newModelId,
} from "../../src/store/models.ts";
import {
  AUTH,
  eventually,
  postJson,
  startServer,
  storeModel,
  stripeModel,
  stripePixels,
} from "./_helpers.ts";

const OLD = stripeModel({ id: newModelId(1_000), testAccuracy: 0.91 });
const NEW = stripeModel({
  id: newModelId(2_000),
  testAccuracy: 0.95,
  scale: 2,
});

async function twoModels(kv: Deno.Kv): Promise<void> {
  await storeModel(kv, OLD, { activate: false });
  await storeModel(kv, NEW);
}

async function predictedBy(app: Hono): Promise<string> {
  const r = await app.request(
    "/api/predict",
    postJson({ pixels: stripePixels(1) }),
  );
  return (await r.json()).model.id;
}

Deno.test("GET /api/model describes the active model", async () => {
  await using s = await startServer({ before: twoModels });
  const r = await s.app.request("/api/model");
  assertEquals(r.status, 200);
  assertEquals(r.headers.get("cache-control"), "no-cache");
  const info = await r.json();
  assertEquals(info.id, NEW.id);
  assertEquals(info.createdAt, NEW.createdAt);
  assertEquals(info.architecture, NEW.architecture);
  assertEquals(info.config, NEW.config);
  assertEquals(info.seed, NEW.seed);
  assertEquals(info.metrics.testAccuracy, 0.95);
  assertEquals(info.metrics.confusion.length, 10);
  assertEquals(info.metrics.epochs, []);
  assertEquals(info.parameterCount, 7850);
  assertEquals(info.byteLength, encodeModel(NEW).length);
  assertEquals(info.file, `/api/models/${NEW.id}/file`);
});

Deno.test("GET /api/model answers 404 while no model is active", async () => {
  await using s = await startServer();
  const r = await s.app.request("/api/model");
  assertEquals(r.status, 404);
  assertMatch((await r.json()).error, /No model is active/);
});

Deno.test("GET /api/models lists every model newest first and marks the active one", async () => {
  await using s = await startServer({ before: twoModels });
  const r = await s.app.request("/api/models");
  assertEquals(r.status, 200);
  const body = await r.json();
  assertEquals(body.active, NEW.id);
  assertEquals(body.models.map((m: { id: string }) => m.id), [NEW.id, OLD.id]);
  assertEquals(body.models.map((m: { active: boolean }) => m.active), [
    true,
    false,
  ]);
});

Deno.test("GET /api/models/:id/file sends the model file with immutable cache headers", async () => {
  await using s = await startServer({ before: twoModels });
  const r = await s.app.request(`/api/models/${OLD.id}/file`);
  assertEquals(r.status, 200);
  assertEquals(r.headers.get("content-type"), "application/octet-stream");
  assertEquals(
    r.headers.get("cache-control"),
    "public, max-age=31536000, immutable",
  );
  assertEquals(r.headers.get("etag"), `"${OLD.id}"`);
  const model = decodeModel(new Uint8Array(await r.arrayBuffer()));
  assertEquals(model.id, OLD.id);
  assertEquals(model.weights, OLD.weights);

  const again = await s.app.request(`/api/models/${OLD.id}/file`, {
    headers: { "if-none-match": `"${OLD.id}"` },
  });
  assertEquals(again.status, 304);
  assertEquals(await again.text(), "");
});

Deno.test("GET /api/models/:id/file answers 400 for a malformed id and 404 for an unknown one", async () => {
  await using s = await startServer({ before: twoModels });
  const bad = await s.app.request("/api/models/NOT_AN_ID/file");
  assertEquals(bad.status, 400);
  assertMatch((await bad.json()).error, /model id/);
  const unknown = await s.app.request(`/api/models/${newModelId(5)}/file`);
  assertEquals(unknown.status, 404);
  assertMatch((await unknown.json()).error, /no such model/);
});

Deno.test("GET /api/model/file sends the active model with its ETag, 304 when unchanged", async () => {
  await using s = await startServer({ before: twoModels });
  const r = await s.app.request("/api/model/file");
  assertEquals(r.status, 200);
  assertEquals(r.headers.get("etag"), `"${NEW.id}"`);
  assertEquals(r.headers.get("x-model-id"), NEW.id);
  assertEquals(r.headers.get("cache-control"), "no-cache");
  assertEquals(decodeModel(new Uint8Array(await r.arrayBuffer())).id, NEW.id);
  const again = await s.app.request("/api/model/file", {
    headers: { "if-none-match": `W/"${NEW.id}"` },
  });
  assertEquals(again.status, 304);
});

Deno.test("POST /api/models/:id/activate rolls back, and predictions use that model at once", async () => {
  await using s = await startServer({ before: twoModels });
  assertEquals(await predictedBy(s.app), NEW.id);
  const r = await s.app.request(`/api/models/${OLD.id}/activate`, {
    method: "POST",
    headers: AUTH,
  });
  assertEquals(r.status, 200);
  assertEquals((await r.json()).active, OLD.id);
  assertEquals((await getActivePointer(s.kv))?.id, OLD.id);
  assertEquals(await predictedBy(s.app), OLD.id);
});

Deno.test("POST /api/models/:id/activate answers 404 for an unknown model and changes nothing", async () => {
  await using s = await startServer({ before: twoModels });
  const r = await s.app.request(`/api/models/${newModelId(7)}/activate`, {
    method: "POST",
    headers: AUTH,
  });
  assertEquals(r.status, 404);
  assertEquals((await getActivePointer(s.kv))?.id, NEW.id);
});

Deno.test("admin routes need the bearer token: 401 without or with a wrong one", async () => {
  await using s = await startServer({ before: twoModels });
  const routes: [string, string][] = [
    ["POST", `/api/models/${OLD.id}/activate`],
    ["DELETE", `/api/models/${OLD.id}`],
    ["POST", "/api/models"],
    ["POST", "/api/train"],
    ["DELETE", "/api/train/j-000000001-abcd"],
  ];
  for (const [method, path] of routes) {
    for (
      const headers of [
        {} as Record<string, string>,
        { authorization: "Bearer wrong-token-0123456789012" },
        { authorization: "Basic dXNlcjpwYXNz" },
        { authorization: `Bearer ${AUTH.authorization.slice(7)}x` },
      ]
    ) {
      const r = await s.app.request(path, { method, headers });
      assertEquals(
        r.status,
        401,
        `${method} ${path} ${JSON.stringify(headers)}`,
      );
      assertEquals(
        r.headers.get("www-authenticate"),
        'Bearer realm="ziffer admin"',
      );
      assertMatch((await r.json()).error, /Cannot authorize/);
    }
  }
  assertEquals((await getActivePointer(s.kv))?.id, NEW.id);
  assertEquals((await s.kv.get(keys.modelMeta(OLD.id))).value !== null, true);
});

Deno.test("admin routes answer 403 when no ADMIN_TOKEN is configured, whatever is sent", async () => {
  await using s = await startServer({
    before: twoModels,
    adminToken: undefined,
  });
  for (
    const headers of [{}, AUTH, { authorization: "Bearer " }] as Record<
      string,
      string
    >[]
  ) {
    const r = await s.app.request(`/api/models/${OLD.id}/activate`, {
      method: "POST",
      headers,
    });
    assertEquals(r.status, 403);
    assertMatch(
      (await r.json()).error,
      /Admin endpoints are disabled: .*ADMIN_TOKEN/,
    );
  }
  assertEquals((await getActivePointer(s.kv))?.id, NEW.id);
});

Deno.test("DELETE /api/models/:id refuses the active model with 409 and deletes another", async () => {
  await using s = await startServer({ before: twoModels });
  const refused = await s.app.request(`/api/models/${NEW.id}`, {
    method: "DELETE",
    headers: AUTH,
  });
  assertEquals(refused.status, 409);
  assertMatch((await refused.json()).error, /it is the active model/);

  const r = await s.app.request(`/api/models/${OLD.id}`, {
    method: "DELETE",
    headers: AUTH,
  });
  assertEquals(r.status, 200);
  assertEquals(await r.json(), { deleted: OLD.id });
  assertEquals((await s.app.request(`/api/models/${OLD.id}/file`)).status, 404);
  const gone = await s.app.request(`/api/models/${OLD.id}`, {
    method: "DELETE",
    headers: AUTH,
  });
  assertEquals(gone.status, 404);
});

Deno.test("POST /api/models stores an uploaded model file; refuses a corrupt or duplicate one", async () => {
  await using s = await startServer({ before: twoModels });
  const upload = stripeModel({ id: newModelId(3_000) });
  const bytes = encodeModel(upload);
  const send = (body: Uint8Array) =>
    s.app.request("/api/models", {
      method: "POST",
      headers: { ...AUTH, "content-type": "application/octet-stream" },
      body: body as Uint8Array<ArrayBuffer>,
    });
  const r = await send(bytes);
  assertEquals(r.status, 201);
  assertEquals(r.headers.get("location"), `/api/models/${upload.id}/file`);
  assertEquals((await r.json()).id, upload.id);
  assertEquals((await send(bytes)).status, 409);

  const corrupt = bytes.slice();
  corrupt[100] ^= 0xff;
  const bad = await send(corrupt);
  assertEquals(bad.status, 400);
  assertMatch((await bad.json()).error, /checksum does not match/);
  assertEquals((await getActivePointer(s.kv))?.id, NEW.id);
});

Deno.test("an activation written to KV by another process reaches this app without a restart", async () => {
  await using s = await startServer({ before: twoModels });
  assertEquals(await predictedBy(s.app), NEW.id);
  await activateModel(s.kv, OLD.id);
  await eventually(
    async () => (await predictedBy(s.app)) === OLD.id,
    "predictions use OLD",
  );
  const info = await (await s.app.request("/api/model")).json();
  assertEquals(info.id, OLD.id);
});

Deno.test("a model that fails to load is not swapped in: the app keeps serving the previous one", async () => {
  await using s = await startServer({ before: twoModels });
  // Damage OLD's first chunk behind the store's back, then point at it.
  const chunk = await s.kv.get<Uint8Array>(keys.modelChunk(OLD.id, 0));
  const damaged = chunk.value!.slice();
  damaged[50] ^= 0xff;
  await s.kv.set(keys.modelChunk(OLD.id, 0), damaged);
  await activateModel(s.kv, OLD.id);
  await eventually(
    () =>
      s.log.lines.some((l) =>
        l.startsWith(`ERROR Cannot load model ${OLD.id}`)
      ),
    "the failure is logged",
  );
  assertEquals(await predictedBy(s.app), NEW.id);
  assert(s.log.lines.some((l) => l.includes("still serving " + NEW.id)));
});

Deno.test("POST /api/models?activate=true stores the upload and makes it the active model at once", async () => {
  await using s = await startServer({ before: twoModels });
  const upload = stripeModel({ id: newModelId(4_000), scale: 5 });
  const r = await s.app.request("/api/models?activate=true", {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/octet-stream" },
    body: encodeModel(upload) as Uint8Array<ArrayBuffer>,
  });
  assertEquals(r.status, 201);
  const body = await r.json();
  assertEquals(body.id, upload.id);
  assertEquals(body.active, true);
  assertEquals((await getActivePointer(s.kv))?.id, upload.id);
  assertEquals(await predictedBy(s.app), upload.id);
});

Deno.test("POST /api/models?activate=false stores only; a bad activate value is 400 and stores nothing", async () => {
  await using s = await startServer({ before: twoModels });
  const upload = stripeModel({ id: newModelId(5_000) });
  const send = (query: string) =>
    s.app.request(`/api/models${query}`, {
      method: "POST",
      headers: { ...AUTH, "content-type": "application/octet-stream" },
      body: encodeModel(upload) as Uint8Array<ArrayBuffer>,
    });
  const bad = await send("?activate=yes");
  assertEquals(bad.status, 400);
  assertMatch((await bad.json()).error, /activate as it must be true or false/);
  assertEquals((await listModels(s.kv)).length, 2);
  const stored = await send("?activate=false");
  assertEquals(stored.status, 201);
  assertEquals((await stored.json()).active, false);
  assertEquals((await getActivePointer(s.kv))?.id, NEW.id);
});
