import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertMatch,
} from "@std/assert";
import { createJob, type JobRecord } from "../../src/store/jobs.ts";
import { acquireLease } from "../../src/store/lease.ts";
import {
  postJson,
  startServer,
  storeModel,
  stripeModel,
  stripePixels,
} from "./_helpers.ts";

function sum(values: number[]): number {
  return values.reduce((s, v) => s + v, 0);
}

async function kvSnapshot(kv: Deno.Kv): Promise<string> {
  const entries = [];
  for await (const e of kv.list({ prefix: [] })) {
    entries.push([e.key, e.versionstamp]);
  }
  return JSON.stringify(entries);
}

Deno.test("POST /api/predict answers the digit of a JSON image with probabilities summing to 1", async () => {
  const model = stripeModel();
  await using s = await startServer({ before: (kv) => storeModel(kv, model) });
  const r = await s.app.request(
    "/api/predict",
    postJson({ pixels: stripePixels(7) }),
  );
  assertEquals(r.status, 200);
  assertMatch(
    r.headers.get("server-timing")!,
    /^input;dur=[\d.]+, predict;dur=[\d.]+$/,
  );
  assertEquals(r.headers.get("access-control-allow-origin"), "*");
  const body = await r.json();
  assertEquals(body.digit, 7);
  assertEquals(body.probabilities.length, 10);
  assertAlmostEquals(sum(body.probabilities), 1, 1e-9);
  assertEquals(body.confidence, body.probabilities[7]);
  assertEquals(body.model.id, model.id);
  assertEquals(typeof body.ms.predict, "number");
});

Deno.test("POST /api/predict normalises the sigmoid outputs of an MSE-trained model", async () => {
  const model = stripeModel({ activation: "sigmoid", scale: 0.05 });
  await using s = await startServer({ before: (kv) => storeModel(kv, model) });
  const r = await s.app.request(
    "/api/predict",
    postJson({ pixels: stripePixels(3) }),
  );
  assertEquals(r.status, 200);
  const body = await r.json();
  assertEquals(body.digit, 3);
  assertAlmostEquals(sum(body.probabilities), 1, 1e-9);
  // Raw sigmoids would be 0.5 for the nine others: normalised they are much smaller.
  assert(body.probabilities[0] < 0.5);
});

Deno.test("POST /api/predict answers a batch in order", async () => {
  await using s = await startServer({
    before: (kv) => storeModel(kv, stripeModel()),
  });
  const digits = [0, 5, 9, 2];
  const r = await s.app.request(
    "/api/predict",
    postJson({ images: digits.map(stripePixels) }),
  );
  assertEquals(r.status, 200);
  const body = await r.json();
  assertEquals(body.predictions.map((p: { digit: number }) => p.digit), digits);
  for (const p of body.predictions) {
    assertAlmostEquals(sum(p.probabilities), 1, 1e-9);
  }
});

const BAD_JSON: [string, string | unknown, RegExp][] = [
  [
    "783 pixels",
    { pixels: new Array(783).fill(0) },
    /must hold 784 numbers \(28×28\): got 783/,
  ],
  [
    "a string pixel",
    { pixels: [...new Array(783).fill(0), "a"] },
    /pixels\[783\] must be a number in \[0, 1\]: got "a"/,
  ],
  [
    "a null pixel",
    { pixels: [null, ...new Array(783).fill(0)] },
    /pixels\[0\] must be a number.*got null/,
  ],
  [
    "a pixel above 1",
    { pixels: [...new Array(783).fill(0), 1.5] },
    /pixels\[783\] must be in \[0, 1\].*got 1.5/,
  ],
  [
    "a negative pixel",
    { pixels: [-0.1, ...new Array(783).fill(0)] },
    /got -0.1/,
  ],
  [
    "pixels that are not an array",
    { pixels: "0,0,0" },
    /must be an array of 784 numbers/,
  ],
  ["a top-level array", [1, 2, 3], /body must be .*got an array of 3/],
  ["both pixels and images", {
    pixels: stripePixels(1),
    images: [stripePixels(1)],
  }, /exactly one of "pixels" and "images"/],
  ["neither", {}, /exactly one of "pixels" and "images"/],
  ["an unknown field", { pixel: stripePixels(1) }, /unknown field "pixel"/],
  ["an empty batch", { images: [] }, /1 to 256 images: got 0/],
  [
    "a batch of 257",
    { images: new Array(257).fill(stripePixels(1)) },
    /1 to 256 images: got 257/,
  ],
  [
    "a bad image in a batch",
    { images: [stripePixels(1), [0]] },
    /images\[1\] must hold 784 numbers/,
  ],
  [
    "text that is not JSON",
    "pixels=1,2,3",
    /not valid JSON|Cannot read the request body as JSON/,
  ],
  ["an empty body", "", /it is empty/],
  [
    "NaN (not JSON)",
    '{"pixels": [NaN]}',
    /Cannot read the request body as JSON/,
  ],
  [
    "deeply nested arrays",
    "[".repeat(100_000) + "]".repeat(100_000),
    /body must be|JSON/,
  ],
];

for (const [what, body, message] of BAD_JSON) {
  Deno.test(`POST /api/predict refuses ${what} with 400 and changes nothing`, async () => {
    const model = stripeModel();
    await using s = await startServer({
      before: (kv) => storeModel(kv, model),
    });
    const before = await kvSnapshot(s.kv);
    const r = await s.app.request("/api/predict", postJson(body));
    assertEquals(r.status, 400);
    assertEquals(r.headers.get("content-type"), "application/json");
    assertMatch((await r.json()).error, message);
    assertEquals(await kvSnapshot(s.kv), before);
    assertEquals(s.models.current?.info.id, model.id);
    // The server still answers correctly afterwards.
    const ok = await s.app.request(
      "/api/predict",
      postJson({ pixels: stripePixels(4) }),
    );
    assertEquals((await ok.json()).digit, 4);
  });
}

Deno.test("POST /api/predict refuses invalid UTF-8 with 400", async () => {
  await using s = await startServer({
    before: (kv) => storeModel(kv, stripeModel()),
  });
  const r = await s.app.request("/api/predict", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
  });
  assertEquals(r.status, 400);
  assertMatch((await r.json()).error, /not valid UTF-8/);
});

Deno.test("POST /api/predict refuses other content types with 415", async () => {
  await using s = await startServer({
    before: (kv) => storeModel(kv, stripeModel()),
  });
  for (const type of ["text/plain", "application/x-www-form-urlencoded", ""]) {
    const r = await s.app.request("/api/predict", {
      method: "POST",
      headers: type ? { "content-type": type } : {},
      body: "x",
    });
    assertEquals(r.status, 415, type);
    assertMatch((await r.json()).error, /send application\/json/);
  }
});

Deno.test("POST /api/predict refuses a compressed body with 415", async () => {
  await using s = await startServer({
    before: (kv) => storeModel(kv, stripeModel()),
  });
  const r = await s.app.request("/api/predict", {
    ...postJson({ pixels: stripePixels(1) }, { "content-encoding": "gzip" }),
  });
  assertEquals(r.status, 415);
  assertMatch((await r.json()).error, /Content-Encoding gzip/);
});

Deno.test("POST /api/predict refuses a body over the limit by its Content-Length with 413", async () => {
  await using s = await startServer({
    before: (kv) => storeModel(kv, stripeModel()),
    limits: { json: 5_000 },
  });
  const body = JSON.stringify({ pixels: new Array(784).fill(0.123456789) });
  const r = await s.app.request("/api/predict", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "content-length": String(body.length),
    },
    body,
  });
  assertEquals(r.status, 413);
  const answer = await r.json();
  assertMatch(answer.error, /exceeds the limit of 5000 bytes: got 94\d\d$/);
  assertEquals(answer.limit, 5_000);
});

Deno.test("POST /api/predict stops reading a chunked body once it passes the limit (413)", async () => {
  await using s = await startServer({
    before: (kv) => storeModel(kv, stripeModel()),
    limits: { json: 10_000 },
  });
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(
        new TextEncoder().encode("[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,"),
      );
    },
  });
  const r = await s.app.request("/api/predict", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: endless,
    // @ts-ignore: Deno needs duplex for a streaming request body.
    duplex: "half",
  });
  assertEquals(r.status, 413);
  assertMatch((await r.json()).error, /got at least 100\d\d/);
  assert(pulled < 1000, `read ${pulled} chunks of an endless body`);
});

Deno.test("POST /api/predict answers 503 with Retry-After while there is no model", async () => {
  await using s = await startServer();
  const r = await s.app.request(
    "/api/predict",
    postJson({ pixels: stripePixels(1) }),
  );
  assertEquals(r.status, 503);
  assertEquals(r.headers.get("retry-after"), "30");
  assertMatch((await r.json()).error, /No model is active/);
});

Deno.test("POST /api/predict answers 503 with the training progress while a model is being trained", async () => {
  await using s = await startServer();
  // Another instance holds the lease and reports progress in its job record.
  const jobId = "j-000000001-abcd";
  await acquireLease(s.kv, { holder: "other/j", jobId, ttlMs: 60_000 });
  const job: JobRecord = {
    id: jobId,
    status: "running",
    origin: "startup",
    config: {},
    activate: "if-better",
    holder: "other/j",
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    finishedAt: null,
    progress: {
      epoch: 2,
      epochs: 4,
      batch: 1,
      batches: 10,
      fraction: 0.55,
      epochLoss: 0.3,
      elapsedMs: 5000,
      etaMs: 4200,
      curve: [],
    },
    result: null,
    error: null,
    cancelRequested: false,
  };
  await createJob(s.kv, job);
  const r = await s.app.request(
    "/api/predict",
    postJson({ pixels: stripePixels(1) }),
  );
  assertEquals(r.status, 503);
  assertEquals(r.headers.get("retry-after"), "6");
  const body = await r.json();
  assertMatch(body.error, /training job j-000000001-abcd is 55% done/);
  assertEquals(body.training.jobId, jobId);
  assertEquals(body.training.progress.epoch, 2);
});

Deno.test("OPTIONS /api/predict allows any origin (CORS preflight)", async () => {
  await using s = await startServer({
    before: (kv) => storeModel(kv, stripeModel()),
  });
  const r = await s.app.request("/api/predict", {
    method: "OPTIONS",
    headers: {
      origin: "https://elsewhere.example",
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type",
    },
  });
  assertEquals(r.status, 204);
  assertEquals(r.headers.get("access-control-allow-origin"), "*");
  assertMatch(r.headers.get("access-control-allow-methods")!, /POST/);
  assertMatch(r.headers.get("access-control-allow-headers")!, /content-type/i);
});
