/**
 * Activation functions a = σ(z) and their derivatives da/dz, applied row by
 * row to a batch stored as a flat row-major array `[n × size]`.
 *
 * Notation (as in the seed notebook and 3Blue1Brown): z is a layer's weighted
 * sum, a = σ(z) its activation. Backprop needs da/dz:
 *
 *   sigmoid  σ(z) = 1 / (1 + e^(−z))      σ'(z) = σ(z) · (1 − σ(z))
 *   relu     σ(z) = max(0, z)             σ'(z) = 1 if z > 0 else 0
 *   softmax  a_j = e^(z_j) / Σ_k e^(z_k)  da_j/dz_i = a_j (δ_ij − a_i)
 *
 * σ' is computed from a (sigmoid) or z (relu), both kept by the layer.
 *
 * @module
 */

/** The activations a layer may use. `softmax` is for the output layer. */
export type Activation = "sigmoid" | "relu" | "softmax" | "linear";

/** All activation names, for flag validation and error messages. */
export const ACTIVATIONS: readonly Activation[] = [
  "sigmoid",
  "relu",
  "softmax",
  "linear",
];

/** a = σ(z) for `count` values (elementwise activations) or `n` rows of `size` (softmax). */
export function activate(
  out: Float64Array,
  z: Float64Array,
  activation: Activation,
  n: number,
  size: number,
): void {
  const count = n * size;
  switch (activation) {
    case "sigmoid":
      for (let i = 0; i < count; i++) out[i] = 1 / (1 + Math.exp(-z[i]));
      return;
    case "relu":
      for (let i = 0; i < count; i++) out[i] = z[i] > 0 ? z[i] : 0;
      return;
    case "linear":
      for (let i = 0; i < count; i++) out[i] = z[i];
      return;
    case "softmax":
      for (let r = 0; r < n; r++) {
        const o = r * size;
        // Subtracting the row's max changes nothing mathematically
        // (e^(z−m)/Σe^(z−m) = e^z/Σe^z) and keeps e^z from overflowing.
        let max = -Infinity;
        for (let j = 0; j < size; j++) if (z[o + j] > max) max = z[o + j];
        let sum = 0;
        for (let j = 0; j < size; j++) {
          const e = Math.exp(z[o + j] - max);
          out[o + j] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let j = 0; j < size; j++) out[o + j] *= inv;
      }
      return;
  }
}

/**
 * The chain-rule step through the activation: dC/dz = dC/da · da/dz, written
 * into `dz`. For softmax, whose a_j depends on every z_i of its row, this is
 * the Jacobian-vector product dC/dz_i = a_i (dC/da_i − Σ_j dC/da_j a_j).
 */
export function activationBackward(
  dz: Float64Array,
  dA: Float64Array,
  z: Float64Array,
  a: Float64Array,
  activation: Activation,
  n: number,
  size: number,
): void {
  const count = n * size;
  switch (activation) {
    case "sigmoid":
      // da/dz = σ(z)(1 − σ(z)) = a(1 − a)
      for (let i = 0; i < count; i++) dz[i] = dA[i] * a[i] * (1 - a[i]);
      return;
    case "relu":
      for (let i = 0; i < count; i++) dz[i] = z[i] > 0 ? dA[i] : 0;
      return;
    case "linear":
      for (let i = 0; i < count; i++) dz[i] = dA[i];
      return;
    case "softmax":
      for (let r = 0; r < n; r++) {
        const o = r * size;
        let dot = 0;
        for (let j = 0; j < size; j++) dot += dA[o + j] * a[o + j];
        for (let j = 0; j < size; j++) dz[o + j] = a[o + j] * (dA[o + j] - dot);
      }
      return;
  }
}
