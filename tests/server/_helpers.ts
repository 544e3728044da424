/**
 * Shared set-up of the server tests: a real in-memory Deno KV, hand-made
 * models whose answers are known, and an app built on them.
 *
 * @module
 */

import type { Model } from "../../src/nn/model_file.ts";
import { createApp, type ZifferApp } from "../../src/server/app.ts";
import { type AppDeps } from "../../src/server/app.ts";
import { memoryLog } from "../../src/server/log.ts";
import {
  activateModel,
  newModelId,
  saveModel,
} from "../../src/store/models.ts";

/** The admin token the tests use. */
export const TOKEN = "test-admin-token-0123456789";

/** The Authorization header with {@link TOKEN}. */
export const AUTH = { authorization: `Bearer ${TOKEN}` };

/**
 * A one-layer model (784 → 10 softmax) that answers digit d when the ink is
 * on the pixels i with i mod 10 = d: w[i][j] = 1 if i mod 10 = j.
 * `scale` multiplies the weights (so two models give different confidences).
 */
export function stripeModel(
  { id = newModelId(), testAccuracy = 0.9, scale = 1, activation = "softmax" }:
    {
      id?: string;
      testAccuracy?: number;
      scale?: number;
      activation?: "softmax" | "sigmoid";
    } = {},
): Model {
  const weights = new Float32Array(784 * 10 + 10);
  for (let i = 0; i < 784; i++) weights[i * 10 + (i % 10)] = scale;
  return {
    id,
    createdAt: new Date(0).toISOString(),
    architecture: {
      input: [1, 28, 28],
      layers: [{ type: "dense", units: 10, activation }],
    },
    config: { note: "hand-made test model" },
    seed: 0,
    metrics: {
      testAccuracy,
      testCount: 100,
      confusion: Array.from({ length: 10 }, () => new Array(10).fill(0)),
      epochs: [],
      trainMs: 0,
    },
    weights,
  };
}

/** 784 pixels with ink (1) on every pixel i with i mod 10 = digit. */
export function stripePixels(digit: number): number[] {
  return Array.from({ length: 784 }, (_, i) => (i % 10 === digit ? 1 : 0));
}

/** Stores a model and, unless told otherwise, activates it. */
export async function storeModel(
  kv: Deno.Kv,
  model: Model,
  { activate = true } = {},
): Promise<Model> {
  await saveModel(kv, model);
  if (activate) await activateModel(kv, model.id);
  return model;
}

/** An app on a fresh in-memory KV, with a captured log. */
export interface TestServer extends ZifferApp {
  kv: Deno.Kv;
  log: ReturnType<typeof memoryLog>;
  /** Closes the app, then the KV. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Builds an app on a fresh in-memory KV; `before` runs on the KV first (to
 * store models). Use with `await using`.
 */
export async function startServer(
  { before, ...deps }: Partial<AppDeps> & {
    before?: (kv: Deno.Kv) => Promise<unknown>;
  } = {},
): Promise<TestServer> {
  const kv = await Deno.openKv(":memory:");
  await before?.(kv);
  const log = memoryLog();
  const app = await createApp({
    kv,
    adminToken: TOKEN,
    log,
    ...deps,
  });
  return {
    ...app,
    kv,
    log,
    async [Symbol.asyncDispose]() {
      await app.close();
      kv.close();
    },
  };
}

/** Polls `check` (up to ~5 s) until it returns true; fails the test otherwise. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`Timed out waiting until ${what}`);
}

/** A JSON POST request init. */
export function postJson(
  body: unknown,
  headers: Record<string, string> = {},
): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
}
