import { assertEquals, assertThrows } from "@std/assert";
import {
  countParameters,
  MAX_PARAMETERS,
  Network,
} from "../../src/nn/network.ts";
import { PRESETS } from "../../src/nn/presets.ts";

Deno.test("countParameters() equals the built network's count for every preset", () => {
  for (const preset of Object.values(PRESETS)) {
    assertEquals(
      countParameters(preset.architecture),
      new Network(preset.architecture).parameterCount,
      preset.name,
    );
  }
});

Deno.test("countParameters() handles valid padding, pooling and dropout", () => {
  const architecture = {
    input: [1, 28, 28],
    layers: [
      {
        type: "conv2d" as const,
        filters: 4,
        kernelSize: 5,
        activation: "relu" as const,
        padding: "valid" as const,
      },
      { type: "maxpool2d" as const, size: 3 },
      { type: "dropout" as const, rate: 0.5 },
      { type: "dense" as const, units: 10, activation: "softmax" as const },
    ],
  };
  // conv: 4·(1·25) + 4 = 104; 24×24 → pool 3 → 8×8×4 = 256; dense 256·10 + 10
  assertEquals(countParameters(architecture), 104 + 2570);
  assertEquals(new Network(architecture).parameterCount, 104 + 2570);
});

Deno.test("Network refuses more than MAX_PARAMETERS parameters before allocating", () => {
  assertThrows(
    () =>
      new Network({
        input: [784],
        layers: [{
          type: "dense",
          units: Math.ceil(MAX_PARAMETERS / 784),
          activation: "relu",
        }],
      }),
    RangeError,
    `more than ${MAX_PARAMETERS} parameters`,
  );
});
