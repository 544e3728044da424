import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { createNetwork } from "../../src/nn/network.ts";
import {
  DEFAULT_PRESET,
  getPreset,
  PRESET_NAMES,
} from "../../src/nn/presets.ts";
import { createRandom } from "../../src/nn/random.ts";
import {
  autoWorkers,
  DEFAULT_TRAIN_CONFIG,
  HIDDEN_ACTIVATIONS,
  mlpArchitecture,
  presetDefaults,
  TRAIN_CONFIG_FIELDS,
  type TrainConfig,
  validateTrainConfig,
} from "../../src/training/config.ts";

/** The fields no preset sets: the defaults every arch starts from. */
const BASE = {
  layers: [784, 128, 64, 10],
  activation: "relu",
  dropout: 0,
  seed: 42,
  trainCount: 8000,
  testCount: 2000,
  splitSeed: 1,
  workers: 1,
} as const;

/**
 * The config fields a preset's settings become, mapped field by field here
 * (not through presetDefaults) so a wrong mapping shows. The tuned numbers
 * come from the preset itself.
 */
function fieldsOf(name: string): Partial<TrainConfig> {
  const preset = getPreset(name);
  return {
    loss: preset.cost,
    optimizer: preset.optimizer.kind,
    momentum: preset.optimizer.momentum ?? 0.9,
    weightDecay: preset.optimizer.weightDecay ?? 0,
    learningRate: preset.learningRate,
    schedule: preset.schedule,
    epochs: preset.epochs,
    batchSize: preset.batchSize,
    augment: preset.augment !== null,
  };
}

/** The parts of each preset that are its identity rather than tuning, by hand. */
const PRESET_FACTS: Record<string, Partial<TrainConfig>> = {
  quick: { loss: "cross-entropy", augment: true },
  default: { loss: "cross-entropy", augment: true },
  best: { loss: "cross-entropy", augment: true },
  // The seed notebook: MSE, full-batch gradient descent, η = 2, 300 steps.
  classic: {
    loss: "mse",
    optimizer: "gd",
    learningRate: 2,
    schedule: "constant",
    epochs: 300,
    augment: false,
  },
};

const ARCH_LIST = "one of mlp, quick, default, best, classic";

Deno.test("PRESET_NAMES are the presets these tests know the settings of", () => {
  assertEquals([...PRESET_NAMES].sort(), Object.keys(PRESET_FACTS).sort());
});

Deno.test("validateTrainConfig({}) takes the default preset's training settings", () => {
  const config = validateTrainConfig({});
  assertEquals(config, {
    ...BASE,
    ...fieldsOf("default"),
    arch: "default",
    classic: false,
  } as TrainConfig);
  assertEquals(
    [config.arch, config.loss, config.optimizer, config.augment],
    ["default", "cross-entropy", "adam", true],
  );
  assertEquals(DEFAULT_TRAIN_CONFIG.arch, DEFAULT_PRESET);
  assertEquals(config, {
    ...DEFAULT_TRAIN_CONFIG,
    ...presetDefaults(getPreset(DEFAULT_PRESET)),
  });
  assertEquals(
    [...TRAIN_CONFIG_FIELDS].sort(),
    Object.keys(DEFAULT_TRAIN_CONFIG).sort(),
  );
});

Deno.test('validateTrainConfig({arch: "mlp"}) gives DEFAULT_TRAIN_CONFIG with no preset applied', () => {
  const config = validateTrainConfig({ arch: "mlp" });
  assertEquals(config, {
    layers: [784, 128, 64, 10],
    arch: "mlp",
    activation: "relu",
    loss: "cross-entropy",
    optimizer: "adam",
    learningRate: 0.001,
    momentum: 0.9,
    weightDecay: 0,
    schedule: "cosine",
    epochs: 10,
    batchSize: 32,
    dropout: 0,
    augment: false,
    seed: 42,
    trainCount: 8000,
    testCount: 2000,
    splitSeed: 1,
    classic: false,
    workers: 1,
  });
  assertEquals(config, { ...DEFAULT_TRAIN_CONFIG, arch: "mlp" });
});

for (const name of Object.keys(PRESET_FACTS)) {
  Deno.test(`validateTrainConfig({arch: "${name}"}) applies the ${name} preset's training settings`, () => {
    const config = validateTrainConfig({ arch: name });
    assertEquals(config, {
      ...BASE,
      ...fieldsOf(name),
      arch: name,
      classic: name === "classic",
    } as TrainConfig);
    assertEquals(presetDefaults(getPreset(name)), fieldsOf(name));
    for (const [field, value] of Object.entries(PRESET_FACTS[name])) {
      assertEquals(config[field as keyof TrainConfig], value, field);
    }
  });
}

Deno.test("presetDefaults() takes momentum and weight decay from the preset's optimizer when it sets them", () => {
  const preset = getPreset("quick");
  preset.optimizer = { kind: "momentum", momentum: 0.5, weightDecay: 1e-4 };
  preset.augment = null;
  const fields = presetDefaults(preset);
  assertEquals(
    [fields.optimizer, fields.momentum, fields.weightDecay, fields.augment],
    ["momentum", 0.5, 1e-4, false],
  );
});

Deno.test("validateTrainConfig() lets given fields override a preset's settings", () => {
  for (const arch of ["quick", "default", "best"]) {
    const config = validateTrainConfig({
      arch,
      epochs: 1,
      learningRate: 0.01,
      augment: false,
      batchSize: 64,
      weightDecay: 1e-4,
      optimizer: "momentum",
      momentum: 0.8,
      schedule: "step",
      loss: "mse",
      seed: 7,
      trainCount: 500,
    });
    assertEquals(config, {
      ...BASE,
      arch,
      loss: "mse",
      optimizer: "momentum",
      learningRate: 0.01,
      momentum: 0.8,
      weightDecay: 1e-4,
      schedule: "step",
      epochs: 1,
      batchSize: 64,
      augment: false,
      seed: 7,
      trainCount: 500,
      classic: false,
    }, arch);
  }
  // Order of fields does not matter.
  assertEquals(validateTrainConfig({ epochs: 2, arch: "best" }).epochs, 2);
  assertEquals(
    validateTrainConfig({ augment: true, arch: "classic" }).augment,
    true,
  );
});

Deno.test("validateTrainConfig() returns a copy that does not share the defaults' arrays", () => {
  const config = validateTrainConfig({});
  config.layers.push(99);
  assertEquals(DEFAULT_TRAIN_CONFIG.layers, [784, 128, 64, 10]);
  assertEquals(validateTrainConfig({}).layers, [784, 128, 64, 10]);
  const given = { arch: "mlp", layers: [784, 32, 10] };
  const fromGiven = validateTrainConfig(given);
  fromGiven.layers[1] = 1;
  assertEquals(given.layers, [784, 32, 10]);
});

Deno.test("validateTrainConfig() keeps every valid given field and treats undefined as absent", () => {
  const given: TrainConfig = {
    layers: [784, 10],
    arch: "mlp",
    activation: "sigmoid",
    loss: "mse",
    optimizer: "momentum",
    learningRate: 100,
    momentum: 0.999,
    weightDecay: 1,
    schedule: "step",
    epochs: 100_000,
    batchSize: 60_000,
    dropout: 0.9,
    augment: true,
    seed: 0xffffffff,
    trainCount: 1_000_000,
    testCount: 1,
    splitSeed: 0,
    classic: false,
    workers: 16,
  };
  assertEquals(validateTrainConfig(given), given);
  assertEquals(
    validateTrainConfig({ epochs: undefined }).epochs,
    getPreset("default").epochs,
  );
  assertEquals(validateTrainConfig({ arch: undefined }).arch, "default");
  // An undefined mlp-only field is absent, so a preset accepts it.
  assertEquals(
    validateTrainConfig({
      arch: "quick",
      layers: undefined,
      dropout: undefined,
    })
      .arch,
    "quick",
  );
  assertEquals(
    validateTrainConfig({
      arch: "mlp",
      layers: [784, ...new Array(6).fill(4096), 10],
    }).layers.length,
    8,
  );
  assertEquals(
    validateTrainConfig({ arch: "mlp", momentum: 0, dropout: 0, seed: 0 })
      .momentum,
    0,
  );
});

Deno.test("validateTrainConfig() rejects a non-object with a TypeError", () => {
  for (const bad of [null, undefined, 3, "epochs=3", true, [1, 2]]) {
    assertThrows(
      () => validateTrainConfig(bad),
      TypeError,
      "Cannot read the training config as it must be a JSON object",
    );
  }
  assertThrows(() => validateTrainConfig([]), TypeError, "got []");
});

Deno.test("validateTrainConfig() rejects an unknown field with a TypeError listing the known ones", () => {
  const err = assertThrows(
    () => validateTrainConfig({ epochs: 2, epoch: 3 }),
    TypeError,
  );
  assertStringIncludes(err.message, 'field "epoch"');
  for (const field of TRAIN_CONFIG_FIELDS) {
    assertStringIncludes(err.message, field);
  }
  // Names inherited from Object.prototype are not config fields either (JSON can carry them).
  for (
    const json of [
      '{"toString":1}',
      '{"constructor":5}',
      '{"hasOwnProperty":1}',
      '{"__proto__":{}}',
    ]
  ) {
    const name = Object.keys(JSON.parse(json))[0];
    assertThrows(
      () => validateTrainConfig(JSON.parse(json)),
      TypeError,
      `field "${name}"`,
    );
  }
});

/** Bad values per field and a fragment every message for that field must carry. */
const BAD_VALUES: [keyof TrainConfig, unknown[], string][] = [
  ["layers", ["784,10", [784], [], [784, 0, 10], [784, 1.5, 10], [
    784,
    4097,
    10,
  ], [784, "8", 10]], "layer"],
  ["layers", [[784, ...new Array(7).fill(8), 10]], "2 to 8 layer sizes"],
  ["layers", [[28, 10], [783, 10]], "starting with 784"],
  ["layers", [[784, 9], [784, 16, 11]], "ending with 10"],
  ["layers", [[784, NaN, 10]], "integers from 1 to 4096"],
  [
    "arch",
    [
      "",
      "MLP",
      "Default",
      "cnn-small",
      "a b",
      "../x",
      "toString",
      "constructor",
      "__proto__",
      3,
      null,
      "x".repeat(33),
    ],
    ARCH_LIST,
  ],
  ["activation", ["tanh", "softmax", "", 1, null], "one of sigmoid, relu"],
  ["loss", ["mae", "crossentropy", 0], "one of mse, cross-entropy"],
  ["optimizer", ["foo", "Adam", "", null], "one of gd, sgd, momentum, adam"],
  ["schedule", ["linear", 1], "one of constant, step, cosine"],
  [
    "learningRate",
    [0, -0.1, 100.5, "0.1", NaN, Infinity, null],
    "a number > 0 and ≤ 100",
  ],
  ["momentum", [-0.1, 1, 0.9999, "0.9", NaN], "a number ≥ 0 and ≤ 0.999"],
  ["weightDecay", [-1e-9, 1.01, NaN, true], "a number ≥ 0 and ≤ 1"],
  [
    "epochs",
    [0, -1, 1.5, 100_001, "3", NaN, Infinity, null, true],
    "an integer from 1 to 100000",
  ],
  ["batchSize", [0, 60_001, 2.5, "32"], "an integer from 1 to 60000"],
  ["dropout", [-0.1, 0.91, 1, "0.5", NaN], "a number ≥ 0 and ≤ 0.9"],
  ["augment", ["true", 1, null], "true or false"],
  ["classic", ["yes", 0, null], "true or false"],
  ["seed", [-1, 0.5, 2 ** 32, "42", NaN], "an integer from 0 to 4294967295"],
  ["splitSeed", [-1, 2 ** 32, 1.1], "an integer from 0 to 4294967295"],
  ["trainCount", [0, 1_000_001, 10.5], "an integer from 1 to 1000000"],
  ["testCount", [0, -3, 1_000_001], "an integer from 1 to 1000000"],
  ["workers", [0, 17, 1.5, "2", "auto", null], "an integer from 1 to 16"],
];

for (const [field, values, expected] of BAD_VALUES) {
  Deno.test(`validateTrainConfig() rejects bad ${field} values (${expected}) with a RangeError naming the field`, () => {
    for (const value of values) {
      // With and without arch "mlp": a bad value is named before any arch rule applies.
      for (const base of [{}, { arch: "mlp" }]) {
        if (field === "arch" && "arch" in base) continue;
        const err = assertThrows(
          () => validateTrainConfig({ ...base, [field]: value }),
          RangeError,
          `Cannot use ${field} as it must be `,
          `${field}=${String(value)} was accepted`,
        );
        assertStringIncludes(
          err.message,
          expected,
          `for ${field}=${String(value)}`,
        );
        assertStringIncludes(
          err.message,
          ": got ",
          `for ${field}=${String(value)}`,
        );
      }
    }
  });
}

Deno.test("validateTrainConfig() shows the given value in its message", () => {
  assertThrows(() => validateTrainConfig({ epochs: 0 }), RangeError, ": got 0");
  assertThrows(
    () => validateTrainConfig({ optimizer: "foo" }),
    RangeError,
    ': got "foo"',
  );
  assertThrows(
    () => validateTrainConfig({ arch: "mlp", layers: [784, 10, 11] }),
    RangeError,
    "got [784,10,11]",
  );
});

Deno.test("validateTrainConfig() rejects an unknown arch, listing mlp and every preset", () => {
  assertThrows(
    () => validateTrainConfig({ arch: "foo" }),
    RangeError,
    `Cannot use arch as it must be ${ARCH_LIST}: got "foo"`,
  );
  const err = assertThrows(() => validateTrainConfig({ arch: "cnn" }));
  for (const name of ["mlp", ...PRESET_NAMES]) {
    assertStringIncludes((err as Error).message, name);
  }
});

Deno.test("validateTrainConfig() accepts layers, activation and dropout with arch mlp", () => {
  const config = validateTrainConfig({
    arch: "mlp",
    layers: [784, 32, 10],
    activation: "sigmoid",
    dropout: 0.5,
  });
  assertEquals(
    [config.layers, config.activation, config.dropout],
    [[784, 32, 10], "sigmoid", 0.5],
  );
});

Deno.test("validateTrainConfig() refuses layers, activation and dropout with a preset, naming them and the preset", () => {
  for (const arch of ["quick", "default", "best", "classic"]) {
    for (
      const [given, named] of [
        [{ layers: [784, 32, 10] }, "layers"],
        [{ activation: "sigmoid" }, "activation"],
        [{ dropout: 0.2, layers: [784, 10] }, "layers, dropout"],
        [
          { dropout: 0.2, activation: "sigmoid", layers: [784, 10] },
          "layers, activation, dropout",
        ],
      ] as const
    ) {
      assertThrows(
        () => validateTrainConfig({ arch, ...given }),
        RangeError,
        `Cannot use ${named} with the preset "${arch}": they shape the "mlp" arch only`,
        `${arch} with ${named}`,
      );
    }
  }
  // Without an arch, the default preset is meant.
  assertThrows(
    () => validateTrainConfig({ layers: [784, 32, 10] }),
    RangeError,
    'Cannot use layers with the preset "default": they shape the "mlp" arch only',
  );
  // …and with classic: true, the classic preset.
  assertThrows(
    () => validateTrainConfig({ classic: true, activation: "sigmoid" }),
    RangeError,
    'Cannot use activation with the preset "classic"',
  );
});

Deno.test("validateTrainConfig({classic: true}) means the classic preset: the notebook's run", () => {
  const config = validateTrainConfig({ classic: true });
  assertEquals(config, validateTrainConfig({ arch: "classic" }));
  assertEquals(config, validateTrainConfig({ arch: "classic", classic: true }));
  assertEquals(config, {
    ...BASE,
    ...fieldsOf("classic"),
    arch: "classic",
    classic: true,
  } as TrainConfig);
  assertEquals(
    [
      config.arch,
      config.loss,
      config.optimizer,
      config.learningRate,
      config.schedule,
      config.epochs,
      config.classic,
    ],
    ["classic", "mse", "gd", 2, "constant", 300, true],
  );
});

Deno.test('validateTrainConfig() sets classic exactly when arch is "classic"', () => {
  for (const arch of ["mlp", ...PRESET_NAMES]) {
    assertEquals(
      validateTrainConfig({ arch }).classic,
      arch === "classic",
      arch,
    );
    if (arch !== "classic") {
      assertEquals(
        validateTrainConfig({ arch, classic: false }).classic,
        false,
      );
    }
  }
  // classic: false does not undo an explicit arch "classic".
  const config = validateTrainConfig({ arch: "classic", classic: false });
  assertEquals([config.arch, config.classic], ["classic", true]);
  assertEquals(
    validateTrainConfig({ classic: false }),
    validateTrainConfig({}),
  );
});

Deno.test("validateTrainConfig() rejects classic: true with any other arch", () => {
  for (const arch of ["mlp", "quick", "default", "best"]) {
    assertThrows(
      () => validateTrainConfig({ classic: true, arch }),
      RangeError,
      `Cannot use arch as it must be classic (or left out) with classic: true: got "${arch}"`,
    );
  }
});

Deno.test("validateTrainConfig({classic: true}) lets given fields override the notebook's", () => {
  const config = validateTrainConfig({
    classic: true,
    epochs: 100,
    trainCount: 500,
    learningRate: 0.5,
  });
  assertEquals([config.epochs, config.trainCount, config.learningRate], [
    100,
    500,
    0.5,
  ]);
  assertEquals([config.optimizer, config.loss], ["gd", "mse"]);
  // Order of fields does not matter.
  assertEquals(validateTrainConfig({ epochs: 100, classic: true }).epochs, 100);
});

Deno.test("validateTrainConfig() rejects classic with cross-entropy, naming the loss", () => {
  for (
    const given of [{ classic: true }, { arch: "classic" }, {
      arch: "classic",
      classic: false,
    }]
  ) {
    assertThrows(
      () => validateTrainConfig({ ...given, loss: "cross-entropy" }),
      RangeError,
      'Cannot use loss as it must be mse with classic (the notebook\'s cost): got "cross-entropy"',
    );
  }
  // Other arches may use mse.
  assertEquals(validateTrainConfig({ arch: "quick", loss: "mse" }).loss, "mse");
});

Deno.test("mlpArchitecture() builds dense layers with a softmax output for cross-entropy", () => {
  const arch = mlpArchitecture(
    validateTrainConfig({ arch: "mlp", layers: [784, 32, 16, 10] }),
  );
  assertEquals(arch, {
    input: [1, 28, 28],
    layers: [
      { type: "dense", units: 32, activation: "relu" },
      { type: "dense", units: 16, activation: "relu" },
      { type: "dense", units: 10, activation: "softmax" },
    ],
  });
  const network = createNetwork(arch, { random: createRandom(1) });
  assertEquals(
    network.parameterCount,
    784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10,
  );
});

Deno.test("mlpArchitecture() gives a sigmoid output for mse and uses the hidden activation", () => {
  const arch = mlpArchitecture(
    validateTrainConfig({
      arch: "mlp",
      loss: "mse",
      activation: "sigmoid",
      layers: [784, 20, 10],
    }),
  );
  assertEquals(arch.layers, [
    { type: "dense", units: 20, activation: "sigmoid" },
    { type: "dense", units: 10, activation: "sigmoid" },
  ]);
  assertEquals(
    mlpArchitecture(validateTrainConfig({ arch: "mlp", loss: "mse" })).layers
      .at(-1),
    { type: "dense", units: 10, activation: "sigmoid" },
  );
});

Deno.test("mlpArchitecture() inserts a dropout layer after every hidden layer when dropout > 0", () => {
  const arch = mlpArchitecture(
    validateTrainConfig({
      arch: "mlp",
      layers: [784, 64, 32, 10],
      dropout: 0.25,
    }),
  );
  assertEquals(arch.layers, [
    { type: "dense", units: 64, activation: "relu" },
    { type: "dropout", rate: 0.25 },
    { type: "dense", units: 32, activation: "relu" },
    { type: "dropout", rate: 0.25 },
    { type: "dense", units: 10, activation: "softmax" },
  ]);
  createNetwork(arch, { random: createRandom(1) });
  // No hidden layer, no dropout.
  assertEquals(
    mlpArchitecture(
      validateTrainConfig({ arch: "mlp", layers: [784, 10], dropout: 0.5 }),
    ).layers,
    [{ type: "dense", units: 10, activation: "softmax" }],
  );
});

Deno.test("HIDDEN_ACTIVATIONS lists what the validator accepts", () => {
  for (const activation of HIDDEN_ACTIVATIONS) {
    validateTrainConfig({ arch: "mlp", activation });
  }
  assertEquals([...HIDDEN_ACTIVATIONS], ["sigmoid", "relu"]);
});

Deno.test("validateTrainConfig() accepts its own output again (a stored config can be re-posted)", () => {
  for (const arch of ["mlp", "quick", "default", "best", "classic"]) {
    const once = validateTrainConfig({ arch });
    assertEquals(validateTrainConfig(once), once, arch);
  }
});

Deno.test("validateTrainConfig() defaults to 1 worker: a server or a library call never takes every core unasked", () => {
  assertEquals(validateTrainConfig({}).workers, 1);
  assertEquals(validateTrainConfig({ workers: 4 }).workers, 4);
});

Deno.test("autoWorkers() takes every core up to 4, and at least 1", () => {
  assertEquals([0, 1, 2, 3, 4, 8, 64].map(autoWorkers), [1, 1, 2, 3, 4, 4, 4]);
});
