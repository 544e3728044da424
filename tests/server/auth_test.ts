import { assertEquals } from "@std/assert";
import { Hono } from "hono";
import { requireAdmin, timingSafeEqual } from "../../src/server/auth.ts";
import { errorHandler } from "../../src/server/errors.ts";
import { memoryLog } from "../../src/server/log.ts";

function guarded(token?: string): Hono {
  const app = new Hono();
  app.onError(errorHandler(memoryLog()));
  app.post("/admin", requireAdmin({ token }), (c) => c.json({ ok: true }));
  return app;
}

Deno.test("requireAdmin() lets the right bearer token through", async () => {
  const app = guarded("s3cret-token-with-length");
  const r = await app.request("/admin", {
    method: "POST",
    headers: { authorization: "Bearer s3cret-token-with-length" },
  });
  assertEquals(r.status, 200);
  const lower = await app.request("/admin", {
    method: "POST",
    headers: { authorization: "bearer s3cret-token-with-length" },
  });
  assertEquals(lower.status, 200);
});

Deno.test("requireAdmin() refuses a prefix, a longer token and an empty one with 401", async () => {
  const app = guarded("s3cret-token-with-length");
  for (
    const sent of [
      "s3cret",
      "s3cret-token-with-length2",
      "",
      "s3cret-token-with-lengtH",
    ]
  ) {
    const r = await app.request("/admin", {
      method: "POST",
      headers: { authorization: `Bearer ${sent}` },
    });
    assertEquals(r.status, 401, sent);
  }
});

Deno.test("requireAdmin() without a configured token answers 403 even to an empty bearer", async () => {
  for (const token of [undefined, ""]) {
    const r = await guarded(token).request("/admin", {
      method: "POST",
      headers: { authorization: "Bearer " },
    });
    assertEquals(r.status, 403);
  }
});

Deno.test("timingSafeEqual() compares bytes", () => {
  assertEquals(
    timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])),
    true,
  );
  assertEquals(
    timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])),
    false,
  );
  assertEquals(
    timingSafeEqual(new Uint8Array([1]), new Uint8Array([1, 2])),
    false,
  );
});
