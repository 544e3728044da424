/**
 * Storing byte strings larger than one KV value (64 KiB) as numbered chunks.
 * Chunks are written in several atomic commits (one commit may carry at most
 * 800 KiB), so a writer that dies midway leaves chunks without the record
 * that points at them; callers write that record last, and readers only
 * follow a record, so they never see a partial byte string.
 *
 * @module
 */

import { CorruptRecordError } from "./errors.ts";
import type { Key } from "./keys.ts";

/** Bytes per chunk: under Deno KV's 65,536-byte value limit with room to spare. */
export const CHUNK_BYTES = 60_000;
/** Chunks per atomic commit: 10 × 60,000 B stays under the 819,200-byte commit limit. */
const CHUNKS_PER_COMMIT = 10;
/** Keys per `getMany` call (Deno KV's limit). */
const KEYS_PER_GET = 10;

/** Writes `bytes` as chunks under `keyOf(0)`, `keyOf(1)`, …; returns the chunk count. */
export async function writeChunks(
  kv: Deno.Kv,
  bytes: Uint8Array,
  keyOf: (index: number) => Key,
): Promise<number> {
  const count = Math.max(1, Math.ceil(bytes.length / CHUNK_BYTES));
  for (let first = 0; first < count; first += CHUNKS_PER_COMMIT) {
    const op = kv.atomic();
    for (let i = first; i < Math.min(count, first + CHUNKS_PER_COMMIT); i++) {
      op.set(keyOf(i), bytes.slice(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));
    }
    const result = await op.commit();
    if (!result.ok) {
      throw new Error(`Cannot write chunks ${first}..: the commit was refused`);
    }
  }
  return count;
}

/**
 * Reads `count` chunks back and joins them; throws a CorruptRecordError when
 * one is missing or not bytes, or the total length is not `byteLength`.
 */
export async function readChunks(
  kv: Deno.Kv,
  count: number,
  byteLength: number,
  keyOf: (index: number) => Key,
): Promise<Uint8Array> {
  const out = new Uint8Array(byteLength);
  let offset = 0;
  for (let first = 0; first < count; first += KEYS_PER_GET) {
    const ks: Key[] = [];
    for (let i = first; i < Math.min(count, first + KEYS_PER_GET); i++) {
      ks.push(keyOf(i));
    }
    const entries = await kv.getMany<Uint8Array[]>(ks);
    for (const entry of entries) {
      if (!(entry.value instanceof Uint8Array)) {
        throw new CorruptRecordError(
          `Cannot read stored bytes as chunk ${entry.key.join("/")} is missing${
            entry.value === null
              ? ""
              : ` (the value there is not bytes: got ${typeof entry.value})`
          }`,
        );
      }
      if (offset + entry.value.length > byteLength) {
        throw new CorruptRecordError(
          `Cannot read stored bytes as the chunks hold more than the recorded ${byteLength} bytes`,
        );
      }
      out.set(entry.value, offset);
      offset += entry.value.length;
    }
  }
  if (offset !== byteLength) {
    throw new CorruptRecordError(
      `Cannot read stored bytes as the chunks hold ${offset} bytes: recorded ${byteLength}`,
    );
  }
  return out;
}

/** Deletes every key under `prefix` (in commits of at most 100 deletions). */
export async function deletePrefix(kv: Deno.Kv, prefix: Key): Promise<void> {
  let op = kv.atomic();
  let pending = 0;
  for await (const entry of kv.list({ prefix })) {
    op.delete(entry.key);
    if (++pending === 100) {
      await op.commit();
      op = kv.atomic();
      pending = 0;
    }
  }
  if (pending) await op.commit();
}
