import { assertEquals, assertThrows } from "@std/assert";
import {
  decodeModel,
  encodeModel,
  type Model,
  networkFromModel,
  weightsOf,
} from "../../src/nn/model_file.ts";
import { createNetwork } from "../../src/nn/network.ts";
import { createRandom } from "../../src/nn/random.ts";

function sampleModel(): Model {
  const architecture = {
    input: [1, 28, 28],
    layers: [
      { type: "dense" as const, units: 16, activation: "relu" as const },
      { type: "dense" as const, units: 10, activation: "softmax" as const },
    ],
  };
  const net = createNetwork(architecture, { random: createRandom(4) });
  return {
    id: "m-test-1",
    createdAt: "2026-12-03T12:00:00.000Z",
    architecture,
    config: { epochs: 3, optimizer: "adam", note: "ünïcode ✓" },
    seed: 4,
    metrics: {
      testAccuracy: 0.9,
      testCount: 2000,
      confusion: [[1, 2], [3, 4]],
      epochs: [{ epoch: 1, loss: 0.5, testAccuracy: 0.9, trainMs: 12.5 }],
      trainMs: 12.5,
    },
    weights: weightsOf(net),
  };
}

Deno.test("encodeModel()/decodeModel() round-trip every field and weight exactly", () => {
  const model = sampleModel();
  const decoded = decodeModel(encodeModel(model));
  assertEquals(decoded, model);
  assertEquals(encodeModel(decoded), encodeModel(model));
});

Deno.test("decodeModel() works on a view into a larger buffer", () => {
  const bytes = encodeModel(sampleModel());
  const big = new Uint8Array(bytes.length + 7);
  big.set(bytes, 3);
  assertEquals(decodeModel(big.subarray(3, 3 + bytes.length)).id, "m-test-1");
});

Deno.test("decodeModel() rejects any flipped byte via the checksum", () => {
  const bytes = encodeModel(sampleModel());
  for (const at of [20, Math.floor(bytes.length / 2), bytes.length - 5]) {
    const bad = bytes.slice();
    bad[at] ^= 0x10;
    assertThrows(() => decodeModel(bad), SyntaxError, "checksum");
  }
});

Deno.test("decodeModel() rejects foreign, truncated and future-version bytes", () => {
  const bytes = encodeModel(sampleModel());
  assertThrows(
    () =>
      decodeModel(
        new TextEncoder().encode("PK\x03\x04 a zip file, not a model"),
      ),
    SyntaxError,
    '"ZIFR"',
  );
  assertThrows(
    () => decodeModel(bytes.subarray(0, 10)),
    SyntaxError,
    "too short",
  );
  assertThrows(
    () => decodeModel(bytes.subarray(0, bytes.length - 100)),
    SyntaxError,
    "checksum",
  );
  const future = bytes.slice();
  future[4] = 2;
  assertThrows(
    () => decodeModel(future),
    SyntaxError,
    "version must be 1: got 2",
  );
});

Deno.test("networkFromModel() computes what the saved network computed", () => {
  const model = sampleModel();
  const net = networkFromModel(decodeModel(encodeModel(model)));
  assertEquals(weightsOf(net), model.weights);
});

Deno.test("networkFromModel() rejects weights that do not fit the architecture", () => {
  const model = sampleModel();
  assertThrows(
    () => networkFromModel({ ...model, weights: model.weights.subarray(1) }),
    TypeError,
    `needs ${model.weights.length} parameters`,
  );
});

Deno.test("decodeModel() refuses a header claiming a huge network without allocating it", () => {
  const model = sampleModel();
  const huge = {
    ...model,
    architecture: {
      input: [1, 28, 28],
      layers: [{
        type: "dense" as const,
        units: 4_000_000,
        activation: "relu" as const,
      }],
    },
  };
  // Encode with the small weights but the huge architecture in the header.
  const bytes = encodeModel(huge);
  assertThrows(
    () => decodeModel(bytes),
    SyntaxError,
    "needs 3140000000 parameters",
  );
});
