import { assert, assertEquals, assertThrows } from "@std/assert";
import { DropoutLayer } from "../../src/nn/dropout.ts";
import { createRandom } from "../../src/nn/random.ts";

Deno.test("DropoutLayer passes inputs through unchanged when not training", () => {
  const layer = new DropoutLayer([4], 0.5, createRandom(1));
  const x = Float64Array.from([1, 2, 3, 4]);
  assertEquals(layer.forward(x, 1, false), x);
});

Deno.test("DropoutLayer keeps about 1 − rate of inputs, scaled by 1/(1 − rate)", () => {
  const layer = new DropoutLayer([1000], 0.25, createRandom(2));
  const a = layer.forward(new Float64Array(1000).fill(1), 1, true);
  const kept = a.filter((v) => v !== 0);
  assert(Math.abs(kept.length / 1000 - 0.75) < 0.05);
  assert(kept.every((v) => Math.abs(v - 1 / 0.75) < 1e-12));
  // backward uses the same mask
  const d = layer.backward(new Float64Array(1000).fill(1), 1, true);
  for (let i = 0; i < 1000; i++) assertEquals(d[i], a[i]);
});

Deno.test("DropoutLayer rejects a rate outside [0, 1)", () => {
  assertThrows(
    () => new DropoutLayer([4], 1, createRandom(1)),
    RangeError,
    "got 1",
  );
});
