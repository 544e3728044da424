/**
 * Reading request bodies with a size limit that holds while streaming: a
 * declared `Content-Length` over the limit is refused before reading a byte
 * (one within it is read in one go), and a body without one (chunked) is
 * counted as it arrives and abandoned as soon as it passes the limit. Compressed bodies are refused (a small gzip
 * body can inflate to gigabytes).
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
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.length > limit) throw tooLarge(limit, bytes.length);
    return bytes;
  }
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
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

/** A strict UTF-8 decoder (one is enough: `decode` without `stream` keeps no state). */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Parses bytes as UTF-8 JSON; throws a SyntaxError that says where it failed. */
export function parseJson(bytes: Uint8Array): unknown {
  if (bytes.length === 0) {
    throw new SyntaxError(
      "Cannot read the request body as JSON: it is empty",
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

/** The media type of a Content-Type header, lower case, without parameters. */
export function mediaType(contentType: string | null | undefined): string {
  return (contentType ?? "").split(";")[0].trim().toLowerCase();
}

function tooLarge(limit: number, got: number, prefix = ""): HttpError {
  return new HttpError(
    413,
    `Cannot read the request body as it exceeds the limit of ${limit} bytes: got ${prefix}${got}`,
    { details: { limit } },
  );
}
