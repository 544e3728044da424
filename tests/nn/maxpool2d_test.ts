import { assertEquals, assertThrows } from "@std/assert";
import { MaxPool2dLayer } from "../../src/nn/maxpool2d.ts";
import { createNetwork } from "../../src/nn/network.ts";
import { createRandom } from "../../src/nn/random.ts";

Deno.test("MaxPool2dLayer.forward() takes the max of each 2x2 window", () => {
  const layer = new MaxPool2dLayer([1, 4, 4], 2);
  // deno-fmt-ignore
  const x = Float64Array.from([
    1, 2,   5, 0,
    3, 4,  -1, 6,

    9, 0,  -2, -3,
    0, 0,  -4, -1,
  ]);
  assertEquals(layer.outputShape, [1, 2, 2]);
  assertEquals(Array.from(layer.forward(x, 1).subarray(0, 4)), [4, 6, 9, -1]);
});

Deno.test("MaxPool2dLayer.backward() routes each gradient to the window's winner only", () => {
  const layer = new MaxPool2dLayer([1, 4, 4], 2);
  // deno-fmt-ignore
  const x = Float64Array.from([
    1, 2,   5, 0,
    3, 4,  -1, 6,
    9, 0,  -2, -3,
    0, 0,  -4, -1,
  ]);
  layer.forward(x, 1);
  const dx = layer.backward(Float64Array.from([10, 20, 30, 40]), 1, true);
  // deno-fmt-ignore
  assertEquals(Array.from(dx.subarray(0, 16)), [
    0, 0,  0,  0,
    0, 10, 0,  20,
    30, 0, 0,  0,
    0, 0,  0,  40,
  ]);
});

Deno.test("MaxPool2dLayer pools each channel and example separately and drops leftover rows", () => {
  const layer = new MaxPool2dLayer([2, 5, 5], 2);
  assertEquals(layer.outputShape, [2, 2, 2]);
  const x = new Float64Array(2 * 2 * 25);
  // Example 1, channel 2: a single large value in the bottom-right window.
  x[50 + 25 + 3 * 5 + 3] = 7;
  // The 5th row and column are outside every window and never win.
  x[4 * 5 + 4] = 100;
  const a = layer.forward(x, 2);
  assertEquals(Array.from(a.subarray(0, 16)), [
    0,
    0,
    0,
    0, // example 0, channel 0
    0,
    0,
    0,
    0, // example 0, channel 1
    0,
    0,
    0,
    0, // example 1, channel 0
    0,
    0,
    0,
    7, // example 1, channel 1
  ]);
});

Deno.test("MaxPool2dLayer gives the gradient to the first of equal maxima", () => {
  const layer = new MaxPool2dLayer([1, 2, 2], 2);
  layer.forward(Float64Array.from([3, 3, 3, 3]), 1);
  const dx = layer.backward(Float64Array.from([1]), 1, true);
  assertEquals(Array.from(dx.subarray(0, 4)), [1, 0, 0, 0]);
});

Deno.test("MaxPool2dLayer rejects flat inputs and window sizes that do not fit", () => {
  assertThrows(() => new MaxPool2dLayer([784], 2), TypeError, "[784]");
  assertThrows(() => new MaxPool2dLayer([1, 3, 3], 4), RangeError, "got 4");
  assertThrows(() => new MaxPool2dLayer([1, 3, 3], 0), RangeError, "got 0");
});

Deno.test("createNetwork() builds conv2d and maxpool2d layers from an architecture", () => {
  const network = createNetwork({
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
      { type: "dense", units: 10, activation: "softmax" },
    ],
  }, { random: createRandom(1) });
  assertEquals(network.layers.map((l) => l.outputShape), [
    [8, 28, 28],
    [8, 14, 14],
    [10],
  ]);
  // conv: 8 × 1 × 3 × 3 weights + 8 biases; dense: 8·14·14 × 10 + 10
  assertEquals(network.parameterCount, 80 + 15690);
});
