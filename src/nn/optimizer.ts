/**
 * Optimizers: how a gradient g = dC/dθ changes a parameter θ. All of them
 * update in place, one step per batch.
 *
 *   gd, sgd    θ ← θ − η g                         (the notebook's update; gd
 *                                                  uses the whole training set
 *                                                  as one batch, sgd mini-batches)
 *   momentum   v ← μ v − η g,   θ ← θ + v          (Polyak heavy ball)
 *   adam       m ← β1 m + (1 − β1) g
 *              v ← β2 v + (1 − β2) g²
 *              θ ← θ − η m̂ / (√v̂ + ε),  m̂ = m/(1 − β1^t), v̂ = v/(1 − β2^t)
 *
 * L2 weight decay adds λ/2 · Σ w² to the cost, so g ← g + λ w for weights
 * (not biases) before the update.
 *
 * @module
 */

/** The optimizers, for flag validation and error messages. */
export const OPTIMIZERS = ["gd", "sgd", "momentum", "adam"] as const;
/** An optimizer name. */
export type OptimizerKind = typeof OPTIMIZERS[number];

/** Optimizer settings; see the module comment for the symbols. */
export interface OptimizerOptions {
  kind: OptimizerKind;
  /** μ for momentum. */
  momentum?: number;
  /** β1 for adam. */
  beta1?: number;
  /** β2 for adam. */
  beta2?: number;
  /** ε for adam. */
  epsilon?: number;
  /** λ of the L2 penalty; 0 = off. */
  weightDecay?: number;
}

/** An optimizer bound to a list of parameters and their gradients. */
export class Optimizer {
  readonly kind: OptimizerKind;
  readonly options: Required<OptimizerOptions>;
  #params: Float64Array[];
  #grads: Float64Array[];
  #decays: boolean[];
  /** momentum: v per param; adam: m then v per param. */
  readonly state: Float64Array[];
  /** Steps taken (adam's t). */
  steps = 0;

  /** `decays[k]` says whether weight decay applies to `params[k]`. */
  constructor(
    params: Float64Array[],
    grads: Float64Array[],
    decays: boolean[],
    options: OptimizerOptions,
  ) {
    if (!OPTIMIZERS.includes(options.kind)) {
      throw new RangeError(
        `Cannot create the optimizer as it must be one of ${
          OPTIMIZERS.join(", ")
        }: got "${options.kind}"`,
      );
    }
    this.kind = options.kind;
    this.options = {
      momentum: 0.9,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      weightDecay: 0,
      ...options,
    };
    this.#params = params;
    this.#grads = grads;
    this.#decays = decays;
    const slots = this.kind === "adam" ? 2 : this.kind === "momentum" ? 1 : 0;
    this.state = [];
    for (let s = 0; s < slots; s++) {
      for (const p of params) this.state.push(new Float64Array(p.length));
    }
  }

  /** Applies one update with learning rate η = `learningRate`. */
  step(learningRate: number): void {
    this.steps++;
    const { momentum, beta1, beta2, epsilon, weightDecay } = this.options;
    const count = this.#params.length;
    // Adam's bias corrections, folded into the step size.
    const c1 = 1 - Math.pow(beta1, this.steps);
    const c2 = 1 - Math.pow(beta2, this.steps);
    for (let k = 0; k < count; k++) {
      const p = this.#params[k];
      const g = this.#grads[k];
      const lambda = this.#decays[k] ? weightDecay : 0;
      const len = p.length;
      if (this.kind === "gd" || this.kind === "sgd") {
        for (let i = 0; i < len; i++) {
          p[i] -= learningRate * (g[i] + lambda * p[i]);
        }
      } else if (this.kind === "momentum") {
        const v = this.state[k];
        for (let i = 0; i < len; i++) {
          v[i] = momentum * v[i] - learningRate * (g[i] + lambda * p[i]);
          p[i] += v[i];
        }
      } else {
        const m = this.state[k];
        const v = this.state[count + k];
        for (let i = 0; i < len; i++) {
          const gi = g[i] + lambda * p[i];
          m[i] = beta1 * m[i] + (1 - beta1) * gi;
          v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
          p[i] -= learningRate * (m[i] / c1) / (Math.sqrt(v[i] / c2) + epsilon);
        }
      }
    }
  }
}
