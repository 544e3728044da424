import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertThrows,
} from "@std/assert";
import {
  centerOfMass,
  DEFAULT_BOX,
  type GrayImage,
  inkBounds,
  MNIST_CENTER,
  strokeThickness,
} from "../../src/image/preprocess.ts";
import {
  DEFAULT_THICKNESS,
  type Point,
  rasterizeStrokes,
  type Stroke,
  strokesToMnist,
} from "../../src/image/strokes.ts";

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);
const image28 = (data: Float32Array): GrayImage => ({
  width: 28,
  height: 28,
  data,
});

/** A circle ("0") of radius r around (cx, cy), as one stroke of n points. */
function circle(cx: number, cy: number, r: number, n = 64): Stroke {
  return Array.from({ length: n + 1 }, (_, k): Point => [
    cx + r * Math.cos((2 * Math.PI * k) / n),
    cy + 1.4 * r * Math.sin((2 * Math.PI * k) / n),
  ]);
}

/** A "7" drawn with its top-left corner at (x, y), `size` px tall. */
function seven(x: number, y: number, size: number): Stroke[] {
  return [[[x, y], [x + 0.6 * size, y], [x + 0.2 * size, y + size]], [[
    x + 0.1 * size,
    y + 0.5 * size,
  ], [x + 0.5 * size, y + 0.5 * size]]];
}

// ---------------------------------------------------------------------------
// rasterizeStrokes()

Deno.test("rasterizeStrokes() draws a horizontal line with anti-aliased edges", () => {
  // Centre line y = 10, pen 3: rows 9 and 10 are covered, rows 8 and 11 half.
  const image = rasterizeStrokes([[[2, 10], [18, 10]]], {
    width: 20,
    height: 20,
    penWidth: 3,
  });
  const column = (y: number) => image.data[y * 20 + 10];
  assertEquals([7, 8, 9, 10, 11, 12].map(column), [0, 0.5, 1, 1, 0.5, 0]);
});

Deno.test("rasterizeStrokes() puts exactly the pen width of ink across a line, also for thin pens", () => {
  for (const penWidth of [0.4, 1, 2.5, 7]) {
    const image = rasterizeStrokes([[[0, 20.3], [40, 20.3]]], {
      width: 40,
      height: 40,
      penWidth,
    });
    let across = 0;
    for (let y = 0; y < 40; y++) across += image.data[y * 40 + 20];
    assertAlmostEquals(across, penWidth, 1e-6, `pen ${penWidth}`);
  }
});

Deno.test("rasterizeStrokes() draws a one-point stroke as a round dot", () => {
  const image = rasterizeStrokes([[[20, 20]]], {
    width: 40,
    height: 40,
    penWidth: 16,
  });
  assertAlmostEquals(sum(image.data), Math.PI * 8 * 8, 2);
  assertEquals(image.data[20 * 40 + 20], 1);
  assertEquals(image.data[20 * 40 + 30], 0);
});

Deno.test("rasterizeStrokes() draws overlapping strokes once (their union)", () => {
  const options = { width: 30, height: 30, penWidth: 4 };
  const once = rasterizeStrokes([[[5, 5], [25, 25]]], options);
  const twice = rasterizeStrokes(
    [[[5, 5], [25, 25]], [[25, 25], [5, 5]]],
    options,
  );
  assertEquals(twice.data, once.data);
  assert(Math.max(...once.data) <= 1);
});

Deno.test("rasterizeStrokes() clips strokes that leave the canvas and skips empty ones", () => {
  const image = rasterizeStrokes([[], [[-50, 5], [50, 5]]], {
    width: 10,
    height: 10,
    penWidth: 2,
  });
  assertEquals(image.data[4 * 10 + 0], 1);
  assertEquals(image.data[4 * 10 + 9], 1);
});

Deno.test("rasterizeStrokes() rejects bad points, sizes and pen widths", () => {
  const options = { width: 10, height: 10, penWidth: 2 };
  assertThrows(
    () => rasterizeStrokes([[[1, 1], [2, NaN]]], options),
    TypeError,
    "point 1 of stroke 0 must be [x, y] with finite numbers: got [2,null]",
  );
  assertThrows(
    () => rasterizeStrokes([[[1, 1, 1] as unknown as Point]], options),
    TypeError,
    "got [1,1,1]",
  );
  assertThrows(
    () => rasterizeStrokes([], { ...options, penWidth: 0 }),
    RangeError,
    "pen width must be a positive number: got 0",
  );
  assertThrows(
    () => rasterizeStrokes([], { ...options, width: 2.5 }),
    RangeError,
    "got 2.5×10",
  );
});

// ---------------------------------------------------------------------------
// strokesToMnist()

Deno.test("strokesToMnist() returns null without points", () => {
  assertEquals(strokesToMnist([]), null);
  assertEquals(strokesToMnist([[], []]), null);
});

Deno.test("strokesToMnist() centres the mass at (14.5, 14.5) with the longer side at 19 px", () => {
  const pixels = strokesToMnist([circle(60, 200, 20)])!;
  const c = centerOfMass(image28(pixels))!;
  assertAlmostEquals(c.x, MNIST_CENTER, 0.02);
  assertAlmostEquals(c.y, MNIST_CENTER, 0.02);
  const b = inkBounds(image28(pixels), 0.5)!;
  assertAlmostEquals(b.y1 - b.y0, DEFAULT_BOX, 1);
  assertEquals(Math.max(...pixels), 1);
});

Deno.test("strokesToMnist() draws strokes of the chosen thickness however small the digit was drawn", () => {
  for (const thickness of [1.5, DEFAULT_THICKNESS, 3]) {
    for (const r of [8, 30, 120]) {
      const pixels = strokesToMnist([circle(150, 150, r)], { thickness })!;
      assertAlmostEquals(
        strokeThickness(image28(pixels)),
        thickness,
        0.25,
        `thickness ${thickness}, radius ${r}`,
      );
    }
  }
});

Deno.test("strokesToMnist() gives the same pixels wherever and however large the digit is drawn", () => {
  const a = strokesToMnist(seven(20, 30, 200))!;
  const b = strokesToMnist(seven(180, 200, 40))!;
  let diff = 0;
  for (let i = 0; i < 784; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  assert(diff < 1e-3, `largest difference ${diff}`);
});

Deno.test("strokesToMnist() draws a perfectly vertical 1 as a thin upright bar", () => {
  const pixels = strokesToMnist([[[140, 40], [140, 120], [140, 240]]])!;
  const b = inkBounds(image28(pixels), 0.5)!;
  assertAlmostEquals(b.y1 - b.y0, DEFAULT_BOX, 1);
  assert(b.x1 - b.x0 <= 3, `width ${b.x1 - b.x0}`);
  assertAlmostEquals(strokeThickness(image28(pixels)), DEFAULT_THICKNESS, 0.3);
  const c = centerOfMass(image28(pixels))!;
  assertAlmostEquals(c.x, MNIST_CENTER, 0.02);
});

Deno.test("strokesToMnist() draws a horizontal line across the box", () => {
  const pixels = strokesToMnist([[[40, 100], [240, 100]]])!;
  const b = inkBounds(image28(pixels), 0.5)!;
  assertAlmostEquals(b.x1 - b.x0, DEFAULT_BOX, 1);
  assert(b.y1 - b.y0 <= 3);
});

Deno.test("strokesToMnist() turns a dot, or points all equal, into a centred round blob", () => {
  const dot = strokesToMnist([[[33, 77]]])!;
  const same = strokesToMnist([[[33, 77], [33, 77]], [[33, 77]]])!;
  assertEquals(same, dot);
  const c = centerOfMass(image28(dot))!;
  assertAlmostEquals(c.x, MNIST_CENTER, 0.02);
  assertAlmostEquals(c.y, MNIST_CENTER, 0.02);
  const b = inkBounds(image28(dot), 0.5)!;
  assertEquals(b.x1 - b.x0, b.y1 - b.y0);
});

Deno.test("strokesToMnist() rejects a thickness outside (0, box) and a bad supersample", () => {
  const strokes = [circle(50, 50, 10)];
  assertThrows(
    () => strokesToMnist(strokes, { thickness: 0 }),
    RangeError,
    "thickness must be in (0, 19) px: got 0",
  );
  assertThrows(
    () => strokesToMnist(strokes, { thickness: 25 }),
    RangeError,
    "got 25",
  );
  assertThrows(
    () => strokesToMnist(strokes, { supersample: 1.5 }),
    RangeError,
    "supersample must be a positive integer: got 1.5",
  );
  assertThrows(
    () => strokesToMnist([[[0, Infinity]]]),
    TypeError,
    "point 0 of stroke 0",
  );
});
