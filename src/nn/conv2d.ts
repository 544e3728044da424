/**
 * The 2-D convolution layer, forward and backward side by side.
 *
 * Notation (one example; a batch repeats it n times, batch-major):
 *   x  [C × H × W]        the input: C channels (1 for a grey image)
 *   w  [F × C × k × k]    F filters of k × k weights per input channel
 *   b  [F]                one bias per filter
 *   z  [F × Ho × Wo]      weighted sums,  a = σ(z) the output
 *   p  = (oy, ox)         an output position; `pad` zeros surround x
 *
 * Forward, for every filter f and output position (oy, ox):
 *
 *   z[f, oy, ox] = b[f] + Σ_c Σ_ki Σ_kj w[f, c, ki, kj] · x[c, oy + ki − pad, ox + kj − pad]
 *
 * Backward, the same chain rule as the dense layer (dense.ts), with every
 * weight shared by all Ho × Wo positions, so its gradient sums over them:
 *
 *   dC/dz = dC/da · da/dz
 *   dC/dw[f, c, ki, kj] = Σ_(oy,ox) dC/dz[f, oy, ox] · x[c, oy + ki − pad, ox + kj − pad]
 *   dC/db[f]            = Σ_(oy,ox) dC/dz[f, oy, ox]
 *   dC/dx[c, iy, ix]    = Σ over every (f, ki, kj, oy, ox) that read x[c, iy, ix]
 *                         of w[f, c, ki, kj] · dC/dz[f, oy, ox]
 *
 * The 1/n of the mean cost is already in dC/da (see cost.ts).
 *
 * The fast path is "im2col": copy each k × k patch of x into a column of a
 * matrix col [K × P] (K = C·k·k patch values, P = Ho·Wo positions), after
 * which every sum above is a plain matrix product:
 *
 *   forward       z    = w · col + b          [F × K]·[K × P]
 *   weight grads  dw  += dz · colᵀ            [F × P]·[P × K]
 *   input grads   dcol = wᵀ · dz, then col2im adds each dcol entry back to
 *                 the x pixel it was copied from
 *
 * `conv2dForwardReference` and `conv2dBackwardReference` compute the same
 * sums straight from the formulas above; tests check the two paths agree.
 *
 * @module
 */

import { activate, type Activation, activationBackward } from "./activation.ts";
import { ensureCapacity, type Layer, type LayerSpec } from "./layer.ts";

/** The sizes a convolution kernel needs; see the module comment for the symbols. */
export interface ConvGeometry {
  /** C, input channels. */
  channels: number;
  /** H, input height. */
  height: number;
  /** W, input width. */
  width: number;
  /** F, filters (output channels). */
  filters: number;
  /** k, the side of the square kernel. */
  kernelSize: number;
  /** Zero rows above (and zero columns left of) the input. */
  pad: number;
  /** Ho, output height. */
  outHeight: number;
  /** Wo, output width. */
  outWidth: number;
}

/**
 * The geometry of a convolution of a [C, H, W] input. "same" pads with
 * ⌊(k − 1)/2⌋ zeros before and the rest after so that Ho = H, Wo = W;
 * "valid" does not pad, so Ho = H − k + 1.
 */
export function convGeometry(
  inputShape: readonly number[],
  { filters, kernelSize, padding }: {
    filters: number;
    kernelSize: number;
    padding: "same" | "valid";
  },
): ConvGeometry {
  if (
    inputShape.length !== 3 ||
    !inputShape.every((d) => Number.isInteger(d) && d > 0)
  ) {
    throw new TypeError(
      `Cannot build a conv2d layer as its input must have shape [channels, height, width]: got ${
        JSON.stringify(inputShape)
      }`,
    );
  }
  if (!(Number.isInteger(filters) && filters > 0)) {
    throw new RangeError(
      `Cannot build a conv2d layer as filters must be a positive integer: got ${filters}`,
    );
  }
  if (!(Number.isInteger(kernelSize) && kernelSize > 0)) {
    throw new RangeError(
      `Cannot build a conv2d layer as kernelSize must be a positive integer: got ${kernelSize}`,
    );
  }
  if (padding !== "same" && padding !== "valid") {
    throw new RangeError(
      `Cannot build a conv2d layer as padding must be "same" or "valid": got "${padding}"`,
    );
  }
  const [channels, height, width] = inputShape;
  if (padding === "valid" && (kernelSize > height || kernelSize > width)) {
    throw new RangeError(
      `Cannot build a conv2d layer with "valid" padding as its ${kernelSize}×${kernelSize} kernel is larger than the ${height}×${width} input`,
    );
  }
  const same = padding === "same";
  return {
    channels,
    height,
    width,
    filters,
    kernelSize,
    pad: same ? Math.floor((kernelSize - 1) / 2) : 0,
    outHeight: same ? height : height - kernelSize + 1,
    outWidth: same ? width : width - kernelSize + 1,
  };
}

/**
 * Copies the k × k patches of one example into `col` [K × P]: row
 * (c·k + ki)·k + kj, column oy·Wo + ox holds x[c, oy + ki − pad, ox + kj − pad]
 * (0 outside the image). Reads x from `xOffset`, writes col from `colOffset`.
 */
export function im2col(
  col: Float64Array,
  colOffset: number,
  x: Float64Array,
  xOffset: number,
  g: ConvGeometry,
): void {
  const { channels, height, width, kernelSize: k, pad } = g;
  const { outHeight, outWidth } = g;
  const P = outHeight * outWidth;
  let row = colOffset;
  for (let c = 0; c < channels; c++) {
    const xc = xOffset + c * height * width;
    for (let ki = 0; ki < k; ki++) {
      for (let kj = 0; kj < k; kj++) {
        // Output columns whose input column ox + kj − pad lies inside the image.
        const oxFrom = Math.max(0, pad - kj);
        const oxTo = Math.min(outWidth, width + pad - kj);
        for (let oy = 0; oy < outHeight; oy++) {
          const iy = oy + ki - pad;
          const o = row + oy * outWidth;
          if (iy < 0 || iy >= height) {
            for (let ox = 0; ox < outWidth; ox++) col[o + ox] = 0;
            continue;
          }
          const xr = xc + iy * width + kj - pad;
          for (let ox = 0; ox < oxFrom; ox++) col[o + ox] = 0;
          for (let ox = oxFrom; ox < oxTo; ox++) col[o + ox] = x[xr + ox];
          for (let ox = Math.max(oxFrom, oxTo); ox < outWidth; ox++) {
            col[o + ox] = 0;
          }
        }
        row += P;
      }
    }
  }
}

/**
 * The inverse bookkeeping of {@link im2col}: adds every entry of `dcol`
 * [K × P] to the input pixel it was copied from, giving dC/dx of one example.
 * Entries that came from padding are dropped. `dx` is overwritten.
 */
export function col2im(
  dx: Float64Array,
  dxOffset: number,
  dcol: Float64Array,
  dcolOffset: number,
  g: ConvGeometry,
): void {
  const { channels, height, width, kernelSize: k, pad } = g;
  const { outHeight, outWidth } = g;
  const P = outHeight * outWidth;
  dx.fill(0, dxOffset, dxOffset + channels * height * width);
  let row = dcolOffset;
  for (let c = 0; c < channels; c++) {
    const xc = dxOffset + c * height * width;
    for (let ki = 0; ki < k; ki++) {
      for (let kj = 0; kj < k; kj++) {
        const oxFrom = Math.max(0, pad - kj);
        const oxTo = Math.min(outWidth, width + pad - kj);
        for (let oy = 0; oy < outHeight; oy++) {
          const iy = oy + ki - pad;
          if (iy < 0 || iy >= height) continue;
          const o = row + oy * outWidth;
          const xr = xc + iy * width + kj - pad;
          for (let ox = oxFrom; ox < oxTo; ox++) dx[xr + ox] += dcol[o + ox];
        }
        row += P;
      }
    }
  }
}

/**
 * z = w · col + b for one example: `z` [F × P] from `zOffset`, `w` [F × K],
 * `col` [K × P] from `colOffset`. Two filters and four patch rows at a time,
 * so each loaded col value feeds two multiply-adds and each z entry is
 * loaded and stored once per four.
 */
export function convForwardGemm(
  z: Float64Array,
  zOffset: number,
  w: Float64Array,
  b: Float64Array,
  col: Float64Array,
  colOffset: number,
  F: number,
  K: number,
  P: number,
): void {
  let f = 0;
  for (; f + 1 < F; f += 2) {
    const z0 = zOffset + f * P, z1 = z0 + P;
    z.fill(b[f], z0, z0 + P);
    z.fill(b[f + 1], z1, z1 + P);
    const wa = f * K, wb = wa + K;
    let kk = 0;
    for (; kk + 3 < K; kk += 4) {
      const a0 = w[wa + kk], a1 = w[wa + kk + 1];
      const a2 = w[wa + kk + 2], a3 = w[wa + kk + 3];
      const b0 = w[wb + kk], b1 = w[wb + kk + 1];
      const b2 = w[wb + kk + 2], b3 = w[wb + kk + 3];
      const c0 = colOffset + kk * P, c1 = c0 + P, c2 = c1 + P, c3 = c2 + P;
      for (let p = 0; p < P; p++) {
        const x0 = col[c0 + p], x1 = col[c1 + p];
        const x2 = col[c2 + p], x3 = col[c3 + p];
        z[z0 + p] += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3;
        z[z1 + p] += b0 * x0 + b1 * x1 + b2 * x2 + b3 * x3;
      }
    }
    for (; kk < K; kk++) {
      const a0 = w[wa + kk], b0 = w[wb + kk];
      const c0 = colOffset + kk * P;
      for (let p = 0; p < P; p++) {
        const x0 = col[c0 + p];
        z[z0 + p] += a0 * x0;
        z[z1 + p] += b0 * x0;
      }
    }
  }
  for (; f < F; f++) {
    // The last filter when F is odd.
    const z0 = zOffset + f * P;
    z.fill(b[f], z0, z0 + P);
    for (let kk = 0; kk < K; kk++) {
      const a0 = w[f * K + kk];
      const c0 = colOffset + kk * P;
      for (let p = 0; p < P; p++) z[z0 + p] += a0 * col[c0 + p];
    }
  }
}

/**
 * dw += dz · colᵀ and db += Σ_p dz for one example (`dw` [F × K], `dz`
 * [F × P] from `dzOffset`, `col` [K × P] from `colOffset`). Each dw entry is
 * a dot product over the P positions; two filters × two patch rows share
 * their loads.
 */
export function convBackwardParamsGemm(
  dw: Float64Array,
  db: Float64Array,
  dz: Float64Array,
  dzOffset: number,
  col: Float64Array,
  colOffset: number,
  F: number,
  K: number,
  P: number,
): void {
  for (let f = 0; f < F; f++) {
    const d = dzOffset + f * P;
    let s = 0;
    for (let p = 0; p < P; p++) s += dz[d + p];
    db[f] += s;
  }
  let f = 0;
  for (; f + 1 < F; f += 2) {
    const d0 = dzOffset + f * P, d1 = d0 + P;
    let kk = 0;
    for (; kk + 1 < K; kk += 2) {
      const c0 = colOffset + kk * P, c1 = c0 + P;
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0;
      for (let p = 0; p < P; p++) {
        const g0 = dz[d0 + p], g1 = dz[d1 + p];
        const x0 = col[c0 + p], x1 = col[c1 + p];
        s00 += g0 * x0;
        s01 += g0 * x1;
        s10 += g1 * x0;
        s11 += g1 * x1;
      }
      dw[f * K + kk] += s00;
      dw[f * K + kk + 1] += s01;
      dw[(f + 1) * K + kk] += s10;
      dw[(f + 1) * K + kk + 1] += s11;
    }
    for (; kk < K; kk++) {
      const c0 = colOffset + kk * P;
      let s0 = 0, s1 = 0;
      for (let p = 0; p < P; p++) {
        s0 += dz[d0 + p] * col[c0 + p];
        s1 += dz[d1 + p] * col[c0 + p];
      }
      dw[f * K + kk] += s0;
      dw[(f + 1) * K + kk] += s1;
    }
  }
  for (; f < F; f++) {
    const d0 = dzOffset + f * P;
    for (let kk = 0; kk < K; kk++) {
      const c0 = colOffset + kk * P;
      let s = 0;
      for (let p = 0; p < P; p++) s += dz[d0 + p] * col[c0 + p];
      dw[f * K + kk] += s;
    }
  }
}

/**
 * dcol = wᵀ · dz for one example (`dcol` [K × P], overwritten; `w` [F × K];
 * `dz` [F × P] from `dzOffset`). Two patch rows and two filters at a time.
 */
export function convBackwardInputGemm(
  dcol: Float64Array,
  w: Float64Array,
  dz: Float64Array,
  dzOffset: number,
  F: number,
  K: number,
  P: number,
): void {
  dcol.fill(0, 0, K * P);
  let kk = 0;
  for (; kk + 1 < K; kk += 2) {
    const r0 = kk * P, r1 = r0 + P;
    let f = 0;
    for (; f + 1 < F; f += 2) {
      const a0 = w[f * K + kk], a1 = w[f * K + kk + 1];
      const b0 = w[(f + 1) * K + kk], b1 = w[(f + 1) * K + kk + 1];
      const d0 = dzOffset + f * P, d1 = d0 + P;
      for (let p = 0; p < P; p++) {
        const g0 = dz[d0 + p], g1 = dz[d1 + p];
        dcol[r0 + p] += a0 * g0 + b0 * g1;
        dcol[r1 + p] += a1 * g0 + b1 * g1;
      }
    }
    for (; f < F; f++) {
      const a0 = w[f * K + kk], a1 = w[f * K + kk + 1];
      const d0 = dzOffset + f * P;
      for (let p = 0; p < P; p++) {
        dcol[r0 + p] += a0 * dz[d0 + p];
        dcol[r1 + p] += a1 * dz[d0 + p];
      }
    }
  }
  for (; kk < K; kk++) {
    const r0 = kk * P;
    for (let f = 0; f < F; f++) {
      const a0 = w[f * K + kk];
      const d0 = dzOffset + f * P;
      for (let p = 0; p < P; p++) dcol[r0 + p] += a0 * dz[d0 + p];
    }
  }
}

/**
 * dw += dz · colᵀ, db += Σ_p dz and (when `dcol` is given) dcol = wᵀ · dz for
 * one example, visiting only the non-zero entries of dz. A conv layer feeding
 * a 2 × 2 max-pool gets a gradient at one position in four (the window's
 * winner), and ReLU zeroes more, so this does a fraction of the work of the
 * dense products above. Each non-zero dz[f, p] adds dz · col[·, p] to row f
 * of dw and dz · w[f, ·] to column p of dcol.
 */
export function convBackwardSparse(
  dw: Float64Array,
  db: Float64Array,
  dcol: Float64Array | null,
  w: Float64Array,
  dz: Float64Array,
  dzOffset: number,
  col: Float64Array,
  colOffset: number,
  F: number,
  K: number,
  P: number,
): void {
  if (dcol) dcol.fill(0, 0, K * P);
  for (let f = 0; f < F; f++) {
    const d0 = dzOffset + f * P, wf = f * K;
    let sum = 0;
    for (let p = 0; p < P; p++) {
      const d = dz[d0 + p];
      if (d === 0) continue;
      sum += d;
      for (let kk = 0, c = colOffset + p; kk < K; kk++, c += P) {
        dw[wf + kk] += d * col[c];
      }
      if (dcol) {
        for (let kk = 0, c = p; kk < K; kk++, c += P) dcol[c] += d * w[wf + kk];
      }
    }
    db[f] += sum;
  }
}

/** Below this fraction of non-zero dz entries, backward takes the sparse path. */
export const SPARSE_BACKWARD_DENSITY = 0.3;

/**
 * Reference forward pass for n examples, straight from the formula
 * z[f, oy, ox] = b[f] + Σ w[f, c, ki, kj] · x[c, oy + ki − pad, ox + kj − pad].
 * `z` is [n × F × Ho × Wo], `x` [n × C × H × W].
 */
export function conv2dForwardReference(
  z: Float64Array,
  x: Float64Array,
  w: Float64Array,
  b: Float64Array,
  n: number,
  g: ConvGeometry,
): void {
  const { channels: C, height: H, width: W, filters: F, kernelSize: k } = g;
  const { pad, outHeight: Ho, outWidth: Wo } = g;
  for (let r = 0; r < n; r++) {
    for (let f = 0; f < F; f++) {
      for (let oy = 0; oy < Ho; oy++) {
        for (let ox = 0; ox < Wo; ox++) {
          let s = b[f];
          for (let c = 0; c < C; c++) {
            for (let ki = 0; ki < k; ki++) {
              for (let kj = 0; kj < k; kj++) {
                const iy = oy + ki - pad, ix = ox + kj - pad;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                s += w[((f * C + c) * k + ki) * k + kj] *
                  x[((r * C + c) * H + iy) * W + ix];
              }
            }
          }
          z[((r * F + f) * Ho + oy) * Wo + ox] = s;
        }
      }
    }
  }
}

/**
 * Reference backward pass for n examples, straight from the formulas: adds
 * dC/dw into `dw` and dC/db into `db`, and overwrites `dx` with dC/dx.
 */
export function conv2dBackwardReference(
  dw: Float64Array,
  db: Float64Array,
  dx: Float64Array,
  x: Float64Array,
  w: Float64Array,
  dz: Float64Array,
  n: number,
  g: ConvGeometry,
): void {
  const { channels: C, height: H, width: W, filters: F, kernelSize: k } = g;
  const { pad, outHeight: Ho, outWidth: Wo } = g;
  dx.fill(0, 0, n * C * H * W);
  for (let r = 0; r < n; r++) {
    for (let f = 0; f < F; f++) {
      for (let oy = 0; oy < Ho; oy++) {
        for (let ox = 0; ox < Wo; ox++) {
          const d = dz[((r * F + f) * Ho + oy) * Wo + ox];
          db[f] += d;
          for (let c = 0; c < C; c++) {
            for (let ki = 0; ki < k; ki++) {
              for (let kj = 0; kj < k; kj++) {
                const iy = oy + ki - pad, ix = ox + kj - pad;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                const wi = ((f * C + c) * k + ki) * k + kj;
                const xi = ((r * C + c) * H + iy) * W + ix;
                dw[wi] += d * x[xi];
                dx[xi] += d * w[wi];
              }
            }
          }
        }
      }
    }
  }
}

/** A convolution layer: `filters` k × k filters over a [C, H, W] input. */
export class Conv2dLayer implements Layer {
  readonly spec: LayerSpec;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly params: Float64Array[];
  readonly grads: Float64Array[];
  readonly decays = [true, false];
  readonly fanIn: number;
  readonly fanOut: number;
  readonly geometry: ConvGeometry;
  /** Weights, [F × C × k × k] row-major (one row of K = C·k·k per filter). */
  readonly w: Float64Array;
  /** Biases, [F]. */
  readonly b: Float64Array;
  readonly activation: Activation;
  /** K = C·k·k, the values in one patch. */
  readonly #K: number;
  /** P = Ho·Wo, the output positions. */
  readonly #P: number;
  #col: Float64Array = new Float64Array(0);
  #z: Float64Array = new Float64Array(0);
  #a: Float64Array = new Float64Array(0);
  #dz: Float64Array = new Float64Array(0);
  #dcol: Float64Array = new Float64Array(0);
  #dx: Float64Array = new Float64Array(0);

  /** Creates the layer with zero weights; `createNetwork` initialises them. */
  constructor(
    inputShape: readonly number[],
    { filters, kernelSize, activation, padding }: {
      filters: number;
      kernelSize: number;
      activation: Activation;
      padding: "same" | "valid";
    },
  ) {
    if (activation === "softmax") {
      throw new RangeError(
        'Cannot build a conv2d layer with a softmax activation: use "relu", "sigmoid" or "linear"',
      );
    }
    const g = convGeometry(inputShape, { filters, kernelSize, padding });
    this.geometry = g;
    this.spec = { type: "conv2d", filters, kernelSize, activation, padding };
    this.activation = activation;
    this.inputShape = [g.channels, g.height, g.width];
    this.outputShape = [filters, g.outHeight, g.outWidth];
    this.#K = g.channels * kernelSize * kernelSize;
    this.#P = g.outHeight * g.outWidth;
    this.fanIn = this.#K;
    this.fanOut = filters * kernelSize * kernelSize;
    this.w = new Float64Array(filters * this.#K);
    this.b = new Float64Array(filters);
    this.params = [this.w, this.b];
    this.grads = [new Float64Array(this.w.length), new Float64Array(filters)];
  }

  forward(x: Float64Array, n: number): Float64Array {
    const g = this.geometry;
    const K = this.#K, P = this.#P, F = g.filters;
    const inSize = g.channels * g.height * g.width;
    this.#col = ensureCapacity(this.#col, n * K * P);
    this.#z = ensureCapacity(this.#z, n * F * P);
    this.#a = ensureCapacity(this.#a, n * F * P);
    for (let r = 0; r < n; r++) {
      // The patches are kept for dC/dw = dz · colᵀ in backward.
      im2col(this.#col, r * K * P, x, r * inSize, g);
      convForwardGemm(
        this.#z,
        r * F * P,
        this.w,
        this.b,
        this.#col,
        r * K * P,
        F,
        K,
        P,
      );
    }
    activate(this.#a, this.#z, this.activation, n, F * P);
    return this.#a;
  }

  backward(
    dA: Float64Array,
    n: number,
    needInput: boolean,
    isPreActivation: boolean,
  ): Float64Array {
    const g = this.geometry;
    const K = this.#K, P = this.#P, F = g.filters;
    const inSize = g.channels * g.height * g.width;
    let dz = dA;
    if (!isPreActivation) {
      // dC/dz = dC/da · da/dz
      this.#dz = ensureCapacity(this.#dz, n * F * P);
      dz = this.#dz;
      activationBackward(
        dz,
        dA,
        this.#z,
        this.#a,
        this.activation,
        n,
        F * P,
      );
    }
    if (needInput) {
      this.#dcol = ensureCapacity(this.#dcol, K * P);
      this.#dx = ensureCapacity(this.#dx, n * inSize);
    }
    for (let r = 0; r < n; r++) {
      let nonZero = 0;
      for (let i = r * F * P, end = i + F * P; i < end; i++) {
        if (dz[i] !== 0) nonZero++;
      }
      if (nonZero < SPARSE_BACKWARD_DENSITY * F * P) {
        convBackwardSparse(
          this.grads[0],
          this.grads[1],
          needInput ? this.#dcol : null,
          this.w,
          dz,
          r * F * P,
          this.#col,
          r * K * P,
          F,
          K,
          P,
        );
        if (needInput) col2im(this.#dx, r * inSize, this.#dcol, 0, g);
        continue;
      }
      convBackwardParamsGemm(
        this.grads[0],
        this.grads[1],
        dz,
        r * F * P,
        this.#col,
        r * K * P,
        F,
        K,
        P,
      );
      if (needInput) {
        convBackwardInputGemm(this.#dcol, this.w, dz, r * F * P, F, K, P);
        col2im(this.#dx, r * inSize, this.#dcol, 0, g);
      }
    }
    return needInput ? this.#dx : this.#dx.subarray(0, 0);
  }
}
