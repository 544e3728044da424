/**
 * The drawing page in a real Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core), against the real server on a loopback port with a small
 * model trained at the start of the run.
 *
 *   deno test -A tests/e2e/
 *
 * Set ZIFFER_SHOTS=/tmp/some-dir to also save screenshots (desktop light,
 * phone light and dark, 320 px) and print the measured numbers (pen-up →
 * prediction, first-load bytes). ZIFFER_MEASURE=1 adds a run that times
 * pen-up → prediction for the preset architectures (random weights: only
 * the speed is of interest).
 *
 * @module
 */

import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertMatch,
} from "@std/assert";
import axe from "axe-core";
import { strokesToMnist } from "../../src/image/strokes.ts";
import { type Model, weightsOf } from "../../src/nn/model_file.ts";
import { createNetwork } from "../../src/nn/network.ts";
import { getPreset, PRESET_NAMES } from "../../src/nn/presets.ts";
import { createRandom } from "../../src/nn/random.ts";
import { describeArchitecture } from "../../src/web/format.ts";
import type { Page } from "playwright-core";
import {
  ADMIN_TOKEN,
  BAR,
  DIGITS,
  drawWithMouse,
  drawWithPen,
  drawWithTouch,
  expectedPrediction,
  launchBrowser,
  predictTimes,
  previewInk,
  readResult,
  startServer,
  summarize,
  trainTestModel,
  type UnitStroke,
  waitForModel,
} from "./_harness.ts";

const SHOTS = Deno.env.get("ZIFFER_SHOTS");
const MEASURE = Deno.env.get("ZIFFER_MEASURE") === "1";
const model = await trainTestModel();
const test = { sanitizeOps: false, sanitizeResources: false };

const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = {
  viewport: { width: 375, height: 667 },
  deviceScaleFactor: 2,
  hasTouch: true,
  isMobile: true,
};

/** Draws, waits for the prediction and checks it against the model run in Deno. */
async function drawAndCheck(
  page: Page,
  digit: keyof typeof DIGITS,
  draw: (page: Page, strokes: UnitStroke[]) => Promise<void>,
  where = "on this device",
): Promise<void> {
  await draw(page, DIGITS[digit]);
  await page.waitForFunction(
    () => document.getElementById("prediction")!.textContent !== "",
  );
  const r = await readResult(page);
  const expected = expectedPrediction(model, DIGITS[digit]);
  assertEquals(expected.digit, Number(digit), `the model reads the ${digit}`);
  assertEquals(r.prediction, digit);
  assertEquals(r.top, [Number(digit)], "one highlighted bar, the digit's");
  assertAlmostEquals(r.bars.reduce((s, p) => s + p, 0), 1, 1e-3);
  assertAlmostEquals(
    r.bars[Number(digit)],
    expected.probabilities[Number(digit)],
    0.1,
  );
  assert(r.source.includes(where), `source says "${where}": got "${r.source}"`);
  // The preview shows the network's input: about as much ink as the
  // MNIST recipe gives for these strokes (the page's own points differ a little).
  const ink = await previewInk(page);
  const expectedInk = 255 *
    strokesToMnist(DIGITS[digit])!.reduce((s, v) => s + v, 0);
  assert(
    Math.abs(ink - expectedInk) < 0.2 * expectedInk,
    `the 28×28 preview shows the input: ink ${ink}, expected about ${expectedInk}`,
  );
}

async function expectBlank(page: Page): Promise<void> {
  // A tap's click arrives after the touch events have been sent.
  await page.waitForFunction(
    () => document.getElementById("prediction")!.textContent === "",
  );
  const r = await readResult(page);
  assertEquals(r.prediction, "");
  assertEquals(r.top, []);
  assertEquals(r.bars, new Array(10).fill(0));
  assertEquals(await previewInk(page), 0);
  assert(await page.isDisabled("#undo"));
  assert(await page.isDisabled("#clear"));
}

/** What axe-core reports, reduced to what the test prints. */
interface AxeResult {
  violations: { id: string; help: string; nodes: { target: string[] }[] }[];
}

/** Runs axe-core inside the page (WCAG 2.1 A/AA and best practices). */
async function axeViolations(page: Page): Promise<string[]> {
  // page.evaluate runs through the DevTools protocol, which the page's CSP
  // does not govern, so axe needs no inline script.
  await page.evaluate(axe.source);
  const result = await page.evaluate(() => {
    const { axe } = globalThis as unknown as {
      axe: { run(root: Node, options: unknown): Promise<AxeResult> };
    };
    return axe.run(document, {
      runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    });
  });
  return result.violations.map((v) =>
    `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`
  );
}

Deno.test({
  ...test,
  name:
    "page on a desktop: draws, predicts on the device, undoes, clears, is accessible",
}, async (t) => {
  const server = await startServer(model);
  const browser = await launchBrowser();
  try {
    const context = await browser.context({
      ...DESKTOP,
      serviceWorkers: "block",
    });
    const page = await context.newPage();
    await page.goto(server.origin);
    assertEquals(await waitForModel(page), "device");

    await t.step("a blank canvas shows no prediction", async () => {
      await expectBlank(page);
    });

    await t.step(
      "the pad is square and sharp at the screen's pixel ratio",
      async () => {
        const size = await page.evaluate(() => {
          const c = document.getElementById("pad") as HTMLCanvasElement;
          return {
            css: c.clientWidth,
            h: c.clientHeight,
            px: c.width,
            dpr: devicePixelRatio,
          };
        });
        assertEquals(size.css, size.h);
        assertEquals(size.px, Math.round(size.css * size.dpr));
        assert(size.css >= 400, `large on a desktop: got ${size.css} px`);
      },
    );

    await t.step(
      "mouse drags of 1, 0 and 7 are predicted after each stroke",
      async () => {
        for (const digit of ["1", "0", "7"] as const) {
          await drawAndCheck(page, digit, drawWithMouse);
          await page.click("#clear");
          await expectBlank(page);
        }
      },
    );

    await t.step(
      "undo removes the last stroke and predicts again",
      async () => {
        await drawWithMouse(page, DIGITS["1"]);
        await page.waitForFunction(() =>
          document.getElementById("prediction")!.textContent === "1"
        );
        const one = await readResult(page);
        await drawWithMouse(page, BAR);
        const two = await readResult(page);
        assert(
          JSON.stringify(two.bars) !== JSON.stringify(one.bars),
          "a second stroke changes the bars",
        );
        await page.click("#undo");
        assertEquals(await readResult(page), one);
        await page.click("#undo");
        await expectBlank(page);
      },
    );

    await t.step("the buttons work from the keyboard", async () => {
      await drawWithMouse(page, DIGITS["7"]);
      await drawWithMouse(page, BAR);
      await page.focus("#undo");
      await page.keyboard.press("Enter");
      assertEquals((await readResult(page)).prediction, "7");
      await page.keyboard.press("Tab");
      assertEquals(
        await page.evaluate(() => document.activeElement?.id),
        "clear",
      );
      await page.keyboard.press("Space");
      await expectBlank(page);
      await drawWithMouse(page, DIGITS["1"]);
      await page.keyboard.press("Control+z");
      await expectBlank(page);
      await drawWithMouse(page, DIGITS["1"]);
      await page.keyboard.press("Escape");
      await expectBlank(page);
    });

    await t.step("a pen draws like a mouse", async () => {
      await drawAndCheck(page, "7", drawWithPen);
      await page.click("#clear");
    });

    await t.step(
      "the model panel shows facts, curve and confusion matrix",
      async () => {
        const facts = await page.textContent("#model-facts") ?? "";
        assertMatch(facts, /28×28 → 64 relu → 10 softmax/);
        assertMatch(facts, /4 epochs, adam η=0.001 \(cosine\), batch 32/);
        const accuracy = (model.metrics.testAccuracy * 100).toFixed(1) + "%";
        assert(facts.includes(accuracy), `shows ${accuracy}: ${facts}`);
        assert(facts.includes(model.id));
        assertEquals(await page.locator("#curve polyline").count(), 2);
        assertEquals(
          await page.locator("#curve circle").count(),
          model.metrics.epochs.length,
        );
        assertEquals(await page.locator("#confusion rect.cell").count(), 100);
      },
    );

    await t.step(
      "keeps predicting on the device when the server is gone",
      async () => {
        const apiCalls: string[] = [];
        await page.route("**/api/**", (route) => {
          apiCalls.push(route.request().url());
          return route.abort();
        });
        await drawAndCheck(page, "0", drawWithMouse);
        assertEquals(apiCalls, [], "no request to the API while predicting");
        await page.unroute("**/api/**");
        await page.click("#clear");
      },
    );

    await t.step(
      "passes axe-core (WCAG 2.1 AA and best practices) in light and dark",
      async () => {
        await drawWithMouse(page, DIGITS["7"]);
        await page.click("#train summary");
        assertEquals(await axeViolations(page), []);
        await page.emulateMedia({ colorScheme: "dark" });
        assertEquals(await axeViolations(page), []);
        await page.emulateMedia({ colorScheme: "light" });
        if (SHOTS) {
          await page.screenshot({
            path: `${SHOTS}/desktop-light.png`,
            fullPage: true,
          });
        }
      },
    );

    await t.step("measures pen-up → prediction over many strokes", async () => {
      await page.click("#clear");
      // Many strokes only when the numbers are printed; a few keep CI quick.
      const strokes = SHOTS ? 30 : 6;
      for (let i = 0; i < strokes; i++) {
        await drawWithMouse(page, DIGITS[(["1", "0", "7"] as const)[i % 3]]);
        await page.click("#clear");
      }
      const times = await predictTimes(page);
      assert(times.length >= strokes);
      if (SHOTS) {
        console.log("pen-up → prediction (ms), desktop:", summarize(times));
      }
    });

    assertEquals(browser.errors, []);
  } finally {
    await browser.close();
    await server.close();
  }
});

Deno.test({
  ...test,
  name: "page falls back to the server when the weights cannot be downloaded",
}, async () => {
  const server = await startServer(model);
  const browser = await launchBrowser();
  try {
    const context = await browser.context({
      ...DESKTOP,
      serviceWorkers: "block",
    });
    const page = await context.newPage();
    await page.route(
      "**/api/models/*/file",
      (route) => route.fulfill({ status: 503, body: "down" }),
    );
    const predictCalls: string[] = [];
    page.on(
      "request",
      (r) => r.url().endsWith("/api/predict") && predictCalls.push(r.method()),
    );
    await page.goto(server.origin);
    assertEquals(await waitForModel(page), "server");
    assertMatch(
      await page.textContent("#model-status") ?? "",
      /from the server/,
    );
    await expectBlank(page);
    for (const digit of ["1", "0", "7"] as const) {
      await drawAndCheck(page, digit, drawWithMouse, "on the server");
      await page.click("#clear");
    }
    assertEquals(predictCalls, ["POST", "POST", "POST"]);
    // The 503 of the routed download is logged by the browser; nothing else is.
    assertEquals(browser.errors.filter((e) => !e.includes("503")), []);
  } finally {
    await browser.close();
    await server.close();
  }
});

Deno.test({
  ...test,
  name:
    "page reloads and predicts offline from its service worker and cached model",
}, async () => {
  const server = await startServer(model);
  const browser = await launchBrowser();
  try {
    const context = await browser.context(DESKTOP);
    const page = await context.newPage();
    await page.goto(server.origin);
    assertEquals(await waitForModel(page), "device");
    await page.evaluate(() => navigator.serviceWorker.ready);
    // Reload once online so the service worker controls the page and the
    // model file is in the Cache API.
    await page.reload();
    assertEquals(await waitForModel(page), "device");
    await context.setOffline(true);
    await page.reload();
    assertEquals(await waitForModel(page), "device");
    assertMatch(await page.textContent("#model-status") ?? "", /cache/);
    await drawAndCheck(page, "1", drawWithMouse);
    await context.setOffline(false);
    // Offline, the browser logs the failed /api/model request.
    assertEquals(
      browser.errors.filter((e) => !e.includes("ERR_INTERNET_DISCONNECTED")),
      [],
    );
  } finally {
    await browser.close();
    await server.close();
  }
});

Deno.test({
  ...test,
  name:
    "page on a phone: touch drags predict without scrolling, fits 375 and 320 px",
}, async (t) => {
  const server = await startServer(model);
  const browser = await launchBrowser();
  try {
    for (const colorScheme of ["light", "dark"] as const) {
      await t.step(`${colorScheme}: touch drags of 1, 0, 7`, async () => {
        const context = await browser.context({
          ...PHONE,
          colorScheme,
          serviceWorkers: "block",
        });
        const page = await context.newPage();
        await page.goto(server.origin);
        assertEquals(await waitForModel(page), "device");
        await expectBlank(page);
        const pad = (await page.locator("#pad").boundingBox())!;
        assert(
          pad && pad.x >= 0 && pad.x + pad.width <= 375,
          "the pad fits the width",
        );
        assert(
          pad.y + pad.height <= 667,
          "the whole pad is on the first screen",
        );
        const digit = (await page.locator("#prediction").boundingBox())!;
        assert(
          digit.y + digit.height <= 667,
          `the prediction is in view while drawing: bottom at ${
            digit.y + digit.height
          }`,
        );
        assertEquals(
          await page.evaluate(() => {
            const c = document.getElementById("pad") as HTMLCanvasElement;
            return c.width / c.clientWidth;
          }),
          2,
          "the backing store uses devicePixelRatio 2",
        );
        for (const digit of ["1", "0", "7"] as const) {
          const before = await page.evaluate(
            () => [scrollX, scrollY, visualViewport!.scale],
          );
          await drawAndCheck(page, digit, drawWithTouch);
          const after = await page.evaluate(
            () => [scrollX, scrollY, visualViewport!.scale],
          );
          assertEquals(after, before, "drawing neither scrolls nor zooms");
          if (digit === "7" && SHOTS) {
            await page.screenshot({
              path: `${SHOTS}/phone-${colorScheme}-screen.png`,
            });
            await page.screenshot({
              path: `${SHOTS}/phone-${colorScheme}.png`,
              fullPage: true,
            });
          }
          await page.tap("#clear");
          await expectBlank(page);
        }
        assertEquals(
          await page.evaluate(() => document.documentElement.scrollWidth),
          375,
          "no sideways scrolling",
        );
        assertEquals(await axeViolations(page), []);
        if (SHOTS) {
          const first = await predictTimes(page);
          for (let i = 0; i < 20; i++) {
            await drawWithTouch(
              page,
              DIGITS[(["1", "0", "7"] as const)[i % 3]],
            );
            await page.tap("#clear");
          }
          console.log(`pen-up → prediction (ms), phone ${colorScheme}:`, {
            firstThree: first.map((t) => Math.round(t * 10) / 10),
            ...summarize(await predictTimes(page)),
          });
        }
        await context.close();
      });
    }

    await t.step(
      "320 px wide: nothing overflows and drawing works",
      async () => {
        const context = await browser.context({
          ...PHONE,
          viewport: { width: 320, height: 568 },
          serviceWorkers: "block",
        });
        const page = await context.newPage();
        await page.goto(server.origin);
        await waitForModel(page);
        await drawAndCheck(page, "0", drawWithTouch);
        assertEquals(
          await page.evaluate(() => document.documentElement.scrollWidth),
          320,
        );
        if (SHOTS) {
          await page.screenshot({
            path: `${SHOTS}/phone-320.png`,
            fullPage: true,
          });
        }
        await context.close();
      },
    );

    assertEquals(browser.errors, []);
  } finally {
    await browser.close();
    await server.close();
  }
});

Deno.test({
  ...test,
  name:
    "page lets an admin train a model, shows live progress, then uses the new model",
}, async () => {
  const server = await startServer(model);
  const browser = await launchBrowser();
  try {
    const context = await browser.context({
      ...DESKTOP,
      serviceWorkers: "block",
    });
    const page = await context.newPage();
    await page.goto(server.origin);
    assertEquals(await waitForModel(page), "device");
    await page.click("#train summary");
    const config = JSON.parse(await page.inputValue("#train-config"));
    assertEquals(
      config.layers,
      [784, 64, 10],
      "the form starts from the active model's config",
    );

    await page.fill("#token", "wrong-token-wrong-token");
    await page.click("#train-start");
    await page.waitForSelector("#train-status.error");
    assertMatch(
      await page.textContent("#train-status") ?? "",
      /Training failed: .*token/i,
    );

    await page.fill("#token", ADMIN_TOKEN);
    await page.fill(
      "#train-config",
      JSON.stringify({
        arch: "mlp",
        layers: [784, 16, 10],
        epochs: 3,
        trainCount: 4000,
        testCount: 500,
      }),
    );
    await page.selectOption("#train-activate", "always");
    // Record every status line, however briefly it is shown.
    await page.evaluate(() => {
      const status = document.getElementById("train-status")!;
      const seen: string[] = [];
      (globalThis as unknown as { seen: string[] }).seen = seen;
      new MutationObserver(() => seen.push(status.textContent ?? "")).observe(
        status,
        { childList: true, characterData: true, subtree: true },
      );
    });
    await page.click("#train-start");
    await page.waitForFunction(
      () =>
        /^Done: model /.test(
          document.getElementById("train-status")!.textContent ?? "",
        ),
      undefined,
      { timeout: 120_000 },
    );
    const seen = await page.evaluate(() =>
      (globalThis as unknown as { seen: string[] }).seen
    );
    assert(
      seen.some((line) =>
        /^Training: epoch \d\/3, batch \d+\/\d+, loss \d/.test(line)
      ),
      `live progress was shown: ${JSON.stringify(seen)}`,
    );
    const status = await page.textContent("#train-status") ?? "";
    assertMatch(status, /It is now the active model/);
    const newId = status.match(/model (m-[a-z0-9-]+)/)![1];
    assertEquals(
      await page.evaluate(() =>
        (document.getElementById("train-progress") as HTMLProgressElement).value
      ),
      1,
    );
    assertEquals(
      await page.locator("#train-log li").count(),
      3,
      "one line per evaluated epoch",
    );
    // The page downloads and shows the new model.
    await page.waitForFunction(
      (id) => document.getElementById("model-facts")!.textContent!.includes(id),
      newId,
    );
    assertMatch(
      await page.textContent("#model-facts") ?? "",
      /28×28 → 16 relu → 10 softmax/,
    );
    assertEquals(await waitForModel(page), "device");
    await drawWithMouse(page, DIGITS["1"]);
    assert((await readResult(page)).prediction !== "");
    // The rejected token is logged by the browser as a failed request.
    assertEquals(browser.errors.filter((e) => !e.includes("401")), []);
  } finally {
    await browser.close();
    await server.close();
  }
});

Deno.test({ ...test, name: "page's first load is small" }, async () => {
  const server = await startServer(model);
  const browser = await launchBrowser();
  try {
    const context = await browser.context({
      ...DESKTOP,
      serviceWorkers: "block",
    });
    const page = await context.newPage();
    const sizes: Promise<[string, number]>[] = [];
    page.on("requestfinished", (r) =>
      sizes.push(
        r.sizes().then((s) => [
          new URL(r.url()).pathname,
          s.responseBodySize + s.responseHeadersSize,
        ]),
      ));
    await page.goto(server.origin);
    await waitForModel(page);
    await page.waitForLoadState("networkidle");
    const all = await Promise.all(sizes);
    const total = all.reduce((s, [, n]) => s + n, 0);
    const modelBytes = all.filter(([p]) => p.endsWith("/file")).reduce(
      (s, [, n]) => s + n,
      0,
    );
    if (SHOTS) {
      console.log("first load:", Object.fromEntries(all), {
        total,
        withoutModel: total - modelBytes,
      });
    }
    // The page without the model must stay well under 100 kB.
    assert(total - modelBytes < 100_000, `page bytes: ${total - modelBytes}`);
  } finally {
    await browser.close();
    await server.close();
  }
});

Deno.test({
  ...test,
  name:
    "page's pen-up → prediction time for each preset architecture (ZIFFER_MEASURE=1)",
  ignore: !MEASURE,
}, async () => {
  const browser = await launchBrowser();
  try {
    for (const name of ["fixture", ...PRESET_NAMES]) {
      const m = name === "fixture" ? model : randomModel(name);
      const server = await startServer(m);
      const context = await browser.context({
        ...DESKTOP,
        serviceWorkers: "block",
      });
      const page = await context.newPage();
      await page.goto(server.origin);
      assertEquals(await waitForModel(page), "device");
      for (let i = 0; i < 40; i++) {
        const digit = (["1", "0", "7"] as const)[i % 3];
        await drawWithMouse(
          page,
          DIGITS[digit].map((s) =>
            s.filter((_, k) => k % 2 === 0 || k === s.length - 1)
          ),
        );
        await page.click("#clear");
      }
      const times = await predictTimes(page);
      const bytes = (await page.evaluate(() =>
        document.getElementById("model-status")!.textContent
      )) ?? "";
      console.log(
        name,
        describeArchitecture(m.architecture),
        bytes.match(/\((\d+ KB)\)/)?.[1],
        summarize(times),
      );
      await context.close();
      await server.close();
    }
  } finally {
    await browser.close();
  }
});

/** A model of a preset's architecture with random weights (for timing only). */
function randomModel(preset: string): Model {
  const { architecture } = getPreset(preset);
  const network = createNetwork(architecture, { random: createRandom(1) });
  return {
    ...model,
    id: `m-${preset}-random`,
    architecture,
    weights: weightsOf(network),
  };
}
