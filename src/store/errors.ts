/**
 * Errors of the store that are not about the caller's types or ranges. The
 * HTTP layer maps them to 404 and 409.
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
