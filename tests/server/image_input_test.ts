import { assertEquals, assertMatch } from "@std/assert";
import {
  countFormParts,
  MAX_FORM_PARTS,
} from "../../src/server/image_input.ts";
import { barImage, encodePng } from "./_png.ts";
import { startServer, storeModel, stripeModel } from "./_helpers.ts";

const TYPE = "multipart/form-data; boundary=XyZ";

function formBody(parts: number, { close = true } = {}): Uint8Array {
  let text = "";
  for (let i = 0; i < parts; i++) {
    text +=
      `--XyZ\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\nv\r\n`;
  }
  if (close) text += "--XyZ--\r\n";
  return new TextEncoder().encode(text);
}

Deno.test("countFormParts() counts the parts of a form, not its closing delimiter", () => {
  assertEquals(countFormParts(formBody(0), TYPE, 100), 0);
  assertEquals(countFormParts(formBody(3), TYPE, 100), 3);
  assertEquals(countFormParts(formBody(3, { close: false }), TYPE, 100), 3);
  assertEquals(
    countFormParts(formBody(3), 'multipart/form-data; boundary="XyZ"', 100),
    3,
  );
});

Deno.test("countFormParts() stops counting past the limit and returns 0 without a boundary", () => {
  assertEquals(countFormParts(formBody(100_000), TYPE, 16), 17);
  assertEquals(countFormParts(formBody(5), "multipart/form-data", 16), 0);
});

Deno.test("POST /api/predict refuses a form of more than MAX_FORM_PARTS parts with 400, and keeps serving", async () => {
  await using s = await startServer({
    before: (kv) => storeModel(kv, stripeModel()),
  });
  const r = await s.app.request("/api/predict", {
    method: "POST",
    headers: { "content-type": TYPE },
    body: formBody(MAX_FORM_PARTS + 1) as Uint8Array<ArrayBuffer>,
  });
  assertEquals(r.status, 400);
  assertMatch(
    (await r.json()).error,
    /^Cannot read the multipart form as it has more than 16 parts: got at least 17$/,
  );

  // A form of exactly MAX_FORM_PARTS parts, one of them the PNG, is read.
  const png = await encodePng(barImage(64), 64, 64);
  const form = new FormData();
  for (let i = 0; i < MAX_FORM_PARTS - 1; i++) form.append(`note${i}`, "x");
  form.append(
    "image",
    new File([png as Uint8Array<ArrayBuffer>], "digit.png", {
      type: "image/png",
    }),
  );
  const ok = await s.app.request("/api/predict", {
    method: "POST",
    body: form,
  });
  assertEquals(ok.status, 200, JSON.stringify(await ok.clone().json()));
});
