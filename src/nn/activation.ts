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
 * e^x is {@link exp}, a table-driven exponential within 2 ulp of `Math.exp`
 * and 2.3× faster in V8 (tests/bench/kernels_bench.ts): sigmoid is ~7% of an
 * epoch of the notebook's network otherwise. {@link activateReference} uses
 * `Math.exp` and is what tests compare against.
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

// e^x = 2^m · 2^(j/32) · e^r with k = round(32x / ln 2) = 32m + j and
// r = x − k · ln2/32, |r| ≤ ln2/64 ≈ 0.011, where a degree-6 Taylor
// polynomial is exact to ~1e-18. ln2/32 is split into a high part with
// trailing zero bits (so k · LN2_32_HI is exact) and the rest (fdlibm's split).
const LN2_32_HI = 6.93147180369123816490e-01 / 32;
const LN2_32_LO = 1.90821492927058770002e-10 / 32;
const INV_LN2_32 = 32 / Math.LN2;
/** 2^(j/32) for j = 0..31. */
const POW2_FRACTION = Float64Array.from(
  { length: 32 },
  (_, j) => 2 ** (j / 32),
);
/** 2^m for m = −1050..1049, at index m + 1050. */
const POW2_INTEGER = Float64Array.from(
  { length: 2100 },
  (_, i) => 2 ** (i - 1050),
);

/**
 * e^x, within 2 ulp of `Math.exp` for x in [−708, 709]; x is clamped to that
 * range, so it never returns 0 or Infinity (σ and softmax don't notice: the
 * results differ by less than 1e-307).
 *
 * @example
 * ```ts
 * import { exp } from "./activation.ts";
 * console.assert(Math.abs(exp(1) - Math.E) < 1e-15);
 * ```
 */
export function exp(x: number): number {
  if (x > 709) x = 709;
  else if (x < -708) x = -708;
  const k = Math.round(x * INV_LN2_32);
  const r = (x - k * LN2_32_HI) - k * LN2_32_LO;
  const p = 1 +
    r *
      (1 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r / 720)))));
  return POW2_INTEGER[(k >> 5) + 1050] * POW2_FRACTION[k & 31] * p;
}

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
      for (let i = 0; i < count; i++) out[i] = 1 / (1 + exp(-z[i]));
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
          const e = exp(z[o + j] - max);
          out[o + j] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let j = 0; j < size; j++) out[o + j] *= inv;
      }
      return;
  }
}

/** Reference for {@link activate}: the same formulas with `Math.exp`. */
export function activateReference(
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
