import {
  assert,
  assertEquals,
  assertNotEquals,
  assertThrows,
} from "@std/assert";
import {
  createRandom,
  randomNormal,
  shuffleInPlace,
} from "../../src/nn/random.ts";

Deno.test("createRandom() gives the same stream for the same seed", () => {
  const a = createRandom(42), b = createRandom(42);
  for (let i = 0; i < 100; i++) assertEquals(a(), b());
});

Deno.test("createRandom() gives different streams for neighbouring seeds", () => {
  const a = createRandom(1), b = createRandom(2);
  const same =
    Array.from({ length: 20 }, () => a() === b()).filter(Boolean).length;
  assertEquals(same, 0);
});

Deno.test("createRandom() values lie in [0, 1) with a mean near 0.5", () => {
  const r = createRandom(7);
  let sum = 0;
  for (let i = 0; i < 10_000; i++) {
    const x = r();
    assert(x >= 0 && x < 1, `out of range: ${x}`);
    sum += x;
  }
  assert(Math.abs(sum / 10_000 - 0.5) < 0.02);
});

Deno.test("getState()/setState() resume the stream exactly", () => {
  const r = createRandom(3);
  for (let i = 0; i < 5; i++) r();
  const state = r.getState();
  const expected = [r(), r(), r()];
  const other = createRandom(99);
  other.setState(state);
  assertEquals([other(), other(), other()], expected);
});

Deno.test("createRandom() rejects seeds that are not 32-bit unsigned integers", () => {
  assertThrows(() => createRandom(-1), RangeError, "got -1");
  assertThrows(() => createRandom(1.5), RangeError, "got 1.5");
  assertThrows(() => createRandom(2 ** 32), RangeError);
});

Deno.test("setState() rejects a state of the wrong size", () => {
  assertThrows(
    () => createRandom(1).setState(new Uint32Array(3)),
    TypeError,
    "got 3",
  );
});

Deno.test("randomNormal() has mean ≈ 0 and variance ≈ 1", () => {
  const r = createRandom(11);
  let s = 0, s2 = 0;
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    const x = randomNormal(r);
    s += x;
    s2 += x * x;
  }
  assert(Math.abs(s / n) < 0.03);
  assert(Math.abs(s2 / n - 1) < 0.05);
});

Deno.test("shuffleInPlace() permutes deterministically", () => {
  const a = shuffleInPlace([0, 1, 2, 3, 4, 5, 6, 7], createRandom(5));
  const b = shuffleInPlace([0, 1, 2, 3, 4, 5, 6, 7], createRandom(5));
  assertEquals(a, b);
  assertEquals([...a].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
  assertNotEquals(a, [0, 1, 2, 3, 4, 5, 6, 7]);
});
