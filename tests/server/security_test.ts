/**
 * Security checks of the app as a whole: the admin guard on every admin
 * route (missing, wrong and near-miss tokens; off without a configured
 * token) with no side effect getting through; the page's CSP and security
 * headers on the real `static/` folder; CORS open on `/api/predict` only,
 * preflights included.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { fromFileUrl } from "@std/path";
import { encodeModel } from "../../src/nn/model_file.ts";
import { listJobs } from "../../src/store/jobs.ts";
import { getActivePointer, listModels } from "../../src/store/models.ts";
import {
  AUTH,
  startServer,
  storeModel,
  stripeModel,
  TOKEN,
} from "./_helpers.ts";

const STATIC = fromFileUrl(new URL("../../static", import.meta.url));
const ACTIVE = "m-sec-active";
const OTHER = "m-sec-other";

/** Every admin route, with a request that would change something if the guard let it through. */
function adminRequests(): [string, string, RequestInit][] {
  const upload = encodeModel(stripeModel({ id: "m-sec-uploaded" }));
  return [
    ["start training", "/api/train", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"epochs":1,"trainCount":500,"testCount":100}',
    }],
    ["cancel a job", "/api/train/j-000000001-abcd", { method: "DELETE" }],
    ["upload a model", "/api/models", {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: upload as Uint8Array<ArrayBuffer>,
    }],
    ["activate a model", `/api/models/${OTHER}/activate`, { method: "POST" }],
    ["delete a model", `/api/models/${OTHER}`, { method: "DELETE" }],
  ];
}

/** Authorization values that must not pass (`null` = no header). */
const NEAR_MISSES: [string, string | null][] = [
  ["no header", null],
  ["an empty header", ""],
  ["the scheme alone", "Bearer"],
  ["an empty token", "Bearer "],
  ["a wrong token", "Bearer wrong-token-0123456789abc"],
  ["a prefix of the token", `Bearer ${TOKEN.slice(0, -1)}`],
  ["a short prefix", `Bearer ${TOKEN.slice(0, 4)}`],
  ["the token with a suffix", `Bearer ${TOKEN}0`],
  ["the token with a prefix", `Bearer x${TOKEN}`],
  ["the token upper-cased", `Bearer ${TOKEN.toUpperCase()}`],
  ["one letter's case changed", `Bearer T${TOKEN.slice(1)}`],
  [
    "a space inside the token",
    `Bearer ${TOKEN.slice(0, 10)} ${TOKEN.slice(10)}`,
  ],
  ["a tab after the scheme", `Bearer\t${TOKEN}`],
  ["no space after the scheme", `Bearer${TOKEN}`],
  ["a colon after the scheme", `Bearer: ${TOKEN}`],
  ["the token without a scheme", TOKEN],
  ["the Basic scheme", `Basic ${btoa(`admin:${TOKEN}`)}`],
  ["the Token scheme", `Token ${TOKEN}`],
  ["the token quoted", `Bearer "${TOKEN}"`],
  ["the token base64-encoded", `Bearer ${btoa(TOKEN)}`],
  ["the token twice", `Bearer ${TOKEN}, Bearer ${TOKEN}`],
];

async function storeTwo(kv: Deno.Kv): Promise<void> {
  await storeModel(kv, stripeModel({ id: OTHER }), { activate: false });
  await storeModel(kv, stripeModel({ id: ACTIVE }));
}

/** What KV holds that an admin request could change. */
async function state(kv: Deno.Kv): Promise<string> {
  return JSON.stringify({
    models: (await listModels(kv)).map((m) => m.info.id),
    active: (await getActivePointer(kv))?.id,
    jobs: (await listJobs(kv, { limit: 100 })).length,
  });
}

Deno.test("admin routes refuse missing, wrong and near-miss tokens with 401 JSON, and change nothing", async () => {
  await using s = await startServer({ before: storeTwo });
  const before = await state(s.kv);
  for (const [route, path, init] of adminRequests()) {
    for (const [what, value] of NEAR_MISSES) {
      const headers = new Headers(init.headers);
      if (value !== null) headers.set("authorization", value);
      const r = await s.app.request(path, { ...init, headers });
      const body = await r.json();
      assertEquals(
        r.status,
        401,
        `${route} with ${what}: ${JSON.stringify(body)}`,
      );
      assertMatch(body.error, /^Cannot authorize as /, `${route} with ${what}`);
      assertEquals(
        r.headers.get("www-authenticate"),
        'Bearer realm="ziffer admin"',
        `${route} with ${what}`,
      );
    }
  }
  assertEquals(await state(s.kv), before);
  assertEquals(await s.training.status(), null);
});

Deno.test("the admin token is not taken from the query, a cookie or another header", async () => {
  await using s = await startServer({ before: storeTwo });
  const before = await state(s.kv);
  for (const [route, path, init] of adminRequests()) {
    const r = await s.app.request(
      `${path}?token=${TOKEN}&access_token=${TOKEN}`,
      {
        ...init,
        headers: {
          ...init.headers as Record<string, string>,
          cookie: `token=${TOKEN}; admin=${TOKEN}`,
          "x-admin-token": TOKEN,
          "x-api-key": TOKEN,
        },
      },
    );
    await r.body?.cancel();
    assertEquals(r.status, 401, route);
  }
  assertEquals(await state(s.kv), before);
});

Deno.test("the right token passes the guard (so the refusals above are the guard's)", async () => {
  await using s = await startServer({ before: storeTwo });
  const r = await s.app.request(`/api/models/${OTHER}/activate`, {
    method: "POST",
    headers: AUTH,
  });
  assertEquals(r.status, 200);
  assertEquals((await getActivePointer(s.kv))?.id, OTHER);
  // Any amount of spaces between scheme and token, and a lower-case scheme, are the same token.
  for (const value of [`bearer ${TOKEN}`, `Bearer   ${TOKEN}`]) {
    const again = await s.app.request(`/api/models/${ACTIVE}/activate`, {
      method: "POST",
      headers: { authorization: value },
    });
    await again.body?.cancel();
    assertEquals(again.status, 200, value);
  }
});

for (const configured of [undefined, ""]) {
  Deno.test(`with no admin token configured (${JSON.stringify(configured)}) admin routes are off: 403 for every token, nothing changes`, async () => {
    await using s = await startServer({
      before: storeTwo,
      adminToken: configured,
    });
    const before = await state(s.kv);
    for (const [route, path, init] of adminRequests()) {
      for (
        const value of [
          null,
          "",
          "Bearer ",
          `Bearer ${TOKEN}`,
          "Bearer undefined",
          "Bearer null",
        ]
      ) {
        const headers = new Headers(init.headers);
        if (value !== null) headers.set("authorization", value);
        const r = await s.app.request(path, { ...init, headers });
        const body = await r.json();
        assertEquals(r.status, 403, `${route} with ${value}`);
        assertMatch(body.error, /^Admin endpoints are disabled/);
      }
    }
    assertEquals(await state(s.kv), before);
    const health = await (await s.app.request("/api/health")).json();
    assertEquals(health.admin, "disabled");
  });
}

Deno.test("the page and its files carry the CSP and the other security headers", async () => {
  await using s = await startServer({ staticRoot: STATIC, before: storeTwo });
  for (
    const path of ["/", "/index.html", "/app.js", "/style.css", "/no-such-page"]
  ) {
    const r = await s.app.request(path);
    await r.body?.cancel();
    const csp = r.headers.get("content-security-policy") ?? "";
    for (
      const directive of [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
      ]
    ) {
      assert(
        csp.includes(directive),
        `${path}: CSP lacks ${directive}: ${csp}`,
      );
    }
    assert(
      !/unsafe-inline|unsafe-eval|\*/.test(csp),
      `${path}: CSP too open: ${csp}`,
    );
    assertEquals(r.headers.get("x-content-type-options"), "nosniff", path);
    assertMatch(
      r.headers.get("x-frame-options") ?? "",
      /^(DENY|SAMEORIGIN)$/,
      path,
    );
    assertEquals(r.headers.get("referrer-policy"), "no-referrer", path);
    assertMatch(
      r.headers.get("strict-transport-security") ?? "",
      /max-age=\d{6,}/,
      path,
    );
    assertEquals(
      r.headers.get("cross-origin-opener-policy"),
      "same-origin",
      path,
    );
    assertEquals(r.headers.get("access-control-allow-origin"), null, path);
  }
  const page = await s.app.request("/");
  assertEquals(page.status, 200);
  const html = await page.text();
  // The CSP forbids inline scripts: the page must not need any.
  assert(
    !/<script(?![^>]*\bsrc=)[^>]*>/i.test(html),
    "the page has an inline script",
  );
  assert(!/\son[a-z]+=/i.test(html), "the page has an inline event handler");
});

Deno.test("CORS: /api/predict is open to any origin, preflight included; no credentials", async () => {
  await using s = await startServer({ before: storeTwo });
  const preflight = await s.app.request("/api/predict", {
    method: "OPTIONS",
    headers: {
      origin: "https://elsewhere.example",
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type",
    },
  });
  assertEquals(preflight.status, 204);
  assertEquals(preflight.headers.get("access-control-allow-origin"), "*");
  assertMatch(
    preflight.headers.get("access-control-allow-methods") ?? "",
    /\bPOST\b/,
  );
  assertMatch(
    (preflight.headers.get("access-control-allow-headers") ?? "").toLowerCase(),
    /\bcontent-type\b/,
  );
  assert(
    !/authorization/i.test(
      preflight.headers.get("access-control-allow-headers") ?? "",
    ),
    "a cross-origin page may not send an Authorization header to /api/predict",
  );
  assertEquals(preflight.headers.get("access-control-allow-credentials"), null);

  const r = await s.app.request("/api/predict", {
    method: "POST",
    headers: {
      origin: "https://elsewhere.example",
      "content-type": "application/json",
    },
    body: JSON.stringify({ pixels: new Array(784).fill(0) }),
  });
  assertEquals(r.status, 200);
  await r.body?.cancel();
  assertEquals(r.headers.get("access-control-allow-origin"), "*");
  assertEquals(r.headers.get("access-control-allow-credentials"), null);
  // Errors are readable cross-origin too (a page must see why it was refused).
  const bad = await s.app.request("/api/predict", {
    method: "POST",
    headers: {
      origin: "https://elsewhere.example",
      "content-type": "text/plain",
    },
    body: "x",
  });
  assertEquals(bad.status, 415);
  await bad.body?.cancel();
  assertEquals(bad.headers.get("access-control-allow-origin"), "*");
});

Deno.test("CORS: admin and model routes grant no origin, neither to preflights nor to answers", async () => {
  await using s = await startServer({ before: storeTwo });
  const origin = "https://elsewhere.example";
  for (const [route, path, init] of adminRequests()) {
    const preflight = await s.app.request(path, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": init.method!,
        "access-control-request-headers": "authorization, content-type",
      },
    });
    await preflight.body?.cancel();
    assert(
      preflight.status >= 400,
      `${route}: preflight answered ${preflight.status}`,
    );
    for (
      const name of [
        "allow-origin",
        "allow-methods",
        "allow-headers",
        "allow-credentials",
      ]
    ) {
      assertEquals(
        preflight.headers.get(`access-control-${name}`),
        null,
        `${route}: ${name}`,
      );
    }
    const headers = new Headers(init.headers);
    headers.set("origin", origin);
    const answer = await s.app.request(path, { ...init, headers });
    await answer.body?.cancel();
    assertEquals(
      answer.headers.get("access-control-allow-origin"),
      null,
      route,
    );
  }
  for (
    const path of [
      "/api/model",
      "/api/models",
      "/api/health",
      "/api/train",
      `/api/models/${ACTIVE}/file`,
    ]
  ) {
    const r = await s.app.request(path, { headers: { origin } });
    await r.body?.cancel();
    assertEquals(r.headers.get("access-control-allow-origin"), null, path);
  }
});
