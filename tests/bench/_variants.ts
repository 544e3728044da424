/**
 * Kernel variants that lost to the ones in src/nn/kernels.ts, kept so that
 * tests/bench/kernels_bench.ts can show by how much (each is measured next to the
 * winner on the same data).
 *
 * @module
 */

import type { SparseInput } from "../../src/nn/kernels.ts";

/** denseForwardSparse with offset arithmetic into w instead of per-row views. */
export function denseForwardSparseOffsets(
  out: Float64Array,
  x: SparseInput,
  w: Float64Array,
  b: Float64Array,
  nOut: number,
): void {
  const { n, rowStart, rowIndex: index, rowValue: value } = x;
  for (let r = 0; r < n; r++) {
    const zo = r * nOut;
    for (let j = 0; j < nOut; j++) out[zo + j] = b[j];
    const end = rowStart[r + 1];
    let k = rowStart[r];
    for (; k + 4 <= end; k += 4) {
      const v0 = value[k],
        v1 = value[k + 1],
        v2 = value[k + 2],
        v3 = value[k + 3];
      const o0 = index[k] * nOut, o1 = index[k + 1] * nOut;
      const o2 = index[k + 2] * nOut, o3 = index[k + 3] * nOut;
      for (let j = 0; j < nOut; j++) {
        out[zo + j] += v0 * w[o0 + j] + v1 * w[o1 + j] + v2 * w[o2 + j] +
          v3 * w[o3 + j];
      }
    }
    for (; k < end; k++) {
      const v = value[k], o = index[k] * nOut;
      for (let j = 0; j < nOut; j++) out[zo + j] += v * w[o + j];
    }
  }
}

/** denseForwardSparse reading Float32 weights (through Float32Array row views). */
export function denseForwardSparseFloat32(
  out: Float64Array,
  x: SparseInput,
  wRows: Float32Array[],
  b: Float64Array,
  nOut: number,
): void {
  const { n, rowStart, rowIndex: index, rowValue: value } = x;
  for (let r = 0; r < n; r++) {
    const zo = r * nOut;
    for (let j = 0; j < nOut; j++) out[zo + j] = b[j];
    const end = rowStart[r + 1];
    let k = rowStart[r];
    for (; k + 4 <= end; k += 4) {
      const v0 = value[k],
        v1 = value[k + 1],
        v2 = value[k + 2],
        v3 = value[k + 3];
      const w0 = wRows[index[k]], w1 = wRows[index[k + 1]];
      const w2 = wRows[index[k + 2]], w3 = wRows[index[k + 3]];
      for (let j = 0; j < nOut; j++) {
        out[zo + j] += v0 * w0[j] + v1 * w1[j] + v2 * w2[j] + v3 * w3[j];
      }
    }
    for (; k < end; k++) {
      const v = value[k], wi = wRows[index[k]];
      for (let j = 0; j < nOut; j++) out[zo + j] += v * wi[j];
    }
  }
}

/** dw += xᵀ·dz driven by rows (CSR) — one scaled dz row into one dw row at a time. */
export function denseBackwardParamsByRow(
  dwRows: Float64Array[],
  dzRows: Float64Array[],
  x: SparseInput,
  nOut: number,
): void {
  const { n, rowStart, rowIndex: index, rowValue: value } = x;
  for (let r = 0; r < n; r++) {
    const d = dzRows[r];
    for (let k = rowStart[r]; k < rowStart[r + 1]; k++) {
      const v = value[k], g = dwRows[index[k]];
      for (let j = 0; j < nOut; j++) g[j] += v * d[j];
    }
  }
}
