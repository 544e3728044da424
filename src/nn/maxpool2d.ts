/**
 * Max pooling: each output is the largest input of a size × size window; the
 * windows tile the image without overlap (stride = size).
 *
 * Notation (one example; a batch repeats it n times, batch-major):
 *   x  [C × H × W]     the input
 *   a  [C × Ho × Wo]   the output, Ho = ⌊H / s⌋, Wo = ⌊W / s⌋ (s = size;
 *                      rows and columns past the last whole window are
 *                      dropped)
 *
 *   forward   a[c, oy, ox] = max over (i, j) in 0..s−1 of x[c, s·oy + i, s·ox + j]
 *   backward  dC/dx = dC/da at the input that won its window, 0 elsewhere
 *
 * The max is a switch, not a sum: only the winning input moved the output,
 * so only it receives the gradient (da/dx = 1 for the winner, 0 for the
 * rest). The first of several equal maxima wins. There are no parameters.
 *
 * @module
 */

import { ensureCapacity, type Layer, type LayerSpec } from "./layer.ts";

/** A max-pooling layer with square, non-overlapping windows. */
export class MaxPool2dLayer implements Layer {
  readonly spec: LayerSpec;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly params: Float64Array[] = [];
  readonly grads: Float64Array[] = [];
  readonly decays: boolean[] = [];
  readonly fanIn = 0;
  readonly fanOut = 0;
  readonly size: number;
  #a: Float64Array = new Float64Array(0);
  /** For each output, the index (within the example) of the input that won. */
  #winner: Int32Array = new Int32Array(0);
  #dx: Float64Array = new Float64Array(0);

  /** Pools `inputShape` [C, H, W] with size × size windows. */
  constructor(inputShape: readonly number[], size: number) {
    if (
      inputShape.length !== 3 ||
      !inputShape.every((d) => Number.isInteger(d) && d > 0)
    ) {
      throw new TypeError(
        `Cannot build a maxpool2d layer as its input must have shape [channels, height, width]: got ${
          JSON.stringify(inputShape)
        }`,
      );
    }
    const [channels, height, width] = inputShape;
    if (
      !(Number.isInteger(size) && size > 0 && size <= Math.min(height, width))
    ) {
      throw new RangeError(
        `Cannot build a maxpool2d layer as size must be an integer in 1..${
          Math.min(height, width)
        } for a ${height}×${width} input: got ${size}`,
      );
    }
    this.spec = { type: "maxpool2d", size };
    this.size = size;
    this.inputShape = [channels, height, width];
    this.outputShape = [
      channels,
      Math.floor(height / size),
      Math.floor(width / size),
    ];
  }

  forward(x: Float64Array, n: number): Float64Array {
    const [C, H, W] = this.inputShape;
    const [, Ho, Wo] = this.outputShape;
    const s = this.size;
    const count = n * C * Ho * Wo;
    this.#a = ensureCapacity(this.#a, count);
    if (this.#winner.length < count) this.#winner = new Int32Array(count);
    let o = 0;
    for (let r = 0; r < n; r++) {
      const xr = r * C * H * W;
      for (let c = 0; c < C; c++) {
        const xc = c * H * W;
        for (let oy = 0; oy < Ho; oy++) {
          for (let ox = 0; ox < Wo; ox++) {
            let best = xc + s * oy * W + s * ox;
            let max = x[xr + best];
            for (let i = 0; i < s; i++) {
              const row = xc + (s * oy + i) * W + s * ox;
              for (let j = 0; j < s; j++) {
                if (x[xr + row + j] > max) {
                  max = x[xr + row + j];
                  best = row + j;
                }
              }
            }
            this.#a[o] = max;
            this.#winner[o] = best;
            o++;
          }
        }
      }
    }
    return this.#a;
  }

  backward(dA: Float64Array, n: number, needInput: boolean): Float64Array {
    if (!needInput) return this.#dx.subarray(0, 0);
    const inSize = this.inputShape[0] * this.inputShape[1] * this.inputShape[2];
    const [C, Ho, Wo] = this.outputShape;
    const outSize = C * Ho * Wo;
    this.#dx = ensureCapacity(this.#dx, n * inSize);
    this.#dx.fill(0, 0, n * inSize);
    for (let r = 0; r < n; r++) {
      const xr = r * inSize, ar = r * outSize;
      for (let o = 0; o < outSize; o++) {
        this.#dx[xr + this.#winner[ar + o]] += dA[ar + o];
      }
    }
    return this.#dx;
  }
}
