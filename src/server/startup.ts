/**
 * What a fresh server starts with:
 *
 * - the model that ships with the repository (static/models/default.zifr,
 *   written by `deno task default-model`), served when there is no Deno KV,
 *   and stored and activated in KV when KV holds no model yet — so the first
 *   request after a deploy gets an answer instead of a 503;
 * - the config trained in the background at start-up only when there is no
 *   shipped model (the "quick" preset: an MLP that trains in well under a
 *   minute on one core).
 *
 * Why not train at start-up when the shipped model exists: it was trained
 * from the same data with a larger preset ("default", a small CNN), so a
 * start-up run of "quick" would not beat it ("if-better" would keep the
 * shipped one), while it would cost an edge instance a core for half a
 * minute. Better models come from `deno task train` + `deno task push`, or
 * `POST /api/train`.
 *
 * @module
 */

import { decodeModel, type Model } from "../nn/model_file.ts";
import { ConflictError } from "../store/errors.ts";
import { keys } from "../store/keys.ts";
import {
  type ActivePointer,
  getActivePointer,
  getModelMeta,
  saveModelBytes,
} from "../store/models.ts";
import { type TrainConfig, validateTrainConfig } from "../training/config.ts";
import type { Log } from "./log.ts";
import type { ModelService } from "./model_service.ts";

/** The start-up training config (fields not named take the preset's and the defaults' values). */
export const STARTUP_TRAIN_CONFIG: Readonly<TrainConfig> = Object.freeze(
  validateTrainConfig({
    // MLP 784-128-10 with dropout and augmentation (src/nn/presets.ts).
    arch: "quick",
    // The seed of every shipped and start-up run.
    seed: 42,
  }),
);

/** The shipped model file, relative to this module. */
export const BUNDLED_MODEL_URL = new URL(
  "../../static/models/default.zifr",
  import.meta.url,
);

/** A model file read from disk: the decoded model and its exact bytes. */
export interface BundledModel {
  model: Model;
  bytes: Uint8Array;
}

/**
 * Reads and verifies the shipped model; null when the file does not exist.
 * A file that exists but does not decode is an error (a broken deploy).
 *
 * @example
 * ```ts ignore
 * const bundled = await loadBundledModel();
 * console.log(bundled?.model.metrics.testAccuracy);
 * ```
 */
export async function loadBundledModel(
  url: URL = BUNDLED_MODEL_URL,
): Promise<BundledModel | null> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(url);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  try {
    return { model: decodeModel(bytes), bytes };
  } catch (e) {
    throw new SyntaxError(
      `Cannot use the shipped model ${url.pathname}: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

/**
 * Stores the shipped model in KV and activates it, when KV names no active
 * model yet; returns whether it did. Activation is one atomic step that
 * checks the pointer is still empty, so an instance starting at the same
 * time as an admin's activation never overrides it, and two instances
 * seeding at once agree.
 *
 * (The pointer record's shape belongs to src/store/models.ts; this writes it
 * only through `keys.activeModel()` and the `ActivePointer` type.)
 */
export async function seedBundledModel(
  kv: Deno.Kv,
  bundled: BundledModel,
  { models, log }: { models: ModelService; log: Log },
): Promise<boolean> {
  for (let attempt = 1;; attempt++) {
    try {
      return await seedOnce(kv, bundled, { models, log });
    } catch (e) {
      // Several processes opening one new SQLite file at once (`deno serve
      // --parallel`) can find it locked; a hosted KV does not do that.
      if (/database is locked/i.test(String(e)) && attempt < 5) {
        await new Promise((r) => setTimeout(r, 50 * attempt));
        continue;
      }
      log.warn(
        `Cannot store the shipped model in KV, serving it from the file: ${
          (e as Error).message
        }`,
      );
      return false;
    }
  }
}

async function seedOnce(
  kv: Deno.Kv,
  bundled: BundledModel,
  { models, log }: { models: ModelService; log: Log },
): Promise<boolean> {
  if (await getActivePointer(kv)) return false;
  const { id } = bundled.model;
  if (!(await getModelMeta(kv, id))) {
    try {
      await saveModelBytes(kv, bundled.bytes);
    } catch (e) {
      // Another instance is storing the same file right now: let it.
      if (!(e instanceof ConflictError)) throw e;
      return false;
    }
  }
  const pointer: ActivePointer = { id, activatedAt: new Date().toISOString() };
  const key = keys.activeModel();
  const done = await kv.atomic().check({ key, versionstamp: null })
    .set(key, pointer).commit();
  if (!done.ok) return false;
  log.info(
    `KV held no model: stored and activated the shipped model ${id} (test accuracy ${
      (bundled.model.metrics.testAccuracy * 100).toFixed(2)
    }%)`,
  );
  await models.show(pointer).catch(() => {});
  return true;
}
