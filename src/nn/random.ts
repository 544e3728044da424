/**
 * Seeded randomness for everything that needs chance: weight initialisation,
 * shuffling, dropout and augmentation. Nothing in `src/nn` or `src/data` calls
 * `Math.random`; they take a {@link Random} instead, so the same seed and the
 * same data give bit-identical weights.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's "small fast counting" PRNG):
 * 128 bits of state, passes PractRand, and needs only 32-bit integer ops,
 * which JavaScript does exactly. The seed is expanded with splitmix32 so that
 * nearby seeds (1, 2, 3 …) give unrelated streams.
 *
 * @module
 */

/** A source of uniform numbers in [0, 1) whose state can be saved and restored. */
export interface Random {
  /** The next uniform number in [0, 1), a multiple of 2^-32. */
  (): number;
  /** A copy of the 128-bit state, for checkpoints. */
  getState(): Uint32Array;
  /** Continue from a state returned by {@link Random.getState}. */
  setState(state: Uint32Array): void;
}

/**
 * Creates a seeded generator.
 *
 * @example
 * ```ts
 * import { createRandom } from "./random.ts";
 * const a = createRandom(42), b = createRandom(42);
 * console.assert(a() === b());
 * ```
 */
export function createRandom(seed: number): Random {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(
      `Cannot seed the generator as the seed must be an integer in 0..4294967295: got ${seed}`,
    );
  }
  const s = new Uint32Array(4);
  let x = seed >>> 0;
  for (let i = 0; i < 4; i++) {
    // splitmix32: spreads the bits of a small seed over the whole state.
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    s[i] = (z ^ (z >>> 15)) >>> 0;
  }
  const next = (() => {
    // sfc32 step.
    const t = (((s[0] + s[1]) >>> 0) + s[3]) >>> 0;
    s[3] = (s[3] + 1) >>> 0;
    s[0] = s[1] ^ (s[1] >>> 9);
    s[1] = (s[2] + (s[2] << 3)) >>> 0;
    s[2] = ((s[2] << 21) | (s[2] >>> 11)) >>> 0;
    s[2] = (s[2] + t) >>> 0;
    return t / 4294967296;
  }) as Random;
  next.getState = () => s.slice();
  next.setState = (state: Uint32Array) => {
    if (state.length !== 4) {
      throw new TypeError(
        `Cannot restore the generator as its state must hold 4 words: got ${state.length}`,
      );
    }
    s.set(state);
  };
  // Discard the first outputs: sfc32 mixes its state in a few rounds.
  for (let i = 0; i < 12; i++) next();
  return next;
}

/**
 * A standard normal sample N(0, 1) by the Box–Muller transform. Uses two
 * uniforms per call (the second normal is dropped so the stream position is
 * a simple function of the number of calls).
 */
export function randomNormal(random: Random): number {
  const u1 = 1 - random(); // in (0, 1], so log(u1) is finite
  const u2 = random();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** An integer in [0, n). */
export function randomInt(random: Random, n: number): number {
  return Math.floor(random() * n);
}

/** Shuffles `items` in place (Fisher–Yates) and returns it. */
export function shuffleInPlace<
  T extends { length: number; [i: number]: unknown },
>(
  items: T,
  random: Random,
): T {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
  return items;
}
