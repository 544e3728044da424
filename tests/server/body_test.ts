import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  MAX_JSON_DEPTH,
  mediaType,
  nestingDepth,
  parseJson,
  readBody,
} from "../../src/server/body.ts";
import { HttpError } from "../../src/server/errors.ts";

function streamOf(...parts: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const p of parts) controller.enqueue(new TextEncoder().encode(p));
      controller.close();
    },
  });
}

function post(
  body: BodyInit | null,
  headers: Record<string, string> = {},
): Request {
  return new Request("http://x/", {
    method: "POST",
    body,
    headers,
    // @ts-ignore: Deno needs duplex for a streaming request body.
    duplex: "half",
  });
}

Deno.test("readBody() joins a chunked body exactly at the limit", async () => {
  const bytes = await readBody(post(streamOf("abc", "de", "fgh")), 8);
  assertEquals(new TextDecoder().decode(bytes), "abcdefgh");
});

Deno.test("readBody() refuses a chunked body one byte over the limit with 413", async () => {
  const e = await assertRejects(
    () => readBody(post(streamOf("abc", "def", "ghi")), 8),
    HttpError,
  );
  assertEquals(e.status, 413);
  assertEquals(
    e.message,
    "Cannot read the request body as it exceeds the limit of 8 bytes: got at least 9",
  );
});

Deno.test("readBody() refuses by Content-Length before reading", async () => {
  let pulled = false;
  const body = new ReadableStream({
    pull() {
      pulled = true;
    },
  }, { highWaterMark: 0 });
  const e = await assertRejects(
    () => readBody(post(body, { "content-length": "1000" }), 10),
    HttpError,
  );
  assertEquals(e.status, 413);
  assertEquals(pulled, false);
});

Deno.test("readBody() refuses a malformed Content-Length with a RangeError", async () => {
  await assertRejects(
    () => readBody(post("x", { "content-length": "-1" }), 10),
    RangeError,
    'Content-Length must be a byte count: got "-1"',
  );
});

Deno.test("readBody() returns no bytes for a request without a body", async () => {
  assertEquals((await readBody(new Request("http://x/"), 10)).length, 0);
});

Deno.test("parseJson() names what is wrong", () => {
  assertEquals(parseJson(new TextEncoder().encode('{"a":1}')), { a: 1 });
  assertThrows(() => parseJson(new Uint8Array()), SyntaxError, "it is empty");
  assertThrows(
    () => parseJson(new Uint8Array([0xc3])),
    SyntaxError,
    "not valid UTF-8",
  );
  assertThrows(
    () => parseJson(new TextEncoder().encode("{")),
    SyntaxError,
    "as JSON:",
  );
});

Deno.test("mediaType() drops parameters and case", () => {
  assertEquals(
    mediaType("Application/JSON; charset=utf-8"),
    "application/json",
  );
  assertEquals(mediaType(undefined), "");
});

Deno.test("readBody() refuses a body longer than the limit even when its Content-Length claims less", async () => {
  const e = await assertRejects(
    () => readBody(post("x".repeat(20), { "content-length": "5" }), 10),
    HttpError,
  );
  assertEquals(e.status, 413);
});

/** A body stream that yields `text`, then fails as a connection closed mid-body does. */
function cutStream(text: string): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(new TextEncoder().encode(text));
      } else {
        controller.error(
          new Deno.errors.BadResource(
            "Cannot read body as underlying resource unavailable",
          ),
        );
      }
    },
  });
}

Deno.test("readBody() answers 400 when the connection ends before the declared Content-Length", async () => {
  const e = await assertRejects(
    () =>
      readBody(
        post(cutStream('{"pixels": ['), { "content-length": "1000" }),
        4096,
      ),
    HttpError,
  );
  assertEquals(e.status, 400);
  assertEquals(
    e.message,
    "Cannot read the request body as the connection ended before all of it arrived: Cannot read body as underlying resource unavailable",
  );
});

Deno.test("readBody() answers 400 when a chunked body's connection ends midway", async () => {
  const e = await assertRejects(
    () => readBody(post(cutStream('{"pixels": [')), 4096),
    HttpError,
  );
  assertEquals(e.status, 400);
});

Deno.test("parseJson() refuses nesting deeper than MAX_JSON_DEPTH with a RangeError, before parsing", () => {
  const deep = (n: number) =>
    new TextEncoder().encode("[".repeat(n) + "]".repeat(n));
  assertEquals(parseJson(deep(MAX_JSON_DEPTH)) !== undefined, true);
  assertThrows(
    () => parseJson(deep(MAX_JSON_DEPTH + 1)),
    RangeError,
    `deeper than ${MAX_JSON_DEPTH} levels: got at least ${MAX_JSON_DEPTH + 1}`,
  );
  // A million levels (2 MB) is refused at once rather than parsed for seconds.
  assertThrows(() => parseJson(deep(1_000_000)), RangeError, "deeper than");
  assertThrows(
    () =>
      parseJson(
        new TextEncoder().encode('{"a":'.repeat(100) + "1" + "}".repeat(100)),
      ),
    RangeError,
  );
});

Deno.test("nestingDepth() ignores brackets inside strings and escaped quotes", () => {
  const depth = (text: string) =>
    nestingDepth(new TextEncoder().encode(text), 100);
  assertEquals(depth('{"pixels": [[0, 1], [1]]}'), 3);
  assertEquals(depth('["[[[[", "\\"]'), 1);
  assertEquals(depth('["\\"", [["]]]]"]]]'), 3);
  assertEquals(depth('"just a string"'), 0);
  assertEquals(depth("[".repeat(500)), 101);
});
