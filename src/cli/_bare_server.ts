/**
 * The baseline of src/cli/cold_start.ts: a bare Hono
 * endpoint that only parses the same JSON body as `POST /api/predict` and
 * checks it holds 784 pixels — no model, no KV. Listens on PORT (loopback).
 *
 * @module
 */

import { Hono } from "hono";

const app = new Hono();
app.post("/api/predict", async (c) => {
  const body = await c.req.json();
  if (!Array.isArray(body?.pixels) || body.pixels.length !== 784) {
    return c.json({ error: "expected 784 pixels" }, 400);
  }
  return c.json({ ok: true });
});

Deno.serve(
  {
    hostname: "127.0.0.1",
    port: Number(Deno.env.get("PORT") ?? 8001),
    onListen: () => {},
  },
  app.fetch,
);
