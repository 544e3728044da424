import { assert, assertEquals } from "@std/assert";
import { buildWebBundle, WEB_BUNDLE } from "../../src/cli/build_web.ts";

Deno.test("static/app.js is the bundle of src/web/app.ts as committed (run `deno task build`)", async () => {
  const committed = await Deno.readTextFile(
    new URL(`../../${WEB_BUNDLE}`, import.meta.url),
  );
  const fresh = await buildWebBundle();
  // Compare sizes first: a mismatch then says how far it drifted.
  assertEquals(
    committed.length,
    fresh.length,
    `${WEB_BUNDLE} is out of date: run \`deno task build\``,
  );
  assert(
    committed === fresh,
    `${WEB_BUNDLE} is out of date: run \`deno task build\``,
  );
});

Deno.test("static/app.js loads no other script and has no inline-code escapes", async () => {
  const bundle = await Deno.readTextFile(
    new URL(`../../${WEB_BUNDLE}`, import.meta.url),
  );
  // One self-contained file: no imports left for the browser to resolve,
  // and nothing a strict CSP (script-src 'self') would refuse.
  assert(
    !/\bimport\s*\(|^import\s|\bfrom\s*"[^"]+"/m.test(
      bundle.replace(/^\/\/.*$/gm, ""),
    ),
  );
  assert(!bundle.includes("eval("));
  assert(!bundle.includes("new Function("));
});
