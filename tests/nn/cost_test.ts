import { assertAlmostEquals } from "@std/assert";
import { costGradient } from "../../src/nn/cost.ts";
import { assertAllClose } from "../_assert.ts";

Deno.test("costGradient() mse is the mean over examples of Σ(a − y)², gradient 2(a − y)/n", () => {
  // Two examples, three classes; labels 0 and 2.
  const a = Float64Array.from([0.5, 0.2, 0.1, 0.3, 0.3, 0.6]);
  const out = new Float64Array(6);
  const c = costGradient(out, "mse", a, Uint8Array.from([0, 2]), 2, 3);
  // (0.25 + 0.04 + 0.01) and (0.09 + 0.09 + 0.16), mean
  assertAlmostEquals(c, (0.3 + 0.34) / 2, 1e-12);
  assertAllClose(out, [-0.5, 0.2, 0.1, 0.3, 0.3, -0.4]);
});

Deno.test("costGradient() cross-entropy is −mean log a_label with dC/dz = (a − y)/n", () => {
  const a = Float64Array.from([0.7, 0.2, 0.1, 0.25, 0.25, 0.5]);
  const out = new Float64Array(6);
  const c = costGradient(
    out,
    "cross-entropy",
    a,
    Uint8Array.from([0, 2]),
    2,
    3,
  );
  assertAlmostEquals(c, -(Math.log(0.7) + Math.log(0.5)) / 2, 1e-12);
  assertAllClose(out, [-0.15, 0.1, 0.05, 0.125, 0.125, -0.25]);
});

Deno.test("costGradient() cross-entropy stays finite when a_label is 0", () => {
  const out = new Float64Array(2);
  const c = costGradient(
    out,
    "cross-entropy",
    Float64Array.from([1, 0]),
    Uint8Array.from([1]),
    1,
    2,
  );
  assertAlmostEquals(c, -Math.log(1e-300), 1e-6);
});
