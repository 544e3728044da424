/**
 * `deno task push` end to end: a real server (createApp + Deno.serve on a
 * free port, with an admin token) and src/cli/push.ts run as a subprocess
 * against it, as one would push from a laptop to Deno Deploy.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { join } from "@std/path";
import { encodeModel, type Model } from "../../src/nn/model_file.ts";
import { createApp } from "../../src/server/app.ts";
import { memoryLog } from "../../src/server/log.ts";
import {
  activateModel,
  getActivePointer,
  listModels,
  newModelId,
  saveModel,
} from "../../src/store/models.ts";
import { openKv } from "../../src/store/kv.ts";
import { stripeModel, stripePixels } from "../server/_helpers.ts";

const PUSH = new URL("../../src/cli/push.ts", import.meta.url).pathname;
const TOKEN = "push-test-admin-token-0123456789";

/** A running server on a fresh in-memory KV. */
async function server(): Promise<
  & { url: string; kv: Deno.Kv; log: ReturnType<typeof memoryLog> }
  & AsyncDisposable
> {
  const kv = await Deno.openKv(":memory:");
  const log = memoryLog();
  const ziffer = await createApp({ kv, adminToken: TOKEN, log, pollMs: 0 });
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    ziffer.fetch,
  );
  return {
    url: `http://127.0.0.1:${http.addr.port}`,
    kv,
    log,
    async [Symbol.asyncDispose]() {
      await http.shutdown();
      await ziffer.close();
      kv.close();
    },
  };
}

/** Runs `deno task push`'s module with `args` and an environment. */
async function push(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", PUSH, ...args],
    env: { NO_COLOR: "1", KV_PATH: ":memory:", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return {
    code: out.code,
    stdout: text.decode(out.stdout),
    stderr: text.decode(out.stderr),
  };
}

async function modelFile(
  model: Model,
): Promise<{ path: string; bytes: Uint8Array } & AsyncDisposable> {
  const dir = await Deno.makeTempDir();
  const path = join(dir, `${model.id}.zifr`);
  const bytes = encodeModel(model);
  await Deno.writeFile(path, bytes);
  return {
    path,
    bytes,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

async function predictedBy(url: string): Promise<string> {
  const r = await fetch(`${url}/api/predict`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ pixels: stripePixels(2) }),
  });
  return (await r.json()).model?.id;
}

Deno.test("deno task push uploads a model file to a running server, which stores and activates it", async () => {
  await using s = await server();
  const model = stripeModel({ id: newModelId(1_000), scale: 2 });
  await using file = await modelFile(model);
  const r = await push(["--to", s.url, "--file", file.path], {
    ADMIN_TOKEN: TOKEN,
  });
  assertEquals(r.code, 0, r.stderr);
  assertMatch(
    r.stdout,
    new RegExp(`pushing ${model.id} \\(${file.bytes.length} bytes`),
  );
  assertMatch(r.stdout, /stored and activated/);
  assertEquals((await listModels(s.kv)).map((m) => m.info.id), [model.id]);
  assertEquals((await getActivePointer(s.kv))?.id, model.id);
  assertEquals(await predictedBy(s.url), model.id);
  // The stored file is byte for byte the pushed one.
  const download = await fetch(`${s.url}/api/models/${model.id}/file`);
  assertEquals(new Uint8Array(await download.arrayBuffer()), file.bytes);
});

Deno.test("deno task push --no-activate stores the model and keeps the active one", async () => {
  await using s = await server();
  const active = stripeModel({ id: newModelId(1_000) });
  await saveModel(s.kv, active);
  await activateModel(s.kv, active.id);
  const model = stripeModel({ id: newModelId(2_000), scale: 3 });
  await using file = await modelFile(model);
  const r = await push(["--to", s.url, "--file", file.path, "--no-activate"], {
    ADMIN_TOKEN: TOKEN,
  });
  assertEquals(r.code, 0, r.stderr);
  assertEquals((await listModels(s.kv)).length, 2);
  assertEquals((await getActivePointer(s.kv))?.id, active.id);
});

Deno.test("deno task push pushes the active model of the local KV (KV_PATH) when no --file is given", async () => {
  await using s = await server();
  const dir = await Deno.makeTempDir();
  try {
    const kvPath = join(dir, "local.sqlite");
    const local = await openKv(kvPath);
    const model = stripeModel({ id: newModelId(3_000), scale: 4 });
    await saveModel(local, model);
    await activateModel(local, model.id);
    local.close();
    const r = await push(["--to", s.url], {
      ADMIN_TOKEN: TOKEN,
      KV_PATH: kvPath,
    });
    assertEquals(r.code, 0, r.stderr);
    assertEquals((await getActivePointer(s.kv))?.id, model.id);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task push with a wrong token is refused with 401 and stores nothing", async () => {
  await using s = await server();
  await using file = await modelFile(stripeModel({ id: newModelId(4_000) }));
  const r = await push(["--to", s.url, "--file", file.path], {
    ADMIN_TOKEN: "not-the-admin-token-0123456789",
  });
  assertEquals(r.code, 1);
  assertMatch(r.stderr, /the server answered 401/);
  assertEquals(await listModels(s.kv), []);
  assertEquals(await getActivePointer(s.kv), null);
});

Deno.test("a corrupt model file: push refuses it locally, and the server answers 400 and stores nothing", async () => {
  await using s = await server();
  const model = stripeModel({ id: newModelId(5_000) });
  await using file = await modelFile(model);
  const corrupt = file.bytes.slice();
  corrupt[300] ^= 0xff;
  await Deno.writeFile(file.path, corrupt);
  const r = await push(["--to", s.url, "--file", file.path], {
    ADMIN_TOKEN: TOKEN,
  });
  assertEquals(r.code, 1);
  assertMatch(r.stderr, /checksum does not match/);
  // The same bytes sent straight to the server (as an older or other client would).
  const direct = await fetch(`${s.url}/api/models?activate=true`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${TOKEN}`,
      "content-type": "application/octet-stream",
    },
    body: corrupt as Uint8Array<ArrayBuffer>,
  });
  assertEquals(direct.status, 400);
  assertMatch((await direct.json()).error, /checksum does not match/);
  assertEquals(await listModels(s.kv), []);
  assertEquals(await getActivePointer(s.kv), null);
  assert(!s.log.lines.some((l) => l.startsWith("ERROR")));
});

Deno.test("deno task push without ADMIN_TOKEN or --to exits 2 with the reason", async () => {
  const noToken = await push(["--to", "http://127.0.0.1:9"], {});
  assertEquals(noToken.code, 2);
  assertMatch(noToken.stderr, /without ADMIN_TOKEN/);
  const noTarget = await push([], { ADMIN_TOKEN: TOKEN });
  assertEquals(noTarget.code, 2);
  assertMatch(noTarget.stderr, /without --to URL/);
});
