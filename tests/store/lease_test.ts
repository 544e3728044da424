import { assert, assertEquals } from "@std/assert";
import { keys } from "../../src/store/keys.ts";
import {
  acquireLease,
  currentLease,
  type Lease,
  releaseLease,
  renewLease,
} from "../../src/store/lease.ts";

const T = 1_700_000_000_000;

async function withKv(fn: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(kv);
  } finally {
    kv.close();
  }
}

const stored = async (kv: Deno.Kv) =>
  (await kv.get<Lease>(keys.trainingLease())).value;

Deno.test("acquireLease() takes a free lease", async () => {
  await withKv(async (kv) => {
    assertEquals(await currentLease(kv, T), null);
    const lease = await acquireLease(kv, {
      holder: "a",
      jobId: "j1",
      ttlMs: 1000,
      now: T,
    });
    assertEquals(lease, { holder: "a", jobId: "j1", expiresAt: T + 1000 });
    assertEquals(await stored(kv), lease);
    assertEquals(await currentLease(kv, T + 999), lease);
  });
});

Deno.test("acquireLease() refuses a second holder while the lease is valid", async () => {
  await withKv(async (kv) => {
    const first = await acquireLease(kv, {
      holder: "a",
      jobId: "j1",
      ttlMs: 1000,
      now: T,
    });
    assertEquals(
      await acquireLease(kv, {
        holder: "b",
        jobId: "j2",
        ttlMs: 1000,
        now: T + 999,
      }),
      null,
    );
    assertEquals(await stored(kv), first);
  });
});

Deno.test("acquireLease() lets the same holder re-acquire and extends the lease", async () => {
  await withKv(async (kv) => {
    await acquireLease(kv, { holder: "a", jobId: "j1", ttlMs: 1000, now: T });
    const again = await acquireLease(kv, {
      holder: "a",
      jobId: "j1b",
      ttlMs: 1000,
      now: T + 500,
    });
    assertEquals(again, { holder: "a", jobId: "j1b", expiresAt: T + 1500 });
    assertEquals(await stored(kv), again);
  });
});

Deno.test("acquireLease() lets another holder take an expired lease", async () => {
  await withKv(async (kv) => {
    await acquireLease(kv, { holder: "a", jobId: "j1", ttlMs: 1000, now: T });
    assertEquals(
      await currentLease(kv, T + 1000),
      null,
      "expired at expiresAt",
    );
    const taken = await acquireLease(kv, {
      holder: "b",
      jobId: "j2",
      ttlMs: 1000,
      now: T + 1000,
    });
    assertEquals(taken, { holder: "b", jobId: "j2", expiresAt: T + 2000 });
    assertEquals(await currentLease(kv, T + 1500), taken);
  });
});

Deno.test("acquireLease() gives a free lease to exactly one of three concurrent holders", async () => {
  await withKv(async (kv) => {
    const results = await Promise.all(
      ["a", "b", "c"].map((holder) =>
        acquireLease(kv, {
          holder,
          jobId: `job-${holder}`,
          ttlMs: 1000,
          now: T,
        })
      ),
    );
    const winners = results.filter((r) => r !== null);
    assertEquals(winners.length, 1, JSON.stringify(results));
    assertEquals(await stored(kv), winners[0]);
  });
});

Deno.test("renewLease() extends the holder's lease and keeps its job", async () => {
  await withKv(async (kv) => {
    await acquireLease(kv, { holder: "a", jobId: "j1", ttlMs: 1000, now: T });
    assertEquals(
      await renewLease(kv, { holder: "a", ttlMs: 5000, now: T + 800 }),
      true,
    );
    assertEquals(await stored(kv), {
      holder: "a",
      jobId: "j1",
      expiresAt: T + 5800,
    });
    // Renewed, so it is still held past the first expiry.
    assertEquals(
      await acquireLease(kv, { holder: "b", jobId: "j2", now: T + 2000 }),
      null,
    );
  });
});

Deno.test("renewLease() by a non-holder returns false and changes nothing", async () => {
  await withKv(async (kv) => {
    assertEquals(
      await renewLease(kv, { holder: "a", now: T }),
      false,
      "no lease at all",
    );
    const lease = await acquireLease(kv, {
      holder: "a",
      jobId: "j1",
      ttlMs: 1000,
      now: T,
    });
    assertEquals(
      await renewLease(kv, { holder: "b", ttlMs: 9999, now: T }),
      false,
    );
    assertEquals(await stored(kv), lease);
  });
});

Deno.test("renewLease() returns false once another holder took the expired lease", async () => {
  await withKv(async (kv) => {
    await acquireLease(kv, { holder: "a", jobId: "j1", ttlMs: 1000, now: T });
    await acquireLease(kv, {
      holder: "b",
      jobId: "j2",
      ttlMs: 1000,
      now: T + 2000,
    });
    assertEquals(await renewLease(kv, { holder: "a", now: T + 2100 }), false);
    assertEquals((await stored(kv))?.holder, "b");
  });
});

Deno.test("releaseLease() by a non-holder is a no-op", async () => {
  await withKv(async (kv) => {
    await releaseLease(kv, "nobody"); // nothing to release
    const lease = await acquireLease(kv, {
      holder: "a",
      jobId: "j1",
      ttlMs: 1000,
      now: T,
    });
    await releaseLease(kv, "b");
    assertEquals(await stored(kv), lease);
  });
});

Deno.test("releaseLease() by the holder frees the lease for others", async () => {
  await withKv(async (kv) => {
    await acquireLease(kv, { holder: "a", jobId: "j1", ttlMs: 60_000, now: T });
    await releaseLease(kv, "a");
    assertEquals(await stored(kv), null);
    assertEquals(await currentLease(kv, T), null);
    const next = await acquireLease(kv, {
      holder: "b",
      jobId: "j2",
      ttlMs: 1000,
      now: T + 1,
    });
    assertEquals(next?.holder, "b");
  });
});

Deno.test("acquireLease() defaults to a 30 s lease from the current time", async () => {
  await withKv(async (kv) => {
    const before = Date.now();
    const lease = await acquireLease(kv, { holder: "a", jobId: "j1" });
    const after = Date.now();
    const expiresAt = lease?.expiresAt ?? NaN;
    assert(
      expiresAt >= before + 30_000 && expiresAt <= after + 30_000,
      `got ${expiresAt}`,
    );
    assertEquals(await currentLease(kv), lease);
  });
});
