import { assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { createAugment, DEFAULT_AUGMENT } from "../../src/data/augment.ts";
import { createRandom, type Random } from "../../src/nn/random.ts";

/** A "random" source that returns the given numbers in turn, then 0.5 forever. */
function sequence(...values: number[]): Random {
  let i = 0;
  const next = (() => i < values.length ? values[i++] : 0.5) as Random;
  next.getState = () => new Uint32Array(4);
  next.setState = () => {};
  return next;
}

const OFF = {
  shift: 0,
  rotate: 0,
  scale: 0,
  aspect: 0,
  shear: 0,
  elastic: 0,
  thicken: 0,
  thin: 0,
};

/** A 28×28 image with ink at the given (x, y) pixels. */
function imageWith(...pixels: [number, number][]): Float32Array {
  const image = new Float32Array(784);
  for (const [x, y] of pixels) image[y * 28 + x] = 1;
  return image;
}

function sum(a: ArrayLike<number>, from = 0, to = a.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += a[i];
  return s;
}

/** Random stroke-like test digits: a few bright 3×3 blobs. */
function blobs(random: Random): Float32Array {
  const image = new Float32Array(784);
  for (let k = 0; k < 12; k++) {
    const x = 6 + Math.floor(random() * 16), y = 6 + Math.floor(random() * 16);
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) image[(y + dy) * 28 + x + dx] = random();
    }
  }
  return image;
}

Deno.test("createAugment() with every distortion off copies the image exactly", () => {
  const augment = createAugment(OFF);
  const image = blobs(createRandom(1));
  const out = new Float64Array(784);
  augment(out, 0, image, createRandom(2));
  assertEquals(Array.from(out), Array.from(image));
});

Deno.test("createAugment() shifts by the drawn amount (2·u − 1)·shift", () => {
  const augment = createAugment({ ...OFF, shift: 2 });
  const out = new Float64Array(784);
  // Draw order: thickness, rotation, shear, scale, aspect, shift x, shift y.
  // u = 0.75 → +1 pixel right; u = 0.25 → 1 pixel up.
  augment(
    out,
    0,
    imageWith([10, 12]),
    sequence(0.5, 0.5, 0.5, 0.5, 0.5, 0.75, 0.25),
  );
  assertAlmostEquals(out[11 * 28 + 11], 1, 1e-12);
  assertAlmostEquals(sum(out), 1, 1e-12);
});

Deno.test("createAugment() rotates about the image centre", () => {
  // rotate = 180 and u = 0.75 → θ = +90°: (x, y) ↦ (cx − (y − cy), cy + (x − cx)), c = 13.5
  const augment = createAugment({ ...OFF, rotate: 180 });
  const out = new Float64Array(784);
  augment(out, 0, imageWith([20, 10]), sequence(0.5, 0.75));
  assertAlmostEquals(out[20 * 28 + 17], 1, 1e-9);
  assertAlmostEquals(sum(out), 1, 1e-9);
});

Deno.test("createAugment() thickens strokes by dilation and thins them by raising the ink level", () => {
  const augment = createAugment({ ...OFF, thicken: 1, thin: 0.5 });
  const out = new Float64Array(784);
  // t = −0.5 + 1.5·u. u → 1: t = +1, a full 3×3 dilation: one pixel becomes a 3×3 block.
  augment(out, 0, imageWith([14, 14]), sequence(1));
  assertEquals(sum(out), 9);
  assertEquals(out[13 * 28 + 13], 1);
  // u = 2/3: t = +0.5, halfway: the ring around the pixel gets 0.5.
  augment(out, 0, imageWith([14, 14]), sequence(2 / 3));
  assertEquals(out[14 * 28 + 14], 1);
  assertEquals(out[13 * 28 + 14], 0.5);
  // u = 0: t = −0.5: a soft edge of 0.25 vanishes, 0.75 becomes 0.5, 1 stays 1.
  const soft = new Float32Array(784);
  soft[14 * 28 + 13] = 0.25;
  soft[14 * 28 + 14] = 1;
  soft[14 * 28 + 15] = 0.75;
  augment(out, 0, soft, sequence(0));
  assertEquals(
    [out[14 * 28 + 13], out[14 * 28 + 14], out[14 * 28 + 15]],
    [0, 1, 0.5],
  );
});

Deno.test("createAugment() is deterministic for a seed and varies with it", () => {
  const augment = createAugment({ ...DEFAULT_AUGMENT, elastic: 1 });
  const image = blobs(createRandom(3));
  const a = new Float64Array(784), b = new Float64Array(784);
  const c = new Float64Array(784);
  augment(a, 0, image, createRandom(10));
  augment(b, 0, image, createRandom(10));
  augment(c, 0, image, createRandom(11));
  assertEquals(Array.from(a), Array.from(b));
  assertEquals(a.every((v, i) => v === c[i]), false);
});

Deno.test("createAugment() keeps pixels in 0..1 and writes only its own slot", () => {
  const augment = createAugment({
    shift: 3,
    rotate: 20,
    scale: 0.2,
    aspect: 0.2,
    shear: 0.4,
    elastic: 2,
    thicken: 1,
    thin: 0.9,
  });
  const random = createRandom(4);
  const out = new Float64Array(3 * 784).fill(-7);
  for (let k = 0; k < 50; k++) {
    augment(out, 784, blobs(random), random);
    for (let i = 784; i < 2 * 784; i++) {
      if (!(out[i] >= 0 && out[i] <= 1 + 1e-12)) {
        throw new Error(`pixel ${i - 784} out of range: ${out[i]}`);
      }
    }
  }
  assertEquals(out.subarray(0, 784).every((v) => v === -7), true);
  assertEquals(out.subarray(2 * 784).every((v) => v === -7), true);
});

Deno.test("createAugment() elastic distortion moves ink but keeps most of it", () => {
  const augment = createAugment({ ...OFF, elastic: 1.5 });
  const image = blobs(createRandom(5));
  const out = new Float64Array(784);
  augment(out, 0, image, createRandom(6));
  assertEquals(out.every((v, i) => v === image[i]), false);
  const ratio = sum(out) / sum(image);
  if (!(ratio > 0.6 && ratio < 1.6)) throw new Error(`ink ratio ${ratio}`);
});

Deno.test("createAugment() rejects options out of range and images of the wrong size", () => {
  assertThrows(() => createAugment({ rotate: -1 }), RangeError, "rotate");
  assertThrows(() => createAugment({ shift: NaN }), RangeError, "shift");
  assertThrows(() => createAugment({ scale: 1 }), RangeError, "scale 1");
  assertThrows(() => createAugment({ thin: 0.95 }), RangeError, "thin 0.95");
  assertThrows(() => createAugment({ elasticGrid: 0 }), RangeError, "got 0");
  const augment = createAugment();
  assertThrows(
    () =>
      augment(new Float64Array(784), 0, new Float32Array(783), createRandom(1)),
    TypeError,
    "got 783",
  );
});
