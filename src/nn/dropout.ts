/**
 * Dropout (Srivastava et al. 2014), "inverted" form: while training, each
 * activation is kept with probability p = 1 − rate and scaled by 1/p, so the
 * expected value of a is unchanged and prediction needs no rescaling.
 *
 *   forward   a = x · m / p,   m_i ~ Bernoulli(p)
 *   backward  dC/dx = dC/da · m / p
 *
 * @module
 */

import { ensureCapacity, type Layer, type LayerSpec } from "./layer.ts";
import type { Random } from "./random.ts";

/** Randomly zeroes a fraction `rate` of its inputs while training. */
export class DropoutLayer implements Layer {
  readonly spec: LayerSpec;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly params: Float64Array[] = [];
  readonly grads: Float64Array[] = [];
  readonly decays: boolean[] = [];
  readonly fanIn = 0;
  readonly fanOut = 0;
  readonly rate: number;
  #random: Random;
  #scaledMask: Float64Array = new Float64Array(0);
  #a: Float64Array = new Float64Array(0);
  #dx: Float64Array = new Float64Array(0);
  #size: number;
  #trained = false;

  /** `random` draws the masks; it is the network's seeded generator. */
  constructor(inputShape: readonly number[], rate: number, random: Random) {
    if (!(rate >= 0 && rate < 1)) {
      throw new RangeError(
        `Cannot create dropout as its rate must be in [0, 1): got ${rate}`,
      );
    }
    this.spec = { type: "dropout", rate };
    this.inputShape = inputShape;
    this.outputShape = inputShape;
    this.rate = rate;
    this.#random = random;
    this.#size = inputShape.reduce((s, d) => s * d, 1);
  }

  forward(x: Float64Array, n: number, training: boolean): Float64Array {
    this.#trained = training;
    if (!training || this.rate === 0) return x;
    const count = n * this.#size;
    this.#scaledMask = ensureCapacity(this.#scaledMask, count);
    this.#a = ensureCapacity(this.#a, count);
    const keep = 1 - this.rate;
    const scale = 1 / keep;
    for (let i = 0; i < count; i++) {
      const m = this.#random() < keep ? scale : 0;
      this.#scaledMask[i] = m;
      this.#a[i] = x[i] * m;
    }
    return this.#a;
  }

  backward(dA: Float64Array, n: number, needInput: boolean): Float64Array {
    if (!needInput) return this.#dx.subarray(0, 0);
    if (!this.#trained || this.rate === 0) return dA;
    const count = n * this.#size;
    this.#dx = ensureCapacity(this.#dx, count);
    for (let i = 0; i < count; i++) this.#dx[i] = dA[i] * this.#scaledMask[i];
    return this.#dx;
  }
}
