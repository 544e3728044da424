/**
 * The IDX format of the original MNIST files (`train-images-idx3-ubyte`,
 * `train-labels-idx1-ubyte`, `t10k-…`), optionally gzipped, so a user with the
 * full 60,000/10,000 set can train on it.
 *
 *   offset  size  field
 *   0       2     zero
 *   2       1     element type (0x08 = unsigned byte)
 *   3       1     number of dimensions d
 *   4       4·d   size of each dimension, big-endian
 *   …             the elements, row-major
 *
 * @module
 */

import type { Dataset } from "../nn/dataset.ts";

/** A parsed IDX file of unsigned bytes. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** True when `bytes` start with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Gunzips `bytes` with the web-standard DecompressionStream. */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
      .pipeThrough(
        new DecompressionStream("gzip"),
      );
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new SyntaxError(
      `Cannot gunzip the IDX file: ${(e as Error).message}`,
    );
  }
}

/** Parses an IDX file of unsigned bytes; throws SyntaxError naming what is wrong. */
export function parseIdx(bytes: Uint8Array, name = "IDX file"): IdxArray {
  const fail = (why: string): never => {
    throw new SyntaxError(`Cannot read ${name} as ${why}`);
  };
  if (bytes.length < 4) fail(`it is too short: got ${bytes.length} bytes`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail("it does not start with two zero bytes (not IDX)");
  }
  if (bytes[2] !== 0x08) {
    fail(
      `its element type must be 0x08 (unsigned byte): got 0x${
        bytes[2].toString(16)
      }`,
    );
  }
  const d = bytes[3];
  if (d < 1 || d > 4) fail(`its number of dimensions must be 1 to 4: got ${d}`);
  if (bytes.length < 4 + 4 * d) {
    fail(`it is too short for its ${d} dimension sizes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < d; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((s, n) => s * n, 1);
  const start = 4 + 4 * d;
  if (bytes.length - start !== count) {
    fail(
      `its dimensions ${dims.join("×")} need ${count} bytes of data: got ${
        bytes.length - start
      }`,
    );
  }
  return { dims, data: bytes.subarray(start) };
}

/** Builds a Dataset from parsed IDX images (n×28×28) and labels (n). */
export function idxToDataset(images: IdxArray, labels: IdxArray): Dataset {
  if (
    images.dims.length !== 3 || images.dims[1] !== 28 || images.dims[2] !== 28
  ) {
    throw new TypeError(
      `Cannot use the IDX images as they must be n×28×28: got ${
        images.dims.join("×")
      }`,
    );
  }
  if (labels.dims.length !== 1 || labels.dims[0] !== images.dims[0]) {
    throw new TypeError(
      `Cannot use the IDX labels as they must be one per image (${
        images.dims[0]
      }): got ${labels.dims.join("×")}`,
    );
  }
  for (let i = 0; i < labels.data.length; i++) {
    if (labels.data[i] > 9) {
      throw new RangeError(
        `Cannot use the IDX labels as each must be a digit 0–9: got ${
          labels.data[i]
        } at ${i}`,
      );
    }
  }
  const images01 = new Float32Array(images.data.length);
  for (let i = 0; i < images01.length; i++) images01[i] = images.data[i] / 255;
  return {
    images: images01,
    labels: labels.data.slice(),
    count: images.dims[0],
    shape: [1, 28, 28],
  };
}
