import {
  assert,
  assertEquals,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import {
  activate,
  activateReference,
  type Activation,
  exp,
} from "../../src/nn/activation.ts";
import { DenseLayer } from "../../src/nn/dense.ts";
import {
  createSparseInput,
  denseBackwardInput,
  denseBackwardInputReference,
  denseBackwardInputTiled,
  denseBackwardParams,
  denseBackwardParamsReference,
  denseBackwardParamsSparse,
  denseBackwardParamsTiled,
  denseForward,
  denseForwardReference,
  denseForwardSparse,
  denseForwardTiled,
  indexColumns,
  indexNonZeros,
  rowViews,
} from "../../src/nn/kernels.ts";
import { createRandom, type Random } from "../../src/nn/random.ts";
import { assertAllClose } from "../_assert.ts";

/** Values in [−1, 1), of which a fraction `zeros` (on average) are exactly 0. */
function randomArray(length: number, random: Random, zeros = 0): Float64Array {
  const a = new Float64Array(length);
  for (let i = 0; i < length; i++) {
    a[i] = random() < zeros ? 0 : 2 * random() - 1;
  }
  return a;
}

// Odd sizes exercise every tile edge (4 × 4 and 2 × 4 tiles, 4-way unrolls).
const SHAPES: [n: number, nIn: number, nOut: number][] = [
  [1, 1, 1],
  [1, 784, 128],
  [1, 7, 10],
  [2, 5, 3],
  [3, 9, 6],
  [4, 4, 4],
  [5, 13, 7],
  [7, 33, 17],
  [16, 64, 10],
  [32, 128, 64],
  [33, 31, 9],
];
const ZERO_FRACTIONS = [0, 0.3, 0.5, 0.81, 0.97, 1];

function forEachCase(
  f: (
    n: number,
    nIn: number,
    nOut: number,
    zeros: number,
    random: Random,
  ) => void,
): void {
  const random = createRandom(7);
  for (const [n, nIn, nOut] of SHAPES) {
    for (const zeros of ZERO_FRACTIONS) f(n, nIn, nOut, zeros, random);
  }
}

const TOLERANCE = { atol: 1e-12, rtol: 1e-12 };

Deno.test("denseForwardReference() matches a hand-computed 2x3 · 3x2 product plus bias", () => {
  const x = Float64Array.of(1, 2, 3, 0, -1, 4);
  const w = Float64Array.of(1, 0, 0, 1, 2, -1); // rows: input 0, 1, 2
  const b = Float64Array.of(0.5, -0.5);
  const z = new Float64Array(4);
  denseForwardReference(z, x, w, b, 2, 3, 2);
  // row 0: [1 + 0 + 6, 0 + 2 − 3] + b;  row 1: [0 + 0 + 8, 0 − 1 − 4] + b
  assertEquals([...z], [7.5, -1.5, 8.5, -5.5]);
});

Deno.test("denseBackwardParamsReference() and denseBackwardInputReference() match hand-computed values", () => {
  const x = Float64Array.of(1, 2, 0, 3); // 2 rows × 2 inputs
  const dz = Float64Array.of(1, -1, 2, 0.5); // 2 rows × 2 outputs
  const dw = Float64Array.of(10, 0, 0, 0); // accumulates onto 10
  const db = Float64Array.of(1, 1);
  denseBackwardParamsReference(dw, db, x, dz, 2, 2, 2);
  // dw_ij = Σ_r x_ri dz_rj: [1·1 + 0·2, 1·−1 + 0·.5; 2·1 + 3·2, 2·−1 + 3·.5]
  assertEquals([...dw], [11, -1, 8, -0.5]);
  assertEquals([...db], [4, 0.5]);
  const w = Float64Array.of(1, 2, 3, 4);
  const dx = new Float64Array(4);
  denseBackwardInputReference(dx, dz, w, 2, 2, 2);
  // dx_ri = Σ_j w_ij dz_rj
  assertEquals([...dx], [1 - 2, 3 - 4, 2 + 1, 6 + 2]);
});

Deno.test("denseForward(), denseForwardSparse() and denseForwardTiled() agree with the reference on odd shapes and zero-heavy inputs", () => {
  forEachCase((n, nIn, nOut, zeros, random) => {
    const x = randomArray(n * nIn, random, zeros);
    const w = randomArray(nIn * nOut, random);
    const b = randomArray(nOut, random);
    const expected = new Float64Array(n * nOut);
    denseForwardReference(expected, x, w, b, n, nIn, nOut);

    const z = new Float64Array(n * nOut).fill(NaN);
    denseForward(z, x, w, b, n, nIn, nOut);
    assertAllClose(z, expected, TOLERANCE);

    z.fill(NaN);
    denseForwardTiled(z, x, w, b, n, nIn, nOut);
    assertAllClose(z, expected, TOLERANCE);

    const sparse = createSparseInput();
    assert(indexNonZeros(sparse, x, n, nIn, 1));
    z.fill(NaN);
    denseForwardSparse(z, sparse, w, b, nOut);
    assertAllClose(z, expected, TOLERANCE);
  });
});

Deno.test("denseBackwardParams() and its sparse and tiled kernels add xᵀ·dz to dw and Σ dz to db like the reference", () => {
  forEachCase((n, nIn, nOut, zeros, random) => {
    const x = randomArray(n * nIn, random, zeros);
    const dz = randomArray(n * nOut, random);
    const dw0 = randomArray(nIn * nOut, random); // gradients accumulate onto this
    const db0 = randomArray(nOut, random);
    const expectedW = dw0.slice(), expectedB = db0.slice();
    denseBackwardParamsReference(expectedW, expectedB, x, dz, n, nIn, nOut);

    let dw = dw0.slice(), db = db0.slice();
    denseBackwardParams(dw, db, x, dz, n, nIn, nOut);
    assertAllClose(dw, expectedW, TOLERANCE);
    assertAllClose(db, expectedB, TOLERANCE);

    dw = dw0.slice(), db = db0.slice();
    denseBackwardParamsTiled(dw, db, x, dz, n, nIn, nOut);
    assertAllClose(dw, expectedW, TOLERANCE);
    assertAllClose(db, expectedB, TOLERANCE);

    const sparse = createSparseInput();
    assert(indexNonZeros(sparse, x, n, nIn, 1));
    indexColumns(sparse);
    dw = dw0.slice(), db = db0.slice();
    denseBackwardParamsSparse(dw, db, sparse, dz, nOut);
    assertAllClose(dw, expectedW, TOLERANCE);
    assertAllClose(db, expectedB, TOLERANCE);
  });
});

Deno.test("denseBackwardInput() and denseBackwardInputTiled() compute dz·wᵀ like the reference", () => {
  forEachCase((n, nIn, nOut, _zeros, random) => {
    const dz = randomArray(n * nOut, random);
    const w = randomArray(nIn * nOut, random);
    const expected = new Float64Array(n * nIn);
    denseBackwardInputReference(expected, dz, w, n, nIn, nOut);
    const dx = new Float64Array(n * nIn).fill(NaN);
    denseBackwardInput(dx, dz, w, n, nIn, nOut);
    assertAllClose(dx, expected, TOLERANCE);
    dx.fill(NaN);
    denseBackwardInputTiled(dx, dz, w, n, nIn, nOut);
    assertAllClose(dx, expected, TOLERANCE);
  });
});

Deno.test("the fast kernels leave everything past n rows alone", () => {
  const random = createRandom(3);
  const [n, nIn, nOut] = [3, 10, 6];
  const x = randomArray(5 * nIn, random, 0.7); // room for 5 rows, 3 used
  const w = randomArray(nIn * nOut, random);
  const b = randomArray(nOut, random);
  for (const forward of [denseForward, denseForwardTiled]) {
    const z = new Float64Array(5 * nOut).fill(42);
    forward(z, x, w, b, n, nIn, nOut);
    assertEquals([...z.subarray(n * nOut)], new Array(2 * nOut).fill(42));
  }
  const dx = new Float64Array(5 * nIn).fill(42);
  denseBackwardInputTiled(dx, randomArray(5 * nOut, random), w, n, nIn, nOut);
  assertEquals([...dx.subarray(n * nIn)], new Array(2 * nIn).fill(42));
});

Deno.test("indexNonZeros() lists each row's non-zeros and gives up above maxDensity", () => {
  const x = Float64Array.of(0, 2, 0, 3, 0, 0, 0, 0, 5, 0, 0, 1); // 3 rows × 4
  const sparse = createSparseInput();
  assert(indexNonZeros(sparse, x, 3, 4, 0.5));
  assertEquals([...sparse.rowStart.subarray(0, 4)], [0, 2, 2, 4]);
  assertEquals([...sparse.rowIndex.subarray(0, 4)], [1, 3, 0, 3]);
  assertEquals([...sparse.rowValue.subarray(0, 4)], [2, 3, 5, 1]);
  indexColumns(sparse);
  // input 0: row 2; input 1: row 0; input 2: none; input 3: rows 0 and 2
  assertEquals([...sparse.colStart.subarray(0, 5)], [0, 1, 2, 2, 4]);
  assertEquals([...sparse.colRow.subarray(0, 4)], [2, 0, 0, 2]);
  assertEquals([...sparse.colValue.subarray(0, 4)], [5, 2, 3, 1]);
  // 4 non-zeros of 12 is a third: allowed at 0.34, not at 0.3.
  assert(indexNonZeros(sparse, x, 3, 4, 0.34));
  assert(!indexNonZeros(sparse, x, 3, 4, 0.3));
});

Deno.test("indexNonZeros() of an all-zero batch gives empty rows, and the sparse forward gives z = b", () => {
  const sparse = createSparseInput();
  assert(indexNonZeros(sparse, new Float64Array(12), 3, 4));
  assertEquals([...sparse.rowStart.subarray(0, 4)], [0, 0, 0, 0]);
  const z = new Float64Array(6);
  denseForwardSparse(
    z,
    sparse,
    new Float64Array(8).fill(1),
    Float64Array.of(1, 2),
    2,
  );
  assertEquals([...z], [1, 2, 1, 2, 1, 2]);
});

Deno.test("rowViews() returns the same views for the same array and new ones for a new row length", () => {
  const m = new Float64Array(12);
  const a = rowViews(m, 4);
  assertStrictEquals(rowViews(m, 4), a);
  assertEquals(a.length, 3);
  a[1][2] = 7;
  assertEquals(m[6], 7);
  const b = rowViews(m, 6);
  assertEquals(b.length, 2);
  assertEquals(b[1][0], 7);
});

Deno.test("exp() is within 2 ulp of Math.exp over [−708, 709]", () => {
  let worst = 0;
  for (let k = 0; k <= 200_000; k++) {
    const x = -708 + (1417 * k) / 200_000;
    const e = Math.exp(x);
    worst = Math.max(worst, Math.abs(exp(x) - e) / e);
  }
  for (const x of [0, 1e-300, -1e-300, 1e-10, -0.5, 0.5, 1, -1, 709, -708]) {
    const e = Math.exp(x);
    worst = Math.max(worst, Math.abs(exp(x) - e) / e);
  }
  assert(worst <= 2 * Number.EPSILON, `worst relative error ${worst}`);
  assertEquals(exp(0), 1);
});

Deno.test("exp() clamps huge arguments instead of returning 0 or Infinity, and passes NaN through", () => {
  assertEquals(exp(1000), exp(709));
  assertEquals(exp(-1000), exp(-708));
  assert(exp(-1000) > 0 && Number.isFinite(exp(1000)));
  assert(Number.isNaN(exp(NaN)));
});

Deno.test("activate() agrees with activateReference() for every activation", () => {
  const random = createRandom(11);
  const z = randomArray(5 * 13, random).map((v) => 30 * v);
  for (
    const activation of ["sigmoid", "relu", "softmax", "linear"] as Activation[]
  ) {
    const fast = new Float64Array(z.length),
      reference = new Float64Array(z.length);
    activate(fast, z, activation, 5, 13);
    activateReference(reference, z, activation, 5, 13);
    assertAllClose(fast, reference, { atol: 1e-300, rtol: 4 * Number.EPSILON });
  }
});

Deno.test("DenseLayer.useStorage() moves the parameters into the given arrays and keeps computing the same", () => {
  const layer = new DenseLayer([3], 2, "sigmoid");
  layer.params[0].set([1, 2, 3, 4, 5, 6]);
  layer.params[1].set([0.5, -0.5]);
  const x = Float64Array.of(1, 0, -1);
  const before = layer.forward(x, 1).slice(0, 2);
  const storage = new Float64Array(16);
  const params = [storage.subarray(0, 6), storage.subarray(6, 8)];
  const grads = [storage.subarray(8, 14), storage.subarray(14, 16)];
  layer.useStorage(params, grads);
  assertStrictEquals(layer.w, params[0]);
  assertStrictEquals(layer.b, params[1]);
  assertStrictEquals(layer.grads[1], grads[1]);
  assertEquals([...storage.subarray(0, 8)], [1, 2, 3, 4, 5, 6, 0.5, -0.5]);
  assertEquals([...layer.forward(x, 1).subarray(0, 2)], [...before]);
  layer.backward(Float64Array.of(1, 1), 1, false, false);
  assert(
    storage.subarray(8).some((g) => g !== 0),
    "gradients land in the new storage",
  );
  params[0][0] = 100; // the layer reads the new storage
  assert(layer.forward(x, 1)[0] !== before[0]);
});

Deno.test("DenseLayer.useStorage() rejects arrays of the wrong length", () => {
  const layer = new DenseLayer([3], 2, "relu");
  assertThrows(
    () =>
      layer.useStorage([new Float64Array(5), new Float64Array(2)], [
        new Float64Array(6),
        new Float64Array(2),
      ]),
    TypeError,
    "must hold 6 numbers: got 5 and 6",
  );
});
