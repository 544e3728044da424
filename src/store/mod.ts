/**
 * Ziffer's Deno KV store: models, the active pointer, the training lease.
 *
 * @module
 */

export * from "./checkpoints.ts";
export * from "./errors.ts";
export * from "./keys.ts";
export * from "./kv.ts";
export * from "./lease.ts";
export * from "./models.ts";
