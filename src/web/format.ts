/**
 * Pure text and geometry helpers for the page: no DOM, so they are tested in
 * Deno (tests/web/format_test.ts) and the DOM code stays thin.
 *
 * @module
 */

import type { Architecture } from "../nn/network.ts";
import type { EpochRecord } from "../nn/model_file.ts";

/**
 * An architecture as one line, e.g. "784 → 128 relu → 10 softmax".
 *
 * @example
 * ```ts
 * import { describeArchitecture } from "./format.ts";
 * console.assert(describeArchitecture({
 *   input: [1, 28, 28],
 *   layers: [{ type: "dense", units: 10, activation: "softmax" }],
 * }) === "28×28 → 10 softmax");
 * ```
 */
export function describeArchitecture(architecture: Architecture): string {
  // One channel is the usual case for digits: [1, 28, 28] reads as 28×28.
  const input = architecture.input.length === 3 && architecture.input[0] === 1
    ? architecture.input.slice(1)
    : architecture.input;
  const parts = [input.join("×")];
  for (const l of architecture.layers) {
    switch (l.type) {
      case "dense":
        parts.push(`${l.units} ${l.activation}`);
        break;
      case "conv2d":
        parts.push(`conv ${l.filters}×${l.kernelSize}² ${l.activation}`);
        break;
      case "maxpool2d":
        parts.push(`pool ${l.size}`);
        break;
      case "dropout":
        parts.push(`dropout ${l.rate}`);
        break;
      default:
        parts.push((l as { type: string }).type);
    }
  }
  return parts.join(" → ");
}

/**
 * The gist of a training config in one line, from the fields it has, e.g.
 * "4 epochs, adam η=0.001 (cosine), batch 32, cross-entropy, 8,000 digits".
 */
export function summarizeConfig(config: Record<string, unknown>): string {
  const n = (k: string) =>
    typeof config[k] === "number" ? config[k] as number : undefined;
  const s = (k: string) =>
    typeof config[k] === "string" ? config[k] as string : undefined;
  const parts: string[] = [];
  const epochs = n("epochs");
  if (epochs !== undefined) {
    parts.push(`${epochs} epoch${epochs === 1 ? "" : "s"}`);
  }
  const optimizer = s("optimizer");
  const rate = n("learningRate");
  if (optimizer || rate !== undefined) {
    parts.push(
      [
        optimizer,
        rate !== undefined ? `η=${rate}` : "",
        s("schedule") ? `(${s("schedule")})` : "",
      ]
        .filter(Boolean).join(" "),
    );
  }
  if (n("batchSize") !== undefined) parts.push(`batch ${n("batchSize")}`);
  if (s("loss")) parts.push(s("loss")!);
  if (n("dropout")) parts.push(`dropout ${n("dropout")}`);
  if (config.augment === true) parts.push("augmented");
  if (n("trainCount") !== undefined) {
    parts.push(`${n("trainCount")!.toLocaleString("en")} digits`);
  }
  return parts.join(", ");
}

/** 0.9731 → "97.3%" (one decimal; "–" for a missing value). */
export function formatPercent(p: number | undefined, digits = 1): string {
  if (typeof p !== "number" || !Number.isFinite(p)) return "–";
  return `${(p * 100).toFixed(digits)}%`;
}

/** A config value as short text: numbers as they are, objects as compact JSON. */
export function formatValue(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

/** Milliseconds as "850 ms", "12.4 s" or "3 min 5 s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** A plot area: the box inside the axes, in SVG user units. */
export interface PlotBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The two lines of a training curve as SVG `points` strings, and their scales. */
export interface CurveLines {
  /** Mean training loss per epoch, scaled to [0, max loss]. */
  loss: string;
  /** Held-out accuracy per epoch, scaled to [accuracyMin, 1]. */
  accuracy: string;
  lossMax: number;
  accuracyMin: number;
}

/**
 * Places each epoch's loss and accuracy in `box`. Loss runs from 0 (bottom)
 * to its largest value (top); accuracy from a round floor below its smallest
 * value (bottom) to 100% (top), so small gains stay visible.
 */
export function curveLines(epochs: EpochRecord[], box: PlotBox): CurveLines {
  const n = epochs.length;
  const lossMax = Math.max(...epochs.map((e) => e.loss), 1e-9);
  const accLow = Math.min(...epochs.map((e) => e.testAccuracy), 1);
  const accuracyMin = Math.max(0, Math.floor(accLow * 10 - 1e-9) / 10);
  const x = (i: number) =>
    box.left + (n > 1 ? (i / (n - 1)) * box.width : box.width / 2);
  const y = (v: number, lo: number, hi: number) =>
    box.top + box.height * (1 - (v - lo) / (hi - lo || 1));
  const line = (values: number[], lo: number, hi: number) =>
    values.map((v, i) => `${round(x(i))},${round(y(v, lo, hi))}`).join(" ");
  return {
    loss: line(epochs.map((e) => e.loss), 0, lossMax),
    accuracy: line(epochs.map((e) => e.testAccuracy), accuracyMin, 1),
    lossMax,
    accuracyMin,
  };
}

/** The most frequent mistake in a confusion matrix, or null when there is none. */
export function worstConfusion(
  confusion: number[][],
): { label: number; predicted: number; count: number } | null {
  let best: { label: number; predicted: number; count: number } | null = null;
  for (const [label, row] of confusion.entries()) {
    for (const [predicted, count] of row.entries()) {
      if (label !== predicted && count > 0 && count > (best?.count ?? 0)) {
        best = { label, predicted, count };
      }
    }
  }
  return best;
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}
