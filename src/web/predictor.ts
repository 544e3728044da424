/**
 * Where predictions come from: the active model's weights downloaded once and
 * run on this device, or the server when that is not possible.
 *
 * Loading: `GET /api/model` names the active model; its file
 * (`GET /api/models/<id>/file`, immutable per id) is kept in the browser's
 * Cache API under `MODEL_CACHE`, so it is downloaded once per model and a
 * reload without a network (the service worker serves the page itself) still
 * finds it. The last active model's info is kept in localStorage for that
 * case. A file that cannot be downloaded or decoded (e.g. a layer type this
 * page does not know) leaves the page predicting through `POST /api/predict`.
 *
 * @module
 */

import {
  decodeModel,
  type ModelInfo,
  networkFromModel,
} from "../nn/model_file.ts";
import {
  argmax,
  normalizeProbabilities,
  predictProbabilities,
} from "../nn/metrics.ts";
import type { Network } from "../nn/network.ts";

/** The Cache API cache that holds downloaded model files. */
export const MODEL_CACHE = "ziffer-models-v1";
const INFO_KEY = "ziffer.activeModel";

/** Where a prediction was computed. */
export type Where = "device" | "server";

/** One prediction, wherever it was computed. */
export interface Prediction {
  digit: number;
  /** Ten probabilities summing to 1. */
  probabilities: number[];
  where: Where;
  modelId: string | null;
}

/** The outcome of {@link Predictor.load}. */
export type LoadResult =
  | { mode: "device"; info: ModelInfo; bytes: number; fromCache: boolean }
  | { mode: "server"; info: ModelInfo | null; reason: string }
  | { mode: "none"; reason: string };

/** Downloads the active model and predicts with it, or asks the server. */
export class Predictor {
  info: ModelInfo | null = null;
  #network: Network | null = null;
  #fetch: typeof fetch;
  #origin: string;

  /**
   * @param options.fetchFn how to make requests (tests pass a fake server)
   * @param options.origin the server's origin, which API paths are resolved
   *   against (default: the page's own)
   */
  constructor(
    {
      fetchFn = globalThis.fetch.bind(globalThis),
      origin = globalThis.location?.origin ?? "http://localhost",
    }: { fetchFn?: typeof fetch; origin?: string } = {},
  ) {
    this.#fetch = fetchFn;
    this.#origin = origin;
  }

  #url(path: string): string {
    return new URL(path, this.#origin).href;
  }

  /** True when predictions run on this device. */
  get local(): boolean {
    return this.#network !== null;
  }

  /** (Re)loads the active model; never throws, says what it could do. */
  async load(): Promise<LoadResult> {
    let info: ModelInfo | null = null;
    let offline = false;
    try {
      const r = await this.#fetch(this.#url("/api/model"), {
        cache: "no-store",
      });
      if (r.ok) info = unwrapInfo(await r.json());
      else if (r.status === 404) {
        this.info = null;
        this.#network = null;
        return { mode: "none", reason: "no model has been trained yet" };
      } else offline = true;
    } catch {
      offline = true;
    }
    if (!info) info = rememberedInfo();
    if (!info) {
      return { mode: "none", reason: "the server cannot be reached" };
    }
    this.info = info;
    try {
      const { bytes, fromCache } = await this.#modelBytes(info.id, offline);
      const model = decodeModel(bytes);
      this.#network = networkFromModel(model);
      this.info = infoFrom(model, info);
      remember(this.info);
      return {
        mode: "device",
        info: this.info,
        bytes: bytes.length,
        fromCache,
      };
    } catch (e) {
      this.#network = null;
      return { mode: "server", info, reason: (e as Error).message };
    }
  }

  /** Predicts on this device, or returns null when no model is loaded. */
  predictLocal(pixels: Float32Array): Prediction | null {
    if (!this.#network) return null;
    const probabilities = normalizeProbabilities(
      predictProbabilities(this.#network, pixels),
    );
    return {
      digit: argmax(probabilities),
      probabilities,
      where: "device",
      modelId: this.info?.id ?? null,
    };
  }

  /** Asks the server (`POST /api/predict`); throws with the server's message on failure. */
  async predictServer(pixels: Float32Array): Promise<Prediction> {
    const r = await this.#fetch(this.#url("/api/predict"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ pixels: Array.from(pixels, roundPixel) }),
    });
    const body = await r.json().catch(() => null);
    if (!r.ok) {
      throw new Error(body?.error ?? `the server answered ${r.status}`);
    }
    return {
      digit: body.digit,
      probabilities: normalizeProbabilities(body.probabilities),
      where: "server",
      modelId: body.model?.id ?? null,
    };
  }

  async #modelBytes(
    id: string,
    offline: boolean,
  ): Promise<{ bytes: Uint8Array; fromCache: boolean }> {
    const url = this.#url(`/api/models/${encodeURIComponent(id)}/file`);
    const cache = await openCache();
    const hit = await cache?.match(url);
    if (hit) {
      return {
        bytes: new Uint8Array(await hit.arrayBuffer()),
        fromCache: true,
      };
    }
    if (offline) {
      throw new Error(
        "the model file is not cached and the server cannot be reached",
      );
    }
    const r = await this.#fetch(url);
    if (!r.ok) {
      throw new Error(`the model file download failed with ${r.status}`);
    }
    const bytes = new Uint8Array(await r.arrayBuffer());
    decodeModel(bytes); // only cache a file that decodes
    if (cache) {
      await cache.put(
        url,
        new Response(bytes, {
          headers: { "content-type": "application/octet-stream" },
        }),
      );
      for (const key of await cache.keys()) {
        if (key.url !== url) await cache.delete(key);
      }
    }
    return { bytes, fromCache: false };
  }
}

/** `/api/model` may answer with the info itself or wrap it; accept both. */
function unwrapInfo(json: unknown): ModelInfo | null {
  const j = json as Record<string, unknown> | null;
  const info = (j?.info ?? j?.model ?? j) as ModelInfo | null;
  return info && typeof info.id === "string" ? info : null;
}

/** The file's header is the full info; keep the API's fields it lacks. */
function infoFrom(model: ModelInfo, api: ModelInfo): ModelInfo {
  const { id, createdAt, architecture, config, seed, metrics } = model;
  return { ...api, id, createdAt, architecture, config, seed, metrics };
}

function remember(info: ModelInfo): void {
  try {
    localStorage.setItem(INFO_KEY, JSON.stringify(info));
  } catch {
    // Storage may be full or disabled; the page works without it.
  }
}

function rememberedInfo(): ModelInfo | null {
  try {
    return unwrapInfo(JSON.parse(localStorage.getItem(INFO_KEY) ?? "null"));
  } catch {
    return null;
  }
}

async function openCache(): Promise<Cache | null> {
  try {
    return "caches" in globalThis ? await caches.open(MODEL_CACHE) : null;
  } catch {
    return null;
  }
}

/** Four decimals are plenty for a pixel and keep the request small. */
function roundPixel(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}
