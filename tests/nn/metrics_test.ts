import { assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import {
  argmax,
  evaluate,
  normalizeProbabilities,
  predictProbabilities,
} from "../../src/nn/metrics.ts";
import { Network } from "../../src/nn/network.ts";

/** A 2-input, 2-class network whose output is softmax(x): class = larger input. */
function identityNetwork(): Network {
  const net = new Network({
    input: [2],
    layers: [{ type: "dense", units: 2, activation: "softmax" }],
  });
  net.params[0].set([1, 0, 0, 1]);
  return net;
}

Deno.test("argmax() returns the first index of the largest value in a window", () => {
  assertEquals(argmax([1, 5, 5, 2]), 1);
  assertEquals(argmax([9, 1, 3, 2], 1, 3), 1);
});

Deno.test("evaluate() counts correct answers and fills the confusion matrix", () => {
  const data = {
    images: Float32Array.from([1, 0, 0, 1, 0.2, 0.9, 0.8, 0.1, 0.3, 0.4]),
    labels: Uint8Array.from([0, 1, 0, 0, 0]),
    count: 5,
    shape: [2],
  };
  const e = evaluate(identityNetwork(), data, 2);
  assertEquals(e.accuracy, 3 / 5);
  assertEquals(e.confusion, [[2, 2], [0, 1]]);
});

Deno.test("predictProbabilities() returns a copy that sums to 1 and checks the length", () => {
  const p = predictProbabilities(identityNetwork(), [2, 0]);
  assertAlmostEquals(p[0] + p[1], 1, 1e-12);
  assertThrows(
    () => predictProbabilities(identityNetwork(), [1]),
    TypeError,
    "must hold 2 numbers: got 1",
  );
});

Deno.test("normalizeProbabilities() scales sigmoid outputs to sum 1", () => {
  assertEquals(normalizeProbabilities([0.5, 0.25, 0.25]), [0.5, 0.25, 0.25]);
  assertEquals(normalizeProbabilities([1, 3]), [0.25, 0.75]);
  assertEquals(normalizeProbabilities([0, 0]), [0.5, 0.5]);
});
