/**
 * Serving the page (`static/`): GET and HEAD of files inside one folder,
 * nothing else. A request path is decoded once and refused (404) when it
 * could leave the folder or reach something hidden: `..` or `.` segments,
 * backslashes, NUL, empty segments, dot-files, malformed percent-encoding.
 * The resolved real path (symlinks followed) must still lie inside the
 * folder's real path. Only known file types are served.
 *
 * Caching, so that many short-lived instances and the browser agree:
 *
 * - Every file's entity tag is a hash of its content (SHA-256, first 16 hex
 *   digits), the same on every instance of a deploy, unlike one built from
 *   modification times.
 * - HTML pages are served with their same-origin asset references rewritten
 *   to carry the asset's hash (`/app.js` → `/app.js?v=3f2a…`), and are
 *   revalidated on every load (`no-cache` + ETag), so a deploy shows at once.
 * - A request whose `?v=` names the file's current hash gets
 *   `public, max-age=31536000, immutable`: the browser never asks again,
 *   and the next deploy's page names a new URL. Any other request for the
 *   file (no `v`, or an old one) gets `no-cache`, so nothing stale is kept
 *   under a name that promises it is current.
 *
 * File contents are read and hashed once per (path, size, mtime) and then
 * served from memory; the folder is small (the page, its bundle, the
 * shipped model's record).
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

/** Cache-Control of a hashed (`?v=<current hash>`) URL. */
export const IMMUTABLE_CACHE = "public, max-age=31536000, immutable";

/** One file as read from disk. */
interface FileEntry {
  /** Identifies the version on disk this was read from. */
  stamp: string;
  bytes: Uint8Array;
  /** First 16 hex digits of the SHA-256 of `bytes`. */
  hash: string;
}

/** An HTML page after its asset references were rewritten. */
interface PageEntry {
  /** The page's hash and the hashes of every asset it names. */
  stamp: string;
  bytes: Uint8Array;
  hash: string;
}

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
  const files = new Map<string, FileEntry>();
  const pages = new Map<string, PageEntry>();

  /** The current content of `relative`, or null when it is not a servable file. */
  const read = async (relative: string): Promise<FileEntry | null> => {
    realRoot ??= Deno.realPath(root).catch(() => null);
    const base = await realRoot;
    if (base === null || !STATIC_TYPES[extensionOf(relative)]) return null;
    let path: string;
    let info: Deno.FileInfo;
    try {
      path = await Deno.realPath(`${base}/${relative}`);
      if (!path.startsWith(`${base}/`)) return null;
      info = await Deno.stat(path);
    } catch {
      return null;
    }
    if (!info.isFile) return null;
    const stamp = `${path}:${info.size}:${info.mtime?.getTime() ?? ""}`;
    const cached = files.get(relative);
    if (cached?.stamp === stamp) return cached;
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch {
      return null;
    }
    const entry = { stamp, bytes, hash: await contentHash(bytes) };
    files.set(relative, entry);
    return entry;
  };

  /** An HTML page with `?v=<hash>` on every same-origin asset it references. */
  const page = async (
    relative: string,
    file: FileEntry,
  ): Promise<PageEntry> => {
    const html = new TextDecoder().decode(file.bytes);
    const refs = new Map<string, FileEntry | null>();
    for (const match of html.matchAll(ASSET_REFERENCE)) {
      const target = safeRelativePath(match[3]);
      if (target !== null && target !== relative && !refs.has(match[3])) {
        refs.set(match[3], await read(target));
      }
    }
    const stamp = [file.hash, ...[...refs].map(([p, f]) => `${p}=${f?.hash}`)]
      .join(" ");
    const cached = pages.get(relative);
    if (cached?.stamp === stamp) return cached;
    const rewritten = html.replace(
      ASSET_REFERENCE,
      (whole, attribute: string, quote: string, path: string) => {
        const asset = refs.get(path);
        return asset
          ? `${attribute}=${quote}${path}?v=${asset.hash}${quote}`
          : whole;
      },
    );
    const bytes = new TextEncoder().encode(rewritten);
    const entry = { stamp, bytes, hash: await contentHash(bytes) };
    pages.set(relative, entry);
    return entry;
  };

  return async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return await next();
    const url = new URL(c.req.url);
    const relative = safeRelativePath(url.pathname);
    if (relative === null) return await next();
    const file = await read(relative);
    if (!file) return await next();
    const type = STATIC_TYPES[extensionOf(relative)];
    let body = file.bytes;
    let hash = file.hash;
    if (type.startsWith("text/html")) {
      ({ bytes: body, hash } = await page(relative, file));
      c.header("Cache-Control", "no-cache");
    } else {
      const versioned = url.searchParams.get("v") === file.hash;
      c.header("Cache-Control", versioned ? IMMUTABLE_CACHE : "no-cache");
    }
    const etag = `"${hash}"`;
    c.header("ETag", etag);
    if (matchesEtag(c.req.header("if-none-match"), etag)) {
      return c.body(null, 304);
    }
    c.header("Content-Type", type);
    if (c.req.method === "HEAD") {
      c.header("Content-Length", String(body.length));
      return c.body(null, 200);
    }
    return c.body(body as Uint8Array<ArrayBuffer>, 200);
  };
}

/**
 * `src="/…"` and `href="/…"` attributes naming a same-origin path without a
 * query or fragment: group 1 the attribute, 2 the quote, 3 the path.
 */
const ASSET_REFERENCE = /\b(src|href)=(["'])(\/[^"'?#\s]+)\2/g;

/** First 16 hex digits of the SHA-256 of `bytes`. */
export async function contentHash(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  let hex = "";
  for (let i = 0; i < 8; i++) hex += digest[i].toString(16).padStart(2, "0");
  return hex;
}

/** True when an If-None-Match header lists `etag` (weakly compared) or is "*". */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => {
    const tag = t.trim().replace(/^W\//, "");
    return tag === etag || tag === "*";
  });
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
