import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  parsePenDigits,
  type PenDigit,
  penDigitsToDataset,
} from "../../src/data/pendigits.ts";
import { strokesToMnist } from "../../src/image/strokes.ts";

/** A "7" in the unit box and, small and off-centre, in the writer's box. */
const SEVEN: PenDigit = {
  id: "t-7",
  label: 7,
  writer: 4,
  strokes: [[[0.2, 0], [0.8, 0], [0.4, 1]]],
  strokesInBox: [[[0.62, 0.1], [0.8, 0.1], [0.68, 0.4]]],
};
const ONE: PenDigit = {
  id: "t-1",
  label: 1,
  writer: 9,
  strokes: [[[0.5, 0], [0.5, 1]]],
  strokesInBox: [[[0.1, 0.6], [0.1, 0.9]]],
};

Deno.test("parsePenDigits() accepts the file's format", () => {
  const json = JSON.parse(JSON.stringify([SEVEN, ONE]));
  assertEquals(parsePenDigits(json), [SEVEN, ONE]);
});

Deno.test("parsePenDigits() names the digit and field that is wrong", () => {
  const cases: [unknown, string][] = [
    [{ digits: [] }, "Cannot read the pen digits as they must be an array"],
    [[SEVEN, 5], "Cannot read pen digit 1 as it must be an object: got 5"],
    [[{ ...SEVEN, id: 3 }], "its id must be a string: got 3"],
    [[{ ...SEVEN, label: 10 }], "its label must be an integer 0–9: got 10"],
    [[{ ...SEVEN, writer: 0 }], "its writer must be a positive integer: got 0"],
    [[{ ...SEVEN, strokes: [] }], "its strokes must be a non-empty array"],
    [[{ ...SEVEN, strokes: [[]] }], "its strokes[0] must be a non-empty array"],
    [
      [{ ...SEVEN, strokesInBox: [[[0.1, 0.2], [0.3]]] }],
      "its strokesInBox[0][1] must be [x, y] with finite numbers: got [0.3]",
    ],
  ];
  for (const [json, message] of cases) {
    assertThrows(() => parsePenDigits(json), TypeError, message);
  }
});

Deno.test("penDigitsToDataset() renders each digit with its label", () => {
  const data = penDigitsToDataset([SEVEN, ONE], { mode: "centred" });
  assertEquals(data.count, 2);
  assertEquals([...data.labels], [7, 1]);
  assertEquals(data.shape, [1, 28, 28]);
  assertEquals(data.images.length, 2 * 784);
  assert(data.images.subarray(784).some((v) => v > 0));
});

Deno.test("penDigitsToDataset() renders centred and inBox alike on the page's path", () => {
  // The page normalises size before drawing, so where and how small the digit
  // was written does not matter (up to the writer's own point rounding).
  const centred = penDigitsToDataset([ONE], { mode: "centred" });
  const inBox = penDigitsToDataset([ONE], { mode: "inBox" });
  let diff = 0;
  for (let i = 0; i < 784; i++) {
    diff = Math.max(diff, Math.abs(centred.images[i] - inBox.images[i]));
  }
  assert(diff < 1e-3, `largest difference ${diff}`);
  // …and it is exactly the page's function of the canvas strokes.
  const canvas = ONE.strokes.map((s) =>
    s.map(([x, y]): [number, number] => [x * 182 + 49, y * 182 + 49])
  );
  assertEquals(centred.images, strokesToMnist(canvas)!);
});

Deno.test("penDigitsToDataset() with render image keeps the canvas pen, so small digits get thick strokes", () => {
  const sum = (a: Float32Array) => a.reduce((s, v) => s + v, 0);
  const centred = penDigitsToDataset([SEVEN], {
    mode: "centred",
    render: "image",
  });
  const inBox = penDigitsToDataset([SEVEN], { mode: "inBox", render: "image" });
  assert(
    sum(inBox.images) > 1.3 * sum(centred.images),
    `ink ${sum(inBox.images)} vs ${sum(centred.images)}`,
  );
});

Deno.test("penDigitsToDataset() rejects an unknown mode", () => {
  assertThrows(
    () => penDigitsToDataset([ONE], { mode: "corner" as "inBox" }),
    RangeError,
    'mode must be one of centred, inBox: got "corner"',
  );
});

const SHARED = new URL(
  "../../../shared/data/pendigits-dev/strokes.json",
  import.meta.url,
);
const haveShared = await Deno.stat(SHARED).then(() => true, () => false);

Deno.test({
  name: "parsePenDigits() reads the shared pendigits file (when present)",
  ignore: !haveShared,
  fn: async () => {
    const digits = parsePenDigits(JSON.parse(await Deno.readTextFile(SHARED)));
    assertEquals(digits.length, 7494);
    const perLabel = new Array(10).fill(0);
    for (const d of digits) perLabel[d.label]++;
    assertEquals(perLabel, [780, 779, 780, 719, 780, 720, 720, 778, 719, 719]);
    assertEquals(new Set(digits.map((d) => d.writer)).size, 30);
  },
});
