import { assertEquals } from "@std/assert";
import {
  curveLines,
  describeArchitecture,
  formatDuration,
  formatPercent,
  formatValue,
  summarizeConfig,
  worstConfusion,
} from "../../src/web/format.ts";

Deno.test("describeArchitecture() lists input and layers, dropping a single channel", () => {
  assertEquals(
    describeArchitecture({
      input: [1, 28, 28],
      layers: [
        {
          type: "conv2d",
          filters: 8,
          kernelSize: 3,
          activation: "relu",
          padding: "same",
        },
        { type: "maxpool2d", size: 2 },
        { type: "dropout", rate: 0.25 },
        { type: "dense", units: 10, activation: "softmax" },
      ],
    }),
    "28×28 → conv 8×3² relu → pool 2 → dropout 0.25 → 10 softmax",
  );
  assertEquals(
    describeArchitecture({
      input: [784],
      layers: [{ type: "dense", units: 10, activation: "sigmoid" }],
    }),
    "784 → 10 sigmoid",
  );
});

Deno.test("formatPercent() rounds and marks missing values", () => {
  assertEquals(formatPercent(0.97314), "97.3%");
  assertEquals(formatPercent(1, 0), "100%");
  assertEquals(formatPercent(undefined), "–");
  assertEquals(formatPercent(NaN), "–");
});

Deno.test("formatValue() and formatDuration() give short text", () => {
  assertEquals(formatValue([784, 10]), "[784,10]");
  assertEquals(formatValue("adam"), "adam");
  assertEquals(formatValue(false), "false");
  assertEquals(formatDuration(850.4), "850 ms");
  assertEquals(formatDuration(12_440), "12.4 s");
  assertEquals(formatDuration(185_000), "3 min 5 s");
  assertEquals(formatDuration(-1), "–");
});

Deno.test("summarizeConfig() names the fields it finds and skips the rest", () => {
  assertEquals(
    summarizeConfig({
      epochs: 4,
      optimizer: "adam",
      learningRate: 0.001,
      schedule: "cosine",
      batchSize: 32,
      loss: "cross-entropy",
      dropout: 0,
      augment: true,
      trainCount: 8000,
    }),
    "4 epochs, adam η=0.001 (cosine), batch 32, cross-entropy, augmented, 8,000 digits",
  );
  assertEquals(summarizeConfig({ epochs: 1 }), "1 epoch");
  assertEquals(summarizeConfig({ note: "hand-made" }), "");
});

Deno.test("curveLines() maps loss to [0, max] and accuracy to [floor, 1]", () => {
  const box = { left: 10, top: 0, width: 100, height: 50 };
  const lines = curveLines([
    { epoch: 1, loss: 2, testAccuracy: 0.85, trainMs: 1 },
    { epoch: 2, loss: 1, testAccuracy: 0.95, trainMs: 1 },
  ], box);
  assertEquals(lines.lossMax, 2);
  assertEquals(lines.accuracyMin, 0.8);
  assertEquals(lines.loss, "10,0 110,25");
  assertEquals(lines.accuracy, "10,37.5 110,12.5");
});

Deno.test("curveLines() puts a single epoch in the middle", () => {
  const lines = curveLines(
    [{ epoch: 1, loss: 0.5, testAccuracy: 1, trainMs: 1 }],
    { left: 0, top: 0, width: 100, height: 10 },
  );
  assertEquals(lines.loss, "50,0");
  assertEquals(lines.accuracy, "50,0");
});

Deno.test("worstConfusion() finds the most frequent mistake, or null", () => {
  assertEquals(worstConfusion([[5, 1, 0], [3, 9, 0], [0, 0, 4]]), {
    label: 1,
    predicted: 0,
    count: 3,
  });
  assertEquals(worstConfusion([[5, 0], [0, 9]]), null);
});
