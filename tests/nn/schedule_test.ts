import { assertAlmostEquals, assertEquals } from "@std/assert";
import { learningRateAt } from "../../src/nn/schedule.ts";

const at = (done: number) => ({ done, total: 100, stepsPerEpoch: 10 });

Deno.test("learningRateAt() constant never changes", () => {
  assertEquals(learningRateAt("constant", 0.1, at(77)), 0.1);
});

Deno.test("learningRateAt() step halves every two epochs", () => {
  assertEquals(learningRateAt("step", 0.1, at(19)), 0.1);
  assertEquals(learningRateAt("step", 0.1, at(20)), 0.05);
  assertEquals(learningRateAt("step", 0.1, at(45)), 0.025);
});

Deno.test("learningRateAt() cosine goes from η₀ through η₀/2 to 0", () => {
  assertEquals(learningRateAt("cosine", 0.1, at(0)), 0.1);
  assertAlmostEquals(learningRateAt("cosine", 0.1, at(50)), 0.05, 1e-12);
  assertAlmostEquals(learningRateAt("cosine", 0.1, at(100)), 0, 1e-12);
});
