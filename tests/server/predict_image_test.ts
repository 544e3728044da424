import { assertEquals, assertMatch } from "@std/assert";
import { imageToMnist } from "../../src/image/preprocess.ts";
import { weightsOf } from "../../src/nn/model_file.ts";
import { createNetwork } from "../../src/nn/network.ts";
import { createRandom } from "../../src/nn/random.ts";
import { barImage, encodePng } from "./_png.ts";
import { postJson, startServer, storeModel, stripeModel } from "./_helpers.ts";

/** A model with random weights: its answer depends on every pixel. */
function randomModel() {
  const base = stripeModel();
  const network = createNetwork(
    {
      input: [1, 28, 28],
      layers: [{ type: "dense", units: 10, activation: "softmax" }],
    },
    { random: createRandom(5) },
  );
  return { ...base, weights: weightsOf(network) };
}

function postPng(bytes: Uint8Array, query = ""): [string, RequestInit] {
  return [`/api/predict${query}`, {
    method: "POST",
    headers: { "content-type": "image/png" },
    body: bytes as Uint8Array<ArrayBuffer>,
  }];
}

async function probabilitiesOf(r: Response): Promise<number[]> {
  assertEquals(r.status, 200, JSON.stringify(await r.clone().json()));
  return (await r.json()).probabilities;
}

Deno.test("POST /api/predict with a PNG applies the page's MNIST recipe (same answer as its pixels as JSON)", async () => {
  await using s = await startServer({
    before: (kv) => storeModel(kv, randomModel()),
  });
  const rgba = barImage(200);
  const pixels = imageToMnist(rgba, 200, 200)!;
  const viaJson = await probabilitiesOf(
    await s.app.request(
      "/api/predict",
      postJson({ pixels: Array.from(pixels) }),
    ),
  );
  const viaPng = await probabilitiesOf(
    await s.app.request(...postPng(await encodePng(rgba, 200, 200))),
  );
  assertEquals(viaPng, viaJson);
});

Deno.test("POST /api/predict detects light-on-dark and dark-on-light alike", async () => {
  await using s = await startServer({
    before: (kv) => storeModel(kv, randomModel()),
  });
  const dark = await encodePng(barImage(90, { ink: 20, paper: 230 }), 90, 90);
  const light = await encodePng(barImage(90, { ink: 230, paper: 20 }), 90, 90);
  const a = await probabilitiesOf(await s.app.request(...postPng(dark)));
  const b = await probabilitiesOf(await s.app.request(...postPng(light)));
  assertEquals(a, b);
  // Forcing the wrong polarity reads the dark paper as the ink's background: nothing stands out.
  const forced = await s.app.request(
    ...postPng(light, "?polarity=dark-on-light"),
  );
  assertEquals(forced.status, 400);
  assertMatch((await forced.json()).error, /blank/);
});

Deno.test("POST /api/predict accepts a grey PNG of another size", async () => {
  await using s = await startServer({
    before: (kv) => storeModel(kv, randomModel()),
  });
  const rgba = barImage(33);
  const grey = new Uint8Array(33 * 33);
  for (let i = 0; i < grey.length; i++) grey[i] = rgba[4 * i];
  const r = await s.app.request(
    ...postPng(await encodePng(grey, 33, 33, { channels: 1 })),
  );
  const viaJson = await probabilitiesOf(
    await s.app.request(
      "/api/predict",
      postJson({ pixels: Array.from(imageToMnist(rgba, 33, 33)!) }),
    ),
  );
  assertEquals(await probabilitiesOf(r), viaJson);
});

Deno.test("POST /api/predict takes a PNG from a multipart form's file field", async () => {
  await using s = await startServer({
    before: (kv) => storeModel(kv, randomModel()),
  });
  const png = await encodePng(barImage(64), 64, 64);
  const form = new FormData();
  form.append("note", "hello");
  form.append(
    "image",
    new File([png as Uint8Array<ArrayBuffer>], "digit.png", {
      type: "image/png",
    }),
  );
  form.append("polarity", "auto");
  const viaForm = await probabilitiesOf(
    await s.app.request("/api/predict", { method: "POST", body: form }),
  );
  const viaPng = await probabilitiesOf(await s.app.request(...postPng(png)));
  assertEquals(viaForm, viaPng);
});

const BAD_IMAGES: [
  string,
  () => [string, RequestInit] | Promise<[string, RequestInit]>,
  number,
  RegExp,
][] = [
  [
    "an empty PNG body",
    () => postPng(new Uint8Array()),
    400,
    /it is empty/,
  ],
  [
    "bytes that are not a PNG",
    () => postPng(new TextEncoder().encode("GIF89a not a png")),
    400,
    /PNG signature/,
  ],
  [
    "a truncated PNG",
    async () => postPng((await encodePng(barImage(40), 40, 40)).slice(0, 60)),
    400,
    /Cannot decode the PNG/,
  ],
  [
    "a PNG with a broken CRC",
    async () => {
      const png = await encodePng(barImage(40), 40, 40);
      png[40] ^= 0xff;
      return postPng(png);
    },
    400,
    /CRC|Cannot decode the PNG/,
  ],
  [
    "a blank white image",
    async () =>
      postPng(await encodePng(new Uint8Array(50 * 50 * 4).fill(255), 50, 50)),
    400,
    /blank/,
  ],
  [
    "a header claiming 100000 × 100000 pixels",
    async () =>
      postPng(
        await encodePng(barImage(20), 20, 20, { ihdrSize: [100_000, 100_000] }),
      ),
    400,
    /pixels|too large|at most/i,
  ],
  [
    "a decompression bomb (tiny header, huge data)",
    async () => {
      const big = new Uint8Array(3000 * 3000 * 4);
      return postPng(await encodePng(big, 3000, 3000, { ihdrSize: [10, 10] }));
    },
    400,
    /Cannot decode the PNG/,
  ],
  [
    "an unknown polarity",
    async () =>
      postPng(await encodePng(barImage(20), 20, 20), "?polarity=purple"),
    400,
    /polarity must be one of auto, dark-on-light, light-on-dark/,
  ],
  [
    "a form without a file",
    () => {
      const form = new FormData();
      form.append("pixels", "1,2,3");
      return ["/api/predict", { method: "POST", body: form }];
    },
    400,
    /has no file field/,
  ],
  [
    "a malformed multipart body",
    () => ["/api/predict", {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=xyz" },
      body: "--abc\r\nnot a form",
    }],
    400,
    /Cannot read the multipart form/,
  ],
];

for (const [what, request, status, message] of BAD_IMAGES) {
  Deno.test(`POST /api/predict refuses ${what} with ${status}, and keeps serving`, async () => {
    const model = randomModel();
    await using s = await startServer({
      before: (kv) => storeModel(kv, model),
    });
    const r = await s.app.request(...await request());
    assertEquals(r.status, status);
    assertMatch((await r.json()).error, message);
    assertEquals(s.log.lines.filter((l) => l.startsWith("ERROR")), []);
    const ok = await s.app.request(
      ...postPng(await encodePng(barImage(30), 30, 30)),
    );
    assertEquals(ok.status, 200);
  });
}

Deno.test("POST /api/predict refuses an image body over the limit with 413", async () => {
  await using s = await startServer({
    before: (kv) => storeModel(kv, randomModel()),
    limits: { image: 1000 },
  });
  const png = await encodePng(
    crypto.getRandomValues(new Uint8Array(40 * 40 * 4)),
    40,
    40,
  );
  const r = await s.app.request(...postPng(png));
  assertEquals(r.status, 413);
  assertMatch((await r.json()).error, /limit of 1000 bytes/);
});
