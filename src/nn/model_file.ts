/**
 * The model file: a network's weights plus everything needed to trust and
 * reproduce them, as bytes (for Deno KV, downloads and uploads).
 *
 * Layout (all integers little-endian):
 *
 *   offset  size  field
 *   0       4     magic "ZIFR"
 *   4       2     format version (1)
 *   6       2     reserved, 0
 *   8       4     H = byte length of the header
 *   12      H     header: UTF-8 JSON {id, createdAt, architecture, config, seed, metrics}
 *   …       0–3   zero padding to a multiple of 4
 *   P       4     N = number of parameters
 *   P+4     4N    the parameters as float32, in layer order (w, b, w, b, …)
 *   end−4   4     CRC-32 of every byte before it
 *
 * Weights are stored as float32 (half the bytes of float64, enough for
 * digits); `roundParamsToFloat32` makes the trained network compute exactly
 * what the file will. Decoding checks magic, version, lengths, the checksum
 * and that the parameter count matches the architecture, and says which
 * failed.
 *
 * @module
 */

import { crc32 } from "./crc32.ts";
import {
  type Architecture,
  countParameters,
  Network,
  validateArchitecture,
} from "./network.ts";

/** True on little-endian machines (all that Deno and browsers run on), where float32 bytes can be copied as is. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** "ZIFR" */
export const MODEL_MAGIC = 0x5246495a;
/** The format version this code writes and reads. */
export const MODEL_FORMAT_VERSION = 1;

/** One epoch of a training curve. */
export interface EpochRecord {
  epoch: number;
  /** Mean training cost over the epoch. */
  loss: number;
  /** Held-out accuracy after the epoch, 0..1. */
  testAccuracy: number;
  /** Wall time of training alone (no loading, no evaluation) since the previous record, in ms. */
  trainMs: number;
}

/** What was measured about a model. */
export interface ModelMetrics {
  /** Accuracy on the held-out test split, 0..1. */
  testAccuracy: number;
  /** Examples in the test split. */
  testCount: number;
  /** confusion[label][predicted] on the test split. */
  confusion: number[][];
  /** Per-epoch training curve. */
  epochs: EpochRecord[];
  /** Total training wall time in milliseconds. */
  trainMs: number;
}

/** A model: metadata and flat float32 weights. */
export interface Model {
  /** Immutable id, unique per trained model. */
  id: string;
  /** ISO 8601 time of creation. */
  createdAt: string;
  architecture: Architecture;
  /** The training configuration (flags) that produced it. */
  config: Record<string, unknown>;
  /** The seed of the run. */
  seed: number;
  metrics: ModelMetrics;
  /** All parameters, float32, in layer order. */
  weights: Float32Array;
}

/** The metadata of a model, without its weights. */
export type ModelInfo = Omit<Model, "weights">;

/**
 * Encodes a model as bytes.
 *
 * @example
 * ```ts ignore
 * const bytes = encodeModel(model);
 * const same = decodeModel(bytes);
 * ```
 */
export function encodeModel(model: Model): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify(infoOf(model)));
  const padded = Math.ceil((12 + header.length) / 4) * 4;
  const total = padded + 4 + model.weights.length * 4 + 4;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MODEL_MAGIC, true);
  view.setUint16(4, MODEL_FORMAT_VERSION, true);
  view.setUint16(6, 0, true);
  view.setUint32(8, header.length, true);
  bytes.set(header, 12);
  view.setUint32(padded, model.weights.length, true);
  if (LITTLE_ENDIAN) {
    const w = model.weights;
    bytes.set(new Uint8Array(w.buffer, w.byteOffset, w.byteLength), padded + 4);
  } else {
    for (let i = 0; i < model.weights.length; i++) {
      view.setFloat32(padded + 4 + i * 4, model.weights[i], true);
    }
  }
  view.setUint32(total - 4, crc32(bytes.subarray(0, total - 4)), true);
  return bytes;
}

/** Decodes bytes written by {@link encodeModel}; throws a SyntaxError saying what is wrong. */
export function decodeModel(bytes: Uint8Array): Model {
  const fail = (why: string): never => {
    throw new SyntaxError(`Cannot read the model file as ${why}`);
  };
  if (bytes.length < 20) {
    fail(`it is too short: got ${bytes.length} bytes, need at least 20`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  if (magic !== MODEL_MAGIC) {
    fail(
      `it does not start with "ZIFR": got 0x${
        magic.toString(16).padStart(8, "0")
      }`,
    );
  }
  const version = view.getUint16(4, true);
  if (version !== MODEL_FORMAT_VERSION) {
    fail(`its format version must be ${MODEL_FORMAT_VERSION}: got ${version}`);
  }
  const stored = view.getUint32(bytes.length - 4, true);
  const actual = crc32(bytes.subarray(0, bytes.length - 4));
  if (stored !== actual) {
    fail(
      `its checksum does not match (corrupt or truncated): stored ${
        hex(stored)
      }, computed ${hex(actual)}`,
    );
  }
  const headerLength = view.getUint32(8, true);
  const padded = Math.ceil((12 + headerLength) / 4) * 4;
  if (padded + 8 > bytes.length) {
    fail(`its header length is out of range: got ${headerLength}`);
  }
  let info: ModelInfo;
  try {
    info = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(12, 12 + headerLength),
    ));
  } catch (e) {
    return fail(`its header is not valid JSON: ${(e as Error).message}`);
  }
  const count = view.getUint32(padded, true);
  if (padded + 4 + count * 4 + 4 !== bytes.length) {
    fail(
      `its length does not match ${count} parameters: got ${bytes.length} bytes`,
    );
  }
  let expected: number;
  try {
    // Shapes only: a crafted header cannot make us allocate a huge network.
    validateArchitecture(info.architecture);
    expected = countParameters(info.architecture);
  } catch (e) {
    return fail(`its architecture is invalid: ${(e as Error).message}`);
  }
  if (expected !== count) {
    fail(`its architecture needs ${expected} parameters: got ${count}`);
  }
  try {
    new Network(info.architecture);
  } catch (e) {
    return fail(`its architecture is invalid: ${(e as Error).message}`);
  }
  const weights = new Float32Array(count);
  if (LITTLE_ENDIAN) {
    new Uint8Array(weights.buffer).set(
      bytes.subarray(padded + 4, padded + 4 + count * 4),
    );
  } else {
    for (let i = 0; i < count; i++) {
      weights[i] = view.getFloat32(padded + 4 + i * 4, true);
    }
  }
  return { ...info, weights };
}

/** The model's metadata, without weights. */
export function infoOf(model: Model | ModelInfo): ModelInfo {
  const { id, createdAt, architecture, config, seed, metrics } = model;
  return { id, createdAt, architecture, config, seed, metrics };
}

/** All of a network's parameters as one float32 array, in layer order. */
export function weightsOf(network: Network): Float32Array {
  const out = new Float32Array(network.parameterCount);
  let o = 0;
  for (const p of network.params) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Builds the network a model describes, with its weights. */
export function networkFromModel(
  model: Pick<Model, "architecture" | "weights">,
): Network {
  const network = new Network(model.architecture);
  if (network.parameterCount !== model.weights.length) {
    throw new TypeError(
      `Cannot load the model as its architecture needs ${network.parameterCount} parameters: got ${model.weights.length}`,
    );
  }
  let o = 0;
  for (const p of network.params) {
    p.set(model.weights.subarray(o, o + p.length)); // float32 → float64, exact
    o += p.length;
  }
  return network;
}

function hex(n: number): string {
  return "0x" + n.toString(16).padStart(8, "0");
}
