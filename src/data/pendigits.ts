/**
 * Real handwriting for evaluation: the UCI pen-based digits (30 writers,
 * stylus on a tablet), read from `strokes.json` of the shared
 * `pendigits-dev` folder and rendered the way the canvas page renders what a
 * user draws. Pure: the caller reads the file and passes the parsed JSON.
 *
 * Two renderings:
 *
 * - `"centred"`: the digit's unit box (longer side 0..1) mapped into the
 *   middle of a 280×280 canvas, the digit's longer side 65 % of it — a user
 *   who draws large and centred;
 * - `"inBox"`: the points as written in the writer's 500×500 tablet box
 *   (median height 31 % of the box, often off-centre), mapped onto the same
 *   canvas — a user who draws small in a corner.
 *
 * Then either the page's path ({@link strokesToMnist}: size normalised before
 * drawing, so both renderings give the same pixels) or, with
 * `render: "image"`, what the server sees when the canvas is uploaded as a
 * picture: the strokes drawn with a fixed pen on the canvas, then
 * {@link preprocessToMnist}.
 *
 * @module
 */

import type { Dataset } from "../nn/dataset.ts";
import { preprocessToMnist } from "../image/preprocess.ts";
import {
  type Point,
  rasterizeStrokes,
  type Stroke,
  strokesToMnist,
  type StrokesToMnistOptions,
} from "../image/strokes.ts";

/** One pen-drawn digit, as in `strokes.json`. */
export interface PenDigit {
  id: string;
  /** The digit 0–9. */
  label: number;
  /** Who wrote it, 1–30. */
  writer: number;
  /** Points in the unit box: longer side spans 0..1, the shorter centred. */
  strokes: Stroke[];
  /** The same points inside the writer's tablet box, 0..1. */
  strokesInBox: Stroke[];
}

/** Where a digit goes on the canvas before rendering. */
export type PenMode = "centred" | "inBox";
/** The modes, for validation. */
export const PEN_MODES: readonly PenMode[] = ["centred", "inBox"];

/** Options of {@link penDigitsToDataset}. */
export interface PenDatasetOptions extends StrokesToMnistOptions {
  mode: PenMode;
  /**
   * `"strokes"` (default): the page's vector path, {@link strokesToMnist}.
   * `"image"`: draw on the canvas with a fixed pen, then the MNIST recipe.
   */
  render?: "strokes" | "image";
  /** The square canvas's side in pixels (default 280). */
  canvasSize?: number;
  /** For "centred": the digit's longer side as a fraction of the canvas (default 0.65). */
  digitSize?: number;
  /** For `render: "image"`: the canvas pen's width in pixels (default 18). */
  penWidth?: number;
}

/**
 * Checks that `json` is an array of pen digits and returns it typed. Throws a
 * TypeError naming the first digit and field that is wrong.
 *
 * @example
 * ```ts
 * import { parsePenDigits } from "./pendigits.ts";
 * const digits = parsePenDigits([{
 *   id: "a", label: 1, writer: 3,
 *   strokes: [[[0.5, 0], [0.5, 1]]], strokesInBox: [[[0.4, 0.3], [0.4, 0.6]]],
 * }]);
 * console.assert(digits[0].label === 1);
 * ```
 */
export function parsePenDigits(json: unknown): PenDigit[] {
  if (!Array.isArray(json)) {
    throw new TypeError(
      `Cannot read the pen digits as they must be an array: got ${
        describe(json)
      }`,
    );
  }
  return json.map((item, i) => {
    const fail = (why: string): never => {
      throw new TypeError(`Cannot read pen digit ${i} as ${why}`);
    };
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      fail(`it must be an object: got ${describe(item)}`);
    }
    const { id, label, writer, strokes, strokesInBox } = item as Record<
      string,
      unknown
    >;
    if (typeof id !== "string") {
      fail(`its id must be a string: got ${describe(id)}`);
    }
    if (
      !(Number.isInteger(label) && (label as number) >= 0 &&
        (label as number) <= 9)
    ) {
      fail(`its label must be an integer 0–9: got ${describe(label)}`);
    }
    if (!(Number.isInteger(writer) && (writer as number) >= 1)) {
      fail(`its writer must be a positive integer: got ${describe(writer)}`);
    }
    for (
      const [name, value] of [["strokes", strokes], [
        "strokesInBox",
        strokesInBox,
      ]] as const
    ) {
      const why = strokesProblem(value);
      if (why) fail(`its ${name}${why}`);
    }
    return {
      id: id as string,
      label: label as number,
      writer: writer as number,
      strokes: strokes as Stroke[],
      strokesInBox: strokesInBox as Stroke[],
    };
  });
}

/**
 * Renders pen digits into a {@link Dataset} of 28×28 images the way the page
 * would (see the module comment). A digit that renders blank (no points)
 * becomes an all-zero image, so the dataset keeps one image per digit.
 *
 * @example
 * ```ts
 * import { penDigitsToDataset } from "./pendigits.ts";
 * const data = penDigitsToDataset([{
 *   id: "a", label: 1, writer: 3,
 *   strokes: [[[0.5, 0], [0.5, 1]]], strokesInBox: [[[0.4, 0.3], [0.4, 0.6]]],
 * }], { mode: "inBox" });
 * console.assert(data.count === 1 && data.images.length === 784);
 * ```
 */
export function penDigitsToDataset(
  digits: readonly PenDigit[],
  {
    mode,
    render = "strokes",
    canvasSize = 280,
    digitSize = 0.65,
    penWidth = 18,
    ...options
  }: PenDatasetOptions,
): Dataset {
  if (!PEN_MODES.includes(mode)) {
    throw new RangeError(
      `Cannot render the pen digits as mode must be one of ${
        PEN_MODES.join(", ")
      }: got ${JSON.stringify(mode)}`,
    );
  }
  const images = new Float32Array(digits.length * 784);
  const labels = new Uint8Array(digits.length);
  for (const [i, digit] of digits.entries()) {
    const strokes = mode === "centred"
      ? placeOnCanvas(
        digit.strokes,
        canvasSize * digitSize,
        canvasSize * (1 - digitSize) / 2,
      )
      : placeOnCanvas(digit.strokesInBox, canvasSize, 0);
    const pixels = render === "image"
      ? preprocessToMnist(
        rasterizeStrokes(strokes, {
          width: canvasSize,
          height: canvasSize,
          penWidth,
        }),
        options,
      )
      : strokesToMnist(strokes, options);
    if (pixels) images.set(pixels, i * 784);
    labels[i] = digit.label;
  }
  return { images, labels, count: digits.length, shape: [1, 28, 28] };
}

/** Maps unit-box points to canvas pixels: p ↦ p · scale + offset. */
function placeOnCanvas(
  strokes: Stroke[],
  scale: number,
  offset: number,
): Stroke[] {
  return strokes.map((stroke) =>
    stroke.map(([x, y]): Point => [x * scale + offset, y * scale + offset])
  );
}

/**
 * Why `value` is not a non-empty list of strokes of [x, y] points, as the end
 * of a sentence after the field name (" must …" or "[s][p] must …"), or "".
 */
function strokesProblem(value: unknown): string {
  if (!Array.isArray(value) || value.length === 0) {
    return ` must be a non-empty array of strokes: got ${describe(value)}`;
  }
  for (const [s, stroke] of value.entries()) {
    if (!Array.isArray(stroke) || stroke.length === 0) {
      return `[${s}] must be a non-empty array of points: got ${
        describe(stroke)
      }`;
    }
    for (const [p, point] of stroke.entries()) {
      if (
        !Array.isArray(point) || point.length !== 2 ||
        !Number.isFinite(point[0]) || !Number.isFinite(point[1])
      ) {
        return `[${s}][${p}] must be [x, y] with finite numbers: got ${
          describe(point)
        }`;
      }
    }
  }
  return "";
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 40 ? text.slice(0, 40) + "…" : text;
}
