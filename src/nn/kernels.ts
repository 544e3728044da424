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
 * Every kernel has a plain reference version (`…Reference`) that reads like
 * the formula; tests check that the fast ones agree with it. The fast ones
 * come in two kinds, chosen by how many inputs are zero; each choice below
 * was measured against the alternatives in tests/bench/kernels_bench.ts and
 * tests/bench/ablation.ts (numbers in the README):
 *
 * - Sparse (`…Sparse`): about 81% of MNIST pixels are 0, and a 0 adds nothing
 *   to x · w or xᵀ · dz. {@link indexNonZeros} lists each row's non-zero
 *   inputs once (CSR) and, for the weight gradients, each input's non-zero
 *   rows (CSC); the kernels then only touch the weights of inputs that are
 *   "on". The inner loops add several scaled rows at once
 *   (z_r += v₀ w_i₀ + v₁ w_i₁ + …) through per-row views of w, which V8
 *   compiles to fewer instructions per multiply-add than offset arithmetic.
 * - Tiled (`…Tiled`): for dense inputs (sigmoid activations are never 0), a
 *   4 × 4 block of outputs is kept in local variables while the shared
 *   dimension is walked, so each loaded number feeds four multiply-adds
 *   instead of one ("register tiling"). Scalar JS cannot use SIMD, so this is
 *   where the speed comes from.
 *
 * The bias is fused into the forward kernels (accumulators start at b_j).
 * Everything stays Float64: loading a Float32Array costs a conversion per
 * element, which measured slower than the extra memory traffic.
 *
 * The kernels allocate nothing except row views of a matrix the first time
 * they see it (cached per array) and the sparse index while it grows, so the
 * training loop runs allocation-free (checked by tests/bench/allocation.ts).
 *
 * @module
 */

/**
 * The non-zero entries of an [n × nIn] input, by row (CSR) and by column
 * (CSC). Filled by {@link indexNonZeros} (rows) and {@link indexColumns}
 * (columns); the arrays grow on demand and are reused.
 */
export interface SparseInput {
  /** Rows indexed. */
  n: number;
  /** Inputs per row. */
  nIn: number;
  /** Non-zeros of row r: entries rowStart[r] .. rowStart[r + 1] − 1. */
  rowStart: Int32Array;
  /** The input index i of each non-zero, row by row. */
  rowIndex: Int32Array;
  /** The value x[r, i] of each non-zero, row by row. */
  rowValue: Float64Array;
  /** Non-zeros of input i: entries colStart[i] .. colStart[i + 1] − 1. */
  colStart: Int32Array;
  /** The row r of each non-zero, input by input. */
  colRow: Int32Array;
  /** The value x[r, i] of each non-zero, input by input. */
  colValue: Float64Array;
}

/**
 * Above this fraction of non-zero inputs the tiled kernels are used. Measured
 * crossover (tests/bench/kernels_bench.ts, 32 × 256 inputs): ~50% non-zero for 10
 * outputs, ~70% for 64; 0.5 is safe for both, and ReLU layers (about half
 * zeros) land on either side at little cost.
 */
export const SPARSE_MAX_DENSITY = 0.5;

/** An empty {@link SparseInput}, to be filled by {@link indexNonZeros}. */
export function createSparseInput(): SparseInput {
  return {
    n: 0,
    nIn: 0,
    rowStart: new Int32Array(1),
    rowIndex: new Int32Array(0),
    rowValue: new Float64Array(0),
    colStart: new Int32Array(1),
    colRow: new Int32Array(0),
    colValue: new Float64Array(0),
  };
}

/**
 * Lists the non-zero entries of each row of x into `out` (CSR) and returns
 * true, or returns false as soon as more than `maxDensity` of all entries
 * turn out to be non-zero (then the tiled kernels are faster and `out` is
 * left incomplete).
 */
export function indexNonZeros(
  out: SparseInput,
  x: Float64Array,
  n: number,
  nIn: number,
  maxDensity: number = SPARSE_MAX_DENSITY,
): boolean {
  const limit = Math.floor(n * nIn * maxDensity);
  if (out.rowStart.length < n + 1) out.rowStart = new Int32Array(n + 1);
  let { rowIndex, rowValue } = out;
  const rowStart = out.rowStart;
  let k = 0;
  let capacity = Math.min(rowIndex.length, limit);
  for (let r = 0; r < n; r++) {
    rowStart[r] = k;
    const xo = r * nIn;
    for (let i = 0; i < nIn; i++) {
      const v = x[xo + i];
      if (v !== 0) {
        if (k === capacity) {
          if (k >= limit) return false;
          // Grow ×2 up to the limit: only the first batches of a size get here.
          capacity = Math.min(limit, Math.max(1024, 2 * k));
          rowIndex = out.rowIndex = grow(rowIndex, new Int32Array(capacity), k);
          rowValue = out.rowValue = grow(
            rowValue,
            new Float64Array(capacity),
            k,
          );
        }
        rowIndex[k] = i;
        rowValue[k] = v;
        k++;
      }
    }
  }
  rowStart[n] = k;
  out.n = n;
  out.nIn = nIn;
  return true;
}

/** Copies the first `count` values of `from` into the larger `to` and returns it. */
function grow<T extends Int32Array | Float64Array>(
  from: T,
  to: T,
  count: number,
): T {
  to.set(from.subarray(0, count));
  return to;
}

/**
 * Fills the by-input (CSC) lists of `sparse` from its by-row lists: a
 * counting sort of the non-zeros by input index, so each input's rows come
 * out in increasing order.
 */
export function indexColumns(sparse: SparseInput): void {
  const { n, nIn, rowStart, rowIndex, rowValue } = sparse;
  const nnz = rowStart[n];
  if (sparse.colStart.length < nIn + 1) {
    sparse.colStart = new Int32Array(nIn + 1);
  }
  if (sparse.colRow.length < nnz) {
    sparse.colRow = new Int32Array(rowIndex.length);
    sparse.colValue = new Float64Array(rowIndex.length);
  }
  const { colStart, colRow, colValue } = sparse;
  colStart.fill(0, 0, nIn + 1);
  for (let k = 0; k < nnz; k++) colStart[rowIndex[k] + 1]++;
  for (let i = 0; i < nIn; i++) colStart[i + 1] += colStart[i];
  // colStart[i] serves as the write cursor of input i, then is shifted back.
  for (let r = 0; r < n; r++) {
    for (let k = rowStart[r]; k < rowStart[r + 1]; k++) {
      const p = colStart[rowIndex[k]]++;
      colRow[p] = r;
      colValue[p] = rowValue[k];
    }
  }
  for (let i = nIn; i > 0; i--) colStart[i] = colStart[i - 1];
  colStart[0] = 0;
}

const rowViewCache = new WeakMap<Float64Array, Float64Array[]>();

/**
 * Views of the consecutive `rowLength`-long rows of `m` (as many as fit),
 * built once per array and length and then reused.
 */
export function rowViews(m: Float64Array, rowLength: number): Float64Array[] {
  const rows = Math.floor(m.length / rowLength);
  let views = rowViewCache.get(m);
  if (
    !views || views.length !== rows ||
    (rows > 0 && views[0].length !== rowLength)
  ) {
    views = new Array<Float64Array>(rows);
    for (let r = 0; r < rows; r++) {
      views[r] = m.subarray(r * rowLength, (r + 1) * rowLength);
    }
    rowViewCache.set(m, views);
  }
  return views;
}

// ---------------------------------------------------------------------------
// Forward: z = x · w + b

/**
 * z = x · w + b, `out` is z `[n × nOut]`. Picks the sparse kernel when at
 * most {@link SPARSE_MAX_DENSITY} of x is non-zero, else the tiled one.
 */
export function denseForward(
  out: Float64Array,
  x: Float64Array,
  w: Float64Array,
  b: Float64Array,
  n: number,
  nIn: number,
  nOut: number,
): void {
  if (indexNonZeros(scratch, x, n, nIn)) {
    denseForwardSparse(out, scratch, w, b, nOut);
  } else {
    denseForwardTiled(out, x, w, b, n, nIn, nOut);
  }
}

const scratch = createSparseInput();

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

/**
 * z = x · w + b from the non-zeros of x (rows of `x` as indexed by
 * {@link indexNonZeros}): each row of z starts as b and gets v · w_i added
 * for each non-zero v = x[r, i], four rows of w at a time.
 */
export function denseForwardSparse(
  out: Float64Array,
  x: SparseInput,
  w: Float64Array,
  b: Float64Array,
  nOut: number,
): void {
  const { n, rowStart, rowIndex: index, rowValue: value } = x;
  const wRows = rowViews(w, nOut);
  const zRows = rowViews(out, nOut);
  for (let r = 0; r < n; r++) {
    const z = zRows[r];
    for (let j = 0; j < nOut; j++) z[j] = b[j];
    const end = rowStart[r + 1];
    let k = rowStart[r];
    for (; k + 4 <= end; k += 4) {
      const v0 = value[k], v1 = value[k + 1];
      const v2 = value[k + 2], v3 = value[k + 3];
      const w0 = wRows[index[k]], w1 = wRows[index[k + 1]];
      const w2 = wRows[index[k + 2]], w3 = wRows[index[k + 3]];
      for (let j = 0; j < nOut; j++) {
        z[j] += v0 * w0[j] + v1 * w1[j] + v2 * w2[j] + v3 * w3[j];
      }
    }
    for (; k < end; k++) {
      const v = value[k], wi = wRows[index[k]];
      for (let j = 0; j < nOut; j++) z[j] += v * wi[j];
    }
  }
}

/**
 * z = x · w + b with 4 × 4 register tiles: rows r..r+3 × outputs j..j+3 are
 * summed in sixteen locals while i walks the inputs, so each loaded x and w
 * is used four times.
 */
export function denseForwardTiled(
  out: Float64Array,
  x: Float64Array,
  w: Float64Array,
  b: Float64Array,
  n: number,
  nIn: number,
  nOut: number,
): void {
  const nOut4 = nOut - (nOut & 3);
  let r = 0;
  for (; r + 4 <= n; r += 4) {
    const x0 = r * nIn, x1 = x0 + nIn, x2 = x1 + nIn, x3 = x2 + nIn;
    for (let j = 0; j < nOut4; j += 4) {
      let a0 = b[j], a1 = b[j + 1], a2 = b[j + 2], a3 = b[j + 3];
      let c0 = a0, c1 = a1, c2 = a2, c3 = a3;
      let d0 = a0, d1 = a1, d2 = a2, d3 = a3;
      let e0 = a0, e1 = a1, e2 = a2, e3 = a3;
      for (let i = 0, o = j; i < nIn; i++, o += nOut) {
        const w0 = w[o], w1 = w[o + 1], w2 = w[o + 2], w3 = w[o + 3];
        let u = x[x0 + i];
        a0 += u * w0, a1 += u * w1, a2 += u * w2, a3 += u * w3;
        u = x[x1 + i];
        c0 += u * w0, c1 += u * w1, c2 += u * w2, c3 += u * w3;
        u = x[x2 + i];
        d0 += u * w0, d1 += u * w1, d2 += u * w2, d3 += u * w3;
        u = x[x3 + i];
        e0 += u * w0, e1 += u * w1, e2 += u * w2, e3 += u * w3;
      }
      let o = r * nOut + j;
      out[o] = a0, out[o + 1] = a1, out[o + 2] = a2, out[o + 3] = a3;
      o += nOut;
      out[o] = c0, out[o + 1] = c1, out[o + 2] = c2, out[o + 3] = c3;
      o += nOut;
      out[o] = d0, out[o + 1] = d1, out[o + 2] = d2, out[o + 3] = d3;
      o += nOut;
      out[o] = e0, out[o + 1] = e1, out[o + 2] = e2, out[o + 3] = e3;
    }
    // Leftover outputs (nOut not a multiple of 4): 4 × 1 tiles.
    for (let j = nOut4; j < nOut; j++) {
      let a = b[j], c = a, d = a, e = a;
      for (let i = 0, o = j; i < nIn; i++, o += nOut) {
        const v = w[o];
        a += x[x0 + i] * v, c += x[x1 + i] * v;
        d += x[x2 + i] * v, e += x[x3 + i] * v;
      }
      const o = r * nOut + j;
      out[o] = a, out[o + nOut] = c;
      out[o + 2 * nOut] = d, out[o + 3 * nOut] = e;
    }
  }
  // Leftover rows (and all of a batch of 1): 1 × 4 tiles.
  for (; r < n; r++) {
    const xo = r * nIn;
    for (let j = 0; j < nOut4; j += 4) {
      let a0 = b[j], a1 = b[j + 1], a2 = b[j + 2], a3 = b[j + 3];
      for (let i = 0, o = j; i < nIn; i++, o += nOut) {
        const u = x[xo + i];
        a0 += u * w[o], a1 += u * w[o + 1];
        a2 += u * w[o + 2], a3 += u * w[o + 3];
      }
      const o = r * nOut + j;
      out[o] = a0, out[o + 1] = a1, out[o + 2] = a2, out[o + 3] = a3;
    }
    for (let j = nOut4; j < nOut; j++) {
      forwardOne(out, x, w, b, r, j, nIn, nOut);
    }
  }
}

/** z[r, j] alone, for the edges of the tiled kernel. */
function forwardOne(
  out: Float64Array,
  x: Float64Array,
  w: Float64Array,
  b: Float64Array,
  r: number,
  j: number,
  nIn: number,
  nOut: number,
): void {
  let z = b[j];
  for (let i = 0, o = j; i < nIn; i++, o += nOut) z += x[r * nIn + i] * w[o];
  out[r * nOut + j] = z;
}

// ---------------------------------------------------------------------------
// Parameter gradients: dw += xᵀ · dz, db += Σ_rows dz

/**
 * dw += xᵀ · dz and db += Σ_rows dz. Picks the sparse kernel when at most
 * {@link SPARSE_MAX_DENSITY} of x is non-zero, else the tiled one.
 */
export function denseBackwardParams(
  dw: Float64Array,
  db: Float64Array,
  x: Float64Array,
  dz: Float64Array,
  n: number,
  nIn: number,
  nOut: number,
): void {
  if (indexNonZeros(scratch, x, n, nIn)) {
    indexColumns(scratch);
    denseBackwardParamsSparse(dw, db, scratch, dz, nOut);
  } else {
    denseBackwardParamsTiled(dw, db, x, dz, n, nIn, nOut);
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
  biasGrads(db, dz, n, nOut);
}

/** db_j += Σ_rows dz[r, j] (the same in every variant). */
function biasGrads(
  db: Float64Array,
  dz: Float64Array,
  n: number,
  nOut: number,
): void {
  for (let j = 0; j < nOut; j++) {
    let s = 0;
    for (let r = 0, o = j; r < n; r++, o += nOut) s += dz[o];
    db[j] += s;
  }
}

/**
 * dw += xᵀ · dz from the non-zeros of x by input (`x` indexed by
 * {@link indexNonZeros} and {@link indexColumns}): row i of dw gets
 * v · dz_r added for each row r where v = x[r, i] ≠ 0, four at a time.
 * Inputs that are 0 in the whole batch cost nothing.
 */
export function denseBackwardParamsSparse(
  dw: Float64Array,
  db: Float64Array,
  x: SparseInput,
  dz: Float64Array,
  nOut: number,
): void {
  const { n, nIn, colStart, colRow: row, colValue: value } = x;
  const dwRows = rowViews(dw, nOut);
  const dzRows = rowViews(dz, nOut);
  for (let i = 0; i < nIn; i++) {
    const g = dwRows[i];
    const end = colStart[i + 1];
    let k = colStart[i];
    for (; k + 4 <= end; k += 4) {
      const v0 = value[k], v1 = value[k + 1];
      const v2 = value[k + 2], v3 = value[k + 3];
      const d0 = dzRows[row[k]], d1 = dzRows[row[k + 1]];
      const d2 = dzRows[row[k + 2]], d3 = dzRows[row[k + 3]];
      for (let j = 0; j < nOut; j++) {
        g[j] += v0 * d0[j] + v1 * d1[j] + v2 * d2[j] + v3 * d3[j];
      }
    }
    for (; k < end; k++) {
      const v = value[k], d = dzRows[row[k]];
      for (let j = 0; j < nOut; j++) g[j] += v * d[j];
    }
  }
  biasGrads(db, dz, n, nOut);
}

/**
 * dw += xᵀ · dz with 4 × 4 register tiles: inputs i..i+3 × outputs j..j+3
 * are summed over the rows in sixteen locals, then added to dw once.
 */
export function denseBackwardParamsTiled(
  dw: Float64Array,
  db: Float64Array,
  x: Float64Array,
  dz: Float64Array,
  n: number,
  nIn: number,
  nOut: number,
): void {
  const nOut4 = nOut - (nOut & 3);
  let i = 0;
  for (; i + 4 <= nIn; i += 4) {
    for (let j = 0; j < nOut4; j += 4) {
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, c0 = 0, c1 = 0, c2 = 0, c3 = 0;
      let d0 = 0, d1 = 0, d2 = 0, d3 = 0, e0 = 0, e1 = 0, e2 = 0, e3 = 0;
      for (let r = 0, xo = i, o = j; r < n; r++, xo += nIn, o += nOut) {
        const g0 = dz[o], g1 = dz[o + 1], g2 = dz[o + 2], g3 = dz[o + 3];
        let u = x[xo];
        a0 += u * g0, a1 += u * g1, a2 += u * g2, a3 += u * g3;
        u = x[xo + 1];
        c0 += u * g0, c1 += u * g1, c2 += u * g2, c3 += u * g3;
        u = x[xo + 2];
        d0 += u * g0, d1 += u * g1, d2 += u * g2, d3 += u * g3;
        u = x[xo + 3];
        e0 += u * g0, e1 += u * g1, e2 += u * g2, e3 += u * g3;
      }
      let o = i * nOut + j;
      dw[o] += a0, dw[o + 1] += a1, dw[o + 2] += a2, dw[o + 3] += a3;
      o += nOut;
      dw[o] += c0, dw[o + 1] += c1, dw[o + 2] += c2, dw[o + 3] += c3;
      o += nOut;
      dw[o] += d0, dw[o + 1] += d1, dw[o + 2] += d2, dw[o + 3] += d3;
      o += nOut;
      dw[o] += e0, dw[o + 1] += e1, dw[o + 2] += e2, dw[o + 3] += e3;
    }
    // Leftover outputs: 4 × 1 tiles.
    for (let j = nOut4; j < nOut; j++) {
      let a = 0, c = 0, d = 0, e = 0;
      for (let r = 0, xo = i, o = j; r < n; r++, xo += nIn, o += nOut) {
        const g = dz[o];
        a += x[xo] * g, c += x[xo + 1] * g;
        d += x[xo + 2] * g, e += x[xo + 3] * g;
      }
      const o = i * nOut + j;
      dw[o] += a, dw[o + nOut] += c;
      dw[o + 2 * nOut] += d, dw[o + 3 * nOut] += e;
    }
  }
  for (; i < nIn; i++) {
    for (let j = 0; j < nOut; j++) weightGradOne(dw, x, dz, i, j, n, nIn, nOut);
  }
  biasGrads(db, dz, n, nOut);
}

/** dw[i, j] alone, for the edges of the tiled kernel. */
function weightGradOne(
  dw: Float64Array,
  x: Float64Array,
  dz: Float64Array,
  i: number,
  j: number,
  n: number,
  nIn: number,
  nOut: number,
): void {
  let s = 0;
  for (let r = 0; r < n; r++) s += x[r * nIn + i] * dz[r * nOut + j];
  dw[i * nOut + j] += s;
}

// ---------------------------------------------------------------------------
// Input gradients: dx = dz · wᵀ

/** dx = dz · wᵀ: each dx_i is the dot product of row i of w with the row of dz. */
export function denseBackwardInput(
  dx: Float64Array,
  dz: Float64Array,
  w: Float64Array,
  n: number,
  nIn: number,
  nOut: number,
): void {
  denseBackwardInputTiled(dx, dz, w, n, nIn, nOut);
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

/**
 * dx = dz · wᵀ with 2 × 4 register tiles: rows r, r+1 × inputs i..i+3 are
 * eight dot products over j computed together, so each loaded dz is used four
 * times and each loaded w twice.
 */
export function denseBackwardInputTiled(
  dx: Float64Array,
  dz: Float64Array,
  w: Float64Array,
  n: number,
  nIn: number,
  nOut: number,
): void {
  const nIn4 = nIn - (nIn & 3);
  let r = 0;
  for (; r + 2 <= n; r += 2) {
    const g0 = r * nOut, g1 = g0 + nOut;
    for (let i = 0; i < nIn4; i += 4) {
      const p0 = i * nOut, p1 = p0 + nOut, p2 = p1 + nOut, p3 = p2 + nOut;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, c0 = 0, c1 = 0, c2 = 0, c3 = 0;
      for (let j = 0; j < nOut; j++) {
        const g = dz[g0 + j], h = dz[g1 + j];
        let v = w[p0 + j];
        a0 += g * v, c0 += h * v;
        v = w[p1 + j];
        a1 += g * v, c1 += h * v;
        v = w[p2 + j];
        a2 += g * v, c2 += h * v;
        v = w[p3 + j];
        a3 += g * v, c3 += h * v;
      }
      const o = r * nIn + i, q = o + nIn;
      dx[o] = a0, dx[o + 1] = a1, dx[o + 2] = a2, dx[o + 3] = a3;
      dx[q] = c0, dx[q + 1] = c1, dx[q + 2] = c2, dx[q + 3] = c3;
    }
    // Leftover inputs: 2 × 1 tiles.
    for (let i = nIn4; i < nIn; i++) {
      let a = 0, c = 0;
      for (let j = 0, p = i * nOut; j < nOut; j++) {
        const v = w[p + j];
        a += dz[g0 + j] * v, c += dz[g1 + j] * v;
      }
      dx[r * nIn + i] = a, dx[(r + 1) * nIn + i] = c;
    }
  }
  for (; r < n; r++) {
    for (let i = 0; i < nIn; i++) inputGradOne(dx, dz, w, r, i, nIn, nOut);
  }
}

/** dx[r, i] alone, for the edges of the tiled kernel. */
function inputGradOne(
  dx: Float64Array,
  dz: Float64Array,
  w: Float64Array,
  r: number,
  i: number,
  nIn: number,
  nOut: number,
): void {
  let s = 0;
  for (let j = 0, p = i * nOut, g = r * nOut; j < nOut; j++) {
    s += w[p + j] * dz[g + j];
  }
  dx[r * nIn + i] = s;
}
