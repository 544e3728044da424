/**
 * Images sent to `POST /api/predict`: PNG bytes (the body itself, or a file
 * field of a multipart form) → RGBA → ink → the MNIST recipe → 784 inputs.
 * The same functions as the page (`src/image/`), so both see the same input.
 *
 * @module
 */

import {
  POLARITIES,
  type Polarity,
  preprocessToMnist,
  rgbaToInk,
} from "../image/preprocess.ts";

/** Turns image bytes into the network's 784 inputs; throws on bad or blank images. */
export type ImageDecoder = (
  bytes: Uint8Array,
  options: { polarity?: string },
) => Promise<Float32Array>;

/** Decodes PNG bytes to RGBA (the signature of `decodePng` in src/image/png.ts). */
export type PngDecode = (
  bytes: Uint8Array,
  options: { maxPixels?: number },
) => Promise<{ width: number; height: number; rgba: Uint8Array }>;

/** The most pixels an uploaded image may have (a decompression-bomb guard). */
export const MAX_IMAGE_PIXELS = 2048 * 2048;

/**
 * An {@link ImageDecoder} from a PNG decoder: checks the polarity, decodes
 * with a pixel limit, converts to ink and applies the MNIST recipe.
 *
 * Decoding a blank 4096 × 4096 PNG held the event loop for 3.5–8.4 s in the
 * fuzz runs, so uploads are capped at 2048 × 2048 (a digit needs far less).
 * A 2048 × 2048 image takes about 16 bytes per pixel while it is converted
 * (RGBA plus three float planes), ~270 MB: at most `concurrency` images are
 * decoded at once, the others wait their turn, so a burst of large uploads
 * cannot exhaust memory.
 */
export function imageDecoder(
  decodePng: PngDecode,
  { maxPixels = MAX_IMAGE_PIXELS, concurrency = 2 }: {
    maxPixels?: number;
    concurrency?: number;
  } = {},
): ImageDecoder {
  const turn = limiter(concurrency);
  return (bytes, options) => turn(() => decode(bytes, options));

  async function decode(
    bytes: Uint8Array,
    { polarity = "auto" }: { polarity?: string },
  ): Promise<Float32Array> {
    if (!POLARITIES.includes(polarity as Polarity)) {
      throw new RangeError(
        `Cannot predict as polarity must be one of ${
          POLARITIES.join(", ")
        }: got ${JSON.stringify(polarity)}`,
      );
    }
    if (bytes.length === 0) {
      throw new SyntaxError(
        "Cannot predict from the image as it is empty: send the bytes of a PNG file",
      );
    }
    const { width, height, rgba } = await decodePng(bytes, { maxPixels });
    const ink = rgbaToInk(rgba, width, height, {
      polarity: polarity as Polarity,
    });
    const pixels = preprocessToMnist(ink);
    if (!pixels) {
      throw new RangeError(
        `Cannot predict from the ${width}×${height} image as it is blank: no ink stands out from the background`,
      );
    }
    return pixels;
  }
}

/** Runs at most `n` tasks at once; the others wait in order. */
function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running >= n) await new Promise<void>((r) => waiting.push(r));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

/**
 * The most parts a multipart form may have. The form needs two (the file and
 * `polarity`); parsing is not free — 100,000 tiny fields (5.9 MB) took 3.7 s
 * of the event loop — so a form with more parts is refused before parsing.
 */
export const MAX_FORM_PARTS = 16;

/**
 * The image of a multipart form (already read, `bytes`, with the request's
 * Content-Type): the first file field, and an optional `polarity` field.
 * Throws a RangeError for a form of more than {@link MAX_FORM_PARTS} parts.
 */
export async function readFormImage(
  request: Request,
  bytes: Uint8Array,
): Promise<{ image: Uint8Array; polarity?: string }> {
  const parts = countFormParts(
    bytes,
    request.headers.get("content-type") ?? "",
    MAX_FORM_PARTS,
  );
  if (parts > MAX_FORM_PARTS) {
    throw new RangeError(
      `Cannot read the multipart form as it has more than ${MAX_FORM_PARTS} parts: got at least ${parts}`,
    );
  }
  // Refused here rather than by the parser: Deno 2.5's parser reads such a
  // body as an empty form, newer ones throw; both are a malformed form.
  if (parts === 0) {
    throw new SyntaxError(
      "Cannot read the multipart form as its body has no part opened by the boundary its Content-Type names",
    );
  }
  let form: FormData;
  try {
    form = await new Request(request.url, {
      method: "POST",
      headers: { "content-type": request.headers.get("content-type") ?? "" },
      body: bytes as Uint8Array<ArrayBuffer>,
    }).formData();
  } catch (e) {
    throw new SyntaxError(
      `Cannot read the multipart form: ${(e as Error).message}`,
    );
  }
  let file: File | null = null;
  for (const value of form.values()) {
    if (value instanceof File) {
      file = value;
      break;
    }
  }
  if (!file) {
    throw new TypeError(
      `Cannot predict from the form as it has no file field: send the PNG as a file (e.g. curl -F "image=@digit.png")`,
    );
  }
  const polarity = form.get("polarity");
  return {
    image: new Uint8Array(await file.arrayBuffer()),
    polarity: typeof polarity === "string" ? polarity : undefined,
  };
}

/**
 * How many parts a multipart body has (counting delimiter lines, up to
 * `stopAbove + 1`), or 0 when the Content-Type names no boundary (the form
 * parser then refuses it).
 */
export function countFormParts(
  bytes: Uint8Array,
  contentType: string,
  stopAbove: number,
): number {
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) return 0;
  const text = LATIN1.decode(bytes);
  const delimiter = `--${boundary}`;
  let count = 0;
  for (
    let i = text.indexOf(delimiter);
    i !== -1;
    i = text.indexOf(delimiter, i + delimiter.length)
  ) {
    // The closing delimiter ("--boundary--") ends the form rather than opening a part.
    if (text.startsWith("--", i + delimiter.length)) break;
    if (++count > stopAbove) break;
  }
  return count;
}

/** Bytes to one char each, for searching a binary body for ASCII (no copy of the bytes themselves). */
const LATIN1 = new TextDecoder("latin1");
