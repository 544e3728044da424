/**
 * The Hono app: every route, the security headers, CORS for predictions, the
 * page, and the one error handler. Built from injected dependencies (KV
 * handle, admin token, clock, log) — it reads no environment and opens
 * nothing, so tests build it on `Deno.openKv(":memory:")` and call
 * `app.request()`.
 *
 *   /api/predict        predictRoutes   (CORS open)
 *   /api/model, /api/models/…  modelRoutes
 *   /api/train/…        trainRoutes
 *   /api/health         liveness and what is served
 *   everything else     the files of `staticRoot`
 *
 * Headers: hono/secure-headers with a CSP for the page, a lean fixed set for
 * the API (headers.ts), CORS for /api/predict only.
 *
 * Without KV (`kv: null`) the app predicts with the shipped model and
 * answers 503 on everything that needs KV (stored models, uploads,
 * training). With KV but no model in it, it stores and activates the
 * shipped model (so every instance serves the same one), see startup.ts.
 *
 * @module
 */

import { Hono } from "hono";
import type { Model } from "../nn/model_file.ts";
import type { TrainConfig } from "../training/config.ts";
import { requireAdmin } from "./auth.ts";
import { errorHandler } from "./errors.ts";
import { apiHeaders, openCors, pageHeaders } from "./headers.ts";
import { decodePng } from "../image/png.ts";
import { type ImageDecoder, imageDecoder } from "./image_input.ts";
import { consoleLog, type Log } from "./log.ts";
import { modelRoutes } from "./model_routes.ts";
import { type BundledModel, seedBundledModel } from "./startup.ts";
import { ModelService } from "./model_service.ts";
import { modelSummary, predictRoutes } from "./predict_routes.ts";
import { staticFiles } from "./static_files.ts";
import { trainRoutes } from "./train_routes.ts";
import {
  TrainingService,
  type TrainingServiceOptions,
} from "./training_service.ts";

/** What {@link createApp} needs. */
export interface AppDeps {
  /** The store of models, jobs and the lease; null runs without (predict only, from `model`). */
  kv: Deno.Kv | null;
  /** Enables the admin endpoints; without it they answer 403. */
  adminToken?: string;
  /** The folder of the page; omitted → no page. */
  staticRoot?: string;
  log?: Log;
  /** Wall clock, epoch ms. */
  now?: () => number;
  /** Names this instance in lease holders and logs. */
  instanceId?: string;
  /**
   * Train this config in the background when KV holds no active model and
   * there is no shipped model to store instead.
   */
  trainWhenEmpty?: TrainConfig | null;
  /**
   * The model shipped with the repository: served without KV (or while KV's
   * model cannot be loaded), and stored and activated when KV has none.
   */
  bundled?: BundledModel | null;
  /** A model to serve before (or without) one from KV (tests). */
  model?: Model;
  /** Turns uploaded image bytes into 784 inputs (default: PNG decoding + the MNIST recipe). */
  decodeImage?: ImageDecoder;
  /** Tuning of background training (lease TTL, progress and checkpoint intervals, …). */
  training?: Pick<
    TrainingServiceOptions,
    | "leaseTtlMs"
    | "progressIntervalMs"
    | "checkpointEveryMs"
    | "maxResumes"
    | "runMode"
  >;
  /** Resume interrupted training jobs at start-up and every lease TTL (default true). */
  resumeTraining?: boolean;
  /** Body limits in bytes. */
  limits?: { json?: number; image?: number; upload?: number };
  /** Quiet time before an event stream sends a keep-alive comment, ms. */
  heartbeatMs?: number;
  /**
   * How often to re-read what a KV watch may miss — the active pointer and
   * streamed job records — in ms (default 1000; 0 = watch only). A watch on a
   * local SQLite file does not see writes from other processes.
   */
  pollMs?: number;
}

/** The built app and the services behind it. */
export interface ZifferApp {
  app: Hono;
  /** `app.fetch`, for `Deno.serve` and `export default { fetch }`. */
  fetch: (request: Request) => Response | Promise<Response>;
  models: ModelService;
  training: TrainingService;
  /** Stops watching KV and ends this instance's training run (the KV stays open). */
  close(): Promise<void>;
}

/**
 * Builds the app: loads the active model from KV (if any), starts following
 * the active pointer, and — when asked and KV has no model — starts training
 * one in the background.
 *
 * @example
 * ```ts ignore
 * const kv = await Deno.openKv(":memory:");
 * const { app, close } = await createApp({ kv, decodeImage });
 * const r = await app.request("/api/health");
 * await close();
 * ```
 */
export async function createApp(deps: AppDeps): Promise<ZifferApp> {
  const { kv } = deps;
  const now = deps.now ?? Date.now;
  const log = deps.log ?? consoleLog(now);
  const pollMs = deps.pollMs ?? 1_000;
  const models = new ModelService({ kv, log, pollMs });
  const { bundled } = deps;
  if (bundled) {
    models.use(bundled.model, { bytes: bundled.bytes, source: "bundled" });
  } else if (deps.model) {
    models.use(deps.model);
  }
  const training = new TrainingService({
    kv,
    models,
    log,
    now,
    instanceId: deps.instanceId,
    ...deps.training,
  });
  await models.start();
  if (kv && bundled) await seedBundledModel(kv, bundled, { models, log });

  const admin = requireAdmin({ token: deps.adminToken });
  const app = new Hono();
  app.onError(errorHandler(log));
  app.notFound((c) =>
    c.json({ error: `Cannot find ${c.req.method} ${c.req.path}` }, 404)
  );
  app.use("*", pageHeaders());
  app.use("/api/*", apiHeaders());
  app.use(
    "/api/predict",
    openCors({
      methods: ["POST"],
      headers: ["Content-Type"],
      expose: ["Server-Timing"],
    }),
  );
  app.route(
    "/api/predict",
    predictRoutes({
      models,
      training,
      decodeImage: deps.decodeImage ?? imageDecoder(decodePng),
      jsonLimit: deps.limits?.json,
      imageLimit: deps.limits?.image,
    }),
  );
  app.route(
    "/api",
    modelRoutes({
      kv,
      models,
      training,
      admin,
      uploadLimit: deps.limits?.upload,
    }),
  );
  app.route(
    "/api/train",
    trainRoutes({
      kv,
      training,
      admin,
      log,
      heartbeatMs: deps.heartbeatMs,
      pollMs: pollMs || undefined,
    }),
  );
  app.get("/api/health", async (c) => {
    const served = models.current;
    c.header("Cache-Control", "no-store");
    return c.json({
      ok: true,
      model: served ? { ...modelSummary(served), source: served.source } : null,
      kv: kv ? "connected" : "unavailable",
      training: await training.status(),
      admin: deps.adminToken ? "enabled" : "disabled",
    });
  });
  if (deps.staticRoot) app.use("*", staticFiles({ root: deps.staticRoot }));

  if (kv && deps.resumeTraining !== false) await training.watchInterrupted();
  if (deps.trainWhenEmpty && kv && !models.current) {
    await training.trainWhileNoModel(deps.trainWhenEmpty);
  }

  return {
    app,
    fetch: (request) => app.fetch(request),
    models,
    training,
    close: async () => {
      await training.close();
      await models.close();
    },
  };
}
