/**
 * A bare HTTP/1.1 client on a TCP socket, for requests `fetch` will not send:
 * literal `..` in paths, oversized or malformed headers, a Content-Length
 * that lies, bodies streamed slowly or cut off. One request per connection
 * (the caller sends `Connection: close`); the answer is read while the body
 * is still being written, so an early 413 is seen.
 *
 * @module
 */

/** A body written in `count` pieces of `piece`, `delayMs` apart, optionally chunk-encoded. */
export interface StreamedBody {
  piece: Uint8Array;
  count: number;
  delayMs: number;
  /** Wrap each piece as an HTTP chunk (and end with the zero chunk unless `cut`). */
  chunked: boolean;
}

/** What to send. */
export interface RawRequest {
  /** Request line and headers, ending with the blank line (bytes as latin1 chars). */
  head: string;
  body?: Uint8Array | StreamedBody;
  /** Stop sending after the body without finishing it (no closing zero chunk) and close our side. */
  cut?: boolean;
}

/** What came back. */
export type RawOutcome =
  | {
    kind: "answer";
    status: number;
    headers: Headers;
    body: Uint8Array;
  }
  /** The server closed the connection without a status line. */
  | { kind: "closed"; detail: string }
  /** No status line within the time limit. */
  | { kind: "timeout" };

const encoder = new TextEncoder();

/** Latin1 text → bytes (one byte per char), for heads holding arbitrary bytes. */
export function latin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** Sends one request to 127.0.0.1:`port` and reads the answer (at most `timeoutMs`). */
export async function sendRaw(
  port: number,
  request: RawRequest,
  { timeoutMs = 15_000, hostname = "127.0.0.1" } = {},
): Promise<RawOutcome> {
  const conn = await Deno.connect({ hostname, port });
  let answered = false;
  let stopWriting = false;
  const writeAll = async (bytes: Uint8Array) => {
    let offset = 0;
    while (offset < bytes.length && !stopWriting) {
      offset += await conn.write(bytes.subarray(offset));
    }
  };
  const writer = (async () => {
    await writeAll(latin1(request.head));
    const body = request.body;
    if (body instanceof Uint8Array) {
      await writeAll(body);
    } else if (body) {
      for (let i = 0; i < body.count && !stopWriting && !answered; i++) {
        if (body.chunked) {
          await writeAll(
            encoder.encode(`${body.piece.length.toString(16)}\r\n`),
          );
          await writeAll(body.piece);
          await writeAll(encoder.encode("\r\n"));
        } else {
          await writeAll(body.piece);
        }
        if (body.delayMs > 0) {
          await new Promise((r) => setTimeout(r, body.delayMs));
        }
      }
      if (body.chunked && !request.cut && !answered) {
        await writeAll(encoder.encode("0\r\n\r\n"));
      }
    }
    if (request.cut) await conn.closeWrite();
  })().catch(() => {
    // The server may close while we write (after an early answer): the read side tells.
  });

  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const outcome = await Promise.race([
      readAnswer(conn, () => {
        answered = true;
      }),
      timeout,
    ]);
    if (outcome === "timeout") return { kind: "timeout" };
    return outcome;
  } finally {
    clearTimeout(timer);
    stopWriting = true;
    try {
      conn.close();
    } catch {
      // Closed already.
    }
    await writer;
  }
}

/** Reads a status line, headers and a body (by Content-Length, chunked, or to the end). */
async function readAnswer(
  conn: Deno.Conn,
  onHead: () => void,
): Promise<RawOutcome> {
  let buffer = new Uint8Array(0);
  const buf = new Uint8Array(65536);
  let eof = false;
  const more = async (): Promise<boolean> => {
    if (eof) return false;
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch (e) {
      eof = true;
      if (buffer.length === 0) throw e;
      return false;
    }
    if (n === null) {
      eof = true;
      return false;
    }
    const next = new Uint8Array(buffer.length + n);
    next.set(buffer);
    next.set(buf.subarray(0, n), buffer.length);
    buffer = next;
    return true;
  };
  let headEnd = -1;
  try {
    while ((headEnd = indexOfCrlfCrlf(buffer)) === -1) {
      if (!(await more())) {
        return {
          kind: "closed",
          detail: buffer.length
            ? `partial: ${buffer.length} bytes`
            : "no bytes",
        };
      }
    }
  } catch (e) {
    return { kind: "closed", detail: (e as Error).name };
  }
  onHead();
  const head = new TextDecoder("latin1").decode(buffer.subarray(0, headEnd));
  const [statusLine, ...lines] = head.split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      try {
        headers.append(
          line.slice(0, colon).trim(),
          line.slice(colon + 1).trim(),
        );
      } catch {
        // A header the Headers class refuses: keep the rest.
      }
    }
  }
  let rest = buffer.subarray(headEnd + 4);
  const length = headers.get("content-length");
  const readUntil = async (n: number) => {
    while (
      buffer.length - (headEnd + 4) < n && (await more().catch(() => false))
    ) {
      // keep reading
    }
    rest = buffer.subarray(headEnd + 4);
  };
  if (length !== null) {
    await readUntil(Number(length));
    return {
      kind: "answer",
      status,
      headers,
      body: rest.slice(0, Number(length)),
    };
  }
  if (headers.get("transfer-encoding")?.toLowerCase().includes("chunked")) {
    while (!eof && !endsChunked(rest)) {
      await more().catch(() => false);
      rest = buffer.subarray(headEnd + 4);
    }
    return { kind: "answer", status, headers, body: dechunk(rest) };
  }
  while (await more().catch(() => false)) {
    // read to the end
  }
  return {
    kind: "answer",
    status,
    headers,
    body: buffer.subarray(headEnd + 4),
  };
}

function indexOfCrlfCrlf(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (
      bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 &&
      bytes[i + 3] === 10
    ) return i;
  }
  return -1;
}

function endsChunked(bytes: Uint8Array): boolean {
  const tail = new TextDecoder("latin1").decode(bytes.subarray(-7));
  return tail.endsWith("\r\n0\r\n\r\n") || tail === "0\r\n\r\n";
}

function dechunk(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let i = 0;
  const text = new TextDecoder("latin1");
  while (i < bytes.length) {
    const lineEnd = text.decode(bytes.subarray(i, i + 20)).indexOf("\r\n");
    if (lineEnd === -1) break;
    const size = parseInt(text.decode(bytes.subarray(i, i + lineEnd)), 16);
    if (!(size > 0)) break;
    parts.push(bytes.subarray(i + lineEnd + 2, i + lineEnd + 2 + size));
    i += lineEnd + 2 + size + 2;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
