import { assertEquals } from "@std/assert";
import { readSse, SseParser } from "../../src/web/sse.ts";

Deno.test("SseParser.push() dispatches an event at a blank line", () => {
  const p = new SseParser();
  assertEquals(p.push('event: progress\ndata: {"epoch":1}\nid: 7\n'), []);
  assertEquals(p.push("\n"), [
    { event: "progress", data: '{"epoch":1}', id: "7" },
  ]);
});

Deno.test("SseParser.push() joins data lines and defaults the event name", () => {
  const p = new SseParser();
  assertEquals(p.push("data: a\ndata:b\ndata:  c\n\n"), [
    { event: "message", data: "a\nb\n c", id: "" },
  ]);
});

Deno.test("SseParser.push() accepts CRLF and CR line ends, also split between pieces", () => {
  const p = new SseParser();
  assertEquals(p.push("data: x\r"), []);
  assertEquals(p.push("\n\r"), [{ event: "message", data: "x", id: "" }]);
  assertEquals(p.push("data: y\r\r"), [{
    event: "message",
    data: "y",
    id: "",
  }]);
});

Deno.test("SseParser.push() ignores comments, unknown fields and events without data", () => {
  const p = new SseParser();
  assertEquals(
    p.push(": still running\n\nretry: 100\nfoo: bar\n\nevent: x\n\n"),
    [],
  );
});

Deno.test("SseParser.push() keeps the last id for later events", () => {
  const p = new SseParser();
  const events = p.push("id: 1\ndata: a\n\ndata: b\n\n");
  assertEquals(events.map((e) => e.id), ["1", "1"]);
});

Deno.test("readSse() yields the events of a stream cut at arbitrary bytes", async () => {
  const text = 'event: done\ndata: {"ok":"✓"}\n\ndata: tail-without-blank-line';
  const bytes = new TextEncoder().encode(text);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      // Split inside the multi-byte "✓" too.
      for (let i = 0; i < bytes.length; i += 5) {
        controller.enqueue(bytes.subarray(i, i + 5));
      }
      controller.close();
    },
  });
  const events = [];
  for await (const e of readSse(body)) events.push(e);
  assertEquals(events, [{ event: "done", data: '{"ok":"✓"}', id: "" }]);
});
