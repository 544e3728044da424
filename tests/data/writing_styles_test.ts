import { assertEquals, assertThrows } from "@std/assert";
import { addWritingStyles } from "../../src/data/writing_styles.ts";
import type { Dataset } from "../../src/nn/dataset.ts";
import { createRandom } from "../../src/nn/random.ts";

/** Draws a thick line (3 px) between two pixel centres into a 28×28 image. */
function line(
  image: Float32Array,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
): void {
  const steps = 4 * Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0));
  for (let s = 0; s <= steps; s++) {
    const x = Math.round(x0 + (x1 - x0) * s / steps);
    const y = Math.round(y0 + (y1 - y0) * s / steps);
    for (let d = -1; d <= 1; d++) image[y * 28 + x + d] = 1;
  }
}

/** A dataset of hand-made digits: a plain 1, a 7 without crossbar, a 9 with a straight stem, a 0. */
function digits(): Dataset {
  const images = new Float32Array(4 * 784);
  const one = images.subarray(0, 784);
  line(one, 14, 4, 14, 23);
  const seven = images.subarray(784, 2 * 784);
  line(seven, 8, 4, 20, 4);
  line(seven, 20, 4, 12, 23);
  const nine = images.subarray(2 * 784, 3 * 784);
  line(nine, 10, 4, 18, 4);
  line(nine, 10, 4, 10, 12);
  line(nine, 10, 12, 18, 12);
  line(nine, 18, 4, 18, 23);
  const zero = images.subarray(3 * 784);
  line(zero, 9, 4, 19, 4);
  line(zero, 9, 23, 19, 23);
  line(zero, 9, 4, 9, 23);
  line(zero, 19, 4, 19, 23);
  return {
    images,
    labels: Uint8Array.from([1, 7, 9, 0]),
    count: 4,
    shape: [1, 28, 28],
  };
}

function image(data: Dataset, i: number): Float32Array {
  return data.images.subarray(i * 784, (i + 1) * 784);
}

/** Columns with ink (≥ 0.5) in row y. */
function inkWidth(img: Float32Array, y: number): number {
  let n = 0;
  for (let x = 0; x < 28; x++) if (img[y * 28 + x] >= 0.5) n++;
  return n;
}

function inkColumns(img: Float32Array): number {
  let n = 0;
  for (let x = 0; x < 28; x++) {
    let any = false;
    for (let y = 0; y < 28; y++) any ||= img[y * 28 + x] >= 0.5;
    if (any) n++;
  }
  return n;
}

Deno.test("addWritingStyles() with fraction 1 restyles every 1, 7 and 9 and leaves other digits alone", () => {
  const data = digits();
  const styled = addWritingStyles(data, {
    random: createRandom(1),
    fraction: 1,
    footProbability: 0,
  });
  for (const i of [0, 1, 2]) {
    assertEquals(
      image(styled, i).every((v, k) => v === image(data, i)[k]),
      false,
      `digit ${data.labels[i]} should change`,
    );
  }
  assertEquals(Array.from(image(styled, 3)), Array.from(image(data, 3)));
  assertEquals(Array.from(styled.labels), [1, 7, 9, 0]);
  // The input is not modified.
  assertEquals(Array.from(data.images), Array.from(digits().images));
});

Deno.test("addWritingStyles() gives a 1 a flag that widens it and a 7 a crossbar", () => {
  const data = digits();
  const styled = addWritingStyles(data, {
    random: createRandom(2),
    fraction: 1,
    footProbability: 0,
  });
  // The plain 1 is 3 columns wide; with a flag it spans more.
  if (!(inkColumns(image(styled, 0)) > inkColumns(image(data, 0)) + 2)) {
    throw new Error(`flag missing: ${inkColumns(image(styled, 0))} columns`);
  }
  // Some row in the lower half of the 7 is now much wider than the stem.
  let widest = 0;
  for (let y = 12; y < 24; y++) {
    widest = Math.max(widest, inkWidth(image(styled, 1), y));
  }
  if (!(widest >= 6)) throw new Error(`crossbar missing: widest row ${widest}`);
});

Deno.test("addWritingStyles() with fraction 0 copies the dataset", () => {
  const data = digits();
  const styled = addWritingStyles(data, {
    random: createRandom(1),
    fraction: 0,
  });
  assertEquals(Array.from(styled.images), Array.from(data.images));
});

Deno.test("addWritingStyles() keeps restyled digits in MNIST's format", () => {
  const styled = addWritingStyles(digits(), {
    random: createRandom(3),
    fraction: 1,
    footProbability: 1,
  });
  for (const i of [0, 1, 2]) {
    const img = image(styled, i);
    let mass = 0, mx = 0, my = 0, max = 0, top = 28, bottom = -1;
    let left = 28, right = -1;
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const v = img[y * 28 + x];
        if (!(v >= 0 && v <= 1)) throw new Error(`pixel ${v} outside 0..1`);
        mass += v;
        mx += v * (x + 0.5);
        my += v * (y + 0.5);
        max = Math.max(max, v);
        if (v >= 0.05) {
          top = Math.min(top, y);
          bottom = Math.max(bottom, y);
          left = Math.min(left, x);
          right = Math.max(right, x);
        }
      }
    }
    assertEquals(max, 1);
    const cx = mx / mass, cy = my / mass;
    if (Math.abs(cx - 14.5) > 0.6 || Math.abs(cy - 14.5) > 0.6) {
      throw new Error(`digit ${i}: centre of mass (${cx}, ${cy})`);
    }
    const box = Math.max(bottom - top + 1, right - left + 1);
    if (box < 19 || box > 22) throw new Error(`digit ${i}: box ${box} px`);
  }
});

Deno.test("addWritingStyles() is deterministic for a seed", () => {
  const a = addWritingStyles(digits(), {
    random: createRandom(4),
    fraction: 1,
  });
  const b = addWritingStyles(digits(), {
    random: createRandom(4),
    fraction: 1,
  });
  assertEquals(Array.from(a.images), Array.from(b.images));
});

Deno.test("addWritingStyles() rejects other image shapes and fractions outside 0..1", () => {
  const random = createRandom(1);
  assertThrows(
    () => addWritingStyles({ ...digits(), shape: [784] }, { random }),
    TypeError,
    "got 784",
  );
  assertThrows(
    () => addWritingStyles(digits(), { random, fraction: 1.5 }),
    RangeError,
    "got 1.5",
  );
  assertThrows(
    () => addWritingStyles(digits(), { random, footProbability: -1 }),
    RangeError,
    "got -1",
  );
});
