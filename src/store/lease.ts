/**
 * The training lease: at most one process trains at a time across every
 * instance that shares the KV. The holder renews it while it works; if it
 * dies, the lease expires after `ttlMs` and another instance may take it.
 * Acquiring and renewing are atomic compare-and-set on the lease record.
 *
 * @module
 */

import { keys } from "./keys.ts";

/** The lease record. */
export interface Lease {
  /** Who holds it (an id unique to the holding process and job). */
  holder: string;
  /** What the holder is doing, e.g. a job id. */
  jobId: string;
  /** Epoch milliseconds after which the lease is free. */
  expiresAt: number;
}

/**
 * Takes the lease for `holder` if it is free, expired, or already theirs.
 * Returns the lease on success, null when someone else holds it.
 */
export async function acquireLease(
  kv: Deno.Kv,
  { holder, jobId, ttlMs = 30_000, now = Date.now() }: {
    holder: string;
    jobId: string;
    ttlMs?: number;
    now?: number;
  },
): Promise<Lease | null> {
  const key = keys.trainingLease();
  const current = await kv.get<Lease>(key);
  if (
    current.value && current.value.expiresAt > now &&
    current.value.holder !== holder
  ) {
    return null;
  }
  const lease: Lease = { holder, jobId, expiresAt: now + ttlMs };
  const result = await kv.atomic().check(current).set(key, lease).commit();
  return result.ok ? lease : null;
}

/** Extends a lease held by `holder`; returns false when it was lost. */
export async function renewLease(
  kv: Deno.Kv,
  { holder, ttlMs = 30_000, now = Date.now() }: {
    holder: string;
    ttlMs?: number;
    now?: number;
  },
): Promise<boolean> {
  const key = keys.trainingLease();
  const current = await kv.get<Lease>(key);
  if (!current.value || current.value.holder !== holder) return false;
  const result = await kv.atomic().check(current).set(key, {
    ...current.value,
    expiresAt: now + ttlMs,
  }).commit();
  return result.ok;
}

/** Gives the lease up if `holder` holds it. */
export async function releaseLease(kv: Deno.Kv, holder: string): Promise<void> {
  const key = keys.trainingLease();
  const current = await kv.get<Lease>(key);
  if (current.value?.holder !== holder) return;
  await kv.atomic().check(current).delete(key).commit();
}

/** The current lease if it has not expired, else null. */
export async function currentLease(
  kv: Deno.Kv,
  now = Date.now(),
): Promise<Lease | null> {
  const lease = (await kv.get<Lease>(keys.trainingLease())).value;
  return lease && lease.expiresAt > now ? lease : null;
}
