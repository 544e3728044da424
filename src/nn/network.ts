/**
 * A network: an input shape and a list of layers. `forward` is the notebook's
 * `Abfrage` (query), `backprop` its `backpropagation`: it runs the batch
 * forward, takes dC/da from the cost and hands it down the layers, each of
 * which applies the chain rule and passes dC/dx to the layer below.
 *
 * Gradients accumulate into each layer's `grads`; `zeroGrads` clears them.
 * Applying them is the optimizer's job (optimizer.ts), as in Nielsen's
 * `backprop` / `update_mini_batch` split.
 *
 * @module
 */

import { ACTIVATIONS } from "./activation.ts";
import { type Cost, costGradient, isPreActivation } from "./cost.ts";
import { Conv2dLayer } from "./conv2d.ts";
import { DenseLayer } from "./dense.ts";
import { DropoutLayer } from "./dropout.ts";
import {
  ensureCapacity,
  type Layer,
  type LayerSpec,
  shapeSize,
} from "./layer.ts";
import { MaxPool2dLayer } from "./maxpool2d.ts";
import { createRandom, type Random, randomNormal } from "./random.ts";

/** Everything needed to rebuild a network's shape (stored in model files). */
export interface Architecture {
  /** Shape of one input example, e.g. [1, 28, 28]. */
  input: number[];
  layers: LayerSpec[];
}

/** How initial weights are drawn. */
export type InitScheme = "auto" | "notebook";

/** Builds the layer described by `spec` for inputs of `inputShape`. */
export type LayerFactory = (
  spec: LayerSpec,
  inputShape: readonly number[],
  random: Random,
) => Layer;

const layerFactories = new Map<LayerSpec["type"], LayerFactory>([
  ["dense", (spec, shape) => {
    const s = spec as Extract<LayerSpec, { type: "dense" }>;
    return new DenseLayer(shape, s.units, s.activation);
  }],
  ["conv2d", (spec, shape) => {
    const s = spec as Extract<LayerSpec, { type: "conv2d" }>;
    return new Conv2dLayer(shape, s);
  }],
  ["maxpool2d", (spec, shape) => {
    const s = spec as Extract<LayerSpec, { type: "maxpool2d" }>;
    return new MaxPool2dLayer(shape, s.size);
  }],
  ["dropout", (spec, shape, random) => {
    const s = spec as Extract<LayerSpec, { type: "dropout" }>;
    return new DropoutLayer(shape, s.rate, random);
  }],
]);

/** Registers the factory for a layer type (used by modules that add layer kinds). */
export function registerLayer(
  type: LayerSpec["type"],
  factory: LayerFactory,
): void {
  layerFactories.set(type, factory);
}

/** A stack of layers with the buffers needed to train it. */
export class Network {
  readonly architecture: Architecture;
  readonly layers: Layer[];
  readonly inputSize: number;
  readonly outputSize: number;
  #dA: Float64Array = new Float64Array(0);

  /**
   * Builds the layers of `architecture`, with all parameters zero. Use
   * {@link createNetwork} for initialised weights.
   */
  constructor(architecture: Architecture, random: Random = createRandom(0)) {
    validateArchitecture(architecture);
    const count = countParameters(architecture);
    if (!(count <= MAX_PARAMETERS)) {
      throw new RangeError(
        `Cannot build a network of more than ${MAX_PARAMETERS} parameters: got ${count}`,
      );
    }
    this.architecture = structuredClone(architecture);
    this.layers = [];
    let shape: readonly number[] = architecture.input;
    for (const spec of architecture.layers) {
      const factory = layerFactories.get(spec.type);
      if (!factory) {
        throw new TypeError(
          `Cannot build a layer of type "${spec.type}": known types are ${
            [...layerFactories.keys()].join(", ")
          }`,
        );
      }
      const layer = factory(spec, shape, random);
      this.layers.push(layer);
      shape = layer.outputShape;
    }
    this.inputSize = shapeSize(architecture.input);
    this.outputSize = shapeSize(shape);
  }

  /** All parameters in layer order (w, b of layer 1, then layer 2, …). */
  get params(): Float64Array[] {
    return this.layers.flatMap((l) => l.params);
  }

  /** The gradients matching {@link Network.params}. */
  get grads(): Float64Array[] {
    return this.layers.flatMap((l) => l.grads);
  }

  /** The total number of learned parameters. */
  get parameterCount(): number {
    return this.params.reduce((s, p) => s + p.length, 0);
  }

  /**
   * Output activations for n examples stored row by row in `x`. The returned
   * array belongs to the last layer: copy what you need before the next call.
   */
  forward(x: Float64Array, n: number, training = false): Float64Array {
    let a = x;
    // Index loops here and below: the training loop allocates nothing.
    const layers = this.layers;
    for (let l = 0; l < layers.length; l++) {
      a = layers[l].forward(a, n, training);
    }
    return a;
  }

  /**
   * Runs one batch forward and back, adding dC/dparam into every layer's
   * `grads`. Returns the batch's mean cost.
   */
  backprop(x: Float64Array, labels: Uint8Array, n: number, cost: Cost): number {
    const a = this.forward(x, n, true);
    this.#dA = ensureCapacity(this.#dA, n * this.outputSize);
    const loss = costGradient(this.#dA, cost, a, labels, n, this.outputSize);
    let d = this.#dA;
    const last = this.layers.length - 1;
    for (let l = last; l >= 0; l--) {
      d = this.layers[l].backward(
        d,
        n,
        l > 0,
        l === last && isPreActivation(cost),
      );
    }
    return loss;
  }

  /** Sets every gradient to zero (before accumulating a new batch). */
  zeroGrads(): void {
    const layers = this.layers;
    for (let l = 0; l < layers.length; l++) {
      const grads = layers[l].grads;
      for (let k = 0; k < grads.length; k++) grads[k].fill(0);
    }
  }
}

/** The most parameters a network may have (80 MB as float32): a guard against crafted files. */
export const MAX_PARAMETERS = 20_000_000;

/**
 * The number of parameters `architecture` has, computed from the shapes
 * alone (nothing is allocated), so that a model file claiming a huge network
 * can be refused before any memory is spent on it. Tests check it against
 * `new Network(architecture).parameterCount`.
 */
export function countParameters(architecture: Architecture): number {
  let shape = [...architecture.input];
  let count = 0;
  for (const spec of architecture.layers) {
    switch (spec.type) {
      case "dense": {
        const nIn = shapeSize(shape);
        count += nIn * spec.units + spec.units;
        shape = [spec.units];
        break;
      }
      case "conv2d": {
        const [c, h, w] = shape;
        const k = spec.kernelSize;
        count += spec.filters * (c * k * k) + spec.filters;
        shape = spec.padding === "same"
          ? [spec.filters, h, w]
          : [spec.filters, h - k + 1, w - k + 1];
        break;
      }
      case "maxpool2d": {
        const [c, h, w] = shape;
        shape = [c, Math.floor(h / spec.size), Math.floor(w / spec.size)];
        break;
      }
      case "dropout":
        break;
    }
  }
  return count;
}

/** Checks an architecture, throwing a TypeError or RangeError that names the problem. */
export function validateArchitecture(architecture: Architecture): void {
  if (
    !Array.isArray(architecture?.input) || architecture.input.length === 0 ||
    !architecture.input.every((d) => Number.isInteger(d) && d > 0)
  ) {
    throw new TypeError(
      `Cannot build a network as its input shape must be positive integers: got ${
        JSON.stringify(architecture?.input)
      }`,
    );
  }
  if (!Array.isArray(architecture.layers) || architecture.layers.length === 0) {
    throw new TypeError("Cannot build a network without layers: got none");
  }
  for (const [i, spec] of architecture.layers.entries()) {
    if ("activation" in spec && !ACTIVATIONS.includes(spec.activation)) {
      throw new RangeError(
        `Cannot build layer ${i + 1} as its activation must be one of ${
          ACTIVATIONS.join(", ")
        }: got "${spec.activation}"`,
      );
    }
    if (
      spec.type === "dense" && !(Number.isInteger(spec.units) && spec.units > 0)
    ) {
      throw new RangeError(
        `Cannot build layer ${
          i + 1
        } as its units must be a positive integer: got ${spec.units}`,
      );
    }
  }
}

/** Checks that `cost` can train `architecture` (cross-entropy needs a softmax output). */
export function validateCost(architecture: Architecture, cost: Cost): void {
  const last = architecture.layers[architecture.layers.length - 1];
  const activation = "activation" in last ? last.activation : undefined;
  if (cost === "cross-entropy" && activation !== "softmax") {
    throw new RangeError(
      `Cannot train with cross-entropy as the output activation must be softmax: got ${activation}`,
    );
  }
}

/**
 * Creates a network with initial weights drawn from `random`.
 *
 * - "auto": He normal N(0, 2/fanIn) before ReLU, Glorot uniform
 *   U(±√(6/(fanIn+fanOut))) otherwise; biases 0.
 * - "notebook": every weight and bias uniform in [−0.5, 0.5), as the seed
 *   notebook's `np.random.rand(...) - 0.5`.
 *
 * @example
 * ```ts
 * import { createNetwork } from "./network.ts";
 * import { createRandom } from "./random.ts";
 * const net = createNetwork({
 *   input: [784],
 *   layers: [{ type: "dense", units: 10, activation: "softmax" }],
 * }, { random: createRandom(1) });
 * console.assert(net.parameterCount === 7850);
 * ```
 */
export function createNetwork(
  architecture: Architecture,
  { random, init = "auto" }: { random: Random; init?: InitScheme },
): Network {
  const network = new Network(architecture, random);
  for (const layer of network.layers) {
    for (const [k, p] of layer.params.entries()) {
      const isWeight = layer.decays[k];
      if (init === "notebook") {
        for (let i = 0; i < p.length; i++) p[i] = random() - 0.5;
      } else if (!isWeight) {
        p.fill(0);
      } else if (
        "activation" in layer.spec && layer.spec.activation === "relu"
      ) {
        const std = Math.sqrt(2 / layer.fanIn);
        for (let i = 0; i < p.length; i++) p[i] = std * randomNormal(random);
      } else {
        const limit = Math.sqrt(6 / (layer.fanIn + layer.fanOut));
        for (let i = 0; i < p.length; i++) p[i] = (2 * random() - 1) * limit;
      }
    }
  }
  return network;
}

/**
 * Rounds every parameter to the nearest float32, so that the network computes
 * exactly what a model file (which stores float32) will compute.
 */
export function roundParamsToFloat32(network: Network): void {
  for (const p of network.params) {
    for (let i = 0; i < p.length; i++) p[i] = Math.fround(p[i]);
  }
}
