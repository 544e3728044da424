/**
 * The "model" panel: the active model's facts, its training curve and its
 * confusion matrix as a heat map, drawn as SVG by hand (no charting library).
 * Colours come from style.css classes; per-cell intensity is the SVG
 * `fill-opacity` attribute, so nothing needs an inline style (CSP).
 *
 * @module
 */

import type { ModelInfo } from "../nn/model_file.ts";
import {
  curveLines,
  describeArchitecture,
  formatDuration,
  formatPercent,
  formatValue,
  summarizeConfig,
  worstConfusion,
} from "./format.ts";

const SVG = "http://www.w3.org/2000/svg";

/** Creates an SVG element with attributes. */
function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  text?: string,
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** Creates an HTML element with an optional class and text. */
function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = "",
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Fills the panel's parts for `info`, or says there is no model. */
export function renderModel(info: ModelInfo | null): void {
  const facts = document.getElementById("model-facts")!;
  const curve = document.getElementById("curve")!;
  const confusion = document.getElementById("confusion")!;
  facts.replaceChildren();
  curve.replaceChildren();
  confusion.replaceChildren();
  if (!info) {
    facts.append(el("p", "muted", "No model yet."));
    return;
  }
  const m = info.metrics;
  const rows: [string, string][] = [
    ["Model", info.id],
    ["Architecture", describeArchitecture(info.architecture)],
    [
      "Held-out accuracy",
      `${formatPercent(m?.testAccuracy)}${
        m?.testCount ? ` of ${m.testCount.toLocaleString("en")} digits` : ""
      }`,
    ],
    ["Trained", formatDate(info.createdAt)],
    ["Training", summarizeConfig(info.config ?? {}) || "–"],
    ["Training time", formatDuration(m?.trainMs ?? NaN)],
    ["Seed", String(info.seed ?? "–")],
  ];
  const dl = el("dl", "facts");
  for (const [k, v] of rows) dl.append(el("dt", "", k), el("dd", "", v));
  facts.append(dl);
  const config = Object.entries(info.config ?? {});
  if (config.length) {
    const details = el("details", "config");
    const list = el("dl");
    for (const [k, v] of config) {
      list.append(el("dt", "", k), el("dd", "", formatValue(v)));
    }
    details.append(el("summary", "", "Full training config"), list);
    facts.append(details);
  }
  if (m?.epochs?.length) curve.append(curveChart(info));
  else curve.append(el("p", "muted", "No training curve recorded."));
  if (m?.confusion?.length) confusion.append(confusionChart(m.confusion));
}

function formatDate(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, {
    dateStyle: "medium",
    timeStyle: "short",
  });
}

/** Loss and held-out accuracy per epoch, two y axes. */
function curveChart(info: ModelInfo): SVGSVGElement {
  const epochs = info.metrics.epochs;
  const W = 300, H = 180;
  const box = { left: 34, top: 12, width: W - 34 - 38, height: H - 12 - 32 };
  const lines = curveLines(epochs, box);
  const last = epochs[epochs.length - 1];
  const root = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-labelledby": "curve-title",
    class: "chart",
  });
  root.append(
    svg(
      "title",
      { id: "curve-title" },
      `Training curve over ${epochs.length} epochs: loss fell from ${
        epochs[0].loss.toFixed(3)
      } to ${last.loss.toFixed(3)}, held-out accuracy reached ${
        formatPercent(last.testAccuracy)
      }.`,
    ),
    svg("rect", {
      x: box.left,
      y: box.top,
      width: box.width,
      height: box.height,
      class: "plot-bg",
    }),
  );
  const bottom = box.top + box.height, right = box.left + box.width;
  const axis = (x: number, y: number, text: string, anchor: string, cls = "") =>
    svg("text", { x, y, "text-anchor": anchor, class: `tick ${cls}` }, text);
  root.append(
    axis(box.left - 4, box.top + 8, lines.lossMax.toFixed(2), "end", "loss"),
    axis(box.left - 4, bottom, "0", "end", "loss"),
    axis(right + 4, box.top + 8, "100%", "start", "acc"),
    axis(
      right + 4,
      bottom,
      formatPercent(lines.accuracyMin, 0),
      "start",
      "acc",
    ),
    axis(box.left, bottom + 14, "1", "middle"),
    axis(right, bottom + 14, String(epochs.length), "middle"),
    axis(box.left + box.width / 2, bottom + 26, "epoch", "middle"),
    svg("polyline", { points: lines.loss, class: "line loss" }),
    svg("polyline", { points: lines.accuracy, class: "line acc" }),
  );
  for (const [i, p] of lines.accuracy.split(" ").entries()) {
    const [x, y] = p.split(",");
    const dot = svg("circle", { cx: x, cy: y, r: 2.5, class: "dot acc" });
    dot.append(
      svg(
        "title",
        {},
        `epoch ${epochs[i].epoch}: accuracy ${
          formatPercent(epochs[i].testAccuracy)
        }, loss ${epochs[i].loss.toFixed(4)}`,
      ),
    );
    root.append(dot);
  }
  return root;
}

/**
 * confusion[label][predicted] as a 10×10 grid; each row is shaded by its
 * share of that label's digits, so rare labels are as readable as common ones.
 */
function confusionChart(confusion: number[][]): SVGSVGElement {
  const n = confusion.length;
  const cell = 26, left = 30, top = 30;
  const W = left + n * cell + 4, H = top + n * cell + 4;
  const worst = worstConfusion(confusion);
  const root = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-labelledby": "confusion-title",
    class: "chart heat",
  });
  root.append(
    svg(
      "title",
      { id: "confusion-title" },
      `Confusion matrix: rows are the true digit, columns the prediction.${
        worst
          ? ` Most common mistake: ${worst.label} read as ${worst.predicted} (${worst.count} times).`
          : ""
      }`,
    ),
    svg("text", {
      x: left + (n * cell) / 2,
      y: 10,
      "text-anchor": "middle",
      class: "tick",
    }, "predicted"),
    svg("text", {
      x: 8,
      y: top + (n * cell) / 2,
      "text-anchor": "middle",
      class: "tick",
      transform: `rotate(-90 8 ${top + (n * cell) / 2})`,
    }, "true"),
  );
  for (let j = 0; j < n; j++) {
    root.append(svg("text", {
      x: left + j * cell + cell / 2,
      y: top - 6,
      "text-anchor": "middle",
      class: "tick",
    }, String(j)));
  }
  for (const [label, row] of confusion.entries()) {
    const total = row.reduce((s, c) => s + c, 0) || 1;
    root.append(svg("text", {
      x: left - 6,
      y: top + label * cell + cell / 2 + 4,
      "text-anchor": "end",
      class: "tick",
    }, String(label)));
    for (const [predicted, count] of row.entries()) {
      const share = count / total;
      const g = svg("g");
      g.append(
        svg("rect", {
          x: left + predicted * cell,
          y: top + label * cell,
          width: cell - 1,
          height: cell - 1,
          class: label === predicted ? "cell hit" : "cell miss",
          "fill-opacity": count
            ? (0.12 + 0.88 * Math.sqrt(share)).toFixed(3)
            : 0.04,
        }),
        svg("title", {}, `true ${label}, predicted ${predicted}: ${count}`),
      );
      if (count) {
        g.append(svg("text", {
          x: left + predicted * cell + cell / 2 - 0.5,
          y: top + label * cell + cell / 2 + 3.5,
          "text-anchor": "middle",
          class: share > 0.35 ? "count on-dark" : "count",
        }, String(count)));
      }
      root.append(g);
    }
  }
  return root;
}
