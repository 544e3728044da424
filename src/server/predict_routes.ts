/**
 * `POST /api/predict`: which digit is this?
 *
 *   Content-Type: application/json     {"pixels": [784]} or {"images": [[784], …]}
 *   Content-Type: image/png            any size, dark-on-light or light-on-dark
 *   Content-Type: multipart/form-data  a file field holding a PNG (e.g. an HTML form)
 *
 * JSON pixels are used as they are; images go through the same MNIST
 * preprocessing as the page (`src/image/preprocess.ts`). The answer names the
 * model that produced it and how long each step took (also as a
 * `Server-Timing` header). While no model is ready the route answers 503 with
 * `Retry-After` and the training progress.
 *
 * @module
 */

import { Hono } from "hono";
import { mediaType, parseJson, readBody } from "./body.ts";
import { HttpError } from "./errors.ts";
import { type ImageDecoder, readFormImage } from "./image_input.ts";
import {
  type Prediction,
  predictWith,
  type ServedModel,
} from "./model_service.ts";
import type { ModelService } from "./model_service.ts";
import { type PixelBatch, readPixelJson } from "./pixels.ts";
import type { TrainingService } from "./training_service.ts";

/** Options of {@link predictRoutes}. */
export interface PredictDeps {
  models: ModelService;
  training: TrainingService;
  /** Turns image bytes into 784 inputs (see image_input.ts). */
  decodeImage: ImageDecoder;
  /** Largest JSON body in bytes (default 4 MiB: a full batch of long decimals). */
  jsonLimit?: number;
  /** Largest image or form body in bytes (default 8 MiB). */
  imageLimit?: number;
}

/** The route as a sub-app, to mount at `/api/predict`. */
export function predictRoutes(
  {
    models,
    training,
    decodeImage,
    jsonLimit = 4 * 1024 * 1024,
    imageLimit = 8 * 1024 * 1024,
  }: PredictDeps,
): Hono {
  const app = new Hono();

  app.post("/", async (c) => {
    const t0 = performance.now();
    const type = mediaType(c.req.header("content-type"));
    // The body is read before answering 503, so the connection stays reusable.
    let input: PixelBatch;
    if (type === "application/json") {
      input = readPixelJson(parseJson(await readBody(c.req.raw, jsonLimit)));
      if (!models.current) await throwNotReady(training);
    } else if (type === "image/png") {
      const bytes = await readBody(c.req.raw, imageLimit);
      if (!models.current) await throwNotReady(training);
      input = one(
        await decodeImage(bytes, { polarity: c.req.query("polarity") }),
      );
    } else if (type === "multipart/form-data") {
      const bytes = await readBody(c.req.raw, imageLimit);
      if (!models.current) await throwNotReady(training);
      const { image, polarity } = await readFormImage(c.req.raw, bytes);
      input = one(await decodeImage(image, { polarity }));
    } else {
      throw new HttpError(
        415,
        `Cannot predict from Content-Type ${
          JSON.stringify(c.req.header("content-type") ?? "")
        }: send application/json ({"pixels": [784 numbers]}), image/png, or multipart/form-data with a PNG file field`,
      );
    }
    const t1 = performance.now();
    // One reference for the whole prediction: a swap meanwhile cannot mix models.
    const served = models.current;
    if (!served) return await throwNotReady(training);
    const predictions = predictWith(served, input.x, input.count);
    const t2 = performance.now();
    const ms = { input: round(t1 - t0), predict: round(t2 - t1) };
    c.header(
      "Server-Timing",
      `input;dur=${ms.input}, predict;dur=${ms.predict}`,
    );
    c.header("Cache-Control", "no-store");
    const model = modelSummary(served);
    if (input.batch) {
      return c.json({ predictions: predictions.map(plain), model, ms });
    }
    return c.json({ ...plain(predictions[0]), model, ms });
  });

  return app;
}

/** The model fields every prediction carries. */
export function modelSummary(served: ServedModel): {
  id: string;
  createdAt: string;
  testAccuracy: number;
} {
  const { id, createdAt, metrics } = served.info;
  return { id, createdAt, testAccuracy: metrics.testAccuracy };
}

/**
 * Throws the 503 a request gets while no model is ready: with the training
 * progress and a Retry-After estimate when a run is going on.
 */
export async function throwNotReady(training: TrainingService): Promise<never> {
  const status = await training.status();
  if (status) {
    const p = status.progress;
    const seconds = p ? Math.ceil(p.etaMs / 1000) + 1 : 5;
    throw new HttpError(
      503,
      `No model is ready yet: training job ${status.jobId} is ${
        p ? `${Math.floor(p.fraction * 100)}% done` : "starting"
      }; retry later`,
      {
        headers: { "Retry-After": String(Math.min(60, Math.max(1, seconds))) },
        details: { training: status },
      },
    );
  }
  throw new HttpError(
    503,
    "No model is active: train one with `deno task train`, or POST /api/train as admin",
    { headers: { "Retry-After": "30" } },
  );
}

function one(pixels: Float32Array): PixelBatch {
  return { x: Float64Array.from(pixels), count: 1, batch: false };
}

function plain(p: Prediction): Prediction {
  return {
    digit: p.digit,
    confidence: p.confidence,
    probabilities: p.probabilities,
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
