import { assertEquals } from "@std/assert";
import { Hono } from "hono";
import { errorHandler, HttpError, statusOf } from "../../src/server/errors.ts";
import { memoryLog } from "../../src/server/log.ts";
import {
  ConflictError,
  CorruptRecordError,
  NotFoundError,
} from "../../src/store/errors.ts";

Deno.test("statusOf() maps input errors to 400, store errors to 404/409, the rest to 500", () => {
  assertEquals(statusOf(new TypeError("t")), 400);
  assertEquals(statusOf(new RangeError("r")), 400);
  assertEquals(statusOf(new SyntaxError("s")), 400);
  assertEquals(statusOf(new NotFoundError("n")), 404);
  assertEquals(statusOf(new ConflictError("c")), 409);
  assertEquals(statusOf(new HttpError(413, "big")), 413);
  assertEquals(statusOf(new Error("e")), 500);
  assertEquals(statusOf("a string"), 500);
});

function appThrowing(error: unknown) {
  const log = memoryLog();
  const app = new Hono();
  app.onError(errorHandler(log));
  app.get("/", () => {
    throw error;
  });
  return { app, log };
}

Deno.test("errorHandler() answers JSON with the message for client errors, logging nothing", async () => {
  const { app, log } = appThrowing(new RangeError("Cannot x as y: got 3"));
  const r = await app.request("/");
  assertEquals(r.status, 400);
  assertEquals(await r.json(), { error: "Cannot x as y: got 3" });
  assertEquals(log.lines, []);
});

Deno.test("errorHandler() adds an HttpError's headers and details", async () => {
  const { app } = appThrowing(
    new HttpError(503, "later", {
      headers: { "Retry-After": "7" },
      details: { eta: 7 },
    }),
  );
  const r = await app.request("/");
  assertEquals(r.status, 503);
  assertEquals(r.headers.get("retry-after"), "7");
  assertEquals(await r.json(), { error: "later", eta: 7 });
});

Deno.test("errorHandler() hides an unexpected error behind a generic 500 and logs it", async () => {
  const { app, log } = appThrowing(new Error("database password is hunter2"));
  const r = await app.request("/");
  assertEquals(r.status, 500);
  assertEquals(await r.json(), { error: "Internal server error" });
  assertEquals(log.lines.length, 1);
  assertEquals(
    log.lines[0].startsWith("ERROR GET / failed: Error: database password"),
    true,
  );
});

Deno.test("statusOf() maps a damaged KV record to 500 although it is a SyntaxError", async () => {
  const error = new CorruptRecordError(
    'Cannot read model m-1 as its KV record ["model_meta","m-1"] is not a model record',
  );
  assertEquals(error instanceof SyntaxError, true);
  assertEquals(statusOf(error), 500);
  const { app, log } = appThrowing(error);
  const r = await app.request("/");
  assertEquals(r.status, 500);
  assertEquals(await r.json(), { error: "Internal server error" });
  assertEquals(log.lines.length, 1);
  assertEquals(log.lines[0].includes("is not a model record"), true);
});
