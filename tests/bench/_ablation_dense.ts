/**
 * A dense layer whose kernels and exponential can be switched, so that
 * tests/bench/ablation.ts can time an epoch with each optimisation added in turn.
 * Same math as src/nn/dense.ts.
 *
 * @module
 */

import {
  activate,
  activateReference,
  type Activation,
  activationBackward,
} from "../../src/nn/activation.ts";
import {
  createSparseInput,
  denseBackwardInputTiled,
  denseBackwardParamsSparse,
  denseBackwardParamsTiled,
  denseForwardSparse,
  denseForwardTiled,
  indexColumns,
  indexNonZeros,
} from "../../src/nn/kernels.ts";
import {
  ensureCapacity,
  type Layer,
  type LayerSpec,
  shapeSize,
} from "../../src/nn/layer.ts";
import * as seed from "./_seed_kernels.ts";

/** Which optimisations the layer uses. */
export interface AblationOptions {
  /** Register-tiled kernels when the input is dense (else the seed kernels). */
  tiled: boolean;
  /** CSR/CSC sparse kernels when the input is mostly zeros (else the seed kernels). */
  sparse: boolean;
  /** The table-driven exp (else Math.exp). */
  tableExp: boolean;
}

/** See the module comment. */
export class AblationDenseLayer implements Layer {
  readonly spec: LayerSpec;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly params: Float64Array[];
  readonly grads: Float64Array[];
  readonly decays = [true, false];
  readonly fanIn: number;
  readonly fanOut: number;
  readonly nIn: number;
  readonly nOut: number;
  readonly activation: Activation;
  readonly options: AblationOptions;
  #x: Float64Array = new Float64Array(0);
  #z: Float64Array = new Float64Array(0);
  #a: Float64Array = new Float64Array(0);
  #dz: Float64Array = new Float64Array(0);
  #dx: Float64Array = new Float64Array(0);
  #sparse = createSparseInput();
  #isSparse = false;

  constructor(
    inputShape: readonly number[],
    units: number,
    activation: Activation,
    options: AblationOptions,
  ) {
    this.nIn = shapeSize(inputShape);
    this.nOut = units;
    this.activation = activation;
    this.options = options;
    this.fanIn = this.nIn;
    this.fanOut = units;
    this.spec = { type: "dense", units, activation };
    this.inputShape = [this.nIn];
    this.outputShape = [units];
    this.params = [new Float64Array(this.nIn * units), new Float64Array(units)];
    this.grads = [new Float64Array(this.nIn * units), new Float64Array(units)];
  }

  forward(x: Float64Array, n: number): Float64Array {
    const { nIn, nOut, options } = this;
    const [w, b] = this.params;
    this.#z = ensureCapacity(this.#z, n * nOut);
    this.#a = ensureCapacity(this.#a, n * nOut);
    this.#x = x;
    this.#isSparse = indexNonZeros(this.#sparse, x, n, nIn);
    if (this.#isSparse && options.sparse) {
      denseForwardSparse(this.#z, this.#sparse, w, b, nOut);
    } else if (!this.#isSparse && options.tiled) {
      denseForwardTiled(this.#z, x, w, b, n, nIn, nOut);
    } else {
      seed.denseForward(this.#z, x, w, b, n, nIn, nOut);
    }
    (options.tableExp ? activate : activateReference)(
      this.#a,
      this.#z,
      this.activation,
      n,
      nOut,
    );
    return this.#a;
  }

  backward(
    dA: Float64Array,
    n: number,
    needInput: boolean,
    isPreActivation: boolean,
  ): Float64Array {
    const { nIn, nOut, options } = this;
    let dz = dA;
    if (!isPreActivation) {
      this.#dz = ensureCapacity(this.#dz, n * nOut);
      dz = this.#dz;
      activationBackward(dz, dA, this.#z, this.#a, this.activation, n, nOut);
    }
    const [dw, db] = this.grads;
    if (this.#isSparse && options.sparse) {
      indexColumns(this.#sparse);
      denseBackwardParamsSparse(dw, db, this.#sparse, dz, nOut);
    } else if (!this.#isSparse && options.tiled) {
      denseBackwardParamsTiled(dw, db, this.#x, dz, n, nIn, nOut);
    } else {
      seed.denseBackwardParams(dw, db, this.#x, dz, n, nIn, nOut);
    }
    if (!needInput) return this.#dx.subarray(0, 0);
    this.#dx = ensureCapacity(this.#dx, n * nIn);
    if (options.tiled) {
      denseBackwardInputTiled(this.#dx, dz, this.params[0], n, nIn, nOut);
    } else seed.denseBackwardInput(this.#dx, dz, this.params[0], n, nIn, nOut);
    return this.#dx;
  }
}
