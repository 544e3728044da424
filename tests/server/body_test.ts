import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import { mediaType, parseJson, readBody } from "../../src/server/body.ts";
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
