import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { DEFAULT_KV_PATH, openKv, resolveKvPath } from "../../src/store/kv.ts";

const envOf = (vars: Record<string, string>) => ({
  get: (name: string) => vars[name],
});

Deno.test("resolveKvPath() uses KV_PATH when set, even on Deno Deploy", () => {
  assertEquals(
    resolveKvPath(envOf({ KV_PATH: "/tmp/x.sqlite" })),
    "/tmp/x.sqlite",
  );
  assertEquals(resolveKvPath(envOf({ KV_PATH: ":memory:" })), ":memory:");
  assertEquals(
    resolveKvPath(envOf({ KV_PATH: "/data/kv", DENO_DEPLOYMENT_ID: "abc" })),
    "/data/kv",
  );
});

Deno.test("resolveKvPath() gives undefined (the attached database) on Deno Deploy", () => {
  assertEquals(
    resolveKvPath(envOf({ DENO_DEPLOYMENT_ID: "abc123" })),
    undefined,
  );
});

Deno.test("resolveKvPath() defaults to the project file, also for an empty KV_PATH", () => {
  assertEquals(resolveKvPath(envOf({})), DEFAULT_KV_PATH);
  assertEquals(resolveKvPath(envOf({ KV_PATH: "" })), DEFAULT_KV_PATH);
  assertEquals(DEFAULT_KV_PATH, ".kv/ziffer.sqlite");
});

Deno.test("openKv() creates the parent folders of a file path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ziffer-kv-" });
  try {
    const path = `${dir}/a/b/store.sqlite`;
    const kv = await openKv(path);
    try {
      await kv.set(["k"], "v");
      assertEquals((await kv.get(["k"])).value, "v");
    } finally {
      kv.close();
    }
    assert((await Deno.stat(`${dir}/a/b`)).isDirectory);
    assert((await Deno.stat(path)).isFile);
    // Reopening the same path sees the data.
    const again = await openKv(path);
    try {
      assertEquals((await again.get(["k"])).value, "v");
    } finally {
      again.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openKv(':memory:') opens an empty in-memory store", async () => {
  const kv = await openKv(":memory:");
  try {
    assertEquals((await kv.get(["anything"])).value, null);
  } finally {
    kv.close();
  }
});

Deno.test("openKv() of a folder fails with an Error naming the path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ziffer-kv-" });
  try {
    const err = await assertRejects(() => openKv(dir), Error);
    assertStringIncludes(err.message, `Cannot open Deno KV at ${dir}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openKv() below a regular file fails with an Error naming the path", async () => {
  const file = await Deno.makeTempFile({ prefix: "ziffer-kv-" });
  try {
    const path = `${file}/sub/store.sqlite`;
    const err = await assertRejects(() => openKv(path), Error);
    assertStringIncludes(err.message, `Cannot open Deno KV at ${path}`);
  } finally {
    await Deno.remove(file);
  }
});
