/**
 * The fully connected layer of the seed notebook, forward and backward side by
 * side.
 *
 * Forward, for each example:   z = x · w + b,   a = σ(z)
 *
 * Backward, the chain rule as 3Blue1Brown writes it. Given dC/da from above:
 *
 *   dC/dz = dC/da · da/dz                  (the notebook's `dz4 = dC_da4 * da4_dz4`)
 *   dC/dw = dC/dz · dz/dw = x · dC/dz      (`dw4 = dz4 · a3ᵀ`)
 *   dC/db = dC/dz · dz/db = dC/dz · 1      (`db4 = Σ dz4`)
 *   dC/dx = dC/dz · dz/dx = w · dC/dz      (`dC_da3 = w4ᵀ · dz4`, summed over all paths j)
 *
 * The notebook multiplies dw and db by 1/n here; we put the 1/n of the mean
 * cost into dC/da instead (see cost.ts), which gives the same numbers.
 *
 * @module
 */

import { activate, type Activation, activationBackward } from "./activation.ts";
import {
  createSparseInput,
  denseBackwardInputTiled,
  denseBackwardParamsSparse,
  denseBackwardParamsTiled,
  denseForwardSparse,
  denseForwardTiled,
  indexColumns,
  indexNonZeros,
} from "./kernels.ts";
import {
  ensureCapacity,
  type Layer,
  type LayerSpec,
  shapeSize,
} from "./layer.ts";

/** What backward returns when dC/dx is not needed (shared: a new view per batch would be garbage). */
const NO_INPUT_GRADIENT = new Float64Array(0);

/** A dense layer: `units` outputs, each connected to every input. */
export class DenseLayer implements Layer {
  readonly spec: LayerSpec;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  /** [w, b]; see {@link DenseLayer.useStorage} to move them. */
  readonly params: Float64Array[];
  /** [dC/dw, dC/db]. */
  readonly grads: Float64Array[];
  readonly decays = [true, false];
  readonly fanIn: number;
  readonly fanOut: number;
  readonly nIn: number;
  readonly nOut: number;
  readonly activation: Activation;
  #x: Float64Array = new Float64Array(0);
  #z: Float64Array = new Float64Array(0);
  #a: Float64Array = new Float64Array(0);
  #dz: Float64Array = new Float64Array(0);
  #dx: Float64Array = new Float64Array(0);
  /** The non-zeros of #x, when sparse enough for the sparse kernels. */
  #sparse = createSparseInput();
  #isSparse = false;

  /** Creates the layer with zero weights; see init.ts for initialisation. */
  constructor(
    inputShape: readonly number[],
    units: number,
    activation: Activation,
  ) {
    this.nIn = shapeSize(inputShape);
    this.nOut = units;
    this.activation = activation;
    this.fanIn = this.nIn;
    this.fanOut = units;
    this.spec = { type: "dense", units, activation };
    this.inputShape = [this.nIn];
    this.outputShape = [units];
    this.params = [new Float64Array(this.nIn * units), new Float64Array(units)];
    this.grads = [new Float64Array(this.nIn * units), new Float64Array(units)];
  }

  /** Weights, [nIn × nOut] row-major. */
  get w(): Float64Array {
    return this.params[0];
  }

  /** Biases, [nOut]. */
  get b(): Float64Array {
    return this.params[1];
  }

  /**
   * Moves w, b and their gradients into the given arrays, copying the
   * current values, and uses them from now on. Parallel training
   * (parallel.ts) passes views of one SharedArrayBuffer so that every worker
   * reads the same weights and writes its gradients where the others can sum
   * them, without copying per batch.
   */
  useStorage(params: Float64Array[], grads: Float64Array[]): void {
    for (const [k, p] of this.params.entries()) {
      if (params[k]?.length !== p.length || grads[k]?.length !== p.length) {
        throw new TypeError(
          `Cannot move the dense layer's parameter ${k} as its new storage must hold ${p.length} numbers: got ${
            params[k]?.length
          } and ${grads[k]?.length}`,
        );
      }
    }
    for (let k = 0; k < this.params.length; k++) {
      params[k].set(this.params[k]);
      grads[k].set(this.grads[k]);
      this.params[k] = params[k];
      this.grads[k] = grads[k];
    }
  }

  forward(x: Float64Array, n: number): Float64Array {
    const size = n * this.nOut;
    this.#z = ensureCapacity(this.#z, size);
    this.#a = ensureCapacity(this.#a, size);
    this.#x = x; // kept for dC/dw = x · dC/dz
    // Zero inputs (MNIST background, ReLU outputs) are skipped when common;
    // the index built here is reused by backward.
    this.#isSparse = indexNonZeros(this.#sparse, x, n, this.nIn);
    if (this.#isSparse) {
      denseForwardSparse(this.#z, this.#sparse, this.w, this.b, this.nOut);
    } else {
      denseForwardTiled(this.#z, x, this.w, this.b, n, this.nIn, this.nOut);
    }
    activate(this.#a, this.#z, this.activation, n, this.nOut);
    return this.#a;
  }

  /**
   * After {@link DenseLayer.backward}: sets out[i] to 1 where input i was
   * non-zero in some row of the batch, else 0. Row i of dC/dw (x_i · dC/dz)
   * got nothing from this batch where out[i] is 0. Dense inputs (the tiled
   * kernels) mark every input.
   */
  inputActivity(out: Uint8Array): void {
    if (!this.#isSparse) {
      out.fill(1, 0, this.nIn);
      return;
    }
    const colStart = this.#sparse.colStart;
    for (let i = 0; i < this.nIn; i++) {
      out[i] = colStart[i + 1] > colStart[i] ? 1 : 0;
    }
  }

  backward(
    dA: Float64Array,
    n: number,
    needInput: boolean,
    isPreActivation: boolean,
  ): Float64Array {
    let dz = dA;
    if (!isPreActivation) {
      // dC/dz = dC/da · da/dz
      this.#dz = ensureCapacity(this.#dz, n * this.nOut);
      dz = this.#dz;
      activationBackward(
        dz,
        dA,
        this.#z,
        this.#a,
        this.activation,
        n,
        this.nOut,
      );
    }
    // dC/dw = x · dC/dz and dC/db = dC/dz, accumulated over the batch
    // (indexed, not destructured: array destructuring allocates an iterator per call)
    const dw = this.grads[0], db = this.grads[1];
    if (this.#isSparse) {
      indexColumns(this.#sparse);
      denseBackwardParamsSparse(dw, db, this.#sparse, dz, this.nOut);
    } else {
      denseBackwardParamsTiled(dw, db, this.#x, dz, n, this.nIn, this.nOut);
    }
    if (!needInput) return NO_INPUT_GRADIENT;
    // dC/dx = w · dC/dz: how the cost changes with each input, summed over all outputs j
    this.#dx = ensureCapacity(this.#dx, n * this.nIn);
    denseBackwardInputTiled(this.#dx, dz, this.w, n, this.nIn, this.nOut);
    return this.#dx;
  }
}
