import {
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { crc32 } from "../../src/nn/crc32.ts";
import { decodePng, PNG_SIGNATURE } from "../../src/image/png.ts";

// ---------------------------------------------------------------------------
// A small PNG encoder for the tests: raw samples in, PNG bytes out, with a
// chosen filter per row and optional Adam7 interlacing.

interface TestImage {
  width: number;
  height: number;
  colorType: number;
  bitDepth: number;
  /** width × height × channels samples, at the bit depth. */
  samples: number[];
  palette?: number[];
  transparency?: number[];
  interlace?: boolean;
  /** The filter of row y is filters[y % filters.length] (default [0]). */
  filters?: number[];
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

function chunk(type: string, data: Uint8Array | number[]): Uint8Array {
  const body = new Uint8Array(4 + data.length);
  body.set([...type].map((c) => c.charCodeAt(0)));
  body.set(data, 4);
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(body, 4);
  view.setUint32(8 + data.length, crc32(body));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function deflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function ihdr(
  width: number,
  height: number,
  bitDepth: number,
  colorType: number,
  interlace = 0,
): Uint8Array {
  const data = new Uint8Array(13);
  const view = new DataView(data.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  data.set([bitDepth, colorType, 0, 0, interlace], 8);
  return chunk("IHDR", data);
}

/** Packs one row of samples and applies the filter to it. */
function packRow(samples: number[], depth: number): Uint8Array {
  const bytes = new Uint8Array(Math.ceil(samples.length * depth / 8));
  for (const [i, s] of samples.entries()) {
    if (depth === 16) {
      bytes[2 * i] = s >> 8;
      bytes[2 * i + 1] = s & 255;
    } else if (depth === 8) bytes[i] = s;
    else bytes[(i * depth) >> 3] |= s << (8 - depth - ((i * depth) & 7));
  }
  return bytes;
}

function filterRow(
  row: Uint8Array,
  up: Uint8Array | undefined,
  filter: number,
  bpp: number,
): Uint8Array {
  const out = new Uint8Array(row.length + 1);
  out[0] = filter;
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp] : 0;
    const b = up ? up[i] : 0;
    const c = up && i >= bpp ? up[i - bpp] : 0;
    let predicted = 0;
    if (filter === 1) predicted = a;
    if (filter === 2) predicted = b;
    if (filter === 3) predicted = (a + b) >> 1;
    if (filter === 4) {
      const p = a + b - c;
      const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
    out[i + 1] = (row[i] - predicted) & 255;
  }
  return out;
}

/** The raw (filtered, uncompressed) image data of `image`. */
function rawData(image: TestImage): Uint8Array {
  const { width, height, colorType, bitDepth, samples } = image;
  const channels = CHANNELS[colorType];
  const bpp = Math.max(1, (channels * bitDepth) >> 3);
  const filters = image.filters ?? [0];
  const passes = image.interlace ? ADAM7 : [[0, 0, 1, 1]];
  const rows: Uint8Array[] = [];
  for (const [x0, y0, dx, dy] of passes) {
    let up: Uint8Array | undefined;
    let r = 0;
    for (let y = y0; y < height; y += dy) {
      const rowSamples: number[] = [];
      for (let x = x0; x < width; x += dx) {
        for (let c = 0; c < channels; c++) {
          rowSamples.push(samples[(y * width + x) * channels + c]);
        }
      }
      if (rowSamples.length === 0) continue;
      const row = packRow(rowSamples, bitDepth);
      rows.push(filterRow(row, up, filters[r++ % filters.length], bpp));
      up = row;
    }
  }
  return concat(rows);
}

async function encodePng(
  image: TestImage,
  { idatPieces = 1 }: { idatPieces?: number } = {},
): Promise<Uint8Array> {
  const z = await deflate(rawData(image));
  const parts = [
    new Uint8Array(PNG_SIGNATURE),
    ihdr(
      image.width,
      image.height,
      image.bitDepth,
      image.colorType,
      image.interlace ? 1 : 0,
    ),
  ];
  if (image.palette) parts.push(chunk("PLTE", image.palette));
  if (image.transparency) parts.push(chunk("tRNS", image.transparency));
  parts.push(chunk("tEXt", new TextEncoder().encode("Comment\0test")));
  const size = Math.ceil(z.length / idatPieces);
  for (let o = 0; o < z.length; o += size) {
    parts.push(chunk("IDAT", z.subarray(o, o + size)));
  }
  parts.push(chunk("IEND", []));
  return concat(parts);
}

/** A deterministic pattern of samples in 0..2^depth−1. */
function pattern(count: number, depth: number, seed = 7): number[] {
  const max = 2 ** depth;
  return Array.from(
    { length: count },
    (_, i) => (i * 2654435761 + seed * 40503) % 4294967296 % max,
  );
}

/** What the decoder must return, computed directly from the samples. */
function expectedRgba(image: TestImage): number[] {
  const { width, height, colorType, bitDepth, samples } = image;
  const channels = CHANNELS[colorType];
  const max = 2 ** bitDepth - 1;
  const to8 = (s: number) => Math.round(s * 255 / max);
  const t = image.transparency;
  const out: number[] = [];
  for (let i = 0; i < width * height; i++) {
    const s = samples.slice(i * channels, (i + 1) * channels);
    if (colorType === 0) {
      const key = t ? (t[0] << 8) | t[1] : -1;
      out.push(to8(s[0]), to8(s[0]), to8(s[0]), s[0] === key ? 0 : 255);
    } else if (colorType === 2) {
      const key = t
        ? [0, 1, 2].map((k) => (t[2 * k] << 8) | t[2 * k + 1])
        : [-1, -1, -1];
      const clear = s.every((v, k) => v === key[k]);
      out.push(to8(s[0]), to8(s[1]), to8(s[2]), clear ? 0 : 255);
    } else if (colorType === 3) {
      const p = image.palette!;
      out.push(p[3 * s[0]], p[3 * s[0] + 1], p[3 * s[0] + 2], t?.[s[0]] ?? 255);
    } else if (colorType === 4) {
      out.push(to8(s[0]), to8(s[0]), to8(s[0]), to8(s[1]));
    } else {
      out.push(to8(s[0]), to8(s[1]), to8(s[2]), to8(s[3]));
    }
  }
  return out;
}

function testImage(
  colorType: number,
  bitDepth: number,
  width = 13,
  height = 7,
  extra: Partial<TestImage> = {},
): TestImage {
  const channels = CHANNELS[colorType];
  const image: TestImage = {
    width,
    height,
    colorType,
    bitDepth,
    samples: pattern(width * height * channels, bitDepth),
    ...extra,
  };
  if (colorType === 3) {
    const entries = 2 ** bitDepth;
    image.palette = pattern(entries * 3, 8, 3);
  }
  return image;
}

async function assertDecodes(image: TestImage, pieces = 1): Promise<void> {
  const decoded = await decodePng(
    await encodePng(image, { idatPieces: pieces }),
  );
  assertEquals(decoded.width, image.width);
  assertEquals(decoded.height, image.height);
  assertEquals([...decoded.rgba], expectedRgba(image));
}

/** The PNG bytes with `edit` applied to a copy. */
function edited(
  bytes: Uint8Array,
  edit: (b: Uint8Array) => void,
): Uint8Array {
  const copy = bytes.slice();
  edit(copy);
  return copy;
}

/** Offset of the first chunk of `type`. */
function chunkOffset(bytes: Uint8Array, type: string): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  let o = 8;
  while (o < bytes.length) {
    const t = String.fromCharCode(...bytes.subarray(o + 4, o + 8));
    if (t === type) return o;
    o += 12 + view.getUint32(o);
  }
  throw new Error(`no ${type}`);
}

async function assertFails(
  bytes: Uint8Array,
  type: typeof SyntaxError | typeof RangeError | typeof TypeError,
  includes: string,
): Promise<void> {
  const error = await assertRejects(() => decodePng(bytes));
  assertInstanceOf(error, type);
  assertStringIncludes((error as Error).message, includes);
}

// ---------------------------------------------------------------------------

const DEPTHS: [number, number[]][] = [
  [0, [1, 2, 4, 8, 16]],
  [2, [8, 16]],
  [3, [1, 2, 4, 8]],
  [4, [8, 16]],
  [6, [8, 16]],
];

for (const [colorType, depths] of DEPTHS) {
  for (const depth of depths) {
    Deno.test(`decodePng() decodes colour type ${colorType} at ${depth} bits`, async () => {
      await assertDecodes(testImage(colorType, depth));
    });
  }
}

for (const filter of [0, 1, 2, 3, 4]) {
  Deno.test(`decodePng() undoes filter type ${filter} at 1, 8 and 16 bits`, async () => {
    await assertDecodes(testImage(0, 1, 21, 5, { filters: [filter] }));
    await assertDecodes(testImage(2, 8, 9, 6, { filters: [filter] }));
    await assertDecodes(testImage(6, 16, 5, 5, { filters: [filter] }));
  });
}

Deno.test("decodePng() breaks a Paeth tie between up and up-left towards up", async () => {
  // Second row, second pixel: a = 0 (left), b = 3 (up), c = 1 (up-left);
  // p = a + b − c = 2 is 1 from both b and c, and the spec picks b.
  const image = testImage(0, 8, 2, 2, { filters: [4] });
  image.samples = [1, 3, 0, 200];
  await assertDecodes(image);
});

Deno.test("decodePng() undoes a different filter on every row", async () => {
  await assertDecodes(testImage(6, 8, 11, 10, { filters: [4, 0, 3, 1, 2] }));
  await assertDecodes(testImage(4, 16, 3, 10, { filters: [1, 3, 4, 2] }));
});

Deno.test("decodePng() decodes Adam7-interlaced images of awkward sizes", async () => {
  for (const [w, h] of [[1, 1], [2, 3], [5, 9], [9, 9], [17, 4]]) {
    await assertDecodes(
      testImage(2, 8, w, h, { interlace: true, filters: [4, 1, 2, 3, 0] }),
    );
    await assertDecodes(testImage(0, 2, w, h, { interlace: true }));
    await assertDecodes(testImage(3, 4, w, h, { interlace: true }));
  }
});

Deno.test("decodePng() applies tRNS to grey, RGB and palette images", async () => {
  const grey = testImage(0, 8, 6, 6);
  grey.transparency = [0, grey.samples[3]];
  await assertDecodes(grey);
  const rgb = testImage(2, 16, 4, 4);
  rgb.transparency = packRow(rgb.samples.slice(0, 3), 16).reduce(
    (a, b) => [...a, b],
    [] as number[],
  );
  await assertDecodes(rgb);
  const indexed = testImage(3, 2, 5, 5);
  indexed.transparency = [0, 128];
  await assertDecodes(indexed);
  const decoded = await decodePng(await encodePng(rgb));
  assertEquals(decoded.rgba[3], 0);
});

Deno.test("decodePng() joins image data split over many IDAT chunks", async () => {
  await assertDecodes(testImage(6, 8, 30, 30), 7);
});

Deno.test("decodePng() rejects bytes without the PNG signature", async () => {
  await assertFails(
    new TextEncoder().encode("GIF89a, not a png"),
    SyntaxError,
    "does not start with the PNG signature: got 47 49 46 38 39 61 2c 20",
  );
  await assertFails(new Uint8Array(0), SyntaxError, "got no bytes");
});

Deno.test("decodePng() rejects a chunk whose CRC does not match", async () => {
  const good = await encodePng(testImage(2, 8));
  const at = chunkOffset(good, "IDAT");
  await assertFails(
    edited(good, (b) => b[at + 9] ^= 1),
    SyntaxError,
    "Cannot decode the PNG as its CRC of chunk IDAT does not match",
  );
});

Deno.test("decodePng() rejects a truncated IDAT chunk", async () => {
  const good = await encodePng(testImage(2, 8));
  const at = chunkOffset(good, "IDAT");
  await assertFails(
    good.subarray(0, at + 20),
    SyntaxError,
    "it is truncated: chunk IDAT needs",
  );
  await assertFails(good.subarray(0, at + 5), SyntaxError, "it is truncated");
});

Deno.test("decodePng() rejects a file without IEND or without IDAT", async () => {
  const good = await encodePng(testImage(0, 8));
  await assertFails(
    good.subarray(0, chunkOffset(good, "IEND")),
    SyntaxError,
    "the IEND chunk is missing",
  );
  await assertFails(
    concat([good.subarray(0, 33), chunk("IEND", [])]),
    SyntaxError,
    "it has no IDAT chunk",
  );
});

Deno.test("decodePng() rejects invalid IHDR fields", async () => {
  const sig = new Uint8Array(PNG_SIGNATURE);
  const end = chunk("IEND", []);
  const cases: [Uint8Array, string][] = [
    [ihdr(0, 5, 8, 0), "its width must be 1 to 2147483647: got 0"],
    [
      ihdr(5, 2 ** 31, 8, 0),
      "its height must be 1 to 2147483647: got 2147483648",
    ],
    [
      ihdr(5, 5, 3, 0),
      "its bit depth must be one of 1, 2, 4, 8, 16 for colour type 0: got 3",
    ],
    [ihdr(5, 5, 4, 2), "for colour type 2: got 4"],
    [ihdr(5, 5, 8, 5), "its colour type must be 0, 2, 3, 4 or 6: got 5"],
    [ihdr(5, 5, 8, 0, 2), "its interlace method must be 0 or 1: got 2"],
    [
      chunk("IHDR", new Uint8Array(12)),
      "its IHDR chunk must hold 13 bytes: got 12",
    ],
    [chunk("IDAT", [1]), "its first chunk must be IHDR: got IDAT"],
  ];
  for (const [first, message] of cases) {
    await assertFails(concat([sig, first, end]), SyntaxError, message);
  }
});

Deno.test("decodePng() rejects a 50000×50000 header before inflating anything", async () => {
  const bytes = concat([
    new Uint8Array(PNG_SIGNATURE),
    ihdr(50000, 50000, 8, 6),
    chunk("IDAT", await deflate(new Uint8Array(1000))),
    chunk("IEND", []),
  ]);
  await assertFails(
    bytes,
    RangeError,
    "it is too large: 50000×50000 pixels, at most 16777216 allowed",
  );
  const small = await encodePng(testImage(0, 8, 10, 10));
  const error = await assertRejects(() => decodePng(small, { maxPixels: 99 }));
  assertInstanceOf(error, RangeError);
});

Deno.test("decodePng() stops a decompression bomb at the size the header implies", async () => {
  // 1×1 grey: 2 bytes of image data; the IDAT inflates to 64 MB of zeros.
  const bomb = concat([
    new Uint8Array(PNG_SIGNATURE),
    ihdr(1, 1, 8, 0),
    chunk("IDAT", await deflate(new Uint8Array(64 * 1024 * 1024))),
    chunk("IEND", []),
  ]);
  await assertFails(
    bomb,
    SyntaxError,
    "its image data inflates to more than the 2 bytes that 1×1 pixels need",
  );
});

Deno.test("decodePng() rejects image data that inflates to too few bytes", async () => {
  const bytes = concat([
    new Uint8Array(PNG_SIGNATURE),
    ihdr(4, 4, 8, 0),
    chunk("IDAT", await deflate(new Uint8Array(10))),
    chunk("IEND", []),
  ]);
  await assertFails(
    bytes,
    SyntaxError,
    "its image data is truncated: it inflates to 10 bytes, 20 needed",
  );
});

Deno.test("decodePng() rejects image data that is not a zlib stream", async () => {
  const bytes = concat([
    new Uint8Array(PNG_SIGNATURE),
    ihdr(4, 4, 8, 0),
    chunk("IDAT", [0x12, 0x34, 0x56, 0x78, 0x9a]),
    chunk("IEND", []),
  ]);
  await assertFails(
    bytes,
    SyntaxError,
    "its image data is not a valid zlib stream",
  );
});

Deno.test("decodePng() rejects an unknown filter type and names the row", async () => {
  const raw = new Uint8Array([0, 1, 2, 7, 3, 4]);
  const bytes = concat([
    new Uint8Array(PNG_SIGNATURE),
    ihdr(2, 2, 8, 0),
    chunk("IDAT", await deflate(raw)),
    chunk("IEND", []),
  ]);
  await assertFails(
    bytes,
    SyntaxError,
    "row 1 has an unknown filter type: got 7",
  );
});

Deno.test("decodePng() rejects a palette index beyond the palette", async () => {
  const image = testImage(3, 8, 3, 1);
  image.samples = [0, 1, 2];
  image.palette = [1, 2, 3, 4, 5, 6];
  await assertFails(
    await encodePng(image),
    SyntaxError,
    "pixel (2, 0) uses palette index 2 of a palette with 2 colours",
  );
});

Deno.test("decodePng() rejects misplaced PLTE, tRNS and IDAT chunks", async () => {
  const image = testImage(3, 8, 4, 4);
  const good = await encodePng(image);
  const idat = good.subarray(
    chunkOffset(good, "IDAT"),
    chunkOffset(good, "IEND"),
  );
  const sig = new Uint8Array(PNG_SIGNATURE);
  const end = chunk("IEND", []);
  const cases: [Uint8Array[], string][] = [
    [
      [ihdr(4, 4, 8, 3), idat],
      "a palette image without a PLTE chunk before IDAT",
    ],
    [
      [ihdr(4, 4, 8, 0), chunk("PLTE", [1, 2, 3]), idat],
      "grey images (colour type 0) must not have",
    ],
    [
      [ihdr(4, 4, 8, 6), chunk("tRNS", [1, 2]), idat],
      "images with an alpha channel (colour type 6) must not have",
    ],
    [
      [ihdr(4, 4, 8, 0), chunk("tRNS", [1]), idat],
      "its tRNS chunk must hold 2 bytes for colour type 0: got 1",
    ],
    [
      [ihdr(4, 4, 2, 3), chunk("PLTE", new Array(15).fill(0)), idat],
      "its PLTE chunk must hold 1 to 4 RGB entries: got 15 bytes",
    ],
    [
      [ihdr(4, 4, 8, 0), idat, chunk("tEXt", [65]), idat],
      "its IDAT chunks are not consecutive",
    ],
    [[ihdr(4, 4, 8, 0), ihdr(4, 4, 8, 0), idat], "it has a second IHDR chunk"],
  ];
  for (const [chunks, message] of cases) {
    await assertFails(concat([sig, ...chunks, end]), SyntaxError, message);
  }
});

Deno.test("decodePng() refuses an unknown critical chunk and skips unknown ancillary ones", async () => {
  const image = testImage(0, 8, 3, 3);
  const good = await encodePng(image);
  const at = chunkOffset(good, "IDAT");
  const withChunk = (c: Uint8Array) =>
    concat([good.subarray(0, at), c, good.subarray(at)]);
  await assertFails(
    withChunk(chunk("ABCD", [1, 2])),
    TypeError,
    "it has an unsupported critical chunk ABCD",
  );
  const decoded = await decodePng(withChunk(chunk("abCD", [1, 2])));
  assertEquals([...decoded.rgba], expectedRgba(image));
});

Deno.test("decodePng() rejects a chunk with an invalid type", async () => {
  const good = await encodePng(testImage(0, 8, 3, 3));
  const at = chunkOffset(good, "IDAT");
  await assertFails(
    edited(good, (b) => b[at + 4] = 0x31),
    SyntaxError,
    "has an invalid type: got 31 44 41 54",
  );
});
