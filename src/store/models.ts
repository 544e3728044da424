/**
 * Models in Deno KV: save (chunked, immutable), activate (one atomic pointer
 * switch), load, list, delete, and watch the active pointer.
 *
 * Saving writes the chunks first and the metadata record last, in its own
 * atomic commit that checks the id is new; activation is a separate atomic
 * step that checks the model's record exists. So a reader that follows the
 * pointer always finds a complete model, and a writer killed at any moment
 * leaves at worst orphan chunks (see {@link removeOrphanChunks}), never a
 * half model.
 *
 * Records are checked when read: a metadata record or pointer that is not
 * what this module writes (corrupt, or another program's data under our key)
 * is a {@link CorruptRecordError} naming the key, is never followed into a
 * huge allocation, and is never overwritten — saving refuses its id,
 * activation refuses to replace such a pointer or to point at such a record.
 *
 * @module
 */

import {
  decodeModel,
  encodeModel,
  infoOf,
  type Model,
  type ModelInfo,
} from "../nn/model_file.ts";
import { MAX_PARAMETERS } from "../nn/network.ts";
import { deletePrefix, readChunks, writeChunks } from "./chunks.ts";
import { ConflictError, CorruptRecordError, NotFoundError } from "./errors.ts";
import { keys } from "./keys.ts";

/** What KV holds about a stored model (its metadata record). */
export interface StoredModelMeta {
  info: ModelInfo;
  /** Length of the model file in bytes. */
  byteLength: number;
  chunkCount: number;
  /** CRC-32 of the whole model file. */
  checksum: number;
  /** ISO time the model was stored. */
  savedAt: string;
}

/** The active-model pointer. */
export interface ActivePointer {
  id: string;
  activatedAt: string;
}

/** A loaded model with its file bytes and stored metadata. */
export interface LoadedModel {
  model: Model;
  bytes: Uint8Array;
  meta: StoredModelMeta;
}

const ID_PATTERN = /^[a-z0-9-]{1,64}$/;

/** How long an id stays reserved by a save that has not finished (then another may retry). */
const SAVE_RESERVATION_MS = 30_000;

/**
 * The checksum a model file records in its 4-byte trailer: the CRC-32 of
 * everything before it (the CRC of the whole file, trailer included, is the
 * same constant for every valid file). Read, not recomputed: callers run
 * `decodeModel` first, which verifies it.
 */
export function fileChecksum(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .getUint32(bytes.length - 4, true);
}

/**
 * A new model id that sorts by creation time: `m-<ms since epoch, base 36>-<random>`.
 */
export function newModelId(now = Date.now()): string {
  const random = crypto.getRandomValues(new Uint8Array(4));
  return `m-${now.toString(36).padStart(9, "0")}-${
    [...random].map((b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/** Throws a RangeError unless `id` looks like a model id (so keys stay well-formed). */
export function checkModelId(id: string): void {
  if (typeof id !== "string" || !ID_PATTERN.test(id)) {
    throw new RangeError(
      `Cannot use the model id as it must be 1–64 characters of a–z, 0–9 and "-": got ${
        JSON.stringify(id)
      }`,
    );
  }
}

/**
 * Stores a model under its id. Refuses (ConflictError) when the id exists:
 * stored models are immutable.
 */
export async function saveModel(
  kv: Deno.Kv,
  model: Model,
): Promise<StoredModelMeta> {
  checkModelId(model.id);
  const bytes = encodeModel(model);
  return await saveModelBytes(kv, bytes);
}

/**
 * Stores an encoded model file after decoding it (which checks magic,
 * version, checksum and architecture). Returns the stored metadata.
 */
export async function saveModelBytes(
  kv: Deno.Kv,
  bytes: Uint8Array,
): Promise<StoredModelMeta> {
  const model = decodeModel(bytes);
  checkModelId(model.id);
  const metaKey = keys.modelMeta(model.id);
  const exists = () =>
    new ConflictError(
      `Cannot store model ${model.id} as a model with that id exists`,
    );
  // Reserve the id first, so two saves of one id can never interleave their
  // chunks; a reservation left by a writer that died expires.
  const savingKey = keys.modelSaving(model.id);
  const [meta0, saving] = await kv.getMany<
    [StoredModelMeta, { expiresAt: number }]
  >([
    metaKey,
    savingKey,
  ]);
  if (meta0.value !== null) throw exists();
  if (saving.value && saving.value.expiresAt > Date.now()) {
    throw new ConflictError(
      `Cannot store model ${model.id} as another save of it is in progress`,
    );
  }
  const reserved = await kv.atomic().check(meta0).check(saving)
    .set(savingKey, { expiresAt: Date.now() + SAVE_RESERVATION_MS }).commit();
  if (!reserved.ok) {
    throw new ConflictError(
      `Cannot store model ${model.id} as another save of it is in progress`,
    );
  }
  const chunkCount = await writeChunks(
    kv,
    bytes,
    (i) => keys.modelChunk(model.id, i),
  );
  const meta: StoredModelMeta = {
    info: infoOf(model),
    byteLength: bytes.length,
    chunkCount,
    checksum: fileChecksum(bytes),
    savedAt: new Date().toISOString(),
  };
  const result = await kv.atomic().check({ key: metaKey, versionstamp: null })
    .set(metaKey, meta)
    .delete(savingKey).commit();
  if (!result.ok) throw exists();
  return meta;
}

/** The largest model file a record may describe: MAX_PARAMETERS float32 weights plus 1 MiB of header. */
const MAX_MODEL_BYTES = 4 * MAX_PARAMETERS + (1 << 20);

/**
 * Checks that `value`, read from `keys.modelMeta(id)`, is the metadata record
 * of model `id`; throws a CorruptRecordError naming the key otherwise.
 */
export function readModelMeta(value: unknown, id: string): StoredModelMeta {
  const m = value as StoredModelMeta;
  const ok = isRecord(value) && isRecord(m.info) && m.info.id === id &&
    Number.isSafeInteger(m.byteLength) && m.byteLength > 0 &&
    m.byteLength <= MAX_MODEL_BYTES && Number.isSafeInteger(m.chunkCount) &&
    m.chunkCount >= 1 && m.chunkCount <= m.byteLength &&
    Number.isInteger(m.checksum) && m.checksum >= 0 &&
    m.checksum <= 0xffffffff && typeof m.savedAt === "string";
  if (!ok) {
    throw new CorruptRecordError(
      `Cannot read model ${id} as its KV record ${
        JSON.stringify(keys.modelMeta(id))
      } is not a model record (corrupt, or written by another program): got ${
        describeValue(value)
      }`,
    );
  }
  return m;
}

/**
 * Checks that `value`, read from `keys.activeModel()`, is an active-model
 * pointer (or null: none); throws a CorruptRecordError otherwise.
 */
export function readActivePointer(value: unknown): ActivePointer | null {
  if (value === null) return null;
  const p = value as ActivePointer;
  if (
    isRecord(value) && typeof p.id === "string" && ID_PATTERN.test(p.id) &&
    typeof p.activatedAt === "string"
  ) {
    return p;
  }
  throw new CorruptRecordError(
    `Cannot read the active model pointer as its KV record ${
      JSON.stringify(keys.activeModel())
    } is not a pointer (corrupt, or written by another program): got ${
      describeValue(value)
    }`,
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null &&
    !Array.isArray(value) && !ArrayBuffer.isView(value);
}

/** A short description of a stored value for an error message. */
function describeValue(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  let text: string;
  try {
    text = JSON.stringify(value, (_, v) =>
      typeof v === "bigint" ? `${v}n` : v) ??
      String(value);
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

/** The metadata of one model, or null; a CorruptRecordError if its record is not one. */
export async function getModelMeta(
  kv: Deno.Kv,
  id: string,
): Promise<StoredModelMeta | null> {
  checkModelId(id);
  const { value } = await kv.get<unknown>(keys.modelMeta(id));
  return value === null ? null : readModelMeta(value, id);
}

/** Loads and verifies a stored model; NotFoundError when there is none with that id. */
export async function loadModel(kv: Deno.Kv, id: string): Promise<LoadedModel> {
  const meta = await getModelMeta(kv, id);
  if (!meta) {
    throw new NotFoundError(
      `Cannot load model ${id} as no such model is stored`,
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = await readChunks(
      kv,
      meta.chunkCount,
      meta.byteLength,
      (i) => keys.modelChunk(id, i),
    );
  } catch (e) {
    if (!(e instanceof CorruptRecordError)) throw e;
    throw new CorruptRecordError(
      `Cannot load model ${id} as its stored file is damaged: ${e.message}`,
      { cause: e },
    );
  }
  // decodeModel verifies the file's own CRC; the record must name that same file.
  let model: Model;
  try {
    model = decodeModel(bytes);
  } catch (e) {
    throw new CorruptRecordError(
      `Cannot load model ${id} as its stored file is damaged: ${
        (e as Error).message
      }`,
      { cause: e },
    );
  }
  const checksum = fileChecksum(bytes);
  if (checksum !== meta.checksum) {
    throw new CorruptRecordError(
      `Cannot load model ${id} as its bytes do not match the stored checksum: got ${checksum}, expected ${meta.checksum}`,
    );
  }
  return { model, bytes, meta };
}

/**
 * The active-model pointer, or null when no model has been activated; a
 * CorruptRecordError when the record is not a pointer.
 */
export async function getActivePointer(
  kv: Deno.Kv,
): Promise<ActivePointer | null> {
  return readActivePointer((await kv.get<unknown>(keys.activeModel())).value);
}

/** Loads the active model, or returns null when there is none. */
export async function loadActiveModel(
  kv: Deno.Kv,
): Promise<LoadedModel | null> {
  const pointer = await getActivePointer(kv);
  return pointer ? await loadModel(kv, pointer.id) : null;
}

/**
 * Makes model `id` the active one in one atomic step that checks the model's
 * record still exists (so a concurrent delete cannot leave a dangling pointer).
 * Refuses (CorruptRecordError) when the model's record or the current pointer
 * is not what this module writes: such data is reported, never replaced.
 */
export async function activateModel(
  kv: Deno.Kv,
  id: string,
): Promise<ActivePointer> {
  checkModelId(id);
  const metaKey = keys.modelMeta(id);
  const [meta, current] = await kv.getMany<[unknown, unknown]>([
    metaKey,
    keys.activeModel(),
  ]);
  if (meta.value === null) {
    throw new NotFoundError(
      `Cannot activate model ${id} as no such model is stored`,
    );
  }
  readModelMeta(meta.value, id);
  readActivePointer(current.value);
  const pointer: ActivePointer = { id, activatedAt: new Date().toISOString() };
  const result = await kv.atomic().check(meta).set(keys.activeModel(), pointer)
    .commit();
  if (!result.ok) {
    throw new ConflictError(
      `Cannot activate model ${id} as it changed while activating`,
    );
  }
  return pointer;
}

/** Metadata of every stored model, newest first; a CorruptRecordError names the first record that is not one. */
export async function listModels(kv: Deno.Kv): Promise<StoredModelMeta[]> {
  const out: StoredModelMeta[] = [];
  for await (
    const entry of kv.list<unknown>(
      { prefix: keys.modelMetaPrefix() },
      { reverse: true },
    )
  ) {
    out.push(readModelMeta(entry.value, String(entry.key[1])));
  }
  return out;
}

/**
 * Deletes a stored model. Refuses (ConflictError) to delete the active model;
 * activate another one first.
 */
export async function deleteModel(kv: Deno.Kv, id: string): Promise<void> {
  checkModelId(id);
  const metaKey = keys.modelMeta(id);
  const [meta, active] = await kv.getMany<[StoredModelMeta, ActivePointer]>([
    metaKey,
    keys.activeModel(),
  ]);
  if (meta.value === null) {
    throw new NotFoundError(
      `Cannot delete model ${id} as no such model is stored`,
    );
  }
  if (active.value?.id === id) {
    throw new ConflictError(
      `Cannot delete model ${id} as it is the active model: activate another one first`,
    );
  }
  // The record goes first (checked against a concurrent activation), then the chunks.
  const result = await kv.atomic().check(meta).check(active).delete(metaKey)
    .commit();
  if (!result.ok) {
    throw new ConflictError(
      `Cannot delete model ${id} as it changed while deleting`,
    );
  }
  await deletePrefix(kv, keys.modelChunkPrefix(id));
}

/**
 * Deletes chunks that no metadata record points at (left by a writer that
 * died before finishing). Returns the ids whose chunks were removed.
 * `olderThanMs` protects saves still in progress: ids created more recently
 * are left alone.
 */
export async function removeOrphanChunks(
  kv: Deno.Kv,
  { olderThanMs = 10 * 60_000, now = Date.now() } = {},
): Promise<string[]> {
  const seen = new Set<string>();
  for await (const entry of kv.list({ prefix: keys.allModelChunks() })) {
    seen.add(String(entry.key[1]));
  }
  const removed: string[] = [];
  for (const id of seen) {
    if (!ID_PATTERN.test(id)) continue;
    const created = parseInt(id.split("-")[1] ?? "", 36);
    if (Number.isFinite(created) && now - created < olderThanMs) continue;
    if ((await kv.get(keys.modelMeta(id))).value === null) {
      await deletePrefix(kv, keys.modelChunkPrefix(id));
      removed.push(id);
    }
  }
  return removed;
}

/**
 * Calls `onChange` with the active pointer now and whenever it changes.
 * Returns a function that stops watching.
 *
 * Measured here: on a local SQLite file, `kv.watch` reports writes made
 * through this process's handles but not those of another process, so
 * servers that share a file also re-read the pointer periodically
 * (src/server/model_service.ts); on Deno Deploy's managed KV a watch sees
 * every writer.
 */
export function watchActivePointer(
  kv: Deno.Kv,
  onChange: (pointer: ActivePointer | null) => void,
): () => void {
  const stream = kv.watch<[ActivePointer]>([keys.activeModel()]);
  const reader = stream.getReader();
  let stopped = false;
  (async () => {
    try {
      while (!stopped) {
        const { value, done } = await reader.read();
        if (done) break;
        let pointer: ActivePointer | null;
        try {
          pointer = readActivePointer(value[0].value);
        } catch {
          // Not a pointer (see readActivePointer): nothing to follow; keep watching.
          continue;
        }
        onChange(pointer);
      }
    } catch {
      // The KV was closed: nothing more to watch.
    }
  })();
  return () => {
    stopped = true;
    reader.cancel().catch(() => {});
  };
}
