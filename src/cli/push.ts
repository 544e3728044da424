/**
 * `deno task push` — uploads a trained model to a running Ziffer server
 * (e.g. on Deno Deploy), which verifies it (format, checksum, architecture)
 * before storing and activating it.
 *
 * Usage:
 *   ADMIN_TOKEN=… deno task push --to https://ziffer.example.deno.net            # the active model of local KV
 *   ADMIN_TOKEN=… deno task push --to https://… --model m-0mx7m65ud-e6c6f576     # one model of local KV
 *   ADMIN_TOKEN=… deno task push --to https://… --file model.zifr                # a model file
 *   … --no-activate      store it on the server without making it active
 *
 * The local KV is `KV_PATH` (default .kv/ziffer.sqlite), as for `deno task train`.
 *
 * @module
 */

import { parseArgs } from "@std/cli";
import { decodeModel } from "../nn/model_file.ts";
import {
  loadActiveModel,
  loadModel,
  openKv,
  resolveKvPath,
} from "../store/mod.ts";

/** What the flags ask for. */
export interface PushCommand {
  to: URL;
  file?: string;
  model?: string;
  activate: boolean;
}

/** Parses the flags strictly; throws with the allowed flags on anything unknown. */
export function parsePushArgs(args: string[]): PushCommand {
  const unknown: string[] = [];
  const flags = parseArgs(args, {
    string: ["to", "file", "model"],
    boolean: ["activate"],
    negatable: ["activate"],
    default: { activate: true },
    unknown: (arg: string) => {
      unknown.push(arg);
      return false;
    },
  });
  if (unknown.length) {
    throw new RangeError(
      `Cannot use ${
        unknown.join(" ")
      }: the flags are --to, --file, --model, --no-activate`,
    );
  }
  if (!flags.to) {
    throw new RangeError(
      "Cannot push without --to URL (the server to upload to)",
    );
  }
  let to: URL;
  try {
    to = new URL(flags.to);
  } catch {
    throw new RangeError(
      `Cannot use --to as it must be an http(s) URL: got "${flags.to}"`,
    );
  }
  if (to.protocol !== "https:" && to.protocol !== "http:") {
    throw new RangeError(
      `Cannot use --to as it must be an http(s) URL: got "${flags.to}"`,
    );
  }
  if (flags.file && flags.model) {
    throw new RangeError(
      "Cannot use --file and --model together: choose one model to push",
    );
  }
  return { to, file: flags.file, model: flags.model, activate: flags.activate };
}

/** Runs the command; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let command: PushCommand;
  try {
    command = parsePushArgs(args);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 2;
  }
  const token = Deno.env.get("ADMIN_TOKEN");
  if (!token) {
    console.error(
      "error: Cannot push without ADMIN_TOKEN set to the server's admin token",
    );
    return 2;
  }
  let bytes: Uint8Array;
  try {
    if (command.file) {
      bytes = await Deno.readFile(command.file);
    } else {
      const kvPath = resolveKvPath();
      const kv = await openKv(kvPath);
      try {
        const loaded = command.model
          ? await loadModel(kv, command.model)
          : await loadActiveModel(kv);
        if (!loaded) {
          throw new Error(`KV ${kvPath} has no active model: train one first`);
        }
        bytes = loaded.bytes;
      } finally {
        kv.close();
      }
    }
    // Check locally first: a clear error here beats a 400 from the server.
    const model = decodeModel(bytes);
    console.log(
      `pushing ${model.id} (${bytes.length} bytes, test accuracy ${
        (100 * model.metrics.testAccuracy).toFixed(2)
      }%) to ${command.to.origin}`,
    );
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
  const url = new URL(`/api/models?activate=${command.activate}`, command.to);
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/octet-stream",
      },
      body: bytes as Uint8Array<ArrayBuffer>,
    });
  } catch (e) {
    console.error(`error: Cannot reach ${url.origin}: ${(e as Error).message}`);
    return 1;
  }
  const text = await response.text();
  if (!response.ok) {
    console.error(`error: the server answered ${response.status}: ${text}`);
    return 1;
  }
  console.log(`stored${command.activate ? " and activated" : ""}: ${text}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
