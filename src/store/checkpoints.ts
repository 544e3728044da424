/**
 * Training checkpoints in Deno KV, so a run survives its instance being
 * evicted. Each save writes a new generation of chunks, then switches the
 * checkpoint's meta record to it in one atomic step, then deletes the previous
 * generation: a process killed at any moment leaves the last complete
 * checkpoint readable.
 *
 * @module
 */

import {
  type Checkpoint,
  decodeCheckpoint,
  encodeCheckpoint,
} from "../nn/checkpoint_file.ts";
import { crc32 } from "../nn/crc32.ts";
import { deletePrefix, readChunks, writeChunks } from "./chunks.ts";
import { keys } from "./keys.ts";

/** The record that says which generation of a checkpoint is complete. */
export interface CheckpointMeta {
  generation: number;
  byteLength: number;
  chunkCount: number;
  checksum: number;
  savedAt: string;
  /** Optimizer steps done at this checkpoint. */
  steps: number;
}

/** Saves a checkpoint for `jobId`, replacing the previous one only once the new one is complete. */
export async function saveCheckpoint(
  kv: Deno.Kv,
  jobId: string,
  checkpoint: Checkpoint<unknown>,
): Promise<CheckpointMeta> {
  const bytes = encodeCheckpoint(checkpoint);
  const metaKey = keys.checkpointMeta(jobId);
  const previous = await kv.get<CheckpointMeta>(metaKey);
  const generation = (previous.value?.generation ?? 0) + 1;
  const chunkCount = await writeChunks(
    kv,
    bytes,
    (i) => keys.checkpointChunk(jobId, generation, i),
  );
  const meta: CheckpointMeta = {
    generation,
    byteLength: bytes.length,
    chunkCount,
    checksum: crc32(bytes),
    savedAt: new Date().toISOString(),
    steps: checkpoint.state.steps,
  };
  const result = await kv.atomic().check(previous).set(metaKey, meta).commit();
  if (!result.ok) {
    await deletePrefix(kv, keys.checkpointChunkPrefix(jobId, generation));
    throw new Error(
      `Cannot save the checkpoint of ${jobId}: another writer saved one meanwhile`,
    );
  }
  if (previous.value) {
    await deletePrefix(
      kv,
      keys.checkpointChunkPrefix(jobId, previous.value.generation),
    );
  }
  return meta;
}

/** The latest complete checkpoint of `jobId`, or null when there is none. */
export async function loadCheckpoint<Meta = Record<string, unknown>>(
  kv: Deno.Kv,
  jobId: string,
): Promise<Checkpoint<Meta> | null> {
  const meta = (await kv.get<CheckpointMeta>(keys.checkpointMeta(jobId))).value;
  if (!meta) return null;
  const bytes = await readChunks(
    kv,
    meta.chunkCount,
    meta.byteLength,
    (i) => keys.checkpointChunk(jobId, meta.generation, i),
  );
  if (crc32(bytes) !== meta.checksum) {
    throw new SyntaxError(
      `Cannot load the checkpoint of ${jobId} as its checksum does not match`,
    );
  }
  return decodeCheckpoint<Meta>(bytes);
}

/**
 * Deletes every trace of `jobId`'s checkpoint: the chunks first, the record
 * last, so a process killed midway leaves a record that still says there is
 * something to delete (and a second call finishes the job), never orphan
 * chunks that nothing points at.
 */
export async function deleteCheckpoint(
  kv: Deno.Kv,
  jobId: string,
): Promise<void> {
  await deletePrefix(kv, keys.checkpointChunksPrefix(jobId));
  await deletePrefix(kv, keys.checkpointPrefix(jobId));
}
