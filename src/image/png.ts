/**
 * A PNG decoder for uploaded digits: bytes in, 8-bit RGBA out. Pure (the web
 * platform's `DecompressionStream` only), so the server and the browser can
 * share it.
 *
 * Supported: every colour type (0 grey, 2 RGB, 3 palette, 4 grey + alpha,
 * 6 RGBA) at every bit depth the spec allows (1, 2, 4, 8, 16; 16-bit samples
 * are rounded to 8), `tRNS` transparency, all five row filters, and Adam7
 * interlacing. Ancillary chunks (gAMA, iCCP, text, …) are skipped: colours are
 * taken as stored. An unknown critical chunk is refused (TypeError).
 *
 * Defensive by design, because uploads are untrusted:
 *
 * - the signature, every chunk's length and CRC, the IHDR fields, the chunk
 *   order and the presence of IDAT and IEND are checked (SyntaxError);
 * - width × height is checked against `maxPixels` before anything is
 *   allocated (RangeError);
 * - the image data is inflated in a stream, fed 8 KiB of compressed input
 *   at a time, into a buffer of exactly the size the header implies; the
 *   first byte beyond that stops the stream (SyntaxError). A decompression
 *   bomb costs at most one 8 KiB input piece's output (≤ 8.3 MB, deflate's
 *   ratio is at most 1032:1) beyond the real image, not gigabytes.
 *
 * Errors say what was wrong and the value:
 * `Cannot decode the PNG as its CRC of chunk IDAT does not match: stored …`.
 *
 * @module
 */

import { crc32 } from "../nn/crc32.ts";

/** A decoded image: width × height pixels, 4 bytes each (R, G, B, A). */
export interface DecodedPng {
  width: number;
  height: number;
  /** Row-major RGBA, 8 bits per channel, not premultiplied. */
  rgba: Uint8Array;
}

/** Options of {@link decodePng}. */
export interface DecodePngOptions {
  /** The most pixels (width × height) to accept (default 4096 × 4096). */
  maxPixels?: number;
}

/** The default pixel limit of {@link decodePng}: 4096 × 4096. */
export const DEFAULT_MAX_PIXELS = 4096 * 4096;

/** The 8 bytes every PNG starts with. */
export const PNG_SIGNATURE: readonly number[] = [
  0x89,
  0x50,
  0x4e,
  0x47,
  0x0d,
  0x0a,
  0x1a,
  0x0a,
];

/** Compressed bytes handed to the inflater at a time (bounds a bomb's output). */
const INFLATE_PIECE = 8192;

/** Channels per colour type. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** The bit depths the spec allows per colour type. */
const BIT_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};
/** Adam7 passes: [x start, y start, x step, y step]. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

interface Header {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
}

/** One sub-image of the stored data: the whole image, or an Adam7 pass. */
interface Pass {
  x0: number;
  y0: number;
  dx: number;
  dy: number;
  width: number;
  height: number;
}

/**
 * Decodes a PNG file into 8-bit RGBA.
 *
 * @throws {SyntaxError} when the bytes are not a valid PNG (signature, CRC,
 *   truncation, header fields, chunk order, zlib data, filters)
 * @throws {RangeError} when width × height exceeds `maxPixels`
 * @throws {TypeError} when the PNG needs a feature this decoder lacks (an
 *   unknown critical chunk)
 *
 * @example
 * ```ts ignore
 * const { width, height, rgba } = await decodePng(await Deno.readFile("digit.png"));
 * ```
 */
export async function decodePng(
  bytes: Uint8Array,
  { maxPixels = DEFAULT_MAX_PIXELS }: DecodePngOptions = {},
): Promise<DecodedPng> {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot decode the PNG as the bytes must be a Uint8Array: got ${typeof bytes}`,
    );
  }
  if (
    bytes.length < 8 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)
  ) {
    fail(
      `it does not start with the PNG signature: got ${
        hexBytes(bytes.subarray(0, 8))
      }`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: Header | undefined;
  let palette: Uint8Array | undefined;
  let transparency: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let idatDone = false;
  let ended = false;
  let offset = 8;
  while (offset < bytes.length) {
    if (offset + 12 > bytes.length) {
      fail(
        `it is truncated: a chunk at byte ${offset} needs at least 12 bytes, ${
          bytes.length - offset
        } left`,
      );
    }
    const length = view.getUint32(offset);
    const typeBytes = bytes.subarray(offset + 4, offset + 8);
    if (!typeBytes.every(isLetter)) {
      fail(
        `the chunk at byte ${offset} has an invalid type: got ${
          hexBytes(typeBytes)
        }`,
      );
    }
    const type = String.fromCharCode(...typeBytes);
    if (length > 0x7fffffff) {
      fail(`its chunk ${type} has an invalid length: got ${length}`);
    }
    if (offset + 12 + length > bytes.length) {
      fail(
        `it is truncated: chunk ${type} needs ${length + 12} bytes, ${
          bytes.length - offset
        } left`,
      );
    }
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    const stored = view.getUint32(offset + 8 + length);
    const computed = crc32(bytes.subarray(offset + 4, offset + 8 + length));
    if (stored !== computed) {
      fail(
        `its CRC of chunk ${type} does not match: stored ${
          hex32(stored)
        }, computed ${hex32(computed)}`,
      );
    }
    offset += 12 + length;

    if (!header && type !== "IHDR") {
      fail(`its first chunk must be IHDR: got ${type}`);
    }
    if (idat.length > 0 && type !== "IDAT") idatDone = true;
    switch (type) {
      case "IHDR":
        if (header) fail("it has a second IHDR chunk");
        header = parseHeader(data, maxPixels);
        break;
      case "PLTE":
        palette = parsePalette(data, header!, palette, idat.length > 0);
        break;
      case "tRNS":
        transparency = parseTransparency(data, header!, palette, idat.length);
        break;
      case "IDAT":
        if (idatDone) fail("its IDAT chunks are not consecutive");
        if (header!.colorType === 3 && !palette) {
          fail("it is a palette image without a PLTE chunk before IDAT");
        }
        idat.push(data);
        break;
      case "IEND":
        if (length !== 0) {
          fail(`its IEND chunk must be empty: got ${length} bytes`);
        }
        ended = true;
        break;
      default:
        if (typeBytes[0] < 0x61) {
          throw new TypeError(
            `Cannot decode the PNG as it has an unsupported critical chunk ${type}`,
          );
        }
    }
    if (ended) break;
  }
  if (!header) fail("it has no chunks after the signature");
  if (idat.length === 0) fail("it has no IDAT chunk");
  if (!ended) fail("it is truncated: the IEND chunk is missing");

  const h = header!;
  const bitsPerPixel = CHANNELS[h.colorType] * h.bitDepth;
  const passes = passesOf(h);
  let expected = 0;
  for (const p of passes) {
    expected += p.height * (1 + Math.ceil(p.width * bitsPerPixel / 8));
  }
  const raw = await inflate(idat, expected, h);
  const rgba = new Uint8Array(h.width * h.height * 4);
  let start = 0;
  for (const [k, pass] of passes.entries()) {
    const rowBytes = Math.ceil(pass.width * bitsPerPixel / 8);
    const where = h.interlaced ? ` of Adam7 pass ${k + 1}` : "";
    unfilter(raw, start, pass.height, rowBytes, bitsPerPixel, where);
    writePixels(rgba, raw, start, pass, rowBytes, h, palette, transparency);
    start += pass.height * (1 + rowBytes);
  }
  return { width: h.width, height: h.height, rgba };
}

/** Throws the SyntaxError of a corrupt PNG. */
function fail(why: string): never {
  throw new SyntaxError(`Cannot decode the PNG as ${why}`);
}

function parseHeader(data: Uint8Array, maxPixels: number): Header {
  if (data.length !== 13) {
    fail(`its IHDR chunk must hold 13 bytes: got ${data.length}`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const width = view.getUint32(0), height = view.getUint32(4);
  const [bitDepth, colorType, compression, filter, interlace] = data.subarray(
    8,
  );
  for (const [name, value] of [["width", width], ["height", height]] as const) {
    if (value === 0 || value > 0x7fffffff) {
      fail(`its ${name} must be 1 to 2147483647: got ${value}`);
    }
  }
  if (!(colorType in BIT_DEPTHS)) {
    fail(`its colour type must be 0, 2, 3, 4 or 6: got ${colorType}`);
  }
  if (!BIT_DEPTHS[colorType].includes(bitDepth)) {
    fail(
      `its bit depth must be one of ${
        BIT_DEPTHS[colorType].join(", ")
      } for colour type ${colorType}: got ${bitDepth}`,
    );
  }
  if (compression !== 0) {
    fail(`its compression method must be 0: got ${compression}`);
  }
  if (filter !== 0) fail(`its filter method must be 0: got ${filter}`);
  if (interlace > 1) {
    fail(`its interlace method must be 0 or 1: got ${interlace}`);
  }
  if (width * height > maxPixels) {
    throw new RangeError(
      `Cannot decode the PNG as it is too large: ${width}×${height} pixels, at most ${maxPixels} allowed`,
    );
  }
  return { width, height, bitDepth, colorType, interlaced: interlace === 1 };
}

function parsePalette(
  data: Uint8Array,
  header: Header,
  previous: Uint8Array | undefined,
  afterIdat: boolean,
): Uint8Array {
  if (previous) fail("it has a second PLTE chunk");
  if (afterIdat) fail("its PLTE chunk comes after IDAT");
  if (header.colorType === 0 || header.colorType === 4) {
    fail(
      `it has a PLTE chunk, which grey images (colour type ${header.colorType}) must not have`,
    );
  }
  const entries = data.length / 3;
  const most = header.colorType === 3 ? 1 << header.bitDepth : 256;
  if (
    !Number.isInteger(entries) || entries < 1 || entries > Math.min(256, most)
  ) {
    fail(
      `its PLTE chunk must hold 1 to ${
        Math.min(256, most)
      } RGB entries: got ${data.length} bytes`,
    );
  }
  return data;
}

function parseTransparency(
  data: Uint8Array,
  header: Header,
  palette: Uint8Array | undefined,
  idatCount: number,
): Uint8Array {
  if (idatCount > 0) fail("its tRNS chunk comes after IDAT");
  const { colorType } = header;
  if (colorType === 4 || colorType === 6) {
    fail(
      `it has a tRNS chunk, which images with an alpha channel (colour type ${colorType}) must not have`,
    );
  }
  if (colorType === 3) {
    if (!palette) fail("its tRNS chunk comes before PLTE");
    if (data.length > palette!.length / 3) {
      fail(
        `its tRNS chunk has ${data.length} entries for ${
          palette!.length / 3
        } palette colours`,
      );
    }
  } else {
    const need = colorType === 0 ? 2 : 6;
    if (data.length !== need) {
      fail(
        `its tRNS chunk must hold ${need} bytes for colour type ${colorType}: got ${data.length}`,
      );
    }
  }
  return data;
}

/** The whole image, or the non-empty Adam7 passes. */
function passesOf(h: Header): Pass[] {
  if (!h.interlaced) {
    return [{ x0: 0, y0: 0, dx: 1, dy: 1, width: h.width, height: h.height }];
  }
  return ADAM7.map(([x0, y0, dx, dy]) => ({
    x0,
    y0,
    dx,
    dy,
    width: Math.ceil((h.width - x0) / dx),
    height: Math.ceil((h.height - y0) / dy),
  })).filter((p) => p.width > 0 && p.height > 0);
}

/**
 * Inflates the concatenated IDAT data into exactly `expected` bytes, feeding
 * the decompressor small pieces and stopping at the first byte too many.
 */
async function inflate(
  idat: Uint8Array[],
  expected: number,
  header: Header,
): Promise<Uint8Array> {
  const out = new Uint8Array(expected);
  const stream = new DecompressionStream("deflate");
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  // Errors of the writing side also reach the reader, which reports them.
  (async () => {
    for (const chunk of idat) {
      for (let o = 0; o < chunk.length; o += INFLATE_PIECE) {
        // A copy (slice), so the stream never sees a shared buffer.
        await writer.write(chunk.slice(o, o + INFLATE_PIECE));
      }
    }
    await writer.close();
  })().catch(() => {});
  let total = 0;
  while (true) {
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await reader.read();
    } catch (e) {
      return fail(
        `its image data is not a valid zlib stream: ${(e as Error).message}`,
      );
    }
    if (result.done) break;
    const piece = result.value;
    if (total + piece.length > expected) {
      await reader.cancel().catch(() => {});
      fail(
        `its image data inflates to more than the ${expected} bytes that ${header.width}×${header.height} pixels need`,
      );
    }
    out.set(piece, total);
    total += piece.length;
  }
  if (total < expected) {
    fail(
      `its image data is truncated: it inflates to ${total} bytes, ${expected} needed`,
    );
  }
  return out;
}

/**
 * Undoes the row filters in place: each row of `rowBytes` is preceded by its
 * filter type; byte x is predicted from a = the byte one pixel to the left,
 * b = the byte above, c = the byte above a (all 0 outside the image).
 */
function unfilter(
  raw: Uint8Array,
  start: number,
  rows: number,
  rowBytes: number,
  bitsPerPixel: number,
  where: string,
): void {
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const stride = rowBytes + 1;
  let up: Uint8Array = new Uint8Array(rowBytes); // above the first row: zeros
  for (let y = 0; y < rows; y++) {
    const at = start + y * stride;
    const filter = raw[at];
    const cur = raw.subarray(at + 1, at + stride);
    switch (filter) {
      case 0:
        break;
      case 1: // Sub: + a
        for (let i = bpp; i < rowBytes; i++) cur[i] += cur[i - bpp];
        break;
      case 2: // Up: + b
        for (let i = 0; i < rowBytes; i++) cur[i] += up[i];
        break;
      case 3: // Average: + ⌊(a + b) / 2⌋
        for (let i = 0; i < bpp; i++) cur[i] += up[i] >> 1;
        for (let i = bpp; i < rowBytes; i++) {
          cur[i] += (cur[i - bpp] + up[i]) >> 1;
        }
        break;
      case 4: // Paeth: + whichever of a, b, c is closest to a + b − c
        // Channel by channel, so a and c stay in registers.
        for (let k = 0; k < bpp; k++) {
          let a = (cur[k] + up[k]) & 255, c = up[k];
          cur[k] = a;
          for (let i = k + bpp; i < rowBytes; i += bpp) {
            const b = up[i];
            const p = b - c, q = a - c, r = p + q;
            const pa = p < 0 ? -p : p, pb = q < 0 ? -q : q, pc = r < 0 ? -r : r;
            a = (cur[i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
            cur[i] = a;
            c = b;
          }
        }
        break;
      default:
        fail(`row ${y}${where} has an unknown filter type: got ${filter}`);
    }
    up = cur;
  }
}

/** Converts one pass's unfiltered rows to RGBA at the pass's pixel positions. */
function writePixels(
  rgba: Uint8Array,
  raw: Uint8Array,
  start: number,
  pass: Pass,
  rowBytes: number,
  h: Header,
  palette: Uint8Array | undefined,
  transparency: Uint8Array | undefined,
): void {
  const channels = CHANNELS[h.colorType];
  const depth = h.bitDepth;
  const samples = new Uint16Array(pass.width * channels);
  // Raw sample → 8 bits, as a table: 16-bit rounds (s / 257), 1/2/4-bit grey
  // stretches to 0..255 (×255, ×85, ×17). Palette indices are not converted.
  const max = depth === 16 ? 0xffff : (1 << depth) - 1;
  const to8 = new Uint8Array(max + 1);
  for (let v = 0; v <= max; v++) to8[v] = Math.round(v * 255 / max);
  // tRNS of grey or RGB: the one raw colour that is fully transparent.
  const key = transparency && (h.colorType === 0 || h.colorType === 2)
    ? Array.from(
      { length: transparency.length / 2 },
      (_, k) => ((transparency[2 * k] << 8) | transparency[2 * k + 1]) & max,
    )
    : [-1, -1, -1];
  const paletteSize = palette ? palette.length / 3 : 0;
  const step = 4 * pass.dx;
  for (let y = 0; y < pass.height; y++) {
    readSamples(samples, raw, start + y * (rowBytes + 1) + 1, depth);
    const imageY = pass.y0 + y * pass.dy;
    let o = 4 * (imageY * h.width + pass.x0);
    const n = pass.width;
    switch (h.colorType) {
      case 0:
        for (let x = 0; x < n; x++, o += step) {
          const g = samples[x];
          rgba[o] = rgba[o + 1] = rgba[o + 2] = to8[g];
          rgba[o + 3] = g === key[0] ? 0 : 255;
        }
        break;
      case 2:
        for (let x = 0, s = 0; x < n; x++, o += step, s += 3) {
          const r = samples[s], g = samples[s + 1], b = samples[s + 2];
          rgba[o] = to8[r];
          rgba[o + 1] = to8[g];
          rgba[o + 2] = to8[b];
          rgba[o + 3] = r === key[0] && g === key[1] && b === key[2] ? 0 : 255;
        }
        break;
      case 3:
        for (let x = 0; x < n; x++, o += step) {
          const index = samples[x];
          if (index >= paletteSize) {
            fail(
              `pixel (${
                pass.x0 + x * pass.dx
              }, ${imageY}) uses palette index ${index} of a palette with ${paletteSize} colours`,
            );
          }
          rgba[o] = palette![3 * index];
          rgba[o + 1] = palette![3 * index + 1];
          rgba[o + 2] = palette![3 * index + 2];
          rgba[o + 3] = transparency && index < transparency.length
            ? transparency[index]
            : 255;
        }
        break;
      case 4:
        for (let x = 0, s = 0; x < n; x++, o += step, s += 2) {
          rgba[o] = rgba[o + 1] = rgba[o + 2] = to8[samples[s]];
          rgba[o + 3] = to8[samples[s + 1]];
        }
        break;
      case 6:
        for (let x = 0, s = 0; x < n; x++, o += step, s += 4) {
          rgba[o] = to8[samples[s]];
          rgba[o + 1] = to8[samples[s + 1]];
          rgba[o + 2] = to8[samples[s + 2]];
          rgba[o + 3] = to8[samples[s + 3]];
        }
        break;
    }
  }
}

/** Unpacks one row's samples (1/2/4 bits MSB first, 8, or 16 big-endian). */
function readSamples(
  samples: Uint16Array,
  raw: Uint8Array,
  row: number,
  depth: number,
): void {
  const n = samples.length;
  if (depth === 8) {
    for (let i = 0; i < n; i++) samples[i] = raw[row + i];
  } else if (depth === 16) {
    for (let i = 0; i < n; i++) {
      samples[i] = (raw[row + 2 * i] << 8) | raw[row + 2 * i + 1];
    }
  } else {
    const mask = (1 << depth) - 1;
    for (let i = 0; i < n; i++) {
      const bit = i * depth;
      samples[i] = (raw[row + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
    }
  }
}

function isLetter(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
}

function hex32(n: number): string {
  return "0x" + n.toString(16).padStart(8, "0");
}

function hexBytes(bytes: Uint8Array): string {
  return bytes.length === 0
    ? "no bytes"
    : [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}
