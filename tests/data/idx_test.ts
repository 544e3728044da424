import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  gunzip,
  type IdxArray,
  idxToDataset,
  isGzip,
  parseIdx,
} from "../../src/data/idx.ts";

/** An IDX file of unsigned bytes with the given dimensions and data. */
function idx(
  dims: number[],
  data: ArrayLike<number>,
  { type = 0x08 } = {},
): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = type;
  out[3] = dims.length;
  dims.forEach((n, i) => view.setUint32(4 + 4 * i, n, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const range = (n: number, f = (i: number) => i & 0xff) =>
  Array.from({ length: n }, (_, i) => f(i));

Deno.test("parseIdx() reads a 1-D label file", () => {
  const parsed = parseIdx(idx([5], [3, 1, 4, 1, 5]));
  assertEquals(parsed.dims, [5]);
  assertEquals(parsed.data, new Uint8Array([3, 1, 4, 1, 5]));
});

Deno.test("parseIdx() reads a 3-D image file with big-endian sizes", () => {
  const pixels = range(2 * 28 * 28, (i) => (i * 13) & 0xff);
  const bytes = idx([2, 28, 28], pixels);
  assertEquals(
    Array.from(bytes.subarray(4, 8)),
    [0, 0, 0, 2],
    "sizes are big-endian",
  );
  const parsed = parseIdx(bytes);
  assertEquals(parsed.dims, [2, 28, 28]);
  assertEquals(parsed.data, new Uint8Array(pixels));
});

Deno.test("parseIdx() reads sizes above 255 and a view into a larger buffer", () => {
  const inner = idx([300], range(300));
  const outer = new Uint8Array(inner.length + 7);
  outer.set(inner, 3);
  const parsed = parseIdx(outer.subarray(3, 3 + inner.length));
  assertEquals(parsed.dims, [300]);
  assertEquals(parsed.data, new Uint8Array(range(300)));
});

Deno.test("parseIdx() reads an empty file of zero items", () => {
  assertEquals(parseIdx(idx([0], [])), { dims: [0], data: new Uint8Array(0) });
});

Deno.test("parseIdx() rejects a file shorter than the 4-byte header", () => {
  assertThrows(
    () => parseIdx(new Uint8Array([0, 0, 8])),
    SyntaxError,
    "too short: got 3 bytes",
  );
  assertThrows(
    () => parseIdx(new Uint8Array(0)),
    SyntaxError,
    "too short: got 0 bytes",
  );
});

Deno.test("parseIdx() rejects a wrong magic number and names the file", () => {
  const bytes = idx([1], [0]);
  bytes[0] = 0x1f;
  assertThrows(
    () => parseIdx(bytes, "train-labels-idx1-ubyte"),
    SyntaxError,
    "Cannot read train-labels-idx1-ubyte as it does not start with two zero bytes",
  );
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]);
  assertThrows(() => parseIdx(png), SyntaxError, "not IDX");
});

Deno.test("parseIdx() rejects an element type other than unsigned byte", () => {
  assertThrows(
    () => parseIdx(idx([2], [0, 0, 0, 0, 0, 0, 0, 0], { type: 0x0d })),
    SyntaxError,
    "element type must be 0x08 (unsigned byte): got 0xd",
  );
  assertThrows(
    () => parseIdx(idx([1], [0], { type: 0x09 })),
    SyntaxError,
    "got 0x9",
  );
});

Deno.test("parseIdx() rejects 0 or more than 4 dimensions", () => {
  assertThrows(
    () => parseIdx(idx([], [])),
    SyntaxError,
    "number of dimensions must be 1 to 4: got 0",
  );
  assertThrows(
    () => parseIdx(idx([1, 1, 1, 1, 1], [7])),
    SyntaxError,
    "number of dimensions must be 1 to 4: got 5",
  );
});

Deno.test("parseIdx() rejects a header cut off inside the dimension sizes", () => {
  const bytes = idx([2, 28, 28], range(2 * 784)).subarray(0, 10);
  assertThrows(
    () => parseIdx(bytes),
    SyntaxError,
    "too short for its 3 dimension sizes",
  );
});

Deno.test("parseIdx() rejects truncated data, naming the expected and actual byte counts", () => {
  const bytes = idx([2, 28, 28], range(2 * 784));
  assertThrows(
    () =>
      parseIdx(bytes.subarray(0, bytes.length - 1), "t10k-images-idx3-ubyte"),
    SyntaxError,
    "Cannot read t10k-images-idx3-ubyte as its dimensions 2×28×28 need 1568 bytes of data: got 1567",
  );
});

Deno.test("parseIdx() rejects dimensions that do not match the data (extra bytes)", () => {
  const bytes = idx([4], [1, 2, 3, 4, 5, 6]);
  assertThrows(
    () => parseIdx(bytes),
    SyntaxError,
    "dimensions 4 need 4 bytes of data: got 6",
  );
});

Deno.test("isGzip() recognises the gzip magic number only", async () => {
  assert(isGzip(await gzip(idx([1], [1]))));
  assert(!isGzip(idx([1], [1])));
  assert(!isGzip(new Uint8Array([0x1f])));
  assert(!isGzip(new Uint8Array(0)));
});

Deno.test("gunzip() restores a gzip-compressed IDX file that then parses", async () => {
  const original = idx([3, 28, 28], range(3 * 784, (i) => (i * 31) & 0xff));
  const compressed = await gzip(original);
  assert(compressed.length < original.length);
  const restored = await gunzip(compressed);
  assertEquals(restored, original);
  assertEquals(parseIdx(restored).dims, [3, 28, 28]);
});

Deno.test("gunzip() rejects corrupt gzip data with a SyntaxError", async () => {
  const compressed = await gzip(idx([100], range(100)));
  const corrupt = compressed.slice(0, compressed.length - 12);
  await assertRejects(
    () => gunzip(corrupt),
    SyntaxError,
    "Cannot gunzip the IDX file",
  );
  const garbage = new Uint8Array([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  await assertRejects(() => gunzip(garbage), SyntaxError, "Cannot gunzip");
});

const images = (n: number, f = (i: number) => (i * 7) & 0xff): IdxArray => ({
  dims: [n, 28, 28],
  data: new Uint8Array(range(n * 784, f)),
});
const labels = (values: number[]): IdxArray => ({
  dims: [values.length],
  data: new Uint8Array(values),
});

Deno.test("idxToDataset() scales pixels to 0..1 and copies the labels", () => {
  const img = images(2, (i) => [0, 255, 128, 1][i % 4]);
  const lab = labels([7, 0]);
  const data = idxToDataset(img, lab);
  assertEquals(data.count, 2);
  assertEquals(data.shape, [1, 28, 28]);
  assertEquals(data.images.length, 2 * 784);
  assertEquals(Array.from(data.images.subarray(0, 4)), [
    0,
    1,
    Math.fround(128 / 255),
    Math.fround(1 / 255),
  ]);
  assertEquals(data.labels, new Uint8Array([7, 0]));
  lab.data[0] = 3;
  assertEquals(
    data.labels[0],
    7,
    "labels must be a copy, not a view of the file",
  );
});

Deno.test("idxToDataset() accepts every digit 0–9 and rejects a label above 9", () => {
  idxToDataset(images(10), labels(range(10)));
  assertThrows(
    () => idxToDataset(images(4), labels([1, 2, 9, 10])),
    RangeError,
    "each must be a digit 0–9: got 10 at 3",
  );
  assertThrows(
    () => idxToDataset(images(1), labels([255])),
    RangeError,
    "got 255 at 0",
  );
});

Deno.test("idxToDataset() rejects images that are not n×28×28", () => {
  assertThrows(
    () =>
      idxToDataset(
        { dims: [2, 27, 28], data: new Uint8Array(2 * 27 * 28) },
        labels([1, 2]),
      ),
    TypeError,
    "must be n×28×28: got 2×27×28",
  );
  assertThrows(
    () =>
      idxToDataset(
        { dims: [2, 28, 29], data: new Uint8Array(2 * 28 * 29) },
        labels([1, 2]),
      ),
    TypeError,
    "got 2×28×29",
  );
  assertThrows(
    () =>
      idxToDataset(
        { dims: [2, 784], data: new Uint8Array(2 * 784) },
        labels([1, 2]),
      ),
    TypeError,
    "got 2×784",
  );
});

Deno.test("idxToDataset() rejects a label count that differs from the image count", () => {
  assertThrows(
    () => idxToDataset(images(3), labels([1, 2])),
    TypeError,
    "must be one per image (3): got 2",
  );
  assertThrows(
    () => idxToDataset(images(2), { dims: [2, 1], data: new Uint8Array(2) }),
    TypeError,
    "one per image (2): got 2×1",
  );
});
