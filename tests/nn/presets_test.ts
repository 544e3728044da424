import { assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { createAugment } from "../../src/data/augment.ts";
import { createNetwork } from "../../src/nn/network.ts";
import {
  DEFAULT_PRESET,
  getPreset,
  PRESET_NAMES,
  PRESETS,
  STARTUP_PRESET,
} from "../../src/nn/presets.ts";
import { createRandom } from "../../src/nn/random.ts";
import { Trainer } from "../../src/nn/trainer.ts";

Deno.test("PRESETS offers quick, default, best and classic, with default and start-up names among them", () => {
  for (const name of ["quick", "default", "best", "classic"]) {
    assertEquals(PRESET_NAMES.includes(name), true, name);
    assertEquals(PRESETS[name].name, name);
    assertNotEquals(PRESETS[name].description, "");
  }
  assertEquals(DEFAULT_PRESET, "default");
  assertEquals(STARTUP_PRESET, "quick");
});

Deno.test("every preset builds a 28x28 → 10 network that its trainer settings accept", () => {
  const images = new Float32Array(4 * 784);
  const random = createRandom(1);
  for (let i = 0; i < images.length; i++) images[i] = random() < 0.2 ? 1 : 0;
  const data = {
    images,
    labels: Uint8Array.from([0, 1, 2, 3]),
    count: 4,
    shape: [1, 28, 28],
  };
  for (const name of PRESET_NAMES) {
    const preset = getPreset(name);
    const network = createNetwork(preset.architecture, {
      random,
      init: preset.init,
    });
    assertEquals(network.inputSize, 784, name);
    assertEquals(network.outputSize, 10, name);
    const trainer = new Trainer(network, data, {
      cost: preset.cost,
      optimizer: preset.optimizer,
      learningRate: preset.learningRate,
      schedule: preset.schedule,
      epochs: preset.epochs,
      batchSize: preset.batchSize,
      random,
      augment: preset.augment ? createAugment(preset.augment) : undefined,
    });
    const { loss } = trainer.trainBatch();
    assertEquals(Number.isFinite(loss), true, `${name}: loss ${loss}`);
  }
});

Deno.test("the classic preset is the seed notebook's network and algorithm", () => {
  const classic = getPreset("classic");
  assertEquals(
    classic.architecture.layers.map((l) =>
      l.type === "dense" ? `${l.units}:${l.activation}` : l.type
    ),
    ["128:sigmoid", "64:sigmoid", "10:sigmoid"],
  );
  assertEquals(classic.cost, "mse");
  assertEquals(classic.optimizer.kind, "gd");
  assertEquals(classic.batchSize, 8000);
  assertEquals(classic.init, "notebook");
  assertEquals(classic.augment, null);
});

Deno.test("the default and best presets are CNNs trained with augmentation", () => {
  for (const name of ["default", "best"]) {
    const preset = getPreset(name);
    assertEquals(
      preset.architecture.layers.some((l) => l.type === "conv2d"),
      true,
      name,
    );
    assertNotEquals(preset.augment, null, name);
  }
});

Deno.test("getPreset() returns a copy that can be changed without touching PRESETS", () => {
  const preset = getPreset("default");
  preset.epochs = 1;
  preset.architecture.layers.pop();
  assertNotEquals(PRESETS.default.epochs, 1);
  assertNotEquals(
    PRESETS.default.architecture.layers.length,
    preset.architecture.layers.length,
  );
});

Deno.test("getPreset() rejects an unknown name and lists the known ones", () => {
  assertThrows(
    () => getPreset("huge"),
    RangeError,
    'Cannot use the preset "huge": known presets are quick, default, best, classic',
  );
  assertThrows(() => getPreset("toString"), RangeError, "toString");
});
