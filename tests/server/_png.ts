/**
 * A small PNG writer for the server tests (8-bit RGBA or grey, filter 0,
 * one IDAT), plus ways to break a PNG on purpose.
 *
 * @module
 */

import { crc32 } from "../../src/nn/crc32.ts";

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(
      new CompressionStream("deflate"),
    );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Encodes `width × height` pixels (`channels` bytes each: 1 grey, 4 RGBA).
 * `ihdrSize` overrides the size written in the header (for lying files).
 */
export async function encodePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  { channels = 4, ihdrSize }: {
    channels?: 1 | 4;
    ihdrSize?: [number, number];
  } = {},
): Promise<Uint8Array> {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, ihdrSize?.[0] ?? width);
  view.setUint32(4, ihdrSize?.[1] ?? height);
  ihdr[8] = 8;
  ihdr[9] = channels === 4 ? 6 : 0;
  const stride = width * channels;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw.set(
      pixels.subarray(y * stride, (y + 1) * stride),
      y * (stride + 1) + 1,
    );
  }
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", await deflate(raw)),
    chunk("IEND", new Uint8Array()),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * A `size × size` RGBA picture of a thick vertical bar (a "1") in `ink` on
 * `paper` (grey levels 0..255).
 */
export function barImage(
  size: number,
  { ink = 0, paper = 255 } = {},
): Uint8Array {
  const rgba = new Uint8Array(size * size * 4);
  const x0 = Math.round(size * 0.45), x1 = Math.round(size * 0.55);
  const y0 = Math.round(size * 0.2), y1 = Math.round(size * 0.8);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = x >= x0 && x < x1 && y >= y0 && y < y1 ? ink : paper;
      rgba.set([v, v, v, 255], (y * size + x) * 4);
    }
  }
  return rgba;
}
