/**
 * The checkpoint file: a {@link TrainerState} (weights, optimizer state, PRNG
 * state, epoch and batch position, example order) plus caller metadata, as
 * bytes, so a training run killed at any moment can continue from its last
 * checkpoint and end with exactly the weights of a run that never stopped.
 *
 * Unlike the model file, everything numeric is stored at full precision
 * (float64 parameters and optimizer moments): resuming must be bit-exact.
 *
 *   offset  size  field
 *   0       4     magic "ZCKP"
 *   4       2     format version (1)
 *   6       2     reserved, 0
 *   8       4     H = byte length of the header
 *   12      H     header: UTF-8 JSON {meta, epoch, batch, steps, lossSum, lossCount,
 *                 random: [4 words], params: [lengths], optimizer: [lengths], order: length}
 *   …       0–7   zero padding to a multiple of 8
 *   …             params (float64 ×Σ), optimizer state (float64 ×Σ), order (uint32)
 *   end−4   4     CRC-32 of every byte before it
 *
 * @module
 */

import { crc32 } from "./crc32.ts";
import type { TrainerState } from "./trainer.ts";

/** "ZCKP" */
export const CHECKPOINT_MAGIC = 0x504b435a;
/** The checkpoint format version this code writes and reads. */
export const CHECKPOINT_FORMAT_VERSION = 1;

/** A trainer state with the caller's JSON metadata (job, config, curve so far). */
export interface Checkpoint<Meta = Record<string, unknown>> {
  meta: Meta;
  state: TrainerState;
}

interface Header {
  meta: unknown;
  epoch: number;
  batch: number;
  steps: number;
  lossSum: number;
  lossCount: number;
  random: number[];
  params: number[];
  optimizer: number[];
  order: number;
}

/** Encodes a checkpoint as bytes. */
export function encodeCheckpoint(checkpoint: Checkpoint<unknown>): Uint8Array {
  const { state } = checkpoint;
  const header: Header = {
    meta: checkpoint.meta,
    epoch: state.epoch,
    batch: state.batch,
    steps: state.steps,
    lossSum: state.lossSum,
    lossCount: state.lossCount,
    random: [...state.random],
    params: state.params.map((p) => p.length),
    optimizer: state.optimizer.map((s) => s.length),
    order: state.order.length,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((12 + json.length) / 8) * 8;
  const floats = [...state.params, ...state.optimizer];
  const floatCount = floats.reduce((s, a) => s + a.length, 0);
  const total = start + floatCount * 8 + state.order.length * 4 + 4;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, CHECKPOINT_MAGIC, true);
  view.setUint16(4, CHECKPOINT_FORMAT_VERSION, true);
  view.setUint32(8, json.length, true);
  bytes.set(json, 12);
  let o = start;
  for (const a of floats) {
    for (let i = 0; i < a.length; i++, o += 8) view.setFloat64(o, a[i], true);
  }
  for (let i = 0; i < state.order.length; i++, o += 4) {
    view.setUint32(o, state.order[i], true);
  }
  view.setUint32(total - 4, crc32(bytes.subarray(0, total - 4)), true);
  return bytes;
}

/** Decodes bytes written by {@link encodeCheckpoint}; throws a SyntaxError saying what is wrong. */
export function decodeCheckpoint<Meta = Record<string, unknown>>(
  bytes: Uint8Array,
): Checkpoint<Meta> {
  const fail = (why: string): never => {
    throw new SyntaxError(`Cannot read the checkpoint as ${why}`);
  };
  if (bytes.length < 16) fail(`it is too short: got ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== CHECKPOINT_MAGIC) {
    fail('it does not start with "ZCKP"');
  }
  const version = view.getUint16(4, true);
  if (version !== CHECKPOINT_FORMAT_VERSION) {
    fail(
      `its format version must be ${CHECKPOINT_FORMAT_VERSION}: got ${version}`,
    );
  }
  if (
    view.getUint32(bytes.length - 4, true) !==
      crc32(bytes.subarray(0, bytes.length - 4))
  ) {
    fail("its checksum does not match (corrupt or truncated)");
  }
  const length = view.getUint32(8, true);
  if (12 + length > bytes.length) {
    fail(`its header length is out of range: got ${length}`);
  }
  let header: Header;
  try {
    header = JSON.parse(
      new TextDecoder().decode(bytes.subarray(12, 12 + length)),
    );
  } catch (e) {
    return fail(`its header is not valid JSON: ${(e as Error).message}`);
  }
  const start = Math.ceil((12 + length) / 8) * 8;
  const floatCount = [...header.params, ...header.optimizer].reduce(
    (s, n) => s + n,
    0,
  );
  if (start + floatCount * 8 + header.order * 4 + 4 !== bytes.length) {
    fail(`its length does not match its header: got ${bytes.length} bytes`);
  }
  let o = start;
  const readFloats = (n: number) => {
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++, o += 8) a[i] = view.getFloat64(o, true);
    return a;
  };
  const params = header.params.map(readFloats);
  const optimizer = header.optimizer.map(readFloats);
  const order = new Uint32Array(header.order);
  for (let i = 0; i < header.order; i++, o += 4) {
    order[i] = view.getUint32(o, true);
  }
  return {
    meta: header.meta as Meta,
    state: {
      epoch: header.epoch,
      batch: header.batch,
      steps: header.steps,
      lossSum: header.lossSum,
      lossCount: header.lossCount,
      random: Uint32Array.from(header.random),
      params,
      optimizer,
      order,
    },
  };
}
