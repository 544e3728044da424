/**
 * The models in KV, mounted at `/api`:
 *
 *   GET    /model              the active model's info (what it is, how it was trained, how good)
 *   GET    /model/file         the active model file (ETag = its id; revalidate)
 *   GET    /models             every stored model, newest first
 *   GET    /models/:id/file    one model file (immutable: cached for a year)
 *   POST   /models             admin: store an uploaded model file (application/octet-stream);
 *                               `?activate=true` also makes it the active model
 *   POST   /models/:id/activate  admin: make it the active model (rollback)
 *   DELETE /models/:id         admin: delete it (not the active one: 409)
 *
 * @module
 */

import { type Context, Hono, type MiddlewareHandler } from "hono";
import {
  activateModel,
  checkModelId,
  deleteModel,
  getActivePointer,
  getModelMeta,
  listModels,
  loadModel,
  saveModelBytes,
  type StoredModelMeta,
} from "../store/models.ts";
import { readBody } from "./body.ts";
import { HttpError } from "./errors.ts";
import type { ModelService, ServedModel } from "./model_service.ts";
import type { TrainingService } from "./training_service.ts";

/** Options of {@link modelRoutes}. */
export interface ModelRouteDeps {
  kv: Deno.Kv | null;
  models: ModelService;
  training: TrainingService;
  /** Guards the admin routes. */
  admin: MiddlewareHandler;
  /** Largest uploaded model file in bytes (default 32 MiB). */
  uploadLimit?: number;
}

const IMMUTABLE = "public, max-age=31536000, immutable";

/** The routes as a sub-app, to mount at `/api`. */
export function modelRoutes(
  { kv, models, training, admin, uploadLimit = 32 * 1024 * 1024 }:
    ModelRouteDeps,
): Hono {
  const app = new Hono();
  const store = (): Deno.Kv => {
    if (!kv) {
      throw new HttpError(
        503,
        "Stored models are unavailable as the server runs without Deno KV",
      );
    }
    return kv;
  };

  app.get("/model", async (c) => {
    const served = models.current ?? await throwNoModel(training);
    c.header("Cache-Control", "no-cache");
    return c.json({
      ...describeServed(served),
      kv: kv ? "connected" : "unavailable",
    });
  });

  app.get("/model/file", async (c) => {
    const served = models.current ?? await throwNoModel(training);
    c.header("ETag", served.etag);
    c.header("Cache-Control", "no-cache");
    c.header("X-Model-Id", served.info.id);
    if (matches(c.req.header("if-none-match"), served.etag)) {
      return c.body(null, 304);
    }
    return fileResponse(c, served.bytes, served.info.id);
  });

  app.get("/models", async (c) => {
    const kv = store();
    const [pointer, metas] = await Promise.all([
      getActivePointer(kv),
      listModels(kv),
    ]);
    c.header("Cache-Control", "no-cache");
    return c.json({
      active: pointer?.id ?? null,
      models: metas.map((m) => describeStored(m, pointer?.id ?? null)),
    });
  });

  app.get("/models/:id/file", async (c) => {
    const id = c.req.param("id");
    checkModelId(id);
    const etag = `"${id}"`;
    // A 304 only for a model that exists ("*" must not invent one).
    const exists = models.current?.info.id === id ||
      (await getModelMeta(store(), id)) !== null;
    if (exists && matches(c.req.header("if-none-match"), etag)) {
      c.header("ETag", etag);
      c.header("Cache-Control", IMMUTABLE);
      return c.body(null, 304);
    }
    c.header("ETag", etag);
    c.header("Cache-Control", IMMUTABLE);
    const served = models.current;
    const bytes = served?.info.id === id
      ? served.bytes
      : (await loadModel(store(), id)).bytes;
    return fileResponse(c, bytes, id);
  });

  app.post("/models", admin, async (c) => {
    const bytes = await readBody(c.req.raw, uploadLimit);
    const activate = readActivateFlag(c.req.query("activate"));
    const kv = store();
    const meta = await saveModelBytes(kv, bytes);
    let active: string | null = null;
    if (activate) {
      const pointer = await activateModel(kv, meta.info.id);
      await models.show(pointer);
      active = pointer.id;
    }
    c.header("Location", `/api/models/${meta.info.id}/file`);
    return c.json(describeStored(meta, active), 201);
  });

  app.post("/models/:id/activate", admin, async (c) => {
    const kv = store();
    const id = c.req.param("id");
    // Load (and so verify) before pointing everyone at it.
    await loadModel(kv, id);
    const pointer = await activateModel(kv, id);
    await models.show(pointer);
    return c.json({ active: id, activatedAt: pointer.activatedAt });
  });

  app.delete("/models/:id", admin, async (c) => {
    const id = c.req.param("id");
    await deleteModel(store(), id);
    return c.json({ deleted: id });
  });

  return app;
}

/**
 * `?activate=` of an upload: "true" or "1" activates the stored model,
 * "false", "0" or no value stores it only.
 */
export function readActivateFlag(value: string | undefined): boolean {
  if (value === undefined || value === "false" || value === "0") return false;
  if (value === "true" || value === "1") return true;
  throw new RangeError(
    `Cannot use activate as it must be true or false: got ${
      JSON.stringify(value)
    }`,
  );
}

/** The active model as `GET /api/model` shows it. */
export function describeServed(served: ServedModel): Record<string, unknown> {
  return {
    ...served.info,
    source: served.source,
    activatedAt: served.activatedAt,
    byteLength: served.bytes.length,
    parameterCount: served.network.parameterCount,
    file: `/api/models/${served.info.id}/file`,
  };
}

function describeStored(
  meta: StoredModelMeta,
  activeId: string | null,
): Record<string, unknown> {
  return {
    ...meta.info,
    active: meta.info.id === activeId,
    savedAt: meta.savedAt,
    byteLength: meta.byteLength,
    file: `/api/models/${meta.info.id}/file`,
  };
}

async function throwNoModel(training: TrainingService): Promise<never> {
  const status = await training.status();
  throw new HttpError(
    404,
    status
      ? `No model is active yet: training job ${status.jobId} is running`
      : "No model is active: train one with `deno task train`, or POST /api/train as admin",
    status
      ? { headers: { "Retry-After": "5" }, details: { training: status } }
      : {},
  );
}

/** True when an If-None-Match header lists `etag` (or is "*"). */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => {
    const tag = t.trim().replace(/^W\//, "");
    return tag === etag || tag === "*";
  });
}

function fileResponse(c: Context, bytes: Uint8Array, id: string): Response {
  c.header("Content-Type", "application/octet-stream");
  c.header("Content-Disposition", `attachment; filename="${id}.zifr"`);
  return c.body(bytes as Uint8Array<ArrayBuffer>, 200);
}
