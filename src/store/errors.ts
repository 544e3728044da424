/**
 * Errors of the store that are not about the caller's types or ranges. The
 * HTTP layer maps them to 404, 409 and 500.
 *
 * @module
 */

/** The thing asked for does not exist (→ 404). */
export class NotFoundError extends Error {
  override name = "NotFoundError";
}

/** The request conflicts with the current state (→ 409), e.g. deleting the active model. */
export class ConflictError extends Error {
  override name = "ConflictError";
}

/**
 * A KV record that is not what Ziffer writes there: corrupt, or written by
 * another program sharing the database (→ 500, logged). It is a SyntaxError —
 * the stored data cannot be read — and it is never silently overwritten.
 */
export class CorruptRecordError extends SyntaxError {
  override name = "CorruptRecordError";
}
