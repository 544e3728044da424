import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import { ConflictError, NotFoundError } from "../../src/store/errors.ts";
import {
  checkJobId,
  createJob,
  finishJob,
  getJob,
  type JobRecord,
  listJobs,
  newJobId,
  updateJob,
  watchJob,
} from "../../src/store/jobs.ts";
import { acquireLease, currentLease } from "../../src/store/lease.ts";

function job(id: string, holder = "me/" + id): JobRecord {
  const at = new Date(0).toISOString();
  return {
    id,
    status: "running",
    origin: "api",
    config: { epochs: 1 },
    activate: "if-better",
    holder,
    createdAt: at,
    updatedAt: at,
    finishedAt: null,
    progress: null,
    result: null,
    error: null,
    cancelRequested: false,
  };
}

Deno.test("newJobId() sorts by time and passes checkJobId()", () => {
  const a = newJobId(1_000), b = newJobId(2_000);
  checkJobId(a);
  assertEquals([b, a].sort(), [a, b]);
  assertThrows(() => checkJobId("m-1"), RangeError, 'must be "j-"');
  assertThrows(() => checkJobId("j-../x"), RangeError);
});

Deno.test("createJob() stores a record once; a second create with the id is a conflict", async () => {
  using kv = await Deno.openKv(":memory:");
  await createJob(kv, job("j-1"));
  assertEquals((await getJob(kv, "j-1"))?.status, "running");
  await assertRejects(() => createJob(kv, job("j-1")), ConflictError);
  assertEquals(await getJob(kv, "j-2"), null);
});

Deno.test("updateJob() applies a change and stamps updatedAt; 404 for a missing job", async () => {
  using kv = await Deno.openKv(":memory:");
  await createJob(kv, job("j-1"));
  const updated = await updateJob(
    kv,
    "j-1",
    (j) => ({ ...j, cancelRequested: true }),
    {
      now: 5_000,
    },
  );
  assertEquals(updated.cancelRequested, true);
  assertEquals(updated.updatedAt, new Date(5_000).toISOString());
  assertEquals((await getJob(kv, "j-1"))?.cancelRequested, true);
  await assertRejects(() => updateJob(kv, "j-9", (j) => j), NotFoundError);
});

Deno.test("finishJob() records the end and releases the holder's lease in one commit", async () => {
  using kv = await Deno.openKv(":memory:");
  await createJob(kv, job("j-1"));
  await acquireLease(kv, { holder: "me/j-1", jobId: "j-1", ttlMs: 60_000 });
  const done = await finishJob(
    kv,
    "j-1",
    (j) => ({ ...j, status: "succeeded" }),
    {
      holder: "me/j-1",
    },
  );
  assertEquals(done.status, "succeeded");
  assertEquals(await currentLease(kv), null);
});

Deno.test("finishJob() leaves someone else's lease alone and refuses an unfinished status", async () => {
  using kv = await Deno.openKv(":memory:");
  await createJob(kv, job("j-1"));
  await acquireLease(kv, { holder: "other/j-2", jobId: "j-2", ttlMs: 60_000 });
  await assertRejects(
    () => finishJob(kv, "j-1", (j) => j, { holder: "me/j-1" }),
    RangeError,
    "with status running",
  );
  await finishJob(kv, "j-1", (j) => ({ ...j, status: "failed", error: "x" }), {
    holder: "me/j-1",
  });
  assertEquals((await currentLease(kv))?.holder, "other/j-2");
  assertEquals((await getJob(kv, "j-1"))?.error, "x");
});

Deno.test("listJobs() answers newest first, at most `limit`", async () => {
  using kv = await Deno.openKv(":memory:");
  for (const id of ["j-0003", "j-0001", "j-0002"]) await createJob(kv, job(id));
  assertEquals((await listJobs(kv, { limit: 2 })).map((j) => j.id), [
    "j-0003",
    "j-0002",
  ]);
});

Deno.test("watchJob() yields the current record, then each change", async () => {
  using kv = await Deno.openKv(":memory:");
  await createJob(kv, job("j-1"));
  const reader = watchJob(kv, "j-1").getReader();
  assertEquals((await reader.read()).value?.status, "running");
  await updateJob(kv, "j-1", (j) => ({ ...j, status: "cancelled" }));
  assertEquals((await reader.read()).value?.status, "cancelled");
  await reader.cancel();
  const missing = watchJob(kv, "j-2").getReader();
  assertEquals((await missing.read()).value, null);
  await missing.cancel();
});
