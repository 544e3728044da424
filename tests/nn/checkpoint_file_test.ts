import { assertEquals, assertThrows } from "@std/assert";
import {
  decodeCheckpoint,
  encodeCheckpoint,
} from "../../src/nn/checkpoint_file.ts";
import type { TrainerState } from "../../src/nn/trainer.ts";

function sampleState(): TrainerState {
  return {
    epoch: 2,
    batch: 17,
    steps: 517,
    lossSum: 12.345678901234567,
    lossCount: 544,
    order: Uint32Array.from([3, 1, 2, 0, 4]),
    random: Uint32Array.from([1, 0xffffffff, 7, 123456789]),
    params: [
      Float64Array.from([0.1, -1e-300, Math.PI]),
      Float64Array.from([2 ** -1074]),
    ],
    optimizer: [Float64Array.from([1, 2, 3]), Float64Array.from([4])],
  };
}

Deno.test("encodeCheckpoint()/decodeCheckpoint() round-trip float64 state bit for bit", () => {
  const checkpoint = {
    meta: { jobId: "j1", epochs: [{ epoch: 1 }] },
    state: sampleState(),
  };
  assertEquals(decodeCheckpoint(encodeCheckpoint(checkpoint)), checkpoint);
});

Deno.test("decodeCheckpoint() rejects flipped bytes, truncation and foreign data", () => {
  const bytes = encodeCheckpoint({ meta: {}, state: sampleState() });
  const bad = bytes.slice();
  bad[bytes.length - 30] ^= 1;
  assertThrows(() => decodeCheckpoint(bad), SyntaxError, "checksum");
  assertThrows(() => decodeCheckpoint(bytes.subarray(0, 40)), SyntaxError);
  assertThrows(
    () => decodeCheckpoint(new Uint8Array(64)),
    SyntaxError,
    '"ZCKP"',
  );
});
