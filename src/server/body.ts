/**
 * Reading request bodies with a size limit that holds while streaming: a
 * declared `Content-Length` over the limit is refused before reading a byte
 * (one within it is read in one go), and a body without one (chunked) is
 * counted as it arrives and abandoned as soon as it passes the limit.
 * Compressed bodies are refused (a small gzip body can inflate to gigabytes).
 * A body whose connection ends before all of it arrived is a 400, not a 500.
 *
 * JSON is checked for its nesting depth before it is parsed: `JSON.parse`
 * takes ~1.8 s on this machine for 2 MB of `[[[[…` (a million levels), so a
 * deeply nested body would hold the event loop for seconds.
 *
 * @module
 */

import { HttpError } from "./errors.ts";

/**
 * The body of `request` as bytes, at most `limit` of them; throws an
 * HttpError 413 when there are more, 415 when the body is compressed.
 *
 * @example
 * ```ts
 * import { readBody } from "./body.ts";
 * const bytes = await readBody(new Request("http://x/", { method: "POST", body: "hi" }), 10);
 * console.assert(bytes.length === 2);
 * ```
 */
export async function readBody(
  request: Request,
  limit: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const encoding = request.headers.get("content-encoding");
  if (encoding && encoding.toLowerCase() !== "identity") {
    throw new HttpError(
      415,
      `Cannot read the request body as compressed bodies are not accepted: got Content-Encoding ${encoding}`,
    );
  }
  const declared = request.headers.get("content-length");
  if (declared !== null) {
    if (!/^\d{1,15}$/.test(declared.trim())) {
      throw new RangeError(
        `Cannot read the request body as Content-Length must be a byte count: got ${
          JSON.stringify(declared)
        }`,
      );
    }
    if (Number(declared) > limit) throw tooLarge(limit, Number(declared));
    // The HTTP server holds a body to its Content-Length, so it fits: read it
    // in one go (much faster than chunk by chunk). The length check covers a
    // Request built in-process with a header that does not match its body.
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = new Uint8Array(await request.arrayBuffer());
    } catch (e) {
      throw cutShort(e);
    }
    if (bytes.length > limit) throw tooLarge(limit, bytes.length);
    return bytes;
  }
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let total = 0;
  while (true) {
    let read: ReadableStreamReadResult<Uint8Array<ArrayBuffer>>;
    try {
      read = await reader.read();
    } catch (e) {
      throw cutShort(e);
    }
    const { done, value } = read;
    if (done) break;
    total += value.length;
    if (total > limit) {
      reader.cancel().catch(() => {});
      throw tooLarge(limit, total, "at least ");
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/**
 * The deepest nesting of arrays and objects {@link parseJson} accepts. The
 * API's bodies need 3 (`{"images": [[…]]}`); 64 leaves room for any sane client.
 */
export const MAX_JSON_DEPTH = 64;

/** A strict UTF-8 decoder (one is enough: `decode` without `stream` keeps no state). */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses bytes as UTF-8 JSON; throws a SyntaxError that says where it failed,
 * or a RangeError when arrays and objects nest deeper than `maxDepth`.
 *
 * @example
 * ```ts
 * import { parseJson } from "./body.ts";
 * const value = parseJson(new TextEncoder().encode('{"pixels": [0, 1]}'));
 * console.assert((value as { pixels: number[] }).pixels.length === 2);
 * ```
 */
export function parseJson(
  bytes: Uint8Array,
  { maxDepth = MAX_JSON_DEPTH }: { maxDepth?: number } = {},
): unknown {
  if (bytes.length === 0) {
    throw new SyntaxError(
      "Cannot read the request body as JSON: it is empty",
    );
  }
  const depth = nestingDepth(bytes, maxDepth);
  if (depth > maxDepth) {
    throw new RangeError(
      `Cannot read the request body as JSON as it nests arrays and objects deeper than ${maxDepth} levels: got at least ${depth}`,
    );
  }
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new SyntaxError(
      "Cannot read the request body as JSON: it is not valid UTF-8",
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(
      `Cannot read the request body as JSON: ${(e as Error).message}`,
    );
  }
}

/**
 * How deeply `[` and `{` nest in JSON text (outside strings), counting up to
 * `stopAbove + 1`. One pass over the bytes, no allocation; malformed text is
 * left for `JSON.parse` to describe.
 */
export function nestingDepth(bytes: Uint8Array, stopAbove: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c) i++; // backslash: skip the escaped byte
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) {
      inString = true;
    } else if (b === 0x5b || b === 0x7b) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > stopAbove) return deepest;
      }
    } else if (b === 0x5d || b === 0x7d) {
      depth--;
    }
  }
  return deepest;
}

/** The media type of a Content-Type header, lower case, without parameters. */
export function mediaType(contentType: string | null | undefined): string {
  return (contentType ?? "").split(";")[0].trim().toLowerCase();
}

/** The error of a body whose stream failed (the client went away mid-body). */
function cutShort(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  return new HttpError(
    400,
    `Cannot read the request body as the connection ended before all of it arrived: ${
      (error as Error)?.message ?? error
    }`,
  );
}

function tooLarge(limit: number, got: number, prefix = ""): HttpError {
  return new HttpError(
    413,
    `Cannot read the request body as it exceeds the limit of ${limit} bytes: got ${prefix}${got}`,
    { details: { limit } },
  );
}
