/**
 * Costs: how wrong the output activations a are for the wanted digit y, and
 * the first step of backprop, dC/da. y is one-hot (the notebook's
 * `eins_aus_n`): y_j = 1 for the labelled digit, 0 elsewhere.
 *
 * Both costs are means over the n examples of a batch, so the 1/n enters here,
 * in dC/da, and every gradient below inherits it:
 *
 *   mse            C = (1/n) Σ_examples Σ_j (a_j − y_j)²     dC/da_j = (2/n)(a_j − y_j)
 *   cross-entropy  C = −(1/n) Σ_examples log a_label          (a = softmax(z))
 *                  dC/dz_j = (1/n)(a_j − y_j)
 *
 * For cross-entropy we return dC/dz rather than dC/da: the product
 * dC/da · da/dz of softmax and log collapses to a − y, which is exact and
 * cannot overflow when a_label is tiny.
 *
 * @module
 */

/** The costs a network can be trained with. */
export type Cost = "mse" | "cross-entropy";

/** All cost names, for flag validation and error messages. */
export const COSTS: readonly Cost[] = ["mse", "cross-entropy"];

/**
 * Computes the mean cost of a batch and writes its gradient into `out`:
 * dC/da for mse, dC/dz for cross-entropy (see `isPreActivation`).
 *
 * @param a output activations, [n × classes]
 * @param labels the wanted class of each example, [n]
 * @returns the mean cost over the n examples
 */
export function costGradient(
  out: Float64Array,
  cost: Cost,
  a: Float64Array,
  labels: Uint8Array,
  n: number,
  classes: number,
): number {
  let total = 0;
  const inv = 1 / n;
  for (let r = 0; r < n; r++) {
    const o = r * classes;
    const label = labels[r];
    if (cost === "mse") {
      for (let j = 0; j < classes; j++) {
        const diff = a[o + j] - (j === label ? 1 : 0);
        total += diff * diff;
        out[o + j] = 2 * inv * diff;
      }
    } else {
      // Clamp so that log(0) never makes the reported loss infinite.
      total -= Math.log(Math.max(a[o + label], 1e-300));
      for (let j = 0; j < classes; j++) {
        out[o + j] = inv * (a[o + j] - (j === label ? 1 : 0));
      }
    }
  }
  return total * inv;
}

/** True when {@link costGradient} returns dC/dz of the output layer rather than dC/da. */
export function isPreActivation(cost: Cost): boolean {
  return cost === "cross-entropy";
}
