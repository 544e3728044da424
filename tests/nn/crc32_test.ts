import { assertEquals } from "@std/assert";
import { crc32 } from "../../src/nn/crc32.ts";

Deno.test("crc32() matches the standard check value of '123456789'", () => {
  assertEquals(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

Deno.test("crc32() can continue over split input", () => {
  const bytes = new TextEncoder().encode("hello, world");
  assertEquals(
    crc32(bytes.subarray(5), crc32(bytes.subarray(0, 5))),
    crc32(bytes),
  );
  assertEquals(crc32(new Uint8Array(0)), 0);
});
