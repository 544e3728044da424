import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { createNetwork } from "../../src/nn/network.ts";
import { createRandom } from "../../src/nn/random.ts";
import {
  CLASSIC_TRAIN_CONFIG,
  DEFAULT_TRAIN_CONFIG,
  HIDDEN_ACTIVATIONS,
  mlpArchitecture,
  TRAIN_CONFIG_FIELDS,
  type TrainConfig,
  validateTrainConfig,
} from "../../src/training/config.ts";

Deno.test("validateTrainConfig({}) gives the documented defaults", () => {
  const config = validateTrainConfig({});
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
  });
  assertEquals(config, { ...DEFAULT_TRAIN_CONFIG });
  assertEquals(
    [...TRAIN_CONFIG_FIELDS].sort(),
    Object.keys(DEFAULT_TRAIN_CONFIG).sort(),
  );
});

Deno.test("validateTrainConfig() returns a copy that does not share the defaults' arrays", () => {
  const config = validateTrainConfig({});
  config.layers.push(99);
  assertEquals(DEFAULT_TRAIN_CONFIG.layers, [784, 128, 64, 10]);
  const given = { layers: [784, 32, 10] };
  const fromGiven = validateTrainConfig(given);
  fromGiven.layers[1] = 1;
  assertEquals(given.layers, [784, 32, 10]);
});

Deno.test("validateTrainConfig() keeps every valid given field and treats undefined as absent", () => {
  const given: TrainConfig = {
    layers: [784, 10],
    arch: "cnn-small",
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
  };
  assertEquals(validateTrainConfig(given), given);
  assertEquals(validateTrainConfig({ epochs: undefined }).epochs, 10);
  assertEquals(
    validateTrainConfig({ layers: [784, ...new Array(6).fill(4096), 10] })
      .layers.length,
    8,
  );
  assertEquals(
    validateTrainConfig({ momentum: 0, dropout: 0, seed: 0 }).momentum,
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
  ["arch", ["", "MLP", "a b", "../x", 3, "x".repeat(33)], "a preset name"],
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
];

for (const [field, values, expected] of BAD_VALUES) {
  Deno.test(`validateTrainConfig() rejects bad ${field} values (${expected}) with a RangeError naming the field`, () => {
    for (const value of values) {
      const err = assertThrows(
        () => validateTrainConfig({ [field]: value }),
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
    () => validateTrainConfig({ layers: [784, 10, 11] }),
    RangeError,
    "got [784,10,11]",
  );
});

Deno.test("validateTrainConfig({classic: true}) fills in the notebook's run", () => {
  const config = validateTrainConfig({ classic: true });
  assertEquals(config, { ...DEFAULT_TRAIN_CONFIG, ...CLASSIC_TRAIN_CONFIG });
  assertEquals(
    [
      config.activation,
      config.loss,
      config.optimizer,
      config.learningRate,
      config.schedule,
      config.epochs,
    ],
    ["sigmoid", "mse", "gd", 2, "constant", 300],
  );
  assertEquals(config.layers, [784, 128, 64, 10]);
  assertEquals(config.classic, true);
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
  assertEquals(config.optimizer, "gd");
  // Order of fields does not matter.
  assertEquals(validateTrainConfig({ epochs: 100, classic: true }).epochs, 100);
});

Deno.test("validateTrainConfig({classic: false}) does not apply the notebook's run", () => {
  assertEquals(validateTrainConfig({ classic: false }), {
    ...DEFAULT_TRAIN_CONFIG,
  });
});

Deno.test("validateTrainConfig() rejects classic with cross-entropy, naming the loss", () => {
  assertThrows(
    () => validateTrainConfig({ classic: true, loss: "cross-entropy" }),
    RangeError,
    'Cannot use loss as it must be mse with --classic (the notebook\'s cost): got "cross-entropy"',
  );
});

Deno.test("mlpArchitecture() builds dense layers with a softmax output for cross-entropy", () => {
  const arch = mlpArchitecture(
    validateTrainConfig({ layers: [784, 32, 16, 10] }),
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
    mlpArchitecture(validateTrainConfig({ classic: true })).layers.at(-1),
    {
      type: "dense",
      units: 10,
      activation: "sigmoid",
    },
  );
});

Deno.test("mlpArchitecture() inserts a dropout layer after every hidden layer when dropout > 0", () => {
  const arch = mlpArchitecture(
    validateTrainConfig({ layers: [784, 64, 32, 10], dropout: 0.25 }),
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
    mlpArchitecture(validateTrainConfig({ layers: [784, 10], dropout: 0.5 }))
      .layers,
    [
      { type: "dense", units: 10, activation: "softmax" },
    ],
  );
});

Deno.test("HIDDEN_ACTIVATIONS lists what the validator accepts", () => {
  for (const activation of HIDDEN_ACTIVATIONS) {
    validateTrainConfig({ activation });
  }
  assertEquals([...HIDDEN_ACTIVATIONS], ["sigmoid", "relu"]);
});
