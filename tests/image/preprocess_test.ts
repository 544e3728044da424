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
  imageToMnist,
  inkBounds,
  MNIST_CENTER,
  preprocessToMnist,
  resample,
  rgbaToInk,
  strokeThickness,
} from "../../src/image/preprocess.ts";
import { rasterizeStrokes } from "../../src/image/strokes.ts";

/** An RGBA image from a function of (x, y) returning [r, g, b, a]. */
function rgbaOf(
  width: number,
  height: number,
  pixel: (x: number, y: number) => number[],
): Uint8Array {
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out.set(pixel(x, y), 4 * (y * width + x));
  }
  return out;
}

/** A gray image with ink 1 inside the given rectangles [x0, y0, x1, y1). */
function rectangles(
  width: number,
  height: number,
  rects: number[][],
): GrayImage {
  const data = new Float32Array(width * height);
  for (const [x0, y0, x1, y1] of rects) {
    for (let y = y0; y < y1; y++) data.fill(1, y * width + x0, y * width + x1);
  }
  return { width, height, data };
}

/** An "L" shape: a vertical and a horizontal bar, `scale` px per unit, at (ox, oy). */
function shapeL(size: number, scale: number, ox: number, oy: number) {
  return rectangles(size, size, [
    [ox, oy, ox + 2 * scale, oy + 10 * scale],
    [ox, oy + 8 * scale, ox + 7 * scale, oy + 10 * scale],
  ]);
}

const image28 = (pixels: Float32Array): GrayImage => ({
  width: 28,
  height: 28,
  data: pixels,
});

// ---------------------------------------------------------------------------
// rgbaToInk()

const inside = (x: number, y: number) => x >= 2 && x < 5 && y >= 1 && y < 6;

Deno.test("rgbaToInk() turns black on white into ink 1 on background 0", () => {
  const rgba = rgbaOf(
    7,
    7,
    (x, y) => inside(x, y) ? [0, 0, 0, 255] : [255, 255, 255, 255],
  );
  const ink = rgbaToInk(rgba, 7, 7);
  assertEquals(ink.data[3 * 7 + 3], 1);
  assertEquals(ink.data[0], 0);
  assertEquals(ink.data.reduce((s, v) => s + v, 0), 15);
});

Deno.test("rgbaToInk() detects white on black and a digit on grey paper", () => {
  const whiteOnBlack = rgbaOf(
    7,
    7,
    (x, y) => inside(x, y) ? [255, 255, 255, 255] : [0, 0, 0, 255],
  );
  const greyPaper = rgbaOf(
    7,
    7,
    (x, y) => inside(x, y) ? [40, 40, 40, 255] : [110, 110, 110, 255],
  );
  for (const rgba of [whiteOnBlack, greyPaper]) {
    const ink = rgbaToInk(rgba, 7, 7);
    assertEquals(ink.data[3 * 7 + 3], 1);
    assertEquals(ink.data[0], 0);
    assertEquals(ink.data.reduce((s, v) => s + v, 0), 15);
  }
});

Deno.test("rgbaToInk() treats transparency as background for black and for white ink", () => {
  for (const colour of [0, 255]) {
    const rgba = rgbaOf(
      7,
      7,
      (x, y) => inside(x, y) ? [colour, colour, colour, 255] : [0, 0, 0, 0],
    );
    const ink = rgbaToInk(rgba, 7, 7);
    assertEquals(ink.data[3 * 7 + 3], 1, `ink colour ${colour}`);
    assertEquals(ink.data[0], 0, `ink colour ${colour}`);
  }
  // Half-transparent black ink is half as strong.
  const rgba = rgbaOf(
    3,
    3,
    (x, y) =>
      x === 1 && y === 1
        ? [0, 0, 0, 255]
        : x === 0 && y === 1
        ? [0, 0, 0, 128]
        : [0, 0, 0, 0],
  );
  assertAlmostEquals(rgbaToInk(rgba, 3, 3).data[3], 128 / 255, 1e-6);
});

Deno.test("rgbaToInk() follows an explicit polarity", () => {
  const rgba = rgbaOf(
    7,
    7,
    (x, y) => inside(x, y) ? [255, 255, 255, 255] : [0, 0, 0, 255],
  );
  // Told the ink is dark, a white-on-black image has no ink.
  const forced = rgbaToInk(rgba, 7, 7, { polarity: "dark-on-light" });
  assertEquals(forced.data.reduce((s, v) => s + v, 0), 0);
  const right = rgbaToInk(rgba, 7, 7, { polarity: "light-on-dark" });
  assertEquals(right.data.reduce((s, v) => s + v, 0), 15);
});

Deno.test("rgbaToInk() returns a blank image for a uniform or nearly uniform picture", () => {
  const flat = rgbaOf(5, 5, () => [200, 200, 200, 255]);
  assertEquals(rgbaToInk(flat, 5, 5).data.every((v) => v === 0), true);
  const faint = rgbaOf(
    5,
    5,
    (x) => x === 2 ? [199, 199, 199, 255] : [200, 200, 200, 255],
  );
  assertEquals(rgbaToInk(faint, 5, 5).data.every((v) => v === 0), true);
});

Deno.test("rgbaToInk() rejects a wrong byte count, size or polarity", () => {
  assertThrows(
    () => rgbaToInk(new Uint8Array(15), 2, 2),
    TypeError,
    "2×2 RGBA needs 16 bytes: got 15",
  );
  assertThrows(() => rgbaToInk(new Uint8Array(0), 0, 0), RangeError, "got 0×0");
  assertThrows(
    () =>
      rgbaToInk(new Uint8Array(4), 1, 1, {
        polarity: "sideways" as "auto",
      }),
    RangeError,
    'got "sideways"',
  );
});

// ---------------------------------------------------------------------------
// Helpers: inkBounds(), centerOfMass(), strokeThickness(), resample()

Deno.test("inkBounds() and centerOfMass() use continuous pixel coordinates", () => {
  const image = rectangles(10, 10, [[2, 3, 5, 4]]);
  assertEquals(inkBounds(image), { x0: 2, y0: 3, x1: 5, y1: 4 });
  assertEquals(centerOfMass(image), { x: 3.5, y: 3.5, mass: 3 });
  assertEquals(inkBounds(rectangles(3, 3, [])), null);
  assertEquals(centerOfMass(rectangles(3, 3, [])), null);
});

Deno.test("inkBounds() ignores ink below the threshold", () => {
  const image = rectangles(10, 10, [[2, 3, 5, 4]]);
  image.data[99] = 0.05;
  assertEquals(inkBounds(image), { x0: 2, y0: 3, x1: 5, y1: 4 });
  assertEquals(inkBounds(image, 0.01)?.x1, 10);
});

Deno.test("strokeThickness() measures the width of long bars", () => {
  for (const w of [1, 2, 3, 5]) {
    const image = rectangles(20, 400, [[5, 0, 5 + w, 400]]);
    assertAlmostEquals(strokeThickness(image), w, 0.05 * w);
  }
  assertEquals(strokeThickness(rectangles(4, 4, [])), 0);
});

Deno.test("resample() at scale 1 with an integer offset shifts the image", () => {
  const image = rectangles(5, 5, [[1, 1, 3, 2]]);
  const out = resample(image, 5, 5, { scale: 1, offsetX: 2, offsetY: 1 });
  assertEquals([...out.data], [...rectangles(5, 5, [[3, 2, 5, 3]]).data]);
});

Deno.test("resample() keeps the ink when shrinking (area averaging)", () => {
  // A 1-px line in a 90×90 image, shrunk by 3: every output pixel on the line
  // holds a third of it and the total ink is divided by 3² exactly.
  const image = rectangles(90, 90, [[40, 0, 41, 90]]);
  const out = resample(image, 30, 30, { scale: 1 / 3, offsetX: 0, offsetY: 0 });
  const sum = (a: Float32Array) => a.reduce((s, v) => s + v, 0);
  assertAlmostEquals(sum(out.data), sum(image.data) / 9, 1e-4);
  assertAlmostEquals(out.data[13], 1 / 3, 1e-6);
});

Deno.test("resample() interpolates bilinearly when enlarging", () => {
  const image: GrayImage = {
    width: 2,
    height: 1,
    data: new Float32Array([0, 1]),
  };
  // Output pixel centres 0.5 … 3.5 map to source x = 0.25 … 1.75, i.e. index
  // coordinates −0.25 … 1.25, with 0 outside the source; offsetY = −0.5
  // samples the one source row at its centre.
  const out = resample(image, 4, 1, { scale: 2, offsetX: 0, offsetY: -0.5 });
  assertEquals([...out.data].map((v) => +v.toFixed(3)), [0, 0.25, 0.75, 0.75]);
});

Deno.test("resample() rejects a non-positive scale", () => {
  assertThrows(
    () =>
      resample(rectangles(2, 2, []), 2, 2, {
        scale: 0,
        offsetX: 0,
        offsetY: 0,
      }),
    RangeError,
    "got 0",
  );
});

// ---------------------------------------------------------------------------
// preprocessToMnist()

Deno.test("preprocessToMnist() returns null for a blank or noise-only image", () => {
  assertEquals(preprocessToMnist(rectangles(50, 50, [])), null);
  const noise = rectangles(50, 50, []);
  for (let i = 0; i < noise.data.length; i += 7) noise.data[i] = 0.05;
  assertEquals(preprocessToMnist(noise), null);
});

Deno.test("preprocessToMnist() puts the centre of mass at (14.5, 14.5) and the longer side at 19 px", () => {
  const pixels = preprocessToMnist(shapeL(300, 12, 190, 20))!;
  assertEquals(pixels.length, 784);
  const c = centerOfMass(image28(pixels))!;
  assertAlmostEquals(c.x, MNIST_CENTER, 0.02);
  assertAlmostEquals(c.y, MNIST_CENTER, 0.02);
  const b = inkBounds(image28(pixels), 0.5)!;
  assertEquals(b.y1 - b.y0, DEFAULT_BOX);
  // The aspect ratio is kept: 7 units wide, 10 high.
  assertAlmostEquals(b.x1 - b.x0, DEFAULT_BOX * 0.7, 1);
  assertEquals(Math.max(...pixels), 1);
});

Deno.test("preprocessToMnist() gives the same pixels wherever and however large the digit is", () => {
  const a = preprocessToMnist(shapeL(300, 12, 190, 20))!;
  const b = preprocessToMnist(shapeL(300, 24, 10, 50))!;
  const c = preprocessToMnist(shapeL(40, 3, 4, 6))!;
  for (const other of [b, c]) {
    let diff = 0;
    for (let i = 0; i < 784; i++) diff += Math.abs(a[i] - other[i]);
    assert(diff < 3, `sum of differences ${diff}`);
  }
});

Deno.test("preprocessToMnist() enlarges a tiny digit with bilinear interpolation", () => {
  // 5 px tall: enlarged ×3.8, still centred, no blocky copies of pixels.
  const pixels = preprocessToMnist(rectangles(8, 8, [[3, 1, 5, 6]]))!;
  const c = centerOfMass(image28(pixels))!;
  assertAlmostEquals(c.x, MNIST_CENTER, 0.02);
  assertAlmostEquals(c.y, MNIST_CENTER, 0.02);
  const values = new Set(pixels.filter((v) => v > 0 && v < 1));
  assert(values.size >= 2, "anti-aliased edges");
});

Deno.test("preprocessToMnist() rejects data of the wrong length", () => {
  assertThrows(
    () => preprocessToMnist({ width: 3, height: 3, data: new Float32Array(8) }),
    TypeError,
    "3×3 needs 9 values: got 8",
  );
});

Deno.test("imageToMnist() is rgbaToInk() then preprocessToMnist()", () => {
  const rgba = rgbaOf(
    40,
    40,
    (x, y) =>
      (x >= 10 && x < 14 && y >= 5 && y < 35)
        ? [20, 20, 20, 255]
        : [230, 230, 230, 255],
  );
  assertEquals(
    imageToMnist(rgba, 40, 40),
    preprocessToMnist(rgbaToInk(rgba, 40, 40)),
  );
  assertEquals(imageToMnist(new Uint8Array(4 * 9).fill(255), 3, 3), null);
});

// ---------------------------------------------------------------------------
// Stroke thickness normalisation

/** An upright ellipse ("0") drawn with a round pen on a `size` canvas. */
function ring(size: number, penWidth: number): GrayImage {
  const n = 96;
  const stroke = Array.from({ length: n + 1 }, (_, k): [number, number] => [
    size / 2 + 0.3 * size * Math.cos((2 * Math.PI * k) / n),
    size / 2 + 0.4 * size * Math.sin((2 * Math.PI * k) / n),
  ]);
  return rasterizeStrokes([stroke], { width: size, height: size, penWidth });
}

Deno.test("preprocessToMnist() thickens strokes that would come out too thin", () => {
  // A 3-px pen on a 400-px digit: 0.17 px after scaling, raised to 1.75.
  const image = ring(400, 3);
  const plain = preprocessToMnist(image, { thicknessRange: null })!;
  assert(strokeThickness(image28(plain)) < 1, "thin without adjustment");
  const pixels = preprocessToMnist(image)!;
  assertAlmostEquals(strokeThickness(image28(pixels)), 1.75, 0.3);
  const b = inkBounds(image28(pixels), 0.5)!;
  assertAlmostEquals(b.y1 - b.y0, DEFAULT_BOX, 1);
});

Deno.test("preprocessToMnist() thins strokes that would come out too thick", () => {
  // A 30-px pen on a 100-px canvas: about 4.5 px, lowered to 2.75.
  const pixels = preprocessToMnist(ring(100, 30), {
    thicknessRange: [1.75, 2.75],
  })!;
  assertAlmostEquals(strokeThickness(image28(pixels)), 2.75, 0.35);
  const c = centerOfMass(image28(pixels))!;
  assertAlmostEquals(c.x, MNIST_CENTER, 0.02);
});

Deno.test("preprocessToMnist() leaves strokes inside the thickness range alone", () => {
  const image = ring(300, 30);
  assertEquals(
    preprocessToMnist(image),
    preprocessToMnist(image, { thicknessRange: null }),
  );
});

Deno.test("preprocessToMnist() rejects an empty or reversed thickness range", () => {
  for (const range of [[0, 2], [3, 2], [1, 25]] as [number, number][]) {
    assertThrows(
      () => preprocessToMnist(ring(50, 5), { thicknessRange: range }),
      RangeError,
      `the thickness range must be 0 < min ≤ max < 19: got [${range}]`,
    );
  }
});
