/**
 * Admin authentication: `Authorization: Bearer <ADMIN_TOKEN>`. Without a
 * configured token the admin endpoints are disabled (403), never open.
 *
 * Tokens are compared in constant time: both sides are hashed with SHA-256
 * (so their lengths do not show either) and the digests compared without
 * an early exit.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { HttpError } from "./errors.ts";

/**
 * Middleware that lets a request through only with the admin token.
 *
 * @example
 * ```ts ignore
 * app.post("/api/train", requireAdmin({ token: "s3cret-token-…" }), handler);
 * ```
 */
export function requireAdmin(
  { token }: { token?: string },
): MiddlewareHandler {
  // Hashed on first use, so building an app starts no work it may never finish.
  let expected: Promise<Uint8Array> | null = null;
  return async (c, next) => {
    if (!token) {
      throw new HttpError(
        403,
        "Admin endpoints are disabled: start the server with ADMIN_TOKEN set to enable them",
      );
    }
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
    expected ??= sha256(token);
    const ok = match !== null &&
      timingSafeEqual(await sha256(match[1]), await expected);
    if (!ok) {
      throw new HttpError(
        401,
        match
          ? "Cannot authorize as the admin token is wrong"
          : 'Cannot authorize as the request has no admin token: send "Authorization: Bearer <ADMIN_TOKEN>"',
        { headers: { "WWW-Authenticate": 'Bearer realm="ziffer admin"' } },
      );
    }
    await next();
  };
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  );
}

/** Compares two equal-length byte strings without stopping at the first difference. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
