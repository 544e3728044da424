/**
 * Float-aware assertions shared by the tests.
 *
 * @module
 */

import { AssertionError } from "@std/assert";

/** Asserts |actual − expected| ≤ atol + rtol·|expected| for every element. */
export function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 1e-9, rtol = 1e-7 } = {},
): void {
  if (actual.length !== expected.length) {
    throw new AssertionError(
      `Lengths differ: got ${actual.length}, expected ${expected.length}`,
    );
  }
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      throw new AssertionError(`Element ${i} differs: got ${a}, expected ${e}`);
    }
  }
}
