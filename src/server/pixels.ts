/**
 * Checking the JSON a program sends to `POST /api/predict`:
 *
 *   {"pixels": [784 numbers]}             one 28×28 image, row-major
 *   {"images": [[784 numbers], …]}        up to MAX_BATCH images
 *
 * Every value must be a number in [0, 1] (0 = background, 1 = ink); it is
 * used as is (no preprocessing). Errors name the image and pixel that failed
 * and say what is expected.
 *
 * @module
 */

/** Inputs of one image: 28 × 28. */
export const PIXEL_COUNT = 784;
/** The most images one batch request may carry. */
export const MAX_BATCH = 256;

const EXPECTED =
  `{"pixels": [784 numbers in [0, 1]]} or {"images": [[784 numbers in [0, 1]], …]} (at most ${MAX_BATCH} images)`;

/** The images of a prediction request, ready for `network.forward`. */
export interface PixelBatch {
  /** count × 784 values, row-major per image. */
  x: Float64Array;
  count: number;
  /** True for the `images` form (the answer is a list). */
  batch: boolean;
}

/**
 * Validates a parsed JSON body and copies its pixels into one flat array.
 * Throws TypeError (wrong shape or type) or RangeError (out of range).
 *
 * @example
 * ```ts
 * import { readPixelJson } from "./pixels.ts";
 * const { count, batch } = readPixelJson({ pixels: new Array(784).fill(0) });
 * console.assert(count === 1 && !batch);
 * ```
 */
export function readPixelJson(body: unknown): PixelBatch {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new TypeError(
      `Cannot predict as the body must be ${EXPECTED}: got ${describe(body)}`,
    );
  }
  const fields = Object.keys(body);
  const unknown = fields.filter((f) => f !== "pixels" && f !== "images");
  if (unknown.length > 0) {
    throw new TypeError(
      `Cannot predict as the body has unknown field ${
        JSON.stringify(unknown[0])
      }: expected ${EXPECTED}`,
    );
  }
  const { pixels, images } = body as { pixels?: unknown; images?: unknown };
  if ((pixels === undefined) === (images === undefined)) {
    throw new TypeError(
      `Cannot predict as the body must hold exactly one of "pixels" and "images": expected ${EXPECTED}`,
    );
  }
  if (pixels !== undefined) {
    const x = new Float64Array(PIXEL_COUNT);
    copyImage(x, 0, pixels, "pixels");
    return { x, count: 1, batch: false };
  }
  if (!Array.isArray(images)) {
    throw new TypeError(
      `Cannot predict as images must be an array of images (arrays of 784 numbers): got ${
        describe(images)
      }`,
    );
  }
  if (images.length === 0 || images.length > MAX_BATCH) {
    throw new RangeError(
      `Cannot predict as images must hold 1 to ${MAX_BATCH} images: got ${images.length}`,
    );
  }
  const x = new Float64Array(images.length * PIXEL_COUNT);
  for (let k = 0; k < images.length; k++) {
    copyImage(x, k * PIXEL_COUNT, images[k], `images[${k}]`);
  }
  return { x, count: images.length, batch: true };
}

/** Checks one image and writes it into `out` at `offset`. */
function copyImage(
  out: Float64Array,
  offset: number,
  value: unknown,
  name: string,
): void {
  if (!Array.isArray(value)) {
    throw new TypeError(
      `Cannot predict as ${name} must be an array of 784 numbers (28×28, row-major, 0 = background, 1 = ink): got ${
        describe(value)
      }`,
    );
  }
  if (value.length !== PIXEL_COUNT) {
    throw new RangeError(
      `Cannot predict as ${name} must hold 784 numbers (28×28): got ${value.length}`,
    );
  }
  for (let i = 0; i < PIXEL_COUNT; i++) {
    const v = value[i];
    if (typeof v !== "number") {
      throw new TypeError(
        `Cannot predict as ${name}[${i}] must be a number in [0, 1]: got ${
          describe(v)
        }`,
      );
    }
    // JSON cannot carry NaN or ±Infinity, so this also covers them for other callers.
    if (!(v >= 0 && v <= 1)) {
      throw new RangeError(
        `Cannot predict as ${name}[${i}] must be in [0, 1] (0 = background, 1 = ink): got ${v}`,
      );
    }
    out[offset + i] = v;
  }
}

/** A short description of a JSON value for an error message. */
function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
