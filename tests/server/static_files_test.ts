import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
} from "@std/assert";
import { join } from "@std/path";
import {
  contentHash,
  IMMUTABLE_CACHE,
  safeRelativePath,
} from "../../src/server/static_files.ts";
import { startServer } from "./_helpers.ts";

const PAGE = `<!doctype html>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href='/style.css'>
<script type="module" src="/app.js"></script>
<a href="/">home</a> <a href="#top">top</a> <a href="/missing.js">gone</a>
<img src="https://example.com/x.png"> <script src="/app.js?v=pinned"></script>`;

/** A folder like static/: a page referencing three assets (one missing). */
async function site(): Promise<{ root: string } & AsyncDisposable> {
  const root = await Deno.makeTempDir();
  await Deno.writeTextFile(join(root, "index.html"), PAGE);
  await Deno.writeTextFile(join(root, "app.js"), "console.log(1);");
  await Deno.writeTextFile(join(root, "style.css"), "body{}");
  await Deno.writeTextFile(join(root, "favicon.svg"), "<svg/>");
  await Deno.writeTextFile(join(root, "sw.js"), "// service worker");
  return {
    root,
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

const hashOf = (text: string) => contentHash(new TextEncoder().encode(text));

Deno.test("contentHash() is the first 16 hex digits of the SHA-256", async () => {
  // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
  assertEquals(await hashOf("abc"), "ba7816bf8f01cfea");
});

Deno.test("GET / rewrites same-origin asset references to carry their content hash", async () => {
  await using files = await site();
  await using s = await startServer({ staticRoot: files.root });
  const r = await s.app.request("/");
  assertEquals(r.status, 200);
  assertEquals(r.headers.get("cache-control"), "no-cache");
  const html = await r.text();
  const js = await hashOf("console.log(1);");
  const css = await hashOf("body{}");
  const svg = await hashOf("<svg/>");
  assert(html.includes(`src="/app.js?v=${js}"`), html);
  assert(html.includes(`href='/style.css?v=${css}'`), html);
  assert(html.includes(`href="/favicon.svg?v=${svg}"`), html);
  // Untouched: the root link, fragments, missing files, other origins, URLs with a query.
  assert(html.includes(`<a href="/">home</a>`), html);
  assert(html.includes(`href="#top"`), html);
  assert(html.includes(`href="/missing.js"`), html);
  assert(html.includes(`src="https://example.com/x.png"`), html);
  assert(html.includes(`src="/app.js?v=pinned"`), html);
  // The ETag is the hash of what was sent, and a match is a 304.
  assertEquals(r.headers.get("etag"), `"${await hashOf(html)}"`);
  const again = await s.app.request("/", {
    headers: { "if-none-match": r.headers.get("etag")! },
  });
  assertEquals(again.status, 304);
  assertEquals(again.headers.get("cache-control"), "no-cache");
});

Deno.test("a hashed asset URL is immutable; the bare or an outdated URL must revalidate", async () => {
  await using files = await site();
  await using s = await startServer({ staticRoot: files.root });
  const hash = await hashOf("console.log(1);");
  const hashed = await s.app.request(`/app.js?v=${hash}`);
  assertEquals(hashed.status, 200);
  assertEquals(hashed.headers.get("cache-control"), IMMUTABLE_CACHE);
  assertEquals(hashed.headers.get("etag"), `"${hash}"`);
  assertEquals(
    hashed.headers.get("content-type"),
    "text/javascript; charset=utf-8",
  );
  assertEquals(await hashed.text(), "console.log(1);");
  for (const path of ["/app.js", "/app.js?v=0123456789abcdef", "/app.js?v="]) {
    const r = await s.app.request(path);
    assertEquals(r.status, 200, path);
    assertEquals(r.headers.get("cache-control"), "no-cache", path);
    await r.body?.cancel();
  }
  // The service worker is never cached for long.
  const sw = await s.app.request("/sw.js");
  assertEquals(sw.headers.get("cache-control"), "no-cache");
  await sw.body?.cancel();
});

Deno.test("a changed asset gets a new hash in the page and its old hashed URL stops being immutable", async () => {
  await using files = await site();
  await using s = await startServer({ staticRoot: files.root });
  const before = await (await s.app.request("/")).text();
  const oldHash = await hashOf("console.log(1);");
  // A different size, so the change is seen even where mtimes are coarse.
  await Deno.writeTextFile(join(files.root, "app.js"), "console.log(22);");
  const newHash = await hashOf("console.log(22);");
  const after = await (await s.app.request("/")).text();
  assertNotEquals(before, after);
  assert(after.includes(`src="/app.js?v=${newHash}"`), after);
  const stale = await s.app.request(`/app.js?v=${oldHash}`);
  assertEquals(stale.headers.get("cache-control"), "no-cache");
  assertEquals(await stale.text(), "console.log(22);");
  const fresh = await s.app.request(`/app.js?v=${newHash}`);
  assertEquals(fresh.headers.get("cache-control"), IMMUTABLE_CACHE);
  await fresh.body?.cancel();
});

Deno.test("two apps serving the same folder send the same ETags (no per-instance mtimes)", async () => {
  await using files = await site();
  await using a = await startServer({ staticRoot: files.root });
  await using b = await startServer({ staticRoot: files.root });
  for (const path of ["/", "/app.js", "/style.css"]) {
    const [ra, rb] = [await a.app.request(path), await b.app.request(path)];
    assertMatch(ra.headers.get("etag")!, /^"[0-9a-f]{16}"$/);
    assertEquals(ra.headers.get("etag"), rb.headers.get("etag"), path);
    await ra.body?.cancel();
    await rb.body?.cancel();
  }
});

Deno.test("HEAD of the page has the rewritten page's length and no body", async () => {
  await using files = await site();
  await using s = await startServer({ staticRoot: files.root });
  const page = await (await s.app.request("/")).text();
  const head = await s.app.request("/index.html", { method: "HEAD" });
  assertEquals(head.status, 200);
  assertEquals(
    head.headers.get("content-length"),
    String(new TextEncoder().encode(page).length),
  );
  assertEquals(await head.text(), "");
});

Deno.test("safeRelativePath() maps / to index.html and refuses escapes", () => {
  assertEquals(safeRelativePath("/"), "index.html");
  assertEquals(safeRelativePath("/models/default.json"), "models/default.json");
  for (const bad of ["/../x", "/%2e%2e/x", "//x", "/.env", "/a/./b", "/%ff"]) {
    assertEquals(safeRelativePath(bad), null, bad);
  }
});
