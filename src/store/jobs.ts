/**
 * Training-job records: what a training run was asked to do, how far it has
 * got and how it ended. The instance that runs a job writes its record; every
 * instance sharing the KV can read it (`GET /api/train/:jobId`) or watch it
 * (the server-sent event stream), so progress is visible wherever the request
 * lands.
 *
 * A record is small plain data (well under Deno KV's 64 KiB value limit).
 * Finished records expire after {@link FINISHED_JOB_TTL_MS}.
 *
 * @module
 */

import { ConflictError, NotFoundError } from "./errors.ts";
import { keys } from "./keys.ts";

/** Where a job is in its life. */
export type JobStatus = "running" | "succeeded" | "failed" | "cancelled";

/** The statuses after which a record no longer changes. */
export const FINISHED_STATUSES: readonly JobStatus[] = [
  "succeeded",
  "failed",
  "cancelled",
];

/** When a finished model replaces the active one. */
export type ActivationPolicy = "if-better" | "always" | "never";

/** The policies a request may name, for validation. */
export const ACTIVATION_POLICIES: readonly ActivationPolicy[] = [
  "if-better",
  "always",
  "never",
];

/** How far a running job has got (a snapshot of the last reported batch). */
export interface JobProgress {
  /** 1-based epoch being trained, and the total. */
  epoch: number;
  epochs: number;
  /** 1-based batch within the epoch, and the batches per epoch. */
  batch: number;
  batches: number;
  /** Fraction of all batches done, 0..1. */
  fraction: number;
  /** Running mean cost of the current epoch. */
  epochLoss: number;
  /** Milliseconds since training started, and the estimate of what remains. */
  elapsedMs: number;
  etaMs: number;
  /** Held-out accuracy after each evaluated epoch so far. */
  curve: { epoch: number; loss: number; testAccuracy: number }[];
}

/** What a finished job decided. */
export interface JobResult {
  /** The stored model's id. */
  modelId: string;
  /** Its accuracy on the run's held-out split, 0..1. */
  testAccuracy: number;
  /** Whether it became the active model. */
  activated: boolean;
  /** Why it was (or was not) activated. */
  reason: string;
  /** The model that was active when the run finished, if any. */
  previousModelId: string | null;
  /** That model's accuracy on the same held-out split, if there was one. */
  previousAccuracy: number | null;
}

/** One training job as stored in KV. */
export interface JobRecord {
  id: string;
  status: JobStatus;
  /** Who started it: an API request or the server's start-up (no model yet). */
  origin: "api" | "startup";
  /** The validated training config. */
  config: Record<string, unknown>;
  activate: ActivationPolicy;
  /** The instance running it (the lease holder). */
  holder: string;
  /** ISO times. */
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  progress: JobProgress | null;
  result: JobResult | null;
  /** Why it failed or was cancelled. */
  error: string | null;
  /** Set by a cancel request that reached another instance; the runner stops. */
  cancelRequested: boolean;
}

/** How long finished job records are kept, in milliseconds (7 days). */
export const FINISHED_JOB_TTL_MS = 7 * 24 * 3600_000;

const JOB_ID_PATTERN = /^j-[a-z0-9-]{1,60}$/;

/** A new job id that sorts by creation time: `j-<ms since epoch, base 36>-<random>`. */
export function newJobId(now = Date.now()): string {
  const random = crypto.getRandomValues(new Uint8Array(4));
  return `j-${now.toString(36).padStart(9, "0")}-${
    [...random].map((b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/** Throws a RangeError unless `id` looks like a job id (so keys stay well-formed). */
export function checkJobId(id: string): void {
  if (typeof id !== "string" || !JOB_ID_PATTERN.test(id)) {
    throw new RangeError(
      `Cannot use the job id as it must be "j-" and 1–60 characters of a–z, 0–9 and "-": got ${
        JSON.stringify(id)
      }`,
    );
  }
}

/** Stores a new job record; ConflictError when the id exists. */
export async function createJob(kv: Deno.Kv, job: JobRecord): Promise<void> {
  checkJobId(job.id);
  const key = keys.trainingJob(job.id);
  const result = await kv.atomic().check({ key, versionstamp: null }).set(
    key,
    job,
  ).commit();
  if (!result.ok) {
    throw new ConflictError(`Cannot create job ${job.id} as it exists`);
  }
}

/** One job record, or null. */
export async function getJob(
  kv: Deno.Kv,
  id: string,
): Promise<JobRecord | null> {
  checkJobId(id);
  return (await kv.get<JobRecord>(keys.trainingJob(id))).value;
}

/**
 * Changes a job record with `change` (which gets the current record and
 * returns the new one), retrying when another writer got there first.
 * Finished records get an expiry. Returns the stored record.
 */
export async function updateJob(
  kv: Deno.Kv,
  id: string,
  change: (job: JobRecord) => JobRecord,
  { now = Date.now() }: { now?: number } = {},
): Promise<JobRecord> {
  checkJobId(id);
  const key = keys.trainingJob(id);
  for (let attempt = 0; attempt < 10; attempt++) {
    const current = await kv.get<JobRecord>(key);
    if (current.value === null) {
      throw new NotFoundError(`Cannot update job ${id} as it does not exist`);
    }
    const next = {
      ...change(current.value),
      updatedAt: new Date(now).toISOString(),
    };
    const finished = FINISHED_STATUSES.includes(next.status);
    const result = await kv.atomic().check(current).set(
      key,
      next,
      finished ? { expireIn: FINISHED_JOB_TTL_MS } : undefined,
    ).commit();
    if (result.ok) return next;
  }
  throw new ConflictError(
    `Cannot update job ${id} as it kept changing while updating`,
  );
}

/**
 * Records the end of a job and gives up the training lease in the same
 * atomic commit, so nobody sees a finished job whose lease is still held or a
 * free lease whose job still looks like it is running. `change` must return a
 * finished record. The lease is deleted only if `holder` holds it.
 */
export async function finishJob(
  kv: Deno.Kv,
  id: string,
  change: (job: JobRecord) => JobRecord,
  { holder, now = Date.now() }: { holder: string; now?: number },
): Promise<JobRecord> {
  checkJobId(id);
  const key = keys.trainingJob(id);
  const leaseKey = keys.trainingLease();
  for (let attempt = 0; attempt < 10; attempt++) {
    const [current, lease] = await kv.getMany<[JobRecord, { holder: string }]>(
      [key, leaseKey],
    );
    if (current.value === null) {
      throw new NotFoundError(`Cannot finish job ${id} as it does not exist`);
    }
    const next = {
      ...change(current.value),
      updatedAt: new Date(now).toISOString(),
    };
    if (!FINISHED_STATUSES.includes(next.status)) {
      throw new RangeError(
        `Cannot finish job ${id} with status ${next.status}: expected one of ${
          FINISHED_STATUSES.join(", ")
        }`,
      );
    }
    const op = kv.atomic().check(current).check(lease).set(key, next, {
      expireIn: FINISHED_JOB_TTL_MS,
    });
    if (lease.value?.holder === holder) op.delete(leaseKey);
    if ((await op.commit()).ok) return next;
  }
  throw new ConflictError(
    `Cannot finish job ${id} as it kept changing while updating`,
  );
}

/** The most recent job records, newest first. */
export async function listJobs(
  kv: Deno.Kv,
  { limit = 20 }: { limit?: number } = {},
): Promise<JobRecord[]> {
  const out: JobRecord[] = [];
  for await (
    const entry of kv.list<JobRecord>(
      { prefix: keys.trainingJobPrefix() },
      { reverse: true, limit },
    )
  ) {
    out.push(entry.value);
  }
  return out;
}

/**
 * A stream of one job's record: the current value first, then every change
 * (from any instance sharing the KV); null when there is no such record.
 * Cancel the stream to stop watching.
 */
export function watchJob(
  kv: Deno.Kv,
  id: string,
): ReadableStream<JobRecord | null> {
  checkJobId(id);
  return kv.watch<[JobRecord]>([keys.trainingJob(id)]).pipeThrough(
    new TransformStream({
      transform: ([entry], controller) => controller.enqueue(entry.value),
    }),
  );
}
