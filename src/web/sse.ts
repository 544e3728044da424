/**
 * Server-sent events read from a `fetch` response, so the request can carry
 * an `Authorization` header (which `EventSource` cannot send).
 *
 * The parser follows the HTML standard's event-stream rules: lines end in
 * LF, CRLF or CR; `data:` lines are joined with "\n"; one space after the
 * colon is dropped; lines starting with ":" are comments; a blank line
 * dispatches the event; an event with no data is not dispatched.
 *
 * @module
 */

/** One dispatched event. */
export interface SseEvent {
  /** The `event:` field, "message" when absent. */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** The last `id:` seen (it carries over between events, per the standard). */
  id: string;
}

/** Turns event-stream text, fed in arbitrary pieces, into events. */
export class SseParser {
  #buffer = "";
  #event = "";
  #data: string[] = [];
  #id = "";
  #sawCr = false;

  /**
   * Feeds the next piece of the stream and returns the events it completed.
   *
   * @example
   * ```ts
   * import { SseParser } from "./sse.ts";
   * const p = new SseParser();
   * console.assert(p.push("data: {\"a\":1}\n").length === 0);
   * console.assert(p.push("\n")[0].data === "{\"a\":1}");
   * ```
   */
  push(text: string): SseEvent[] {
    const out: SseEvent[] = [];
    // A CR at the end of the previous piece may be the first half of CRLF.
    if (this.#sawCr && text.startsWith("\n")) text = text.slice(1);
    this.#sawCr = text.endsWith("\r");
    this.#buffer += text;
    const lines = this.#buffer.split(/\r\n|\r|\n/);
    this.#buffer = lines.pop() ?? "";
    for (const line of lines) this.#line(line, out);
    return out;
  }

  #line(line: string, out: SseEvent[]): void {
    if (line === "") {
      if (this.#data.length > 0) {
        out.push({
          event: this.#event || "message",
          data: this.#data.join("\n"),
          id: this.#id,
        });
      }
      this.#event = "";
      this.#data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.#event = value;
    else if (field === "data") this.#data.push(value);
    else if (field === "id" && !value.includes("\0")) this.#id = value;
  }
}

/** Yields the events of a streamed response body until it ends. */
export async function* readSse(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<SseEvent> {
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    // Per the standard, an event not ended by a blank line is dropped.
  } finally {
    reader.releaseLock();
  }
}
