import { assert, assertEquals, assertRejects } from "@std/assert";
import { encodeModel, type Model, weightsOf } from "../../src/nn/model_file.ts";
import { createNetwork } from "../../src/nn/network.ts";
import { createRandom } from "../../src/nn/random.ts";
import { MODEL_CACHE, Predictor } from "../../src/web/predictor.ts";

/** A 784 → 10 softmax model with seeded random weights. */
function tinyModel(id: string): Model {
  const architecture = {
    input: [1, 28, 28],
    layers: [{
      type: "dense" as const,
      units: 10,
      activation: "softmax" as const,
    }],
  };
  const network = createNetwork(architecture, { random: createRandom(3) });
  return {
    id,
    createdAt: "2025-01-02T03:04:05.000Z",
    architecture,
    config: { epochs: 1 },
    seed: 3,
    metrics: {
      testAccuracy: 0.5,
      testCount: 10,
      confusion: [],
      epochs: [],
      trainMs: 1,
    },
    weights: weightsOf(network),
  };
}

/** A fake server: routes by path, counts requests, can be switched off. */
function fakeServer(model: Model | null) {
  const calls: string[] = [];
  let online = true;
  let fileStatus = 200;
  let fileBytes = model ? encodeModel(model) : new Uint8Array();
  const fetchFn = (input: RequestInfo | URL, init?: RequestInit) => {
    const path = new URL(String(input)).pathname;
    calls.push(`${init?.method ?? "GET"} ${path}`);
    if (!online) return Promise.reject(new TypeError("Failed to fetch"));
    const json = (v: unknown, status = 200) =>
      Promise.resolve(Response.json(v, { status }));
    if (path === "/api/model") {
      return model
        ? json({
          id: model.id,
          createdAt: model.createdAt,
          byteLength: fileBytes.length,
        })
        : json({ error: "No model is active" }, 404);
    }
    if (model && path === `/api/models/${model.id}/file`) {
      return Promise.resolve(
        new Response(fileStatus === 200 ? fileBytes.slice() : "down", {
          status: fileStatus,
        }),
      );
    }
    if (path === "/api/predict") {
      const { pixels } = JSON.parse(String(init?.body));
      return pixels.length === 784
        ? json({
          digit: 3,
          confidence: 0.6,
          probabilities: [0, 0, 0, 3, 2, 0, 0, 0, 0, 0],
          model: { id: "m-srv" },
        })
        : json(
          { error: "Cannot predict as pixels must hold 784 numbers" },
          400,
        );
    }
    return json({ error: "not found" }, 404);
  };
  return {
    fetchFn: fetchFn as typeof fetch,
    calls,
    setOnline: (v: boolean) => (online = v),
    setFileStatus: (s: number) => (fileStatus = s),
    corruptFile:
      () => (fileBytes = fileBytes.map((b, i) => (i === 40 ? b ^ 1 : b))),
  };
}

async function reset(): Promise<void> {
  await caches.delete(MODEL_CACHE);
  localStorage.clear();
}

const pixels = new Float32Array(784).fill(0.5);

Deno.test("Predictor.load() downloads the model once, then predicts on the device from the cache", async () => {
  await reset();
  const model = tinyModel("m-aaa");
  const server = fakeServer(model);
  const first = new Predictor({ fetchFn: server.fetchFn });
  const r1 = await first.load();
  assertEquals(r1.mode, "device");
  assert(
    r1.mode === "device" && !r1.fromCache &&
      r1.bytes === encodeModel(model).length,
  );
  // The file header's full info replaces the API's summary.
  assertEquals(first.info?.config, { epochs: 1 });
  const p = first.predictLocal(pixels)!;
  assertEquals(p.where, "device");
  assertEquals(p.modelId, "m-aaa");
  assertEquals(p.probabilities.length, 10);
  assert(Math.abs(p.probabilities.reduce((s, v) => s + v, 0) - 1) < 1e-9);
  assertEquals(p.probabilities[p.digit], Math.max(...p.probabilities));

  const second = new Predictor({ fetchFn: server.fetchFn });
  const r2 = await second.load();
  assert(r2.mode === "device" && r2.fromCache);
  assertEquals(server.calls.filter((c) => c.endsWith("/file")).length, 1);
  assertEquals(second.predictLocal(pixels), p);
  await reset();
});

Deno.test("Predictor.load() works offline from the remembered model and its cached file", async () => {
  await reset();
  const server = fakeServer(tinyModel("m-bbb"));
  await new Predictor({ fetchFn: server.fetchFn }).load();
  server.setOnline(false);
  const offline = new Predictor({ fetchFn: server.fetchFn });
  const r = await offline.load();
  assert(r.mode === "device" && r.fromCache && r.info.id === "m-bbb");
  assertEquals(offline.predictLocal(pixels)?.where, "device");
  await reset();
});

Deno.test("Predictor.load() falls back to the server when the file cannot be downloaded", async () => {
  await reset();
  const server = fakeServer(tinyModel("m-ccc"));
  server.setFileStatus(503);
  const predictor = new Predictor({ fetchFn: server.fetchFn });
  const r = await predictor.load();
  assertEquals(r.mode, "server");
  assert(r.mode === "server" && r.reason.includes("503"));
  assertEquals(predictor.local, false);
  assertEquals(predictor.predictLocal(pixels), null);
  const p = await predictor.predictServer(pixels);
  assertEquals(p, {
    digit: 3,
    probabilities: [0, 0, 0, 0.6, 0.4, 0, 0, 0, 0, 0],
    where: "server",
    modelId: "m-srv",
  });
  await reset();
});

Deno.test("Predictor.load() neither uses nor caches a corrupt file", async () => {
  await reset();
  const server = fakeServer(tinyModel("m-ddd"));
  server.corruptFile();
  const r = await new Predictor({ fetchFn: server.fetchFn }).load();
  assert(r.mode === "server" && r.reason.includes("checksum"));
  const cache = await caches.open(MODEL_CACHE);
  assertEquals((await cache.keys()).length, 0);
  await reset();
});

Deno.test("Predictor.load() says so when there is no model or no server", async () => {
  await reset();
  const none = await new Predictor({ fetchFn: fakeServer(null).fetchFn })
    .load();
  assertEquals(none, { mode: "none", reason: "no model has been trained yet" });
  const server = fakeServer(tinyModel("m-eee"));
  server.setOnline(false);
  const offline = await new Predictor({ fetchFn: server.fetchFn }).load();
  assertEquals(offline, {
    mode: "none",
    reason: "the server cannot be reached",
  });
  await reset();
});

Deno.test("Predictor.predictServer() throws the server's error message", async () => {
  const server = fakeServer(tinyModel("m-fff"));
  const predictor = new Predictor({ fetchFn: server.fetchFn });
  await assertRejects(
    () => predictor.predictServer(new Float32Array(3)),
    Error,
    "pixels must hold 784 numbers",
  );
});
