/**
 * The model this instance predicts with. It holds one immutable
 * {@link ServedModel} (network, metadata, file bytes) and replaces the whole
 * reference when the active pointer in KV changes — in this process or any
 * other sharing the KV. It watches the pointer (`watchActivePointer`: at once
 * within a process and on Deno Deploy) and also re-reads it every `pollMs`,
 * because a watch on a local SQLite file misses other processes' writes
 * (measured: a second `deno run` activating a model is never seen by the
 * watch). A prediction takes the
 * reference once and runs on it, so it always uses one complete model, even
 * while a new one is loading.
 *
 * @module
 */

import { argmax, normalizeProbabilities } from "../nn/metrics.ts";
import {
  decodeModel,
  infoOf,
  type Model,
  type ModelInfo,
  networkFromModel,
} from "../nn/model_file.ts";
import { encodeModel } from "../nn/model_file.ts";
import type { Network } from "../nn/network.ts";
import {
  type ActivePointer,
  getActivePointer,
  loadModel,
  watchActivePointer,
} from "../store/models.ts";
import type { Log } from "./log.ts";

/**
 * Where a served model came from: "kv" — the active model of Deno KV;
 * "bundled" — the file shipped with the repository (static/models), served
 * while KV is unavailable or names no model this instance could load.
 */
export type ModelSource = "kv" | "bundled";

/** A model ready to predict with. Never mutated after it is built. */
export interface ServedModel {
  readonly info: ModelInfo;
  readonly source: ModelSource;
  readonly network: Network;
  /** The encoded model file (what `GET /api/model/file` sends). */
  readonly bytes: Uint8Array;
  /** The HTTP entity tag of the file: the model id, quoted. */
  readonly etag: string;
  /** When it became the active model (ISO), if known. */
  readonly activatedAt: string | null;
}

/** One image's prediction. */
export interface Prediction {
  digit: number;
  /** The probability of `digit`. */
  confidence: number;
  /** Ten probabilities that sum to 1. */
  probabilities: number[];
}

/** Builds a served model from a decoded model and its file bytes. */
export function serveModel(
  model: Model,
  { bytes = encodeModel(model), activatedAt = null, source = "kv" }: {
    bytes?: Uint8Array;
    activatedAt?: string | null;
    source?: ModelSource;
  } = {},
): ServedModel {
  return Object.freeze({
    info: infoOf(model),
    source,
    network: networkFromModel(model),
    bytes,
    etag: `"${model.id}"`,
    activatedAt,
  });
}

/**
 * Runs `count` images (row-major in `x`) through a served model. Outputs are
 * normalised to sum to 1 (sigmoid outputs of MSE-trained networks do not).
 */
export function predictWith(
  served: ServedModel,
  x: Float64Array,
  count: number,
): Prediction[] {
  const { network } = served;
  if (x.length !== count * network.inputSize) {
    throw new TypeError(
      `Cannot predict as ${count} images need ${
        count * network.inputSize
      } values for model ${served.info.id}: got ${x.length}`,
    );
  }
  const a = network.forward(x, count, false);
  const classes = network.outputSize;
  const out: Prediction[] = [];
  for (let r = 0; r < count; r++) {
    const probabilities = normalizeProbabilities(
      a.subarray(r * classes, (r + 1) * classes),
    );
    const digit = argmax(probabilities);
    out.push({ digit, confidence: probabilities[digit], probabilities });
  }
  return out;
}

/** Keeps the active model of one instance and follows the pointer in KV. */
export class ModelService {
  readonly #kv: Deno.Kv | null;
  readonly #log: Log;
  #current: ServedModel | null = null;
  /** The model id the pointer names, as far as we know. */
  #wanted: ActivePointer | null = null;
  /** Loads run one at a time, each for the newest wanted id. */
  #chain: Promise<void> = Promise.resolve();
  #stopWatching: (() => void) | null = null;
  readonly #pollMs: number;
  #pollTimer: ReturnType<typeof setInterval> | null = null;
  readonly #listeners = new Set<(served: ServedModel) => void>();

  /**
   * @param pollMs how often to re-read the pointer besides watching it (0 = never):
   *   a KV watch on a local SQLite file does not see other processes' writes.
   */
  constructor(
    { kv, log, pollMs = 2_000 }: {
      kv: Deno.Kv | null;
      log: Log;
      pollMs?: number;
    },
  ) {
    this.#kv = kv;
    this.#log = log;
    this.#pollMs = pollMs;
  }

  /** The model predictions use now, or null while there is none. */
  get current(): ServedModel | null {
    return this.#current;
  }

  /**
   * Loads the active model (if KV has one) and starts following the pointer.
   * Resolves once the initial model is loaded. A model that fails to load is
   * logged and the instance keeps what it has.
   */
  async start(): Promise<void> {
    const kv = this.#kv;
    if (!kv) return;
    // A corrupt pointer must not stop the instance: it keeps what it has (e.g. the bundled model).
    const pointer = await getActivePointer(kv).catch((e) => {
      this.#log.error(
        `Cannot read the active-model pointer: ${(e as Error).message}`,
      );
      return null;
    });
    if (pointer) await this.show(pointer).catch(() => {});
    this.#stopWatching = watchActivePointer(kv, (p) => {
      if (p) this.show(p).catch(() => {});
    });
    if (this.#pollMs > 0) {
      const timer = setInterval(() => {
        getActivePointer(kv).then((p) => {
          if (p && p.id !== this.#wanted?.id) this.show(p).catch(() => {});
        }, () => {});
      }, this.#pollMs);
      Deno.unrefTimer(timer);
      this.#pollTimer = timer;
    }
  }

  /**
   * Makes this instance predict with the model `pointer` names: loads it from
   * KV unless it is already current. Resolves when the swap is done; rejects
   * (and keeps the current model) when it cannot be loaded.
   */
  show(pointer: ActivePointer): Promise<void> {
    this.#wanted = pointer;
    const run = this.#chain.then(() => this.#sync());
    this.#chain = run.catch(() => {});
    return run;
  }

  /**
   * Predicts with a given model directly (the shipped model of an instance
   * without KV, and tests). A later activation in KV replaces it.
   */
  use(
    model: Model,
    { activatedAt = null, source = "bundled", bytes }: {
      activatedAt?: string | null;
      source?: ModelSource;
      bytes?: Uint8Array;
    } = {},
  ): void {
    this.#swap(serveModel(model, { activatedAt, source, bytes }));
  }

  /** Calls `listener` after every swap; returns a function that unsubscribes. */
  onSwap(listener: (served: ServedModel) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops following the pointer and waits for a load in progress. */
  async close(): Promise<void> {
    this.#stopWatching?.();
    this.#stopWatching = null;
    if (this.#pollTimer !== null) clearInterval(this.#pollTimer);
    this.#pollTimer = null;
    await this.#chain;
  }

  async #sync(): Promise<void> {
    const wanted = this.#wanted;
    const kv = this.#kv;
    if (!wanted || !kv) return;
    const current = this.#current;
    if (current?.info.id === wanted.id) {
      // The same model (e.g. the shipped one, now also activated in KV): no reload.
      if (
        current.source !== "kv" || current.activatedAt !== wanted.activatedAt
      ) {
        this.#current = Object.freeze({
          ...current,
          source: "kv" as const,
          activatedAt: wanted.activatedAt,
        });
      }
      return;
    }
    try {
      const { model, bytes } = await loadModel(kv, wanted.id);
      // decodeModel verified the file; the bytes are what clients download.
      this.#swap(
        serveModel(model, {
          bytes,
          activatedAt: wanted.activatedAt,
          source: "kv",
        }),
      );
    } catch (e) {
      this.#log.error(
        `Cannot load model ${wanted.id}, still serving ${
          this.#current?.info.id ?? "no model"
        }: ${(e as Error).message}`,
      );
      throw e;
    }
  }

  #swap(served: ServedModel): void {
    const previous = this.#current?.info.id ?? "none";
    this.#current = served;
    this.#log.info(
      `serving model ${served.info.id} from ${served.source} (was ${previous}, test accuracy ${
        (served.info.metrics.testAccuracy * 100).toFixed(2)
      }%)`,
    );
    for (const listener of this.#listeners) listener(served);
  }
}

/** Decodes model file bytes into a served model (for uploads and tests). */
export function serveModelBytes(bytes: Uint8Array): ServedModel {
  return serveModel(decodeModel(bytes), { bytes });
}
