/**
 * Writing PNG files for the fuzzer, good and bad: chunks with correct CRCs
 * (so a broken field reaches the decoder's field checks rather than its CRC
 * check), images of any colour type and bit depth, and zlib streams made by
 * the platform's `CompressionStream("deflate")`.
 *
 * @module
 */

import { crc32 } from "../nn/crc32.ts";

/** The 8 bytes every PNG starts with. */
export const SIGNATURE = new Uint8Array([
  0x89,
  0x50,
  0x4e,
  0x47,
  0x0d,
  0x0a,
  0x1a,
  0x0a,
]);

/** One chunk: length, type, data, CRC of type + data (or `crc` when given, to break it). */
export function chunk(
  type: string,
  data: Uint8Array,
  { crc, length }: { crc?: number; length?: number } = {},
): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, length ?? data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i) & 0xff;
  out.set(data, 8);
  view.setUint32(
    8 + data.length,
    crc ?? crc32(out.subarray(4, 8 + data.length)),
  );
  return out;
}

/** The 13 bytes of an IHDR chunk's data. */
export function ihdr(
  {
    width,
    height,
    bitDepth = 8,
    colorType = 0,
    compression = 0,
    filter = 0,
    interlace = 0,
  }: {
    width: number;
    height: number;
    bitDepth?: number;
    colorType?: number;
    compression?: number;
    filter?: number;
    interlace?: number;
  },
): Uint8Array {
  const data = new Uint8Array(13);
  const view = new DataView(data.buffer);
  view.setUint32(0, width >>> 0);
  view.setUint32(4, height >>> 0);
  data.set([bitDepth, colorType, compression, filter, interlace], 8);
  return data;
}

/** Concatenates byte strings. */
export function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** zlib-wraps (RFC 1950) `bytes` with the platform's deflate. */
export async function zlib(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A PNG of the given chunks: signature, IHDR, `middle` chunks, IEND. */
export function pngOf(header: Uint8Array, middle: Uint8Array[]): Uint8Array {
  return concat([
    SIGNATURE,
    chunk("IHDR", header),
    ...middle,
    chunk("IEND", new Uint8Array()),
  ]);
}

/**
 * An 8-bit grey PNG (filter 0 on every row) of `grey` (width × height bytes).
 */
export async function greyPng(
  grey: Uint8Array,
  width: number,
  height: number,
): Promise<Uint8Array> {
  const raw = new Uint8Array((width + 1) * height);
  for (let y = 0; y < height; y++) {
    raw.set(grey.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  }
  return pngOf(ihdr({ width, height }), [chunk("IDAT", await zlib(raw))]);
}

/**
 * A `size × size` grey picture of a dark "1" (a thick vertical bar) on white,
 * or all white when `blank`.
 */
export function barPicture(size: number, { blank = false } = {}): Uint8Array {
  const grey = new Uint8Array(size * size).fill(255);
  if (blank) return grey;
  const x0 = Math.round(size * 0.45), x1 = Math.round(size * 0.55);
  for (let y = Math.round(size * 0.2); y < Math.round(size * 0.8); y++) {
    grey.fill(0, y * size + x0, y * size + x1);
  }
  return grey;
}
