/**
 * The matrix kernels of a dense layer, on flat row-major Float64Arrays.
 *
 * Shapes (n = examples in the batch):
 *   x  [n × nIn]    the layer's input (the previous layer's activations)
 *   w  [nIn × nOut] weights; w[i, j] connects input i to output j
 *   b  [nOut]       biases
 *   z  [n × nOut]   weighted sums
 *   dz [n × nOut]   dC/dz, the layer's error ("delta")
 *
 * Note: the notebook stores w as [out × in] and computes z = w · a; we store
 * its transpose so that z = x · w walks both x and w row by row, which is what
 * makes the input-sparsity trick below possible.
 *
 *   forward         z  = x · w + b                    (z_j = Σ_i x_i w_ij + b_j)
 *   weight grads    dw += xᵀ · dz                     (dC/dw_ij = x_i · dC/dz_j)
 *   bias grads      db += Σ_rows dz                   (dC/db_j = dC/dz_j · 1)
 *   input grads     dx  = dz · wᵀ                     (dC/dx_i = Σ_j w_ij dC/dz_j)
 *
 * Gradients accumulate (`+=`); the caller zeroes them before a batch.
 *
 * Each kernel has a plain reference version (`…Reference`) that reads like the
 * formula; tests check that the fast one agrees with it. The fast versions
 * skip zero inputs: about 81% of MNIST pixels are 0 and a 0 contributes
 * nothing to x · w or xᵀ · dz.
 *
 * @module
 */

/** z = x · w + b, skipping zero entries of x. `out` is z, `[n × nOut]`. */
export function denseForward(
  out: Float64Array,
  x: Float64Array,
  w: Float64Array,
  b: Float64Array,
  n: number,
  nIn: number,
  nOut: number,
): void {
  for (let r = 0; r < n; r++) {
    const zo = r * nOut;
    const xo = r * nIn;
    for (let j = 0; j < nOut; j++) out[zo + j] = b[j];
    let i = 0;
    // Four inputs at a time: one load and store of z per four multiply-adds.
    while (i < nIn) {
      // Find up to four non-zero inputs.
      let i0 = -1, i1 = -1, i2 = -1, i3 = -1;
      for (; i < nIn; i++) {
        if (x[xo + i] !== 0) {
          if (i0 < 0) i0 = i;
          else if (i1 < 0) i1 = i;
          else if (i2 < 0) i2 = i;
          else {
            i3 = i;
            i++;
            break;
          }
        }
      }
      if (i3 >= 0) {
        const x0 = x[xo + i0],
          x1 = x[xo + i1],
          x2 = x[xo + i2],
          x3 = x[xo + i3];
        const w0 = i0 * nOut, w1 = i1 * nOut, w2 = i2 * nOut, w3 = i3 * nOut;
        for (let j = 0; j < nOut; j++) {
          out[zo + j] += x0 * w[w0 + j] + x1 * w[w1 + j] + x2 * w[w2 + j] +
            x3 * w[w3 + j];
        }
      } else {
        // Fewer than four left in this row.
        if (i0 >= 0) addScaledRow(out, zo, x[xo + i0], w, i0 * nOut, nOut);
        if (i1 >= 0) addScaledRow(out, zo, x[xo + i1], w, i1 * nOut, nOut);
        if (i2 >= 0) addScaledRow(out, zo, x[xo + i2], w, i2 * nOut, nOut);
      }
    }
  }
}

/** out[o .. o+len) += s · w[wo .. wo+len) */
function addScaledRow(
  out: Float64Array,
  o: number,
  s: number,
  w: Float64Array,
  wo: number,
  len: number,
): void {
  for (let j = 0; j < len; j++) out[o + j] += s * w[wo + j];
}

/** Reference for {@link denseForward}: z_j = Σ_i x_i w_ij + b_j, term by term. */
export function denseForwardReference(
  out: Float64Array,
  x: Float64Array,
  w: Float64Array,
  b: Float64Array,
  n: number,
  nIn: number,
  nOut: number,
): void {
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < nOut; j++) {
      let z = b[j];
      for (let i = 0; i < nIn; i++) z += x[r * nIn + i] * w[i * nOut + j];
      out[r * nOut + j] = z;
    }
  }
}

/** dw += xᵀ · dz and db += Σ_rows dz, skipping zero entries of x. */
export function denseBackwardParams(
  dw: Float64Array,
  db: Float64Array,
  x: Float64Array,
  dz: Float64Array,
  n: number,
  nIn: number,
  nOut: number,
): void {
  for (let r = 0; r < n; r++) {
    const d = r * nOut;
    for (let j = 0; j < nOut; j++) db[j] += dz[d + j];
    const xo = r * nIn;
    for (let i = 0; i < nIn; i++) {
      const xi = x[xo + i];
      if (xi === 0) continue;
      const wo = i * nOut;
      for (let j = 0; j < nOut; j++) dw[wo + j] += xi * dz[d + j];
    }
  }
}

/** Reference for {@link denseBackwardParams}: dC/dw_ij = Σ_rows x_i · dC/dz_j. */
export function denseBackwardParamsReference(
  dw: Float64Array,
  db: Float64Array,
  x: Float64Array,
  dz: Float64Array,
  n: number,
  nIn: number,
  nOut: number,
): void {
  for (let i = 0; i < nIn; i++) {
    for (let j = 0; j < nOut; j++) {
      let s = 0;
      for (let r = 0; r < n; r++) s += x[r * nIn + i] * dz[r * nOut + j];
      dw[i * nOut + j] += s;
    }
  }
  for (let j = 0; j < nOut; j++) {
    let s = 0;
    for (let r = 0; r < n; r++) s += dz[r * nOut + j];
    db[j] += s;
  }
}

/** dx = dz · wᵀ: each dx_i is the dot product of row i of w with the row of dz. */
export function denseBackwardInput(
  dx: Float64Array,
  dz: Float64Array,
  w: Float64Array,
  n: number,
  nIn: number,
  nOut: number,
): void {
  for (let r = 0; r < n; r++) {
    const d = r * nOut;
    const xo = r * nIn;
    for (let i = 0; i < nIn; i++) {
      const wo = i * nOut;
      let s = 0;
      for (let j = 0; j < nOut; j++) s += w[wo + j] * dz[d + j];
      dx[xo + i] = s;
    }
  }
}

/** Reference for {@link denseBackwardInput}: dC/dx_i = Σ_j w_ij · dC/dz_j. */
export function denseBackwardInputReference(
  dx: Float64Array,
  dz: Float64Array,
  w: Float64Array,
  n: number,
  nIn: number,
  nOut: number,
): void {
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < nIn; i++) {
      let s = 0;
      for (let j = 0; j < nOut; j++) s += w[i * nOut + j] * dz[r * nOut + j];
      dx[r * nIn + i] = s;
    }
  }
}
