/**
 * HTTP errors and the one place that turns any thrown error into a JSON
 * response (`app.onError(errorHandler(log))`):
 *
 *   HttpError                              → its own status (401, 403, 413, 415, 503, …)
 *   CorruptRecordError                     → 500 (stored data is damaged: the server's fault, logged)
 *   TypeError, RangeError, SyntaxError     → 400 (bad input: wrong type, range, format)
 *   NotFoundError                          → 404
 *   ConflictError                          → 409
 *   anything else                          → 500 with a generic message (the error is logged)
 *
 * Every error body is `{"error": "<what was wrong and what is expected>"}`,
 * plus whatever `details` an HttpError carries.
 *
 * @module
 */

import type { Context, ErrorHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import {
  ConflictError,
  CorruptRecordError,
  NotFoundError,
} from "../store/errors.ts";
import type { Log } from "./log.ts";

/** An error that knows its HTTP status, extra headers and extra body fields. */
export class HttpError extends Error {
  override name = "HttpError";
  readonly status: ContentfulStatusCode;
  readonly headers: Record<string, string>;
  readonly details: Record<string, unknown>;

  constructor(
    status: ContentfulStatusCode,
    message: string,
    { headers = {}, details = {} }: {
      headers?: Record<string, string>;
      details?: Record<string, unknown>;
    } = {},
  ) {
    super(message);
    this.status = status;
    this.headers = headers;
    this.details = details;
  }
}

/** The status a thrown value maps to. */
export function statusOf(error: unknown): ContentfulStatusCode {
  if (error instanceof HttpError) return error.status;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof ConflictError) return 409;
  // A SyntaxError about what KV holds, not about the request.
  if (error instanceof CorruptRecordError) return 500;
  if (
    error instanceof TypeError || error instanceof RangeError ||
    error instanceof SyntaxError
  ) {
    return 400;
  }
  return 500;
}

/**
 * The app's error handler: maps the error to a status, answers JSON, and logs
 * what the client must not see.
 */
export function errorHandler(log: Log): ErrorHandler {
  return (error: Error, c: Context) => {
    const status = statusOf(error);
    if (status === 500) {
      log.error(
        `${c.req.method} ${c.req.path} failed: ${error.stack ?? error}`,
      );
      return c.json({ error: "Internal server error" }, 500);
    }
    if (error instanceof HttpError) {
      for (const [name, value] of Object.entries(error.headers)) {
        c.header(name, value);
      }
      return c.json({ error: error.message, ...error.details }, status);
    }
    return c.json({ error: error.message }, status);
  };
}
