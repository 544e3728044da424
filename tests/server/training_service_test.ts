/**
 * Training that survives its instance: checkpoints in KV, an interrupted job
 * resumed by another instance (in-process here; tests/main_test.ts kills a
 * real server process with SIGKILL), and the limits of resuming.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import type { CheckpointMeta } from "../../src/store/checkpoints.ts";
import { createJob, getJob, type JobRecord } from "../../src/store/jobs.ts";
import { keys } from "../../src/store/keys.ts";
import { acquireLease, currentLease } from "../../src/store/lease.ts";
import { loadModel } from "../../src/store/models.ts";
import { createApp, type ZifferApp } from "../../src/server/app.ts";
import { memoryLog } from "../../src/server/log.ts";
import type { ServerJobRecord } from "../../src/server/training_service.ts";
import { validateTrainConfig } from "../../src/training/config.ts";
import { AUTH, eventually, postJson, TOKEN } from "./_helpers.ts";

/** 784-32-10, 3 epochs of 1,000 digits (120 batches): long enough to stop midway. */
const CONFIG = {
  arch: "mlp",
  layers: [784, 32, 10],
  epochs: 3,
  trainCount: 1000,
  testCount: 200,
  batchSize: 25,
  learningRate: 0.01,
  seed: 9,
};

const TRAINING = {
  progressIntervalMs: 0,
  leaseTtlMs: 30_000,
  checkpointEveryMs: 1,
};

async function app(
  kv: Deno.Kv,
  runMode: "auto" | "inline" = "auto",
): Promise<ZifferApp & { log: ReturnType<typeof memoryLog> }> {
  const log = memoryLog();
  const z = await createApp({
    kv,
    adminToken: TOKEN,
    log,
    pollMs: 0,
    training: { ...TRAINING, runMode },
  });
  return { ...z, log };
}

async function startJob(z: ZifferApp, body: unknown): Promise<string> {
  const r = await z.app.request(
    "/api/train",
    postJson({ ...(body as object), activate: "always" }, AUTH),
  );
  assertEquals(r.status, 202, await r.clone().text());
  return (await r.json()).jobId;
}

async function finished(kv: Deno.Kv, id: string): Promise<ServerJobRecord> {
  let job: JobRecord | null = null;
  for (let i = 0; i < 1200; i++) {
    job = await getJob(kv, id);
    if (job && job.status !== "running") return job;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`job ${id} did not finish: ${JSON.stringify(job)}`);
}

async function weightsOf(kv: Deno.Kv, job: JobRecord): Promise<Float32Array> {
  assertEquals(job.status, "succeeded", JSON.stringify(job));
  return (await loadModel(kv, job.result!.modelId)).model.weights;
}

/** The weights of an uninterrupted run of CONFIG. */
async function reference(): Promise<Float32Array> {
  using kv = await Deno.openKv(":memory:");
  const z = await app(kv);
  try {
    const id = await startJob(z, CONFIG);
    return await weightsOf(kv, await finished(kv, id));
  } finally {
    await z.close();
  }
}

let referenceWeights: Promise<Float32Array> | null = null;
/** The uninterrupted run's weights, computed once (inside the first test that asks). */
const expected = () => referenceWeights ??= reference();

for (const runMode of ["auto", "inline"] as const) {
  Deno.test(`a job interrupted after a checkpoint is resumed by another instance and ends with the uninterrupted weights (${runMode})`, async () => {
    using kv = await Deno.openKv(":memory:");
    const first = await app(kv, runMode);
    const id = await startJob(first, CONFIG);
    let steps = 0;
    await eventually(async () => {
      const meta =
        (await kv.get<CheckpointMeta>(keys.checkpointMeta(id))).value;
      steps = meta?.steps ?? 0;
      return steps >= 20;
    }, "a checkpoint past step 20 is in KV");
    // The instance stops (SIGINT on Deno Deploy): the job is not failed.
    await first.close();
    const interrupted = await getJob(kv, id);
    assertEquals(interrupted?.status, "running");
    assertEquals(await currentLease(kv), null, "the lease was released");
    assert(first.log.lines.some((l) => l.includes(`${id} interrupted`)));

    // Another instance starts and picks it up from the checkpoint.
    const second = await app(kv, runMode);
    try {
      const job = await finished(kv, id);
      assertEquals(await weightsOf(kv, job), await expected());
      assertEquals(job.resumes, 1);
      assertEquals(job.result?.modelId, job.modelId);
      const resumed = second.log.lines.find((l) => l.includes("resumed"));
      assertMatch(resumed ?? "", /from its checkpoint at step \d+/);
      // The job is marked succeeded first (under the lease), then the
      // checkpoint is deleted: a moment may pass between the two.
      await eventually(
        async () => (await kv.get(keys.checkpointMeta(id))).value === null,
        "the checkpoint is deleted once the job succeeded",
      );
      assertEquals(second.models.current?.info.id, job.result?.modelId);
    } finally {
      await second.close();
    }
  });
}

function orphan(
  id: string,
  extra: Partial<ServerJobRecord> = {},
): ServerJobRecord {
  const at = new Date().toISOString();
  return {
    id,
    status: "running",
    origin: "api",
    config: validateTrainConfig(CONFIG) as unknown as Record<string, unknown>,
    activate: "always",
    holder: `gone/${id}`,
    createdAt: at,
    updatedAt: at,
    finishedAt: null,
    progress: null,
    result: null,
    error: null,
    cancelRequested: false,
    ...extra,
  };
}

Deno.test("a job killed before its first checkpoint starts over and ends with the same weights", async () => {
  using kv = await Deno.openKv(":memory:");
  const id = "j-000000010-0a0a";
  await createJob(kv, orphan(id, { modelId: "m-000000010-0a0a0a0a" }));
  const z = await app(kv);
  try {
    const job = await finished(kv, id);
    assertEquals(await weightsOf(kv, job), await expected());
    assertEquals(job.result?.modelId, "m-000000010-0a0a0a0a");
    assert(z.log.lines.some((l) => l.includes("from the start")));
  } finally {
    await z.close();
  }
});

Deno.test("an interrupted job waits while another run holds the lease, then resumes", async () => {
  using kv = await Deno.openKv(":memory:");
  const id = "j-000000011-0b0b";
  await createJob(kv, orphan(id));
  await acquireLease(kv, {
    holder: "alive/x",
    jobId: "j-000000012-0c0c",
    ttlMs: 60_000,
  });
  const z = await app(kv);
  try {
    assertEquals(await z.training.resumeInterrupted(), null);
    assertEquals((await getJob(kv, id))?.status, "running");
    await kv.delete(keys.trainingLease());
    assertEquals(await z.training.resumeInterrupted(), id);
    assertEquals((await finished(kv, id)).status, "succeeded");
  } finally {
    await z.close();
  }
});

Deno.test("a job interrupted more often than maxResumes is marked failed", async () => {
  using kv = await Deno.openKv(":memory:");
  const id = "j-000000013-0d0d";
  await createJob(kv, orphan(id, { resumes: 5 }));
  const z = await app(kv);
  try {
    const job = await finished(kv, id);
    assertEquals(job.status, "failed");
    assertMatch(job.error!, /Gave up after 5 interruptions/);
    assertEquals(await currentLease(kv), null);
  } finally {
    await z.close();
  }
});

Deno.test("a job whose stored config no longer validates is marked failed, not retried", async () => {
  using kv = await Deno.openKv(":memory:");
  const id = "j-000000014-0e0e";
  await createJob(kv, orphan(id, { config: { epochs: 0 } }));
  const z = await app(kv);
  try {
    const job = await finished(kv, id);
    assertEquals(job.status, "failed");
    assertMatch(job.error!, /Cannot resume: Cannot use epochs/);
  } finally {
    await z.close();
  }
});

Deno.test("cancelling an interrupted job ends it at once and deletes its checkpoint", async () => {
  using kv = await Deno.openKv(":memory:");
  const id = "j-000000015-0f0f";
  await createJob(kv, orphan(id));
  await kv.set(keys.checkpointMeta(id), { generation: 1 });
  // Another run holds the lease, so nobody resumes this one meanwhile.
  await acquireLease(kv, {
    holder: "alive/y",
    jobId: "j-000000016-1a1a",
    ttlMs: 60_000,
  });
  const z = await app(kv);
  try {
    const r = await z.app.request(`/api/train/${id}`, {
      method: "DELETE",
      headers: AUTH,
    });
    assertEquals(r.status, 200);
    const job = await r.json();
    assertEquals(job.status, "cancelled");
    assertMatch(job.error, /while interrupted/);
    assertEquals((await kv.get(keys.checkpointMeta(id))).value, null);
    assertEquals((await currentLease(kv))?.holder, "alive/y");
  } finally {
    await z.close();
  }
});
