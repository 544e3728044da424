/**
 * The bad requests of `deno task fuzz`, by category. Case `i` of seed `s` is
 * made from its own generator (`createRandom(mix(s, i))`), so any one case
 * can be made again alone (`--only i`), whatever ran before it.
 *
 * Every case must be refused. Where chance could make a valid request (a
 * mutated body that still parses, a PNG flip in a byte that does not
 * matter), the case is checked against the server's own validation
 * functions first and drawn again if they accept it: the server must then
 * answer 4xx with a JSON error.
 *
 * A few kinds of case are allowed other answers, each for a stated reason:
 * - `httpLayer`: Deno's HTTP layer (hyper) refuses a malformed or oversized
 *   request head itself with `400 Bad Request`, an empty body and
 *   `connection: close` — before the app sees it. Measured on Deno 2.9.6: a
 *   head over ~64 KiB or with more than 128 header lines, an invalid or
 *   doubled Content-Length, Content-Length with chunked, a NUL in the path.
 * - `mayClose`: the client cut its own body short, sent broken chunk framing,
 *   or kept writing a body over the limit after the server refused it; the
 *   server may close the connection instead of answering.
 *
 * @module
 */

import { decodePng } from "../image/png.ts";
import { decodeModel } from "../nn/model_file.ts";
import { createRandom, type Random } from "../nn/random.ts";
import { mediaType, parseJson } from "../server/body.ts";
import { imageDecoder, readFormImage } from "../server/image_input.ts";
import { readPixelJson } from "../server/pixels.ts";
import { readTrainRequest } from "../server/train_routes.ts";
import {
  barPicture,
  chunk,
  concat,
  greyPng,
  ihdr,
  pngOf,
  SIGNATURE,
  zlib,
} from "./_fuzz_png.ts";
import type { RawRequest } from "./_raw_http.ts";

/** The categories, in the order of the summary table. */
export const CATEGORIES = [
  "json-syntax",
  "json-nesting",
  "json-shape",
  "json-numbers",
  "content-type",
  "body-limit",
  "body-cut",
  "png-corrupt",
  "png-bomb",
  "multipart",
  "path-traversal",
  "headers",
  "admin-auth",
  "admin-body",
  "routes",
] as const;

/** One kind of bad request. */
export type Category = typeof CATEGORIES[number];

/** Relative frequency of each category. */
const WEIGHTS: Record<Category, number> = {
  "json-syntax": 12,
  "json-nesting": 6,
  "json-shape": 12,
  "json-numbers": 10,
  "content-type": 8,
  "body-limit": 6,
  "body-cut": 3,
  "png-corrupt": 12,
  "png-bomb": 4,
  "multipart": 8,
  "path-traversal": 8,
  "headers": 5,
  "admin-auth": 10,
  "admin-body": 6,
  "routes": 8,
};

/** Limits of the server (src/server/predict_routes.ts, model_routes.ts, train_routes.ts). */
export const LIMITS = {
  json: 4 * 1024 * 1024,
  image: 8 * 1024 * 1024,
  upload: 32 * 1024 * 1024,
  train: 64 * 1024,
};

/** What the cases are made from: the server's token and models, valid inputs to break. */
export interface FuzzContext {
  token: string;
  /** The active model (may not be deleted: 409). */
  activeId: string;
  /** A stored, inactive model (a bypassed guard would delete or activate it). */
  inactiveId: string;
  /** 784 valid pixels. */
  digit: number[];
  /** A valid 64×64 PNG of a digit. */
  png: Uint8Array;
  /** The file of a valid model that is not stored (a bypassed guard would store it). */
  newModelFile: Uint8Array;
  /** The file of the active model (uploading it again: 409). */
  activeModelFile: Uint8Array;
  /** zlib of 64 MiB of zeros (~64 KiB): more data than any 64×64 image holds. */
  overflowZlib: Uint8Array;
  /** zlib of a 4096 × 4096 all-zero grey image with its filter bytes (~16 KiB). */
  maxGreyZlib: Uint8Array;
}

/** How a case is sent. */
export type FuzzRequest =
  | {
    via: "fetch";
    method: string;
    path: string;
    headers: [string, string][];
    body?: Uint8Array;
  }
  | { via: "raw"; method: string; raw: RawRequest };

/** One generated bad request and what answers it may get. */
export interface FuzzCase {
  index: number;
  category: Category;
  /** A few words on what was sent, for failure reports. */
  label: string;
  request: FuzzRequest;
  /** Deno's HTTP layer may answer 400 with an empty body (see the module doc). */
  httpLayer?: boolean;
  /** The connection may end without an answer (see the module doc). */
  mayClose?: boolean;
  /** How long the answer may take. */
  timeoutMs: number;
}

/** Builds the context: valid inputs and bombs, made once per run. */
export async function makeContext(
  { token, activeId, inactiveId, digit, newModelFile, activeModelFile }: Omit<
    FuzzContext,
    "png" | "overflowZlib" | "maxGreyZlib"
  >,
): Promise<FuzzContext> {
  return {
    token,
    activeId,
    inactiveId,
    digit,
    newModelFile,
    activeModelFile,
    png: await greyPng(barPicture(64), 64, 64),
    overflowZlib: await zlib(new Uint8Array(64 * 1024 * 1024)),
    maxGreyZlib: await zlib(new Uint8Array(4097 * 4096)),
  };
}

/** Mixes a run seed and a case index into the seed of that case's generator. */
export function caseSeed(seed: number, index: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (index + 0x7f4a7c15), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Makes case `index` of run `seed`. `heavyEvery` sets how often a case is one
 * of the expensive ones (a 4096 × 4096 decompression bomb, which costs the
 * server seconds of CPU): case indices ≡ 7 mod heavyEvery.
 */
export async function generateCase(
  ctx: FuzzContext,
  seed: number,
  index: number,
  { heavyEvery = 1000 }: { heavyEvery?: number } = {},
): Promise<FuzzCase> {
  const r = createRandom(caseSeed(seed, index));
  if (heavyEvery > 0 && index % heavyEvery === 7) {
    return { index, category: "png-bomb", ...await maxSizeBomb(r, ctx) };
  }
  const category = weighted(r);
  const made = await GENERATORS[category](r, ctx);
  return { index, category, ...made };
}

type Made = Omit<FuzzCase, "index" | "category">;
type Generator = (r: Random, ctx: FuzzContext) => Made | Promise<Made>;

function weighted(r: Random): Category {
  const total = CATEGORIES.reduce((s, c) => s + WEIGHTS[c], 0);
  let x = r() * total;
  for (const c of CATEGORIES) {
    x -= WEIGHTS[c];
    if (x < 0) return c;
  }
  return CATEGORIES[CATEGORIES.length - 1];
}

// ---------------------------------------------------------------- helpers

const int = (r: Random, lo: number, hi: number) =>
  lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Random, xs: readonly T[]): T =>
  xs[Math.floor(r() * xs.length)];
const chance = (r: Random, p: number) => r() < p;
const enc = new TextEncoder();

function randomBytes(r: Random, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}

function randomToken(
  r: Random,
  n: number,
  alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-",
): string {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

/** Draws up to 30 times until `accept` holds, else returns `fallback()`. */
async function drawUntil<T>(
  make: () => T | Promise<T>,
  accept: (value: T) => boolean | Promise<boolean>,
  fallback: () => T | Promise<T>,
): Promise<T> {
  for (let i = 0; i < 30; i++) {
    const value = await make();
    if (await accept(value)) return value;
  }
  return await fallback();
}

function fetchCase(
  label: string,
  method: string,
  path: string,
  headers: [string, string][],
  body?: Uint8Array,
  timeoutMs = 15_000,
): Made {
  return {
    label,
    request: { via: "fetch", method, path, headers, body },
    timeoutMs,
  };
}

function rawCase(
  label: string,
  method: string,
  raw: RawRequest,
  extra: Partial<Made> = {},
): Made {
  return {
    label,
    request: { via: "raw", method, raw },
    timeoutMs: 20_000,
    ...extra,
  };
}

function head(
  method: string,
  path: string,
  headers: [string, string][],
): string {
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${
    headers.map(([k, v]) => `${k}: ${v}\r\n`).join("")
  }Connection: close\r\n\r\n`;
}

const JSON_TYPE: [string, string] = ["content-type", "application/json"];

function pixelsText(digit: number[]): string {
  return JSON.stringify({ pixels: digit });
}

/** True when the server's own checks refuse these bytes as a JSON prediction body. */
function jsonRefused(bytes: Uint8Array): boolean {
  try {
    readPixelJson(parseJson(bytes));
    return false;
  } catch {
    return true;
  }
}

const decodeImage = imageDecoder(decodePng);

/** True when the server's image path refuses these PNG bytes (with this polarity). */
async function pngRefused(
  bytes: Uint8Array,
  polarity?: string,
): Promise<boolean> {
  try {
    await decodeImage(bytes, { polarity });
    return false;
  } catch {
    return true;
  }
}

/** True when the server's form path refuses this multipart body. */
async function formRefused(type: string, bytes: Uint8Array): Promise<boolean> {
  try {
    const request = new Request("http://127.0.0.1/", {
      method: "POST",
      headers: { "content-type": type },
    });
    const { image, polarity } = await readFormImage(request, bytes);
    await decodeImage(image, { polarity });
    return false;
  } catch {
    return true;
  }
}

function trainRefused(bytes: Uint8Array): boolean {
  try {
    readTrainRequest(parseJson(bytes));
    return false;
  } catch {
    return true;
  }
}

function modelRefused(bytes: Uint8Array): boolean {
  try {
    decodeModel(bytes);
    return false;
  } catch {
    return true;
  }
}

/** True when `text` has a char code outside lo..hi. */
function hasCharOutside(text: string, lo: number, hi: number): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < lo || c > hi) return true;
  }
  return false;
}

/** True when `text` has a control character other than tab (HTTP refuses those in a header value). */
function hasControlChar(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

// ---------------------------------------------------------------- JSON

const JUNK_VALUES = [
  "NaN",
  "Infinity",
  "-Infinity",
  "undefined",
  "'0.5'",
  "0x10",
  "01",
  ".5",
  "+1",
  "1.",
  "1e",
  "--1",
  "1_0",
  "/*c*/0",
  "0 //c\n",
  "[1,]",
  "{pixels:1}",
  "\u0000",
  "\\u0030",
  "tru",
  "nul",
  "ｌ",
];

const jsonSyntax: Generator = async (r, ctx) => {
  const base = enc.encode(pixelsText(ctx.digit));
  const variants: [string, () => Uint8Array][] = [
    ["truncated", () => base.slice(0, int(r, 0, base.length - 1))],
    ["bytes flipped", () => {
      const b = base.slice();
      for (let k = int(r, 1, 8); k > 0; k--) {
        b[int(r, 0, b.length - 1)] = chance(r, 0.5)
          ? Math.floor(r() * 256)
          : pick(r, [...'{}[]",:.eE+-\\ntf0']).charCodeAt(0);
      }
      return b;
    }],
    ["garbage inserted", () => {
      const at = int(r, 0, base.length);
      return concat([
        base.subarray(0, at),
        randomBytes(r, int(r, 1, 64)),
        base.subarray(at),
      ]);
    }],
    ["junk literal", () => {
      const text = pixelsText(ctx.digit);
      const values = text.slice(11, -2).split(",");
      values[int(r, 0, values.length - 1)] = pick(r, JUNK_VALUES);
      return enc.encode(`{"pixels":[${values.join(",")}]}`);
    }],
    ["invalid UTF-8", () => {
      const bad = pick(r, [
        [0xc3, 0x28],
        [0xff],
        [0xed, 0xa0, 0x80],
        [0xc0, 0xaf],
        [0xf8, 0x88, 0x80, 0x80, 0x80],
        [0xe2, 0x82],
      ]);
      return concat([
        enc.encode('{"pix'),
        new Uint8Array(bad),
        enc.encode(`els":${JSON.stringify(ctx.digit)}}`),
      ]);
    }],
    [
      "BOM then truncated",
      () =>
        concat([
          new Uint8Array([0xef, 0xbb, 0xbf]),
          base.slice(0, int(r, 1, base.length - 1)),
        ]),
    ],
    ["random bytes", () => randomBytes(r, int(r, 0, 4096))],
    ["empty", () => new Uint8Array()],
    ["whitespace", () => enc.encode(" \t\r\n".repeat(int(r, 1, 100)))],
    ["two values", () => concat([base, base])],
    [
      "unterminated string",
      () => enc.encode(`{"pixels": "${"a".repeat(int(r, 1, 2_000_000))}`),
    ],
    [
      "single quotes",
      () => enc.encode(pixelsText(ctx.digit).replaceAll('"', "'")),
    ],
    [
      "NUL bytes",
      () =>
        concat([
          base.slice(0, 20),
          new Uint8Array(int(r, 1, 100)),
          base.slice(20),
        ]),
    ],
  ];
  const [name, make] = pick(r, variants);
  const body = await drawUntil(
    make,
    jsonRefused,
    () => base.slice(0, base.length >> 1),
  );
  return fetchCase(`${name} (${body.length} B)`, "POST", "/api/predict", [
    JSON_TYPE,
  ], body);
};

const jsonNesting: Generator = (r, ctx) => {
  const variants: [string, () => string][] = [
    ["deep arrays", () => {
      const d = pick(r, [65, 100, 1000, 100_000, 1_000_000, 2_000_000]);
      return "[".repeat(d) + "]".repeat(d);
    }],
    ["deep objects", () => {
      const d = pick(r, [65, 1000, 100_000, 800_000]);
      return '{"a":'.repeat(d) + "1" + "}".repeat(d);
    }],
    ["deep pixels", () => {
      const d = int(r, 2, 200_000);
      return `{"pixels":${"[".repeat(d)}${"]".repeat(d)}}`;
    }],
    ["deep images", () => {
      const d = int(r, 3, 100_000);
      return `{"images":${"[".repeat(d)}0${"]".repeat(d)}}`;
    }],
    ["unbalanced", () => "[".repeat(int(r, 1, 2_000_000))],
    ["nesting at the limit", () => {
      const d = int(r, 2, 64);
      return `${"[".repeat(d - 1)}{"pixels":1}${"]".repeat(d - 1)}`;
    }],
    ["wide object", () => {
      const n = int(r, 1000, 150_000);
      const fields: string[] = [];
      for (let i = 0; i < n; i++) fields.push(`"k${i}":${i}`);
      return `{${fields.join(",")}}`;
    }],
    [
      "long pixel array",
      () =>
        `{"pixels":[${new Array(int(r, 785, 1_000_000)).fill(0).join(",")}]}`,
    ],
    ["full batch, last value bad", () => {
      const images = new Array(256).fill(0).map(() => ctx.digit);
      const text = JSON.stringify({ images });
      return text.slice(0, -3) + "2]]}";
    }],
    [
      "257 images",
      () => JSON.stringify({ images: new Array(257).fill(ctx.digit) }),
    ],
    ["huge key", () => `{"${"p".repeat(int(r, 1000, 3_000_000))}":[]}`],
  ];
  const [name, make] = pick(r, variants);
  const body = enc.encode(make());
  return fetchCase(
    `${name} (${body.length} B)`,
    "POST",
    "/api/predict",
    [JSON_TYPE],
    body,
    30_000,
  );
};

const jsonShape: Generator = async (r, ctx) => {
  const d = ctx.digit;
  const someValue = (): unknown =>
    pick(r, [
      null,
      true,
      false,
      0,
      1,
      "",
      "0,0,0",
      {},
      [],
      { "0": 0 },
      [[]],
      d.slice(0, 3),
    ]);
  const shapes: [string, () => unknown][] = [
    ["not an object", () => someValue()],
    ["pixels of a wrong type", () => ({ pixels: someValue() })],
    [
      "pixels of a wrong length",
      () => ({ pixels: d.slice(0, pick(r, [0, 1, 27, 28, 783])) }),
    ],
    [
      "pixels too long",
      () => ({ pixels: [...d, ...new Array(int(r, 1, 784)).fill(0)] }),
    ],
    ["pixels nested", () => ({ pixels: [d] })],
    ["a pixel of a wrong type", () => {
      const p: unknown[] = [...d];
      p[int(r, 0, 783)] = someValue();
      return { pixels: p };
    }],
    ["images of a wrong type", () => ({ images: someValue() })],
    ["images empty", () => ({ images: [] })],
    [
      "too many images",
      () => ({ images: new Array(int(r, 257, 600)).fill(d) }),
    ],
    ["an image of a wrong shape", () => {
      const images: unknown[] = new Array(int(r, 1, 8)).fill(d);
      images[int(r, 0, images.length - 1)] = pick(r, [
        d.slice(1),
        [d],
        null,
        "x",
        {},
        [],
      ]);
      return { images };
    }],
    ["both fields", () => ({ pixels: d, images: [d] })],
    ["neither field", () => ({})],
    [
      "an unknown field",
      () => ({
        pixels: d,
        [
          pick(r, [
            "extra",
            "Pixels",
            "pixels ",
            "__proto__x",
            "constructor",
            "toString",
            "ä",
          ])
        ]: 1,
      }),
    ],
    ["field name case", () => ({ Pixels: d })],
  ];
  const texts: [string, () => string][] = [
    ["__proto__ key", () => `{"__proto__":{"pixels":${JSON.stringify(d)}}}`],
    ["duplicate key", () => `{"pixels":${JSON.stringify(d)},"pixels":"x"}`],
    [
      "constructor key",
      () => `{"constructor":{"prototype":{"pixels":1}},"pixels":1}`,
    ],
  ];
  const useText = chance(r, 0.15);
  const [name, make] = useText ? pick(r, texts) : (() => {
    const [n, m] = pick(r, shapes);
    return [n, () => JSON.stringify(m())] as [string, () => string];
  })();
  const body = await drawUntil(
    () => enc.encode(make()),
    jsonRefused,
    () => enc.encode("{}"),
  );
  return fetchCase(`${name} (${body.length} B)`, "POST", "/api/predict", [
    JSON_TYPE,
  ], body);
};

const BAD_NUMBERS = [
  "-1",
  "2",
  "1.0000001",
  "-0.0000001",
  "1e309",
  "-1e309",
  "1e400",
  "123456789012345678901234567890",
  "1" + "0".repeat(500),
  "-" + "9".repeat(400),
  "0.5e1",
  "1e1",
  "NaN",
  "Infinity",
  "-Infinity",
  "0x1",
  "+0.5",
  ".5",
  "5.",
  "1e+",
  "0.5.5",
  '"0.5"',
  "true",
  "null",
  "[0.5]",
  "{}",
  "1e-999",
  "-0",
  "4.9e-324",
  "1.7976931348623157e308",
  "9007199254740993",
];

const jsonNumbers: Generator = async (r, ctx) => {
  const make = () => {
    const values = ctx.digit.map((v) => String(v));
    const k = int(r, 1, 5);
    const used: string[] = [];
    for (let i = 0; i < k; i++) {
      const bad = pick(r, BAD_NUMBERS);
      used.push(bad);
      values[int(r, 0, 783)] = bad;
    }
    const batch = chance(r, 0.3);
    const text = batch
      ? `{"images":[${JSON.stringify(ctx.digit)},[${values.join(",")}]]}`
      : `{"pixels":[${values.join(",")}]}`;
    return { used, body: enc.encode(text) };
  };
  const { used, body } = await drawUntil(
    make,
    (m) => jsonRefused(m.body),
    () => ({
      used: ["1e309"],
      body: enc.encode(`{"pixels":[1e309${",0".repeat(783)}]}`),
    }),
  );
  return fetchCase(
    `values ${used.join(" ").slice(0, 60)}`,
    "POST",
    "/api/predict",
    [JSON_TYPE],
    body,
  );
};

// ---------------------------------------------------------------- content types

const CONTENT_TYPES = [
  null,
  "",
  "text/plain",
  "text/html",
  "application/x-www-form-urlencoded",
  "application/xml",
  "application/json-seq",
  "application/jsonx",
  "json",
  "application/*",
  "*/*",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "image/png",
  "image/png; charset=utf-8",
  "application/json",
  "APPLICATION/JSON",
  "application/json; charset=utf-16le",
  "multipart/form-data",
  "multipart/form-data; boundary=",
  "multipart/form-data; boundary=wrong",
  "multipart/mixed; boundary=B0undary",
  "application/octet-stream",
  ";",
  "application/json, image/png",
  "image/png, application/json",
];

const contentType: Generator = async (r, ctx) => {
  const form = await formWith(r, ctx.png, "B0undary");
  const bodies: Record<string, Uint8Array> = {
    json: enc.encode(pixelsText(ctx.digit)),
    png: ctx.png,
    form,
  };
  const make = () => {
    const kind = pick(r, ["json", "png", "form"] as const);
    let type: string | null = pick(r, CONTENT_TYPES);
    if (chance(r, 0.1)) {
      type = randomToken(r, int(r, 1, 200), "abcdefghijklmnopqrstuvwxyz/;=+- ");
    }
    if (chance(r, 0.03)) {
      type = "application/json; x=" + "a".repeat(int(r, 1000, 8000));
    }
    const encoding = chance(r, 0.25)
      ? pick(r, [
        "gzip",
        "br",
        "deflate",
        "GZIP",
        "x-custom",
        "gzip, identity",
        "zstd",
      ])
      : null;
    return { kind, type, encoding };
  };
  const accepted = (
    c: { kind: string; type: string | null; encoding: string | null },
  ) => {
    if (c.encoding) return false;
    const t = mediaType(c.type);
    if (t === "application/json") return c.kind === "json";
    if (t === "image/png") return c.kind === "png";
    if (t === "multipart/form-data") {
      return c.kind === "form" && /boundary=B0undary/.test(c.type ?? "");
    }
    return false;
  };
  const c = await drawUntil(
    make,
    (c) => !accepted(c),
    () => ({ kind: "json" as const, type: "text/plain", encoding: null }),
  );
  const headers: [string, string][] = [];
  if (c.type !== null) headers.push(["content-type", c.type]);
  if (c.encoding) headers.push(["content-encoding", c.encoding]);
  return fetchCase(
    `${c.kind} body as ${JSON.stringify(c.type)?.slice(0, 50)}${
      c.encoding ? ` + ${c.encoding}` : ""
    }`,
    "POST",
    "/api/predict",
    headers,
    bodies[c.kind],
  );
};

// ---------------------------------------------------------------- body limits

interface BodyRoute {
  name: string;
  path: string;
  type: string;
  limit: number;
  auth?: boolean;
}

function bodyRoutes(): BodyRoute[] {
  return [
    {
      name: "predict json",
      path: "/api/predict",
      type: "application/json",
      limit: LIMITS.json,
    },
    {
      name: "predict png",
      path: "/api/predict",
      type: "image/png",
      limit: LIMITS.image,
    },
    {
      name: "predict form",
      path: "/api/predict",
      type: "multipart/form-data; boundary=B0undary",
      limit: LIMITS.image,
    },
    {
      name: "train",
      path: "/api/train",
      type: "application/json",
      limit: LIMITS.train,
      auth: true,
    },
    {
      name: "train, bad token",
      path: "/api/train",
      type: "application/json",
      limit: LIMITS.train,
    },
    {
      name: "upload",
      path: "/api/models",
      type: "application/octet-stream",
      limit: LIMITS.upload,
      auth: true,
    },
    {
      name: "unknown route",
      path: "/api/nope",
      type: "application/json",
      limit: 0,
    },
  ];
}

function authHeader(ctx: FuzzContext, route: BodyRoute): [string, string][] {
  if (route.auth) return [["Authorization", `Bearer ${ctx.token}`]];
  if (route.path === "/api/train") {
    return [["Authorization", "Bearer wrong-token-0123456789"]];
  }
  return [];
}

const bodyLimit: Generator = (r, ctx) => {
  const route = pick(r, bodyRoutes());
  const over = Math.max(route.limit, 1024) + 1;
  const piece = new Uint8Array(65536).fill(0x5b); // "[[[[…"
  const variant = pick(r, [
    "declared, not sent",
    "declared, sent fast",
    "chunked, fast",
    "chunked, slowly",
    "junk trickled",
    "invalid Content-Length",
    "Content-Length too small",
    "gzip body",
  ]);
  const headers = [...authHeader(ctx, route), ["Content-Type", route.type]] as [
    string,
    string,
  ][];
  switch (variant) {
    case "declared, not sent": {
      const length = pick(r, [
        String(over),
        String(over * 10),
        "1000000000",
        "999999999999",
        String(2 ** 53),
      ]);
      return rawCase(
        `${route.name}: Content-Length ${length}, no body`,
        "POST",
        {
          head: head("POST", route.path, [...headers, [
            "Content-Length",
            length,
          ]]),
        },
        { mayClose: false },
      );
    }
    case "declared, sent fast":
      return rawCase(`${route.name}: Content-Length ${over}, sending`, "POST", {
        head: head("POST", route.path, [...headers, [
          "Content-Length",
          String(over),
        ]]),
        body: {
          piece,
          count: Math.ceil(over / piece.length),
          delayMs: 0,
          chunked: false,
        },
      }, { mayClose: true });
    case "chunked, fast":
      return rawCase(`${route.name}: chunked over ${route.limit} B`, "POST", {
        head: head("POST", route.path, [...headers, [
          "Transfer-Encoding",
          "chunked",
        ]]),
        body: {
          piece,
          count: Math.ceil(over / piece.length) + 1,
          delayMs: 0,
          chunked: true,
        },
      }, { mayClose: true });
    case "chunked, slowly": {
      const big = new Uint8Array(256 * 1024).fill(0x5b);
      const limit = Math.min(Math.max(route.limit, 1024), LIMITS.image);
      return rawCase(`${route.name}: chunked slowly over the limit`, "POST", {
        head: head("POST", route.path, [...headers, [
          "Transfer-Encoding",
          "chunked",
        ]]),
        body: {
          piece: big,
          count: Math.ceil((limit + 1) / big.length) + 1,
          delayMs: int(r, 2, 15),
          chunked: true,
        },
      }, { mayClose: true, timeoutMs: 30_000 });
    }
    case "junk trickled":
      return rawCase(`${route.name}: junk trickled`, "POST", {
        head: head("POST", route.path, [...headers, [
          "Transfer-Encoding",
          "chunked",
        ]]),
        body: {
          piece: enc.encode("[".repeat(int(r, 10, 100))),
          count: int(r, 5, 30),
          delayMs: int(r, 5, 20),
          chunked: true,
        },
      });
    case "invalid Content-Length": {
      const bad = pick(r, [
        "abc",
        "-1",
        "1e3",
        "0x10",
        "12 12",
        "+5",
        "1,2",
        "99999999999999999999999",
      ]);
      return rawCase(`${route.name}: Content-Length ${bad}`, "POST", {
        head: head("POST", route.path, [...headers, ["Content-Length", bad]]),
        body: enc.encode("{}"),
      }, { httpLayer: true, mayClose: true });
    }
    case "Content-Length too small": {
      const body = enc.encode(pixelsText(ctx.digit));
      return rawCase(
        `${route.name}: Content-Length shorter than the body`,
        "POST",
        {
          head: head("POST", route.path, [...headers, [
            "Content-Length",
            String(int(r, 1, 100)),
          ]]),
          body,
        },
      );
    }
    default: {
      // A small body that claims to be gzip: refused unread, whatever it would inflate to.
      return rawCase(`${route.name}: Content-Encoding gzip`, "POST", {
        head: head("POST", route.path, [...headers, [
          "Content-Encoding",
          "gzip",
        ], ["Content-Length", String(ctx.overflowZlib.length)]]),
        body: ctx.overflowZlib,
      }, { mayClose: true });
    }
  }
};

const bodyCut: Generator = (r, ctx) => {
  const body = enc.encode(pixelsText(ctx.digit));
  const sent = body.slice(0, int(r, 0, body.length - 1));
  const variant = pick(r, [
    "short of Content-Length",
    "chunked, no end",
    "bad chunk size",
    "chunk longer than sent",
  ]);
  const base: [string, string][] = [["Content-Type", "application/json"]];
  switch (variant) {
    case "short of Content-Length":
      return rawCase(
        `sent ${sent.length} of ${body.length} B, then closed`,
        "POST",
        {
          head: head("POST", "/api/predict", [...base, [
            "Content-Length",
            String(body.length),
          ]]),
          body: sent,
          cut: true,
        },
        { mayClose: true },
      );
    case "chunked, no end":
      return rawCase("chunked, closed before the last chunk", "POST", {
        head: head("POST", "/api/predict", [...base, [
          "Transfer-Encoding",
          "chunked",
        ]]),
        body: {
          piece: sent.length ? sent : enc.encode("{"),
          count: int(r, 1, 3),
          delayMs: 0,
          chunked: true,
        },
        cut: true,
      }, { mayClose: true });
    case "bad chunk size":
      return rawCase("chunked with a malformed size line", "POST", {
        head: head("POST", "/api/predict", [...base, [
          "Transfer-Encoding",
          "chunked",
        ]]),
        body: enc.encode(
          `${
            pick(r, ["zz", "-1", "ffffffffffffffffff", "1;", " 5", "0x5"])
          }\r\n{}\r\n0\r\n\r\n`,
        ),
      }, { mayClose: true, httpLayer: true });
    default:
      return rawCase("chunk size larger than the data, then closed", "POST", {
        head: head("POST", "/api/predict", [...base, [
          "Transfer-Encoding",
          "chunked",
        ]]),
        body: concat([
          enc.encode(`${(sent.length + 100).toString(16)}\r\n`),
          sent,
        ]),
        cut: true,
      }, { mayClose: true });
  }
};

// ---------------------------------------------------------------- PNG

function withIhdr(
  png: Uint8Array,
  header: Uint8Array,
  length?: number,
): Uint8Array {
  // IHDR is the first chunk: 8 (signature) + 8 (length, type) + 13 + 4 (CRC).
  return concat([
    SIGNATURE,
    chunk("IHDR", header, { length }),
    png.subarray(33),
  ]);
}

async function pngVariant(
  r: Random,
  ctx: FuzzContext,
): Promise<{ name: string; bytes: Uint8Array; polarity?: string }> {
  const size = int(r, 8, 160);
  const picture = barPicture(size);
  const rows = new Uint8Array((size + 1) * size);
  for (let y = 0; y < size; y++) {
    rows.set(picture.subarray(y * size, (y + 1) * size), y * (size + 1) + 1);
  }
  const idat = await zlib(rows);
  const good = pngOf(ihdr({ width: size, height: size }), [
    chunk("IDAT", idat),
  ]);
  const variants: [string, () => Uint8Array | Promise<Uint8Array>][] = [
    ["truncated", () => good.slice(0, int(r, 0, good.length - 1))],
    ["bytes flipped", () => {
      const b = good.slice();
      for (let k = int(r, 1, 8); k > 0; k--) {
        b[int(r, 0, b.length - 1)] ^= 1 << int(r, 0, 7);
      }
      return b;
    }],
    [
      "wrong signature",
      () =>
        concat([
          enc.encode(
            pick(r, [
              "GIF89a\0\0",
              "\x89PNG\n\r\x1a\n",
              "\xff\xd8\xff\xe0\0\0\0\0",
            ]),
          ),
          good.subarray(8),
        ]),
    ],
    [
      "bad CRC",
      () =>
        pngOf(ihdr({ width: size, height: size }), [
          chunk("IDAT", idat, { crc: int(r, 0, 0xffffffff) }),
        ]),
    ],
    ["bad IHDR field", () => {
      const fields = pick(r, [
        { width: 0, height: size },
        { width: size, height: 0 },
        { width: 2 ** 31, height: 1 },
        { width: size, height: size, bitDepth: pick(r, [0, 3, 5, 7, 9, 32]) },
        { width: size, height: size, colorType: pick(r, [1, 5, 7, 255]) },
        { width: size, height: size, colorType: 2, bitDepth: 4 },
        { width: size, height: size, compression: 1 },
        { width: size, height: size, filter: 1 },
        { width: size, height: size, interlace: 2 },
        { width: size * 2, height: size },
        { width: size, height: size, colorType: 6 },
      ]);
      return withIhdr(good, ihdr(fields));
    }],
    [
      "IHDR length lies",
      () =>
        withIhdr(
          good,
          ihdr({ width: size, height: size }),
          pick(r, [0, 12, 14, 0xffffffff]),
        ),
    ],
    [
      "unknown critical chunk",
      () =>
        pngOf(ihdr({ width: size, height: size }), [
          chunk(pick(r, ["ABCD", "XxXX", "IDAt", "Idat"]), randomBytes(r, 8)),
          chunk("IDAT", idat),
        ]),
    ],
    [
      "palette without PLTE",
      () =>
        pngOf(ihdr({ width: size, height: size, colorType: 3 }), [
          chunk("IDAT", idat),
        ]),
    ],
    [
      "empty PLTE",
      () =>
        pngOf(ihdr({ width: size, height: size, colorType: 3 }), [
          chunk("PLTE", new Uint8Array()),
          chunk("IDAT", idat),
        ]),
    ],
    ["no IDAT", () => pngOf(ihdr({ width: size, height: size }), [])],
    ["no IEND", () => good.slice(0, good.length - 12)],
    ["IDAT after IEND", () => concat([good, chunk("IDAT", idat)])],
    [
      "two IHDR",
      () =>
        pngOf(ihdr({ width: size, height: size }), [
          chunk("IHDR", ihdr({ width: 4096, height: 4096 })),
          chunk("IDAT", idat),
        ]),
    ],
    [
      "IDAT not zlib",
      () =>
        pngOf(ihdr({ width: size, height: size }), [
          chunk("IDAT", randomBytes(r, int(r, 1, 2000))),
        ]),
    ],
    [
      "zlib truncated",
      () =>
        pngOf(ihdr({ width: size, height: size }), [
          chunk("IDAT", idat.slice(0, int(r, 0, idat.length - 1))),
        ]),
    ],
    [
      "zlib preset dictionary",
      () =>
        pngOf(ihdr({ width: size, height: size }), [
          chunk(
            "IDAT",
            concat([new Uint8Array([0x78, 0xbb]), idat.subarray(2)]),
          ),
        ]),
    ],
    ["bad filter type", async () => {
      const bad = rows.slice();
      bad[int(r, 0, size - 1) * (size + 1)] = int(r, 5, 255);
      return pngOf(ihdr({ width: size, height: size }), [
        chunk("IDAT", await zlib(bad)),
      ]);
    }],
    [
      "too little image data",
      async () =>
        pngOf(ihdr({ width: size, height: size }), [
          chunk(
            "IDAT",
            await zlib(rows.subarray(0, int(r, 0, rows.length - 1))),
          ),
        ]),
    ],
    [
      "huge chunk length",
      () =>
        concat([
          good.subarray(0, 33),
          new Uint8Array([0x7f, 0xff, 0xff, 0xff]),
          enc.encode("IDAT"),
          idat,
        ]),
    ],
    ["empty", () => new Uint8Array()],
    ["signature only", () => SIGNATURE],
    [
      "blank picture",
      () => greyPng(barPicture(size, { blank: true }), size, size),
    ],
    [
      "random bytes after signature",
      () => concat([SIGNATURE, randomBytes(r, int(r, 1, 4096))]),
    ],
  ];
  return await drawUntil(
    async () => {
      if (chance(r, 0.06)) {
        return {
          name: "bad polarity",
          bytes: ctx.png,
          polarity: pick(r, [
            "",
            "AUTO",
            "dark",
            "light-on-dark ",
            "x".repeat(300),
            "auto\u0000",
          ]),
        };
      }
      const [name, make] = pick(r, variants);
      return { name, bytes: await make() };
    },
    (v) => pngRefused(v.bytes, v.polarity),
    () => ({ name: "empty", bytes: new Uint8Array() }),
  );
}

const pngCorrupt: Generator = async (r, ctx) => {
  const v = await pngVariant(r, ctx);
  if (chance(r, 0.25) && v.polarity === undefined) {
    const boundary = randomToken(r, 20);
    const body = multipartOf(boundary, [{
      name: "image",
      filename: "digit.png",
      type: "image/png",
      data: v.bytes,
    }]);
    return fetchCase(
      `${v.name} in a form (${v.bytes.length} B)`,
      "POST",
      "/api/predict",
      [["content-type", `multipart/form-data; boundary=${boundary}`]],
      body,
    );
  }
  const query = v.polarity !== undefined
    ? `?polarity=${encodeURIComponent(v.polarity)}`
    : "";
  return fetchCase(
    `${v.name} (${v.bytes.length} B)`,
    "POST",
    `/api/predict${query}`,
    [["content-type", "image/png"]],
    v.bytes,
  );
};

/** The expensive bomb: a 4096 × 4096 all-black (so blank) image from ~16 KiB. */
function maxSizeBomb(r: Random, ctx: FuzzContext): Made {
  const png = pngOf(ihdr({ width: 4096, height: 4096 }), [
    chunk("IDAT", ctx.maxGreyZlib),
  ]);
  const asForm = chance(r, 0.3);
  const body = asForm
    ? multipartOf("B0mb", [{
      name: "image",
      filename: "bomb.png",
      type: "image/png",
      data: png,
    }])
    : png;
  return fetchCase(
    `4096×4096 from ${png.length} B${asForm ? " in a form" : ""}`,
    "POST",
    "/api/predict",
    [[
      "content-type",
      asForm ? "multipart/form-data; boundary=B0mb" : "image/png",
    ]],
    body,
    60_000,
  );
}

const pngBomb: Generator = (r, ctx) => {
  const variants: [string, () => Uint8Array][] = [
    ["over the pixel limit", () => {
      const [width, height] = pick(r, [
        [4097, 4096],
        [65535, 65535],
        [2 ** 31 - 1, 1],
        [1, 2 ** 31 - 1],
        [100_000, 100_000],
        [16385, 1025],
      ]);
      return pngOf(
        ihdr({ width, height, colorType: pick(r, [0, 2, 6]), bitDepth: 8 }),
        [chunk("IDAT", ctx.maxGreyZlib.subarray(0, int(r, 100, 4000)))],
      );
    }],
    [
      "inflates past the image",
      () =>
        pngOf(ihdr({ width: int(r, 1, 64), height: int(r, 1, 64) }), [
          chunk("IDAT", ctx.overflowZlib),
        ]),
    ],
    ["inflates past the image, many IDATs", () => {
      const parts: Uint8Array[] = [];
      const step = int(r, 1, 64);
      for (let i = 0; i < ctx.overflowZlib.length; i += step) {
        parts.push(chunk("IDAT", ctx.overflowZlib.subarray(i, i + step)));
      }
      return pngOf(ihdr({ width: 64, height: 64 }), parts);
    }],
    [
      "16-bit RGBA claim, 8-bit data",
      () =>
        pngOf(ihdr({ width: 64, height: 64, colorType: 6, bitDepth: 16 }), [
          chunk("IDAT", ctx.overflowZlib),
        ]),
    ],
  ];
  const [name, make] = pick(r, variants);
  const png = make();
  return fetchCase(
    `${name} (${png.length} B)`,
    "POST",
    "/api/predict",
    [["content-type", "image/png"]],
    png,
    30_000,
  );
};

// ---------------------------------------------------------------- multipart

interface Part {
  name?: string;
  filename?: string;
  type?: string;
  data: Uint8Array;
  rawHeaders?: string;
}

function multipartOf(
  boundary: string,
  parts: Part[],
  { close = true, eol = "\r\n" } = {},
): Uint8Array {
  const out: Uint8Array[] = [];
  for (const p of parts) {
    let headers = p.rawHeaders ??
      `Content-Disposition: form-data${
        p.name !== undefined ? `; name="${p.name}"` : ""
      }${p.filename !== undefined ? `; filename="${p.filename}"` : ""}${eol}${
        p.type ? `Content-Type: ${p.type}${eol}` : ""
      }`;
    if (!headers.endsWith(eol)) headers += eol;
    out.push(
      enc.encode(`--${boundary}${eol}${headers}${eol}`),
      p.data,
      enc.encode(eol),
    );
  }
  if (close) out.push(enc.encode(`--${boundary}--${eol}`));
  return concat(out);
}

async function formWith(
  r: Random,
  png: Uint8Array,
  boundary: string,
): Promise<Uint8Array> {
  await Promise.resolve();
  return multipartOf(boundary, [{
    name: "image",
    filename: `d${int(r, 0, 9)}.png`,
    type: "image/png",
    data: png,
  }]);
}

const multipart: Generator = async (r, ctx) => {
  const boundary = chance(r, 0.1)
    ? randomToken(r, int(r, 71, 300))
    : randomToken(r, int(r, 1, 40));
  const file = (data: Uint8Array = ctx.png): Part => ({
    name: "image",
    filename: "digit.png",
    type: "image/png",
    data,
  });
  const bad = async () => (await pngVariant(r, ctx)).bytes;
  type Form = { type: string; body: Uint8Array };
  const variants: [string, () => Form | Promise<Form>][] = [
    [
      "no boundary",
      () => ({
        type: "multipart/form-data",
        body: multipartOf(boundary, [file()]),
      }),
    ],
    [
      "empty boundary",
      () => ({
        type: "multipart/form-data; boundary=",
        body: multipartOf("", [file()]),
      }),
    ],
    [
      "wrong boundary",
      () => ({
        type: `multipart/form-data; boundary=${boundary}x`,
        body: multipartOf(boundary, [file()]),
      }),
    ],
    [
      "empty body",
      () => ({
        type: `multipart/form-data; boundary=${boundary}`,
        body: new Uint8Array(),
      }),
    ],
    [
      "closing delimiter only",
      () => ({
        type: `multipart/form-data; boundary=${boundary}`,
        body: enc.encode(`--${boundary}--\r\n`),
      }),
    ],
    [
      "no file field",
      () => ({
        type: `multipart/form-data; boundary=${boundary}`,
        body: multipartOf(boundary, [{ name: "image", data: ctx.png }, {
          name: "polarity",
          data: enc.encode("auto"),
        }]),
      }),
    ],
    [
      "file is not a PNG",
      async () => ({
        type: `multipart/form-data; boundary=${boundary}`,
        body: multipartOf(boundary, [file(await bad())]),
      }),
    ],
    ["too many parts", async () => {
      const parts: Part[] = [];
      for (let i = int(r, 17, 50_000); i > 0; i--) {
        parts.push({ name: `f${i}`, data: enc.encode("v") });
      }
      parts.push(file(await bad()));
      return {
        type: `multipart/form-data; boundary=${boundary}`,
        body: multipartOf(boundary, parts),
      };
    }],
    ["bad polarity field", () => ({
      type: `multipart/form-data; boundary=${boundary}`,
      body: multipartOf(boundary, [file(), {
        name: "polarity",
        data: enc.encode(pick(r, ["", "dark", "AUTO", "x".repeat(1000)])),
      }]),
    })],
    [
      "unterminated",
      async () => ({
        type: `multipart/form-data; boundary=${boundary}`,
        body: multipartOf(boundary, [file(await bad())], { close: false })
          .slice(0, -2),
      }),
    ],
    [
      "part without headers",
      () => ({
        type: `multipart/form-data; boundary=${boundary}`,
        body: enc.encode(`--${boundary}\r\n\r\ndata\r\n--${boundary}--\r\n`),
      }),
    ],
    ["part header 100 KB", async () => ({
      type: `multipart/form-data; boundary=${boundary}`,
      body: multipartOf(boundary, [{
        rawHeaders: `Content-Disposition: form-data; name="image"; filename="${
          "a".repeat(100_000)
        }.png"\r\nContent-Type: image/png`,
        data: await bad(),
      }]),
    })],
    ["path in file name", async () => ({
      type: `multipart/form-data; boundary=${boundary}`,
      body: multipartOf(boundary, [{
        name: "image",
        filename: pick(r, [
          "../../etc/passwd",
          "..\\..\\main.ts",
          "/etc/shadow",
          "%2e%2e/x",
          "a\u0000.png",
        ]),
        type: "image/png",
        data: await bad(),
      }]),
    })],
    ["nested multipart", async () => {
      const inner = multipartOf("inner", [file(await bad())]);
      return {
        type: `multipart/form-data; boundary=${boundary}`,
        body: multipartOf(boundary, [{
          name: "image",
          type: "multipart/mixed; boundary=inner",
          data: inner,
        }]),
      };
    }],
    [
      "LF line ends",
      async () => ({
        type: `multipart/form-data; boundary=${boundary}`,
        body: multipartOf(boundary, [file(await bad())], { eol: "\n" }),
      }),
    ],
    [
      "random bytes",
      () => ({
        type: `multipart/form-data; boundary=${boundary}`,
        body: randomBytes(r, int(r, 0, 8192)),
      }),
    ],
    [
      "boundary in quotes, unclosed",
      async () => ({
        type: `multipart/form-data; boundary="${boundary}`,
        body: multipartOf(boundary, [file(await bad())]),
      }),
    ],
  ];
  const [name, make] = pick(r, variants);
  const form = await drawUntil(
    make,
    (f) => formRefused(f.type, f.body),
    () => ({
      type: `multipart/form-data; boundary=${boundary}`,
      body: new Uint8Array(),
    }),
  );
  return fetchCase(
    `${name} (${form.body.length} B)`,
    "POST",
    "/api/predict",
    [["content-type", form.type]],
    form.body,
    30_000,
  );
};

// ---------------------------------------------------------------- paths

const TARGETS = [
  "etc/passwd",
  "main.ts",
  "deno.json",
  ".kv/ziffer.sqlite",
  "src/server/auth.ts",
  "proc/self/environ",
  ".git/config",
  ".env",
  "README.md",
];

const DOT_DOT = [
  "..",
  "%2e%2e",
  "%2E%2E",
  ".%2e",
  "%2e.",
  "%252e%252e",
  "%c0%ae%c0%ae",
  "..%00",
  "...",
  "..;",
];
const SLASH = ["/", "%2f", "%2F", "%5c", "\\", "%252f", "//", "/./"];

const pathTraversal: Generator = (r) => {
  const target = pick(r, TARGETS);
  const depth = int(r, 1, 8);
  const sep = pick(r, SLASH);
  let path = "/" +
    Array.from({ length: depth }, () => pick(r, DOT_DOT)).join(sep) +
    sep + target;
  const prefix = pick(r, [
    "",
    "/static",
    "/api/models",
    "/api/train",
    "/index.html",
    "/api/models/x",
    "/sw.js",
  ]);
  path = prefix + path;
  const suffix = pick(r, [
    "",
    "",
    "",
    "/file",
    "/events",
    "%00.html",
    "%00.js",
    "?x=1",
    "#frag",
  ]);
  path += suffix;
  if (chance(r, 0.1)) {
    path = pick(r, [
      "/.kv/ziffer.sqlite",
      "/.git/HEAD",
      "/.env",
      "/%2ekv/ziffer.sqlite",
      "//etc/passwd",
      "/index.html/",
      "/app.js%00.html",
      "/deno.json",
      "/main.ts",
      "/src/server/auth.ts",
      "/static/index.html",
      "/index.html%2f..%2fmain.ts",
      "/.%2e/main.ts",
      "/%2e%2e%2fmain.ts",
    ]);
  }
  if (chance(r, 0.05)) path = "/" + "a/".repeat(int(r, 1000, 20_000));
  const method = pick(r, ["GET", "GET", "GET", "HEAD"]);
  // `\` is not a valid request-target character: hyper may refuse it first.
  return rawCase(`${method} ${path.slice(0, 80)}`, method, {
    head: head(method, path, []),
  }, {
    httpLayer: hasCharOutside(path, 0x21, 0x7e) || path.includes("\\"),
  });
};

// ---------------------------------------------------------------- headers

const headersCase: Generator = (r, ctx) => {
  const route = pick(r, [
    "/api/predict",
    "/api/health",
    "/api/train",
    "/",
    "/api/models",
  ]);
  const method = route === "/api/predict" || route === "/api/train"
    ? "POST"
    : "GET";
  const bodyHeaders: [string, string][] = method === "POST"
    ? [["Content-Type", "application/json"], ["Content-Length", "1"]]
    : [];
  let body = method === "POST" ? enc.encode("[") : undefined;
  const variant = pick(r, [
    "huge value",
    "many headers",
    "huge cookie",
    "long name",
    "huge token",
    "folded line",
    "no colon",
    "NUL in value",
    "bad request line",
    "just under the limit",
  ]);
  let headers: [string, string][] = [];
  let requestLine = `${method} ${route} HTTP/1.1`;
  switch (variant) {
    case "huge value":
      headers = [["X-Big", "a".repeat(int(r, 66_000, 1 << 20))]];
      break;
    case "many headers":
      headers = Array.from(
        { length: int(r, 129, 3000) },
        (_, i) => [`X-H${i}`, "v"] as [string, string],
      );
      break;
    case "huge cookie":
      headers = [[
        "Cookie",
        Array.from({ length: int(r, 8000, 30_000) }, (_, i) => `c${i}=v`).join(
          "; ",
        ),
      ]];
      break;
    case "long name":
      headers = [["X-" + "n".repeat(int(r, 66_000, 300_000)), "v"]];
      break;
    case "huge token":
      headers = [[
        "Authorization",
        `Bearer ${ctx.token}${"a".repeat(int(r, 66_000, 500_000))}`,
      ]];
      break;
    case "folded line":
      headers = [["X-Folded", "a\r\n  continued"]];
      break;
    case "no colon":
      headers = [["X-No-Colon v", ""]];
      requestLine += "";
      break;
    case "NUL in value":
      headers = [["X-Nul", "a\u0000b"]];
      break;
    case "bad request line":
      requestLine = pick(r, [
        `${method} ${route} HTTP/2.0`,
        `${method} ${route} HTTP/1.2`,
        `${method.toLowerCase()} ${route} HTTP/1.1`,
        `${method} ${route}`,
        `${method}  ${route} HTTP/1.1`,
        `${method} ${route} HTTP/1.1 extra`,
        "\u0016\u0003\u0001\u0002\u0000\u0001",
      ]);
      break;
    default:
      // Within Deno's limits: the app sees it, and refuses the body ("[").
      headers = [["X-Almost", "a".repeat(int(r, 30_000, 60_000))]];
      requestLine = "POST /api/predict HTTP/1.1";
      body = enc.encode("[");
      bodyHeaders.splice(
        0,
        bodyHeaders.length,
        ["Content-Type", "application/json"],
        ["Content-Length", "1"],
      );
  }
  const text = `${requestLine}\r\nHost: 127.0.0.1\r\n${
    headers.map((
      [k, v],
    ) => (variant === "no colon" ? `${k}\r\n` : `${k}: ${v}\r\n`)).join("")
  }${
    bodyHeaders.map(([k, v]) => `${k}: ${v}\r\n`).join("")
  }Connection: close\r\n\r\n`;
  return rawCase(
    `${variant} (${text.length} B head) → ${
      JSON.stringify(requestLine.slice(0, 40))
    }`,
    requestLine.split(" ")[0],
    { head: text, body },
    {
      httpLayer: variant !== "just under the limit",
      mayClose: variant !== "just under the limit",
    },
  );
};

// ---------------------------------------------------------------- admin

/** Authorization values that must not pass, derived from the real token. */
function nearMisses(
  r: Random,
  token: string,
): { value: string | null; raw?: boolean; label: string } {
  const k = int(r, 1, token.length - 1);
  const flipped = (() => {
    const i = int(r, 0, token.length - 1);
    const c = token[i];
    const other = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
    return token.slice(0, i) + (other === c ? (c === "x" ? "y" : "x") : other) +
      token.slice(i + 1);
  })();
  const options: { value: string | null; raw?: boolean; label: string }[] = [
    { value: null, label: "no Authorization" },
    { value: "", label: "empty" },
    { value: "Bearer", label: "scheme only" },
    { value: "Bearer ", label: "empty token" },
    { value: `Bearer ${randomToken(r, token.length)}`, label: "random token" },
    { value: `Bearer ${token.slice(0, k)}`, label: "prefix" },
    {
      value: `Bearer ${token}${randomToken(r, int(r, 1, 8))}`,
      label: "suffix",
    },
    {
      value: `Bearer ${randomToken(r, int(r, 1, 8))}${token}`,
      label: "prepended",
    },
    { value: `Bearer ${flipped}`, label: "one character changed" },
    { value: `Bearer ${token.toUpperCase()}`, label: "upper case" },
    {
      value: `Bearer ${token.slice(0, k)} ${token.slice(k)}`,
      label: "space inside",
    },
    { value: `Bearer\t${token}`, label: "tab after the scheme" },
    { value: `Bearer:${token}`, label: "colon after the scheme" },
    { value: `Bearer${token}`, label: "no space" },
    { value: token, label: "no scheme" },
    { value: `Basic ${btoa(`admin:${token}`)}`, label: "Basic scheme" },
    { value: `Token ${token}`, label: "Token scheme" },
    { value: `Bearer ${btoa(token)}`, label: "base64 token" },
    {
      value: `Bearer ${encodeURIComponent(token).replace(/-/g, "%2D")}`,
      label: "percent-encoded token",
    },
    { value: `Bearer "${token}"`, label: "quoted token" },
    { value: `Bearer ${token}, Bearer ${token}`, label: "token twice" },
    {
      value: `Bearer ${token.split("").reverse().join("")}`,
      label: "reversed",
    },
    { value: `Bearer ${token.slice(1)}`, label: "first character dropped" },
    { value: `Bearer ${token.slice(0, -1)}`, label: "last character dropped" },
    {
      value: `Bearer \u00a0${token}`,
      raw: true,
      label: "NBSP before the token",
    },
    {
      value: `Bearer ${token}\u00a0`,
      raw: true,
      label: "NBSP after the token",
    },
    {
      value: `Bearer ${token.slice(0, k)}\u0430${token.slice(k + 1)}`,
      raw: true,
      label: "a Cyrillic look-alike (UTF-8)",
    },
    { value: `Bearer ${token}\u000b`, raw: true, label: "vertical tab after" },
    {
      value: `Bearer ${token.slice(0, k)}\u0000${token.slice(k)}`,
      raw: true,
      label: "NUL inside",
    },
    {
      value: `Bearer ${"a".repeat(int(r, 1000, 30_000))}`,
      label: "very long token",
    },
  ];
  return pick(r, options);
}

function adminRoutes(
  ctx: FuzzContext,
): { method: string; path: string; body?: Uint8Array; type?: string }[] {
  return [
    // What each would do if the guard let it through: train, store, switch, delete.
    {
      method: "POST",
      path: "/api/train",
      body: enc.encode('{"epochs":1,"trainCount":1000,"testCount":200}'),
      type: "application/json",
    },
    {
      method: "POST",
      path: "/api/models",
      body: ctx.newModelFile,
      type: "application/octet-stream",
    },
    { method: "POST", path: `/api/models/${ctx.inactiveId}/activate` },
    { method: "DELETE", path: `/api/models/${ctx.inactiveId}` },
    { method: "DELETE", path: `/api/train/j-0000000000-00000000` },
  ];
}

const adminAuth: Generator = (r, ctx) => {
  const route = pick(r, adminRoutes(ctx));
  const miss = nearMisses(r, ctx.token);
  const headers: [string, string][] = [];
  if (route.type) headers.push(["Content-Type", route.type]);
  if (miss.value !== null) headers.push(["Authorization", miss.value]);
  if (chance(r, 0.1)) {
    headers.push(["X-Admin-Token", ctx.token], [
      "Cookie",
      `token=${ctx.token}`,
    ]);
  }
  const query = chance(r, 0.1)
    ? `?token=${ctx.token}&access_token=${ctx.token}`
    : "";
  const label = `${miss.label} → ${route.method} ${
    route.path.replace(ctx.inactiveId, ":id")
  }`;
  if (miss.raw) {
    // Not a valid fetch header value (non-Latin1 or control chars): sent as UTF-8 bytes.
    const utf8 = String.fromCharCode(...enc.encode(miss.value!));
    const h: [string, string][] = headers.map((
      [k, v],
    ) => [k, k === "Authorization" ? utf8 : v]);
    if (route.body) h.push(["Content-Length", String(route.body.length)]);
    return rawCase(label, route.method, {
      head: head(route.method, route.path + query, h),
      body: route.body,
    }, { httpLayer: hasControlChar(miss.value!) });
  }
  return fetchCase(
    label,
    route.method,
    route.path + query,
    headers,
    route.body,
  );
};

const adminBody: Generator = async (r, ctx) => {
  const auth: [string, string] = ["Authorization", `Bearer ${ctx.token}`];
  const variant = pick(r, [
    "train config",
    "train JSON",
    "upload",
    "activate",
    "delete",
    "cancel",
  ]);
  const junkId = () =>
    pick(r, [
      "",
      "..",
      "../x",
      "%2e%2e",
      "A".repeat(65),
      "m-unknown-00000000",
      "m-" + "z".repeat(62),
      "MODEL",
      "m_1",
      "m 1",
      "%00",
      "😀",
      "m-0-0/../../x",
      randomToken(r, int(r, 1, 64)),
    ]);
  switch (variant) {
    case "train config": {
      const body = await drawUntil(
        () => {
          const field = pick(r, [
            "epochs",
            "batchSize",
            "learningRate",
            "layers",
            "activation",
            "optimizer",
            "seed",
            "trainCount",
            "dropout",
            "arch",
            "activate",
            "data",
            "loss",
            "schedule",
            "unknownField",
            "__proto__",
          ]);
          const value = pick(r, [
            -1,
            0,
            1e308,
            1e9,
            "x",
            null,
            true,
            [],
            {},
            [784, -1, 10],
            [784, 1e9, 10],
            "mlp; rm -rf /",
            0.5,
            2 ** 53,
          ]);
          return enc.encode(
            `{${JSON.stringify(field)}:${JSON.stringify(value)}}`,
          );
        },
        trainRefused,
        () => enc.encode('{"epochs":-1}'),
      );
      return fetchCase(
        `train ${new TextDecoder().decode(body).slice(0, 60)}`,
        "POST",
        "/api/train",
        [auth, JSON_TYPE],
        body,
      );
    }
    case "train JSON": {
      const body = await drawUntil(
        () => {
          const kind = int(r, 0, 4);
          if (kind === 0) return randomBytes(r, int(r, 0, 200));
          if (kind === 1) return enc.encode("[".repeat(int(r, 65, 30_000)));
          if (kind === 2) {
            return enc.encode(
              JSON.stringify(pick(r, [null, 1, "x", [], [1, 2]])),
            );
          }
          if (kind === 3) {
            return enc.encode(
              `{"epochs":${"9".repeat(int(r, 20, 400))}}`,
            );
          }
          return enc.encode("{".repeat(int(r, 1, 50)));
        },
        trainRefused,
        () => enc.encode("[]"),
      );
      return fetchCase(`train body ${body.length} B`, "POST", "/api/train", [
        auth,
        JSON_TYPE,
      ], body);
    }
    case "upload": {
      const file = ctx.newModelFile;
      const body = await drawUntil(
        () => {
          const kind = int(r, 0, 4);
          if (kind === 0) return file.slice(0, int(r, 0, file.length - 1));
          if (kind === 1) {
            const b = file.slice();
            for (
              let k = int(r, 1, 6);
              k > 0;
              k--
            ) b[int(r, 0, b.length - 1)] ^= 1 << int(r, 0, 7);
            return b;
          }
          if (kind === 2) return randomBytes(r, int(r, 0, 5000));
          if (kind === 3) {
            return enc.encode(
              JSON.stringify({ id: "m-x", weights: [] }),
            );
          }
          return concat([file.subarray(0, 12), randomBytes(r, 100)]);
        },
        modelRefused,
        () => new Uint8Array(),
      );
      if (chance(r, 0.15)) {
        // The active model's own file again: the id exists, so 409.
        return fetchCase("upload of an existing id", "POST", "/api/models", [
          auth,
        ], ctx.activeModelFile);
      }
      return fetchCase(
        `upload of a broken file (${body.length} B)`,
        "POST",
        "/api/models",
        [auth],
        body,
      );
    }
    case "activate": {
      const id = junkId();
      return fetchCase(
        `activate ${JSON.stringify(id).slice(0, 40)}`,
        "POST",
        `/api/models/${encodeURIComponent(id)}/activate`,
        [auth],
      );
    }
    case "delete": {
      const id = chance(r, 0.3) ? ctx.activeId : junkId();
      if (id === ctx.activeId) {
        return fetchCase(
          "delete the active model",
          "DELETE",
          `/api/models/${id}`,
          [auth],
        );
      }
      return fetchCase(
        `delete ${JSON.stringify(id).slice(0, 40)}`,
        "DELETE",
        `/api/models/${encodeURIComponent(id)}`,
        [auth],
      );
    }
    default: {
      const id = pick(r, [
        "",
        "x",
        "../../x",
        "j-" + "0".repeat(100),
        randomToken(r, int(r, 1, 80)),
        "%00",
      ]);
      return fetchCase(
        `cancel ${JSON.stringify(id).slice(0, 40)}`,
        "DELETE",
        `/api/train/${encodeURIComponent(id)}`,
        [auth],
      );
    }
  }
};

// ---------------------------------------------------------------- routes and methods

const ROUTES: {
  path: (r: Random, ctx: FuzzContext) => string;
  allowed: string[];
}[] = [
  { path: () => "/api/predict", allowed: ["POST", "OPTIONS"] },
  { path: () => "/api/health", allowed: ["GET", "HEAD"] },
  { path: () => "/api/model", allowed: ["GET", "HEAD"] },
  { path: () => "/api/model/file", allowed: ["GET", "HEAD"] },
  { path: () => "/api/models", allowed: ["GET", "HEAD", "POST"] },
  {
    path: (_, ctx) => `/api/models/${ctx.activeId}/file`,
    allowed: ["GET", "HEAD"],
  },
  {
    path: (_, ctx) => `/api/models/${ctx.inactiveId}/activate`,
    allowed: ["POST"],
  },
  { path: () => "/api/train", allowed: ["GET", "HEAD", "POST"] },
  { path: () => "/", allowed: ["GET", "HEAD"] },
  { path: () => "/app.js", allowed: ["GET", "HEAD"] },
];

const routes: Generator = (r, ctx) => {
  const variant = pick(r, [
    "wrong method",
    "unknown route",
    "junk job id",
    "junk model file id",
    "If-None-Match on a missing model",
  ]);
  switch (variant) {
    case "wrong method": {
      const route = pick(r, ROUTES);
      const method = pick(
        r,
        ["GET", "POST", "PUT", "PATCH", "DELETE", "FOO", "PROPFIND", "OPTIONS"]
          .filter((m) => !route.allowed.includes(m)),
      );
      const path = route.path(r, ctx);
      const headers: [string, string][] = method === "OPTIONS"
        ? [["Origin", "https://evil.example"], [
          "Access-Control-Request-Method",
          "POST",
        ]]
        : [];
      return fetchCase(
        `${method} ${
          path.replace(ctx.activeId, ":active").replace(ctx.inactiveId, ":id")
        }`,
        method,
        path,
        headers,
        method === "GET" || method === "HEAD" ? undefined : enc.encode("{}"),
      );
    }
    case "unknown route": {
      const segs = Array.from(
        { length: int(r, 1, 6) },
        () => randomToken(r, int(r, 1, 20)),
      );
      const path = pick(r, [
        "/api/",
        "/api/v2/",
        "/api/models/x/y/",
        "/api/train/x/y/z/",
        "/api/predict/",
      ]) + segs.join("/");
      return fetchCase(
        `GET ${path.slice(0, 60)}`,
        pick(r, ["GET", "POST"]),
        path,
        [],
        undefined,
      );
    }
    case "junk job id": {
      const id = pick(r, [
        "x",
        "j-0",
        "..",
        "%2e%2e",
        "j-" + "9".repeat(300),
        randomToken(r, int(r, 1, 200)),
        "<script>",
        "%00",
      ]);
      const tail = pick(r, ["", "/events"]);
      return fetchCase(
        `GET /api/train/${id.slice(0, 40)}${tail}`,
        "GET",
        `/api/train/${id}${tail}`,
        [],
      );
    }
    case "junk model file id": {
      const id = pick(r, [
        "x",
        "..",
        "m-unknown-00000000",
        "M-1",
        "%2e%2e",
        "a".repeat(65),
        randomToken(r, int(r, 1, 64)) + "_",
      ]);
      return fetchCase(
        `GET /api/models/${id.slice(0, 40)}/file`,
        "GET",
        `/api/models/${id}/file`,
        [],
      );
    }
    default: {
      const id = `m-unknown-${randomToken(r, 8, "0123456789abcdef")}`;
      return fetchCase(
        `GET /api/models/${id}/file with If-None-Match`,
        "GET",
        `/api/models/${id}/file`,
        [["If-None-Match", pick(r, ["*", `"${id}"`, `W/"${id}"`])]],
      );
    }
  }
};

const GENERATORS: Record<Category, Generator> = {
  "json-syntax": jsonSyntax,
  "json-nesting": jsonNesting,
  "json-shape": jsonShape,
  "json-numbers": jsonNumbers,
  "content-type": contentType,
  "body-limit": bodyLimit,
  "body-cut": bodyCut,
  "png-corrupt": pngCorrupt,
  "png-bomb": pngBomb,
  "multipart": multipart,
  "path-traversal": pathTraversal,
  "headers": headersCase,
  "admin-auth": adminAuth,
  "admin-body": adminBody,
  "routes": routes,
};
