import { assertThrows } from "@std/assert";
import { Optimizer, type OptimizerKind } from "../../src/nn/optimizer.ts";
import { assertAllClose } from "../_assert.ts";

function oneParam(kind: OptimizerKind, weightDecay = 0, decays = [true]) {
  const p = Float64Array.from([1, -2]);
  const g = Float64Array.from([0.5, 0.25]);
  const opt = new Optimizer([p], [g], decays, { kind, weightDecay });
  return { p, g, opt };
}

Deno.test("Optimizer sgd/gd step is θ − η g", () => {
  for (const kind of ["sgd", "gd"] as const) {
    const { p, opt } = oneParam(kind);
    opt.step(0.1);
    assertAllClose(p, [0.95, -2.025]);
  }
});

Deno.test("Optimizer momentum accumulates velocity v ← μv − ηg", () => {
  const { p, opt } = oneParam("momentum");
  opt.step(0.1); // v = −0.05, −0.025
  opt.step(0.1); // v = 0.9·v − 0.1·g = −0.095, −0.0475
  assertAllClose(p, [1 - 0.05 - 0.095, -2 - 0.025 - 0.0475]);
});

Deno.test("Optimizer adam's first step moves each weight by ≈ η·sign(g)", () => {
  const { p, opt } = oneParam("adam");
  opt.step(0.01);
  // m̂ = g, v̂ = g², so Δ = η g / (|g| + ε)
  assertAllClose(p, [
    1 - 0.01 * 0.5 / (0.5 + 1e-8),
    -2 - 0.01 * 0.25 / (0.25 + 1e-8),
  ]);
});

Deno.test("Optimizer weight decay adds λθ to the gradient of weights only", () => {
  const a = oneParam("sgd", 0.1, [true]);
  a.opt.step(1); // g + λθ = 0.5 + 0.1, 0.25 − 0.2
  assertAllClose(a.p, [1 - 0.6, -2 - 0.05]);
  const b = oneParam("sgd", 0.1, [false]);
  b.opt.step(1);
  assertAllClose(b.p, [0.5, -2.25]);
});

Deno.test("Optimizer rejects an unknown kind, naming the choices", () => {
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => new Optimizer([], [], [], { kind: "rmsprop" as any }),
    RangeError,
    "gd, sgd, momentum, adam",
  );
});
