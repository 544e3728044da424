import { activate, activationBackward } from "../../src/nn/activation.ts";
import { assertAllClose } from "../_assert.ts";

const f = (xs: number[]) => Float64Array.from(xs);

Deno.test("activate() sigmoid matches 1/(1+e^-z) at hand-computed points", () => {
  const out = new Float64Array(3);
  activate(out, f([0, 2, -2]), "sigmoid", 1, 3);
  assertAllClose(out, [0.5, 0.8807970779778823, 0.11920292202211755]);
});

Deno.test("activate() relu zeroes negatives and keeps positives", () => {
  const out = new Float64Array(4);
  activate(out, f([-1, 0, 0.5, 3]), "relu", 1, 4);
  assertAllClose(out, [0, 0, 0.5, 3]);
});

Deno.test("activate() softmax rows sum to 1 and survive huge inputs", () => {
  const out = new Float64Array(6);
  activate(out, f([1, 2, 3, 1000, 1000, 1000]), "softmax", 2, 3);
  // e^1, e^2, e^3 normalised
  const s = Math.exp(1) + Math.exp(2) + Math.exp(3);
  assertAllClose(out, [
    Math.exp(1) / s,
    Math.exp(2) / s,
    Math.exp(3) / s,
    1 / 3,
    1 / 3,
    1 / 3,
  ]);
});

Deno.test("activationBackward() sigmoid multiplies by a(1 − a)", () => {
  const a = f([0.5, 0.8]);
  const dz = new Float64Array(2);
  activationBackward(dz, f([2, 1]), f([0, 0]), a, "sigmoid", 1, 2);
  assertAllClose(dz, [2 * 0.25, 0.8 * 0.2]);
});

Deno.test("activationBackward() relu passes the gradient only where z > 0", () => {
  const dz = new Float64Array(3);
  activationBackward(
    dz,
    f([5, 5, 5]),
    f([-1, 0, 2]),
    f([0, 0, 2]),
    "relu",
    1,
    3,
  );
  assertAllClose(dz, [0, 0, 5]);
});

Deno.test("activationBackward() softmax matches the Jacobian a_j(δij − a_i)", () => {
  const z = f([0.3, -1.2, 2.0]);
  const a = new Float64Array(3);
  activate(a, z, "softmax", 1, 3);
  const dA = f([0.7, -0.4, 1.1]);
  const dz = new Float64Array(3);
  activationBackward(dz, dA, z, a, "softmax", 1, 3);
  const expected = [0, 1, 2].map((i) =>
    [0, 1, 2].reduce((s, j) => s + dA[j] * a[j] * ((i === j ? 1 : 0) - a[i]), 0)
  );
  assertAllClose(dz, expected);
});

Deno.test("activate() linear copies z", () => {
  const out = new Float64Array(2);
  activate(out, f([1.5, -2]), "linear", 1, 2);
  assertAllClose(out, [1.5, -2]);
});
