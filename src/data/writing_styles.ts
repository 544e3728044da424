/**
 * Writing styles MNIST barely has. MNIST's digits were written by American
 * Census employees and students; people elsewhere (and most users of a German
 * notebook) write a 1 with a long flag and often a foot, a 7 with a crossbar,
 * and a 9 whose tail curls to the left. A network trained on MNIST alone
 * reads those as 7, 2 and 3 (see FINDINGS.md). No affine or elastic warp turns
 * one style into the other: the strokes are missing. So we draw them.
 *
 * {@link addWritingStyles} returns a copy of a dataset in which a fraction of
 * the 1s, 7s and 9s got the missing stroke, drawn as an anti-aliased line of
 * the digit's own stroke width:
 *
 *   1  a flag from the top of the stem down to the left (length 30–60 % of
 *      the digit's height, 20–60° below horizontal), and with probability
 *      `footProbability` a horizontal foot under the stem
 *   7  a short crossbar through the stem at 50–65 % of the height
 *   9  a tail continuing below the stem and curling left
 *
 * The restyled digit is then put back into MNIST's format (longest side of
 * the ink 20 px, centre of mass at the centre), since the new stroke changed
 * its box. The rest of the dataset is copied unchanged; the number of
 * examples stays the same, so training takes as long as before. Randomness
 * comes only from the given generator.
 *
 * @module
 */

import { preprocessToMnist, strokeThickness } from "../image/preprocess.ts";
import type { Dataset } from "../nn/dataset.ts";
import type { Random } from "../nn/random.ts";

/** How many digits to restyle. */
export interface WritingStyleOptions {
  /** The generator that picks digits and draws the strokes. */
  random: Random;
  /** Fraction of the 1s, 7s and 9s that get the missing stroke, 0..1 (default 0.6). */
  fraction?: number;
  /** Probability that a flagged 1 also gets a foot 40–80 % of its height wide (default 0.4). */
  footProbability?: number;
}

const SIDE = 28;

/**
 * A copy of `data` with a fraction of its 1s, 7s and 9s restyled; see the
 * module comment.
 *
 * @example
 * ```ts
 * import { addWritingStyles } from "./writing_styles.ts";
 * import { createRandom } from "../nn/random.ts";
 * const images = new Float32Array(784);
 * for (let y = 4; y < 24; y++) images[y * 28 + 14] = 1; // a "1"
 * const data = { images, labels: Uint8Array.of(1), count: 1, shape: [1, 28, 28] };
 * const styled = addWritingStyles(data, { random: createRandom(1), fraction: 1 });
 * console.assert(styled.images.some((v, i) => v !== images[i]));
 * ```
 */
export function addWritingStyles(
  data: Dataset,
  { random, fraction = 0.6, footProbability = 0.4 }: WritingStyleOptions,
): Dataset {
  if (data.shape.join("x") !== "1x28x28") {
    throw new TypeError(
      `Cannot add writing styles as the images must be 1×28×28: got ${
        data.shape.join("×")
      }`,
    );
  }
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new RangeError(
      `Cannot add writing styles as fraction must be in 0..1: got ${fraction}`,
    );
  }
  if (!(footProbability >= 0 && footProbability <= 1)) {
    throw new RangeError(
      `Cannot add writing styles as footProbability must be in 0..1: got ${footProbability}`,
    );
  }
  const images = data.images.slice();
  const size = SIDE * SIDE;
  for (let i = 0; i < data.count; i++) {
    const label = data.labels[i];
    if (label !== 1 && label !== 7 && label !== 9) continue;
    if (random() >= fraction) continue;
    const image = images.subarray(i * size, (i + 1) * size);
    const styled = restyle(image, label, random, footProbability);
    if (styled) image.set(styled);
  }
  return {
    images,
    labels: data.labels.slice(),
    count: data.count,
    shape: [...data.shape],
  };
}

/** Ink extent of a 28×28 image: rows, and the mean ink column of a row. */
interface Ink {
  top: number;
  bottom: number;
  /** Mean x of the ink in row y (−1 when the row is empty). */
  rowCenter(y: number): number;
}

function inkOf(image: Float32Array): Ink | null {
  let top = -1, bottom = -1;
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      if (image[y * SIDE + x] >= 0.5) {
        if (top < 0) top = y;
        bottom = y;
        break;
      }
    }
  }
  if (top < 0) return null;
  return {
    top,
    bottom,
    rowCenter(y: number): number {
      let s = 0, m = 0;
      for (let x = 0; x < SIDE; x++) {
        const v = image[y * SIDE + x];
        if (v >= 0.5) {
          s += v * (x + 0.5);
          m += v;
        }
      }
      return m > 0 ? s / m : -1;
    },
  };
}

/** The digit with its missing stroke drawn and renormalised, or null if it has no ink. */
function restyle(
  image: Float32Array,
  label: number,
  random: Random,
  footProbability: number,
): Float32Array | null {
  const ink = inkOf(image);
  if (!ink) return null;
  // Draw on a canvas with a 10 px margin: the new stroke may leave the 28×28 box.
  const margin = 10, side = SIDE + 2 * margin;
  const canvas = new Float32Array(side * side);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      canvas[(y + margin) * side + x + margin] = image[y * SIDE + x];
    }
  }
  const width = Math.max(
    1.5,
    strokeThickness({ width: SIDE, height: SIDE, data: image }),
  );
  const height = ink.bottom - ink.top + 1;
  const between = (a: number, b: number) => a + (b - a) * random();
  const line = (x0: number, y0: number, x1: number, y1: number) =>
    drawLine(
      canvas,
      side,
      x0 + margin,
      y0 + margin,
      x1 + margin,
      y1 + margin,
      width,
    );

  if (label === 1) {
    const topY = ink.top + 0.5;
    const topX = ink.rowCenter(ink.top);
    const length = height * between(0.3, 0.6);
    const angle = between(20, 60) * Math.PI / 180;
    line(
      topX,
      topY,
      topX - length * Math.cos(angle),
      topY + length * Math.sin(angle),
    );
    if (random() < footProbability) {
      const footY = ink.bottom + 0.5;
      const footX = ink.rowCenter(ink.bottom);
      const half = height * between(0.2, 0.4);
      line(footX - half, footY, footX + half, footY);
    }
  } else if (label === 7) {
    const y = Math.round(ink.top + height * between(0.5, 0.65));
    const x = ink.rowCenter(Math.min(y, ink.bottom));
    if (x < 0) return null;
    const half = height * between(0.15, 0.28);
    const tilt = between(-0.15, 0.15) * half;
    line(x - half, y + 0.5 + tilt, x + half, y + 0.5 - tilt);
  } else {
    // 9: continue the stem down, then curl left (a quadratic Bézier in 6 pieces).
    const x0 = ink.rowCenter(ink.bottom), y0 = ink.bottom + 0.5;
    const drop = height * between(0.12, 0.25);
    const reach = height * between(0.25, 0.45);
    const cx = x0, cy = y0 + drop;
    const x2 = x0 - reach, y2 = y0 + drop * between(0, 0.6);
    let px = x0, py = y0;
    for (let k = 1; k <= 6; k++) {
      const t = k / 6;
      const qx = (1 - t) * (1 - t) * x0 + 2 * (1 - t) * t * cx + t * t * x2;
      const qy = (1 - t) * (1 - t) * y0 + 2 * (1 - t) * t * cy + t * t * y2;
      line(px, py, qx, qy);
      px = qx;
      py = qy;
    }
  }
  return preprocessToMnist({ width: side, height: side, data: canvas }, {
    box: 20,
    threshold: 0.05,
  });
}

/**
 * Draws an anti-aliased line of `width` px with round ends from (x0, y0) to
 * (x1, y1) (continuous coordinates: pixel i spans [i, i + 1)); ink already
 * there is kept where it is darker.
 */
function drawLine(
  image: Float32Array,
  side: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  width: number,
): void {
  const r = width / 2;
  const dx = x1 - x0, dy = y1 - y0;
  const length2 = dx * dx + dy * dy;
  const xFrom = Math.max(0, Math.floor(Math.min(x0, x1) - r - 1));
  const xTo = Math.min(side - 1, Math.ceil(Math.max(x0, x1) + r + 1));
  const yFrom = Math.max(0, Math.floor(Math.min(y0, y1) - r - 1));
  const yTo = Math.min(side - 1, Math.ceil(Math.max(y0, y1) + r + 1));
  for (let y = yFrom; y <= yTo; y++) {
    for (let x = xFrom; x <= xTo; x++) {
      const px = x + 0.5 - x0, py = y + 0.5 - y0;
      // Distance from the pixel centre to the nearest point of the segment.
      const t = length2 > 0
        ? Math.max(0, Math.min(1, (px * dx + py * dy) / length2))
        : 0;
      const ex = px - t * dx, ey = py - t * dy;
      const d = Math.sqrt(ex * ex + ey * ey);
      const v = Math.max(0, Math.min(1, r + 0.5 - d));
      const i = y * side + x;
      if (v > image[i]) image[i] = v;
    }
  }
}
