/**
 * Vector strokes (what a pen or a mouse drew) to pixels, and to the MNIST
 * input. Pure: the canvas page bundles this file, the evaluation uses it on
 * pen-drawn digits, so both see the same pixels.
 *
 * A stroke is the pen's path from pen-down to pen-up as points in canvas
 * pixels (x right, y down; pixel i covers [i, i+1)). It is drawn like a 2D
 * canvas with `lineCap = lineJoin = "round"`: the set of points within
 * r = penWidth / 2 of the polyline, anti-aliased. A pixel's coverage comes
 * from the distance d of its centre to the nearest segment:
 *
 *   coverage = clamp(min(r + ½ − d, 2r), 0, 1)
 *
 * a 1-px ramp across the edge whose integral across a line is exactly its
 * width (also for pens thinner than a pixel, where the plateau is 2r < 1).
 *
 * {@link strokesToMnist} normalises size *before* drawing: the digit's
 * bounding box is scaled so that, drawn with a pen of the chosen final
 * thickness, its ink spans the MNIST box (19 px), on a raster `supersample`
 * times finer than MNIST's; then {@link preprocessToMnist} shrinks that by
 * area averaging and centres the mass. The stroke ends up the same thickness
 * in the 28×28 image however small or large the digit was drawn. (Drawn with
 * a fixed 30-px canvas pen instead, small digits came out 4.5 px thick and
 * the pen-drawn accuracy fell from 87.7 % to 70.5 %.)
 *
 * @module
 */

import {
  DEFAULT_BOX,
  type GrayImage,
  type MnistOptions,
  preprocessToMnist,
} from "./preprocess.ts";

/** A point [x, y] in canvas pixels, y pointing down. */
export type Point = [number, number];
/** One pen-down … pen-up path; a stroke of one point is a dot. */
export type Stroke = Point[];

/**
 * Final stroke thickness in the 28×28 image, in pixels, that
 * {@link strokesToMnist} draws with by default. MNIST measures 2.46 px; on
 * pen-drawn digits 1.75–2.25 px did best, 2.5 and more lost up to 1.7 points
 * (see the README's table).
 */
export const DEFAULT_THICKNESS = 2;
/** How much finer than the final image {@link strokesToMnist} draws. */
export const DEFAULT_SUPERSAMPLE = 4;

/**
 * Draws strokes as anti-aliased, round-capped, round-joined lines of
 * `penWidth` on a `width` × `height` image (0 = background, 1 = ink).
 * Overlapping strokes do not add up (the union is drawn, as a canvas path).
 *
 * @example
 * ```ts
 * import { rasterizeStrokes } from "./strokes.ts";
 * const image = rasterizeStrokes([[[5, 2], [5, 18]]], { width: 10, height: 20, penWidth: 2 });
 * console.assert(image.data[10 * 10 + 4] === 1 && image.data[10 * 10 + 5] === 1);
 * console.assert(image.data[10 * 10 + 7] === 0);
 * ```
 */
export function rasterizeStrokes(
  strokes: readonly (readonly Point[])[],
  { width, height, penWidth }: {
    width: number;
    height: number;
    penWidth: number;
  },
): GrayImage {
  if (
    !(Number.isInteger(width) && Number.isInteger(height) && width > 0 &&
      height > 0)
  ) {
    throw new RangeError(
      `Cannot rasterize the strokes as width and height must be positive integers: got ${width}×${height}`,
    );
  }
  if (!(penWidth > 0 && Number.isFinite(penWidth))) {
    throw new RangeError(
      `Cannot rasterize the strokes as the pen width must be a positive number: got ${penWidth}`,
    );
  }
  checkStrokes(strokes);
  const data = new Float32Array(width * height);
  const r = penWidth / 2;
  for (const stroke of strokes) {
    if (stroke.length === 1) {
      drawSegment(data, width, height, stroke[0], stroke[0], r);
    }
    for (let k = 1; k < stroke.length; k++) {
      drawSegment(data, width, height, stroke[k - 1], stroke[k], r);
    }
  }
  return { width, height, data };
}

/** Options of {@link strokesToMnist}. */
export interface StrokesToMnistOptions
  extends Omit<MnistOptions, "thicknessRange"> {
  /** Final stroke thickness in the 28×28 image, px (default {@link DEFAULT_THICKNESS}). */
  thickness?: number;
  /** Draw this many times finer than the final image, then area-average (default 4). */
  supersample?: number;
}

/**
 * The page's path from strokes to the network's 784 inputs: normalise the
 * strokes' size, draw them with a pen relative to the digit, then the MNIST
 * recipe ({@link preprocessToMnist}). The result does not depend on where
 * or how large the digit was drawn, nor on the canvas pen width. Returns null
 * when there are no points.
 *
 * Degenerate input: a perfectly straight vertical or horizontal line (a "1")
 * has a zero-width box and keeps it (a line `thickness` wide, 19 px long); a
 * single dot, or points all equal, is a disk that, as in any image, the MNIST
 * recipe scales to the full box.
 *
 * @example
 * ```ts
 * import { strokesToMnist } from "./strokes.ts";
 * const one = strokesToMnist([[[140, 40], [140, 240]]]);
 * console.assert(one !== null && one[14 * 28 + 14] === 1 && one[14 * 28 + 18] === 0);
 * console.assert(strokesToMnist([]) === null);
 * ```
 */
export function strokesToMnist(
  strokes: readonly (readonly Point[])[],
  {
    thickness = DEFAULT_THICKNESS,
    supersample = DEFAULT_SUPERSAMPLE,
    ...mnist
  }: StrokesToMnistOptions = {},
): Float32Array | null {
  const box = mnist.box ?? DEFAULT_BOX;
  if (!(thickness > 0 && thickness < box)) {
    throw new RangeError(
      `Cannot prepare the strokes as the thickness must be in (0, ${box}) px: got ${thickness}`,
    );
  }
  if (!(Number.isInteger(supersample) && supersample >= 1)) {
    throw new RangeError(
      `Cannot prepare the strokes as supersample must be a positive integer: got ${supersample}`,
    );
  }
  checkStrokes(strokes);
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const stroke of strokes) {
    for (const [x, y] of stroke) {
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (x1 < x0) return null;
  // The pen's path spans (box − thickness) px so that with the round caps
  // the ink spans `box` px; all at `supersample` × the final resolution.
  const extent = Math.max(x1 - x0, y1 - y0);
  const penWidth = thickness * supersample;
  const k = extent > 0 ? (box - thickness) * supersample / extent : 1;
  const margin = Math.ceil(penWidth);
  const width = Math.ceil((x1 - x0) * k) + 2 * margin;
  const height = Math.ceil((y1 - y0) * k) + 2 * margin;
  const scaled = strokes.map((stroke) =>
    stroke.map(([x, y]): Point => [
      (x - x0) * k + margin,
      (y - y0) * k + margin,
    ])
  );
  const image = rasterizeStrokes(scaled, { width, height, penWidth });
  // Drawn at exactly `thickness` already: no thickness adjustment.
  return preprocessToMnist(image, { ...mnist, thicknessRange: null });
}

/** Throws a TypeError naming the first point that is not two finite numbers. */
function checkStrokes(strokes: readonly (readonly Point[])[]): void {
  if (!Array.isArray(strokes)) {
    throw new TypeError(
      `Cannot read the strokes as they must be an array: got ${typeof strokes}`,
    );
  }
  for (const [s, stroke] of strokes.entries()) {
    if (!Array.isArray(stroke)) {
      throw new TypeError(
        `Cannot read the strokes as stroke ${s} must be an array of points: got ${typeof stroke}`,
      );
    }
    for (const [p, point] of stroke.entries()) {
      if (
        !Array.isArray(point) || point.length !== 2 ||
        !Number.isFinite(point[0]) || !Number.isFinite(point[1])
      ) {
        throw new TypeError(
          `Cannot read the strokes as point ${p} of stroke ${s} must be [x, y] with finite numbers: got ${
            JSON.stringify(point)
          }`,
        );
      }
    }
  }
}

/**
 * Adds the capsule of radius r around segment a–b to `data` (keeping the
 * larger coverage where it overlaps what is there).
 */
function drawSegment(
  data: Float32Array,
  width: number,
  height: number,
  a: readonly number[],
  b: readonly number[],
  r: number,
): void {
  const reach = r + 0.5, reachSquared = reach * reach;
  const xFirst = Math.max(0, Math.floor(Math.min(a[0], b[0]) - reach));
  const xLast = Math.min(width - 1, Math.ceil(Math.max(a[0], b[0]) + reach));
  const yFirst = Math.max(0, Math.floor(Math.min(a[1], b[1]) - reach));
  const yLast = Math.min(height - 1, Math.ceil(Math.max(a[1], b[1]) + reach));
  const dx = b[0] - a[0], dy = b[1] - a[1];
  const lengthSquared = dx * dx + dy * dy;
  const plateau = Math.min(1, 2 * r);
  for (let y = yFirst; y <= yLast; y++) {
    const py = y + 0.5 - a[1];
    for (let x = xFirst; x <= xLast; x++) {
      const px = x + 0.5 - a[0];
      // Distance from the pixel centre to the nearest point of the segment.
      let t = lengthSquared > 0 ? (px * dx + py * dy) / lengthSquared : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const ex = px - t * dx, ey = py - t * dy;
      const d2 = ex * ex + ey * ey;
      if (d2 >= reachSquared) continue;
      let coverage = reach - Math.sqrt(d2);
      if (coverage > plateau) coverage = plateau;
      const i = y * width + x;
      if (coverage > data[i]) data[i] = coverage;
    }
  }
}
