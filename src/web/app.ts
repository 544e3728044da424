/**
 * The drawing page's entry (bundled to static/app.js by `deno task build`).
 *
 * After every stroke, without a button: strokes → {@link strokesToMnist}
 * (the same code the server and the evaluation use) → the 28×28 preview →
 * the network, on this device when its weights could be downloaded, else on
 * the server → the digit and ten probability bars.
 *
 * The time from pen-up to the prediction being in the page is recorded as a
 * `performance.measure` named {@link PREDICT_MEASURE} (detail: where it was
 * computed), so it can be read from the browser's performance timeline.
 *
 * @module
 */

import { strokesToMnist } from "../image/strokes.ts";
import { formatPercent } from "./format.ts";
import { renderModel } from "./model_panel.ts";
import { DrawingPad, type Stroke } from "./pad.ts";
import { type LoadResult, type Prediction, Predictor } from "./predictor.ts";
import { setUpTrainPanel } from "./train_panel.ts";

/** The performance-timeline name of pen-up → prediction shown. */
export const PREDICT_MEASURE = "ziffer:pen-up-to-prediction";

const $ = <T extends HTMLElement = HTMLElement>(id: string) =>
  document.getElementById(id) as T;

const prediction = $("prediction");
const confidence = $("confidence");
const source = $("source");
const modelStatus = $("model-status");
const preview = $<HTMLCanvasElement>("input-preview");
const bars = [...$("probabilities").querySelectorAll("li")];
const undoButton = $<HTMLButtonElement>("undo");
const clearButton = $<HTMLButtonElement>("clear");
const previewCtx = preview.getContext("2d")!;
const padFrame = $("pad").parentElement!;
const predictor = new Predictor();

/** Increases with every drawing change, so a late server answer for old strokes is dropped. */
let generation = 0;

const pad = new DrawingPad($<HTMLCanvasElement>("pad"), {
  onStrokeEnd: (strokes) => update(strokes, performance.now()),
  onChange: (strokes) => updateButtons(strokes),
});

undoButton.addEventListener("click", () => {
  pad.undo();
  update(pad.strokes, performance.now());
});
clearButton.addEventListener("click", () => {
  pad.clear();
  update(pad.strokes, performance.now());
});
document.addEventListener("keydown", (e) => {
  const target = e.target as HTMLElement;
  if (target.closest("input, textarea, select")) return;
  if ((e.ctrlKey || e.metaKey) && !e.shiftKey && e.key.toLowerCase() === "z") {
    e.preventDefault();
    undoButton.click();
  } else if (e.key === "Escape" && pad.strokes.length) {
    clearButton.click();
  }
});
matchMedia("(prefers-color-scheme: dark)").addEventListener(
  "change",
  () => pad.repaint(),
);

function updateButtons(strokes: readonly Stroke[]): void {
  undoButton.disabled = clearButton.disabled = strokes.length === 0;
  padFrame.classList.toggle("has-ink", strokes.length > 0 || pad.drawing);
}

/** Recomputes everything shown from the strokes. */
function update(strokes: readonly Stroke[], penUp: number): void {
  const mine = ++generation;
  updateButtons(strokes);
  const pixels = strokes.length ? strokesToMnist(strokes) : null;
  drawPreview(pixels);
  if (!pixels) {
    showBlank();
    return;
  }
  const local = predictor.predictLocal(pixels);
  if (local) {
    show(local, penUp);
    return;
  }
  source.textContent = "Asking the server…";
  predictor.predictServer(pixels).then(
    (p) => mine === generation && show(p, penUp),
    (e) => {
      if (mine !== generation) return;
      showBlank();
      source.textContent = `Cannot predict: ${(e as Error).message}.`;
      source.classList.add("error");
    },
  );
}

function showBlank(): void {
  prediction.textContent = "";
  confidence.textContent = "Draw a digit to see what the network thinks.";
  source.textContent = "";
  source.classList.remove("error");
  document.body.classList.remove("has-prediction");
  for (const li of bars) setBar(li, 0, false);
}

function show(p: Prediction, penUp: number): void {
  prediction.textContent = String(p.digit);
  confidence.textContent = `${formatPercent(p.probabilities[p.digit], 0)} sure`;
  source.textContent = p.where === "device"
    ? "Predicted on this device."
    : "Predicted on the server.";
  source.classList.remove("error");
  document.body.classList.add("has-prediction");
  for (const [d, li] of bars.entries()) {
    setBar(li, p.probabilities[d] ?? 0, d === p.digit);
  }
  performance.measure(PREDICT_MEASURE, {
    start: penUp,
    end: performance.now(),
    detail: { where: p.where },
  });
}

function setBar(li: HTMLLIElement, p: number, top: boolean): void {
  const fill = li.querySelector<HTMLElement>(".fill")!;
  // CSSOM writes are allowed under a strict CSP (style attributes are not).
  fill.style.transform = `scaleX(${p.toFixed(4)})`;
  li.querySelector(".pct")!.textContent = formatPercent(
    p,
    p < 0.1 && p > 0 ? 1 : 0,
  );
  li.classList.toggle("best", top);
  li.dataset.p = p.toFixed(4);
}

/** The 28×28 input as MNIST shows it: white ink on black. */
function drawPreview(pixels: Float32Array | null): void {
  const image = previewCtx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.round(255 * Math.min(1, Math.max(0, pixels?.[i] ?? 0)));
    image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = v;
    image.data[4 * i + 3] = 255;
  }
  previewCtx.putImageData(image, 0, 0);
}

function describeLoad(r: LoadResult): string {
  switch (r.mode) {
    case "device":
      return `Model ${r.info.id} ${
        r.fromCache
          ? "loaded from this browser's cache"
          : `downloaded (${Math.round(r.bytes / 1024)} KB)`
      }: predictions run on this device, also offline.`;
    case "server":
      return `Cannot run the model here (${r.reason}): predictions come from the server.`;
    case "none":
      return `No model to predict with: ${r.reason}.`;
  }
}

async function loadModel(): Promise<void> {
  modelStatus.textContent = "Loading the model…";
  const r = await predictor.load();
  modelStatus.textContent = describeLoad(r);
  modelStatus.dataset.mode = r.mode;
  document.body.dataset.model = r.mode;
  renderModel(r.mode === "none" ? null : r.info);
  if (r.mode === "device") {
    // One throwaway run compiles the hot code now rather than on the first
    // stroke, which would otherwise take several times as long as the rest.
    setTimeout(() => {
      const ring = Array.from({ length: 40 }, (_, i): [number, number] => [
        100 + 60 * Math.cos(i / 6),
        100 + 90 * Math.sin(i / 6),
      ]);
      for (let i = 0; i < 3; i++) {
        const pixels = strokesToMnist([ring]);
        if (pixels) predictor.predictLocal(pixels);
      }
    }, 0);
  }
  // Strokes drawn while the model loaded are predicted now.
  if (pad.strokes.length) update(pad.strokes, performance.now());
}

setUpTrainPanel({
  defaultConfig: () => {
    const c = { ...(predictor.info?.config ?? { epochs: 10 }) } as Record<
      string,
      unknown
    >;
    delete c.data; // recorded by the server, not a training option
    return c;
  },
  onFinished: () => void loadModel(),
});

addEventListener("online", () => {
  if (!predictor.local) void loadModel();
});

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js").catch(() => {
    // Without it the page still works online; offline reloads will not.
  });
}

showBlank();
drawPreview(null);
void loadModel();
