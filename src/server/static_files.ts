/**
 * Serving the page (`static/`): GET and HEAD of files inside one folder,
 * nothing else. A request path is decoded once and refused (404) when it
 * could leave the folder or reach something hidden: `..` or `.` segments,
 * backslashes, NUL, empty segments, dot-files, malformed percent-encoding.
 * The resolved real path (symlinks followed) must still lie inside the
 * folder's real path. Only known file types are served.
 *
 * Files are revalidated on every load (`no-cache` + ETag from size and
 * modification time), so a deploy shows at once and an unchanged file costs
 * a 304.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";

/** The types served, by extension. Anything else is not found. */
export const STATIC_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json",
  ".woff2": "font/woff2",
};

/**
 * Middleware that answers GET/HEAD requests for files under `root` and
 * passes every other request on. `/` serves `index.html`.
 *
 * @example
 * ```ts ignore
 * app.use("*", staticFiles({ root: "./static" }));
 * ```
 */
export function staticFiles({ root }: { root: string }): MiddlewareHandler {
  let realRoot: Promise<string | null> | null = null;
  return async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return await next();
    const relative = safeRelativePath(new URL(c.req.url).pathname);
    if (relative === null) return await next();
    realRoot ??= Deno.realPath(root).catch(() => null);
    const base = await realRoot;
    if (base === null) return await next();
    const type = STATIC_TYPES[extensionOf(relative)];
    if (!type) return await next();
    let path: string;
    let info: Deno.FileInfo;
    try {
      path = await Deno.realPath(`${base}/${relative}`);
      if (!path.startsWith(`${base}/`)) return await next();
      info = await Deno.stat(path);
    } catch {
      return await next();
    }
    if (!info.isFile) return await next();
    const etag = `W/"${info.size.toString(36)}-${
      (info.mtime?.getTime() ?? 0).toString(36)
    }"`;
    c.header("ETag", etag);
    c.header("Cache-Control", "no-cache");
    if (c.req.header("if-none-match") === etag) return c.body(null, 304);
    c.header("Content-Type", type);
    if (c.req.method === "HEAD") {
      c.header("Content-Length", String(info.size));
      return c.body(null, 200);
    }
    return c.body(await Deno.readFile(path), 200);
  };
}

/**
 * The file a URL path names, relative to the served folder, or null when the
 * path is not a plain file name. "/" → "index.html".
 */
export function safeRelativePath(pathname: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (decoded === "/") return "index.html";
  if (!decoded.startsWith("/") || /[\\\0]/.test(decoded)) return null;
  const segments = decoded.slice(1).split("/");
  for (const segment of segments) {
    // Empty (//), "." and ".." segments and dot-files are all refused.
    if (segment === "" || segment.startsWith(".")) return null;
    // A segment still holding "%" was double-encoded (%252e): refuse it too.
    if (segment.includes("%")) return null;
  }
  return segments.join("/");
}

function extensionOf(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot).toLowerCase() : "";
}
