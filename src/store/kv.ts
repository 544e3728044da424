/**
 * Opening Deno KV. The location comes from `KV_PATH`: a file path, `:memory:`
 * or a KV Connect URL (`https://api.deno.com/v2/databases/<id>/connect`, with
 * `DENO_KV_ACCESS_TOKEN` set). Without it, a git-ignored file inside the
 * project, so `deno task train` and `deno task start` share the same store.
 *
 * @module
 */

/** Where KV lives when `KV_PATH` is not set (relative to the working directory). */
export const DEFAULT_KV_PATH = ".kv/ziffer.sqlite";

/**
 * The KV location to use: `KV_PATH`; else, on Deno Deploy (where
 * `DENO_DEPLOYMENT_ID` is set), `undefined` for the database attached to the
 * app; else the default file.
 */
export function resolveKvPath(
  env: { get(name: string): string | undefined } = Deno.env,
): string | undefined {
  const path = env.get("KV_PATH");
  if (path) return path;
  if (env.get("DENO_DEPLOYMENT_ID")) return undefined;
  return DEFAULT_KV_PATH;
}

/**
 * Opens KV at `path`, creating the parent folder of a file path.
 *
 * @example
 * ```ts ignore
 * const kv = await openKv(":memory:");
 * kv.close();
 * ```
 */
export async function openKv(path: string | undefined): Promise<Deno.Kv> {
  const isUrl = path !== undefined && /^https?:\/\//.test(path);
  try {
    if (path !== undefined && !isUrl && path !== ":memory:") {
      const slash = path.lastIndexOf("/");
      if (slash > 0) {
        await Deno.mkdir(path.slice(0, slash), { recursive: true });
      }
    }
    return await Deno.openKv(path);
  } catch (e) {
    throw new Error(
      `Cannot open Deno KV at ${path ?? "the attached database"}: ${
        (e as Error).message
      }`,
      { cause: e },
    );
  }
}
