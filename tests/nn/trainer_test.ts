import { assertEquals, assertThrows } from "@std/assert";
import { createNetwork } from "../../src/nn/network.ts";
import { createRandom } from "../../src/nn/random.ts";
import { Trainer, type TrainerOptions } from "../../src/nn/trainer.ts";
import { syntheticDataset } from "./_fixtures.ts";

const data = syntheticDataset(50, 12, 3, 8);

function setup(seed = 1, overrides: Partial<TrainerOptions> = {}) {
  const random = createRandom(seed);
  const net = createNetwork({
    input: [12],
    layers: [
      { type: "dense", units: 6, activation: "sigmoid" },
      { type: "dropout", rate: 0.1 },
      { type: "dense", units: 3, activation: "softmax" },
    ],
  }, { random });
  const trainer = new Trainer(net, data, {
    cost: "cross-entropy",
    optimizer: { kind: "adam" },
    learningRate: 0.01,
    schedule: "cosine",
    epochs: 4,
    batchSize: 8,
    random,
    ...overrides,
  });
  return { net, trainer };
}

Deno.test("Trainer runs ceil(n / batch) batches per epoch, the last one partial", () => {
  const { trainer } = setup();
  assertEquals(trainer.batchesPerEpoch, 7);
  let ends = 0;
  while (!trainer.done) if (trainer.trainBatch().epochEnded) ends++;
  assertEquals(ends, 4);
  assertThrows(() => trainer.trainBatch(), RangeError, "past the last epoch");
});

Deno.test("Trainer resumed from getState() ends with exactly the uninterrupted weights", () => {
  const whole = setup();
  while (!whole.trainer.done) whole.trainer.trainBatch();

  const first = setup();
  for (let i = 0; i < 11; i++) first.trainer.trainBatch(); // mid-epoch
  const state = structuredClone(first.trainer.getState());

  const resumed = setup(999); // different seed: everything must come from the state
  resumed.trainer.setState(state);
  while (!resumed.trainer.done) resumed.trainer.trainBatch();
  assertEquals(resumed.net.params, whole.net.params);
});

Deno.test("Trainer.setState() rejects a state of another shape", () => {
  const { trainer } = setup();
  const other = syntheticDataset(20, 12, 3);
  const random = createRandom(1);
  const small = new Trainer(
    createNetwork({
      input: [12],
      layers: [{ type: "dense", units: 3, activation: "softmax" }],
    }, {
      random,
    }),
    other,
    { ...trainer.options, random },
  );
  assertThrows(
    () => trainer.setState(small.getState()),
    TypeError,
    "does not match",
  );
});

Deno.test("Trainer rejects bad options with the value in the message", () => {
  assertThrows(() => setup(1, { batchSize: 0 }), RangeError, "got 0");
  assertThrows(() => setup(1, { epochs: 1.5 }), RangeError, "got 1.5");
  assertThrows(() => setup(1, { learningRate: -1 }), RangeError, "got -1");
});

Deno.test("Trainer rejects data whose images do not fit the network", () => {
  const random = createRandom(1);
  const net = createNetwork({
    input: [5],
    layers: [{ type: "dense", units: 3, activation: "softmax" }],
  }, {
    random,
  });
  assertThrows(
    () => new Trainer(net, data, { ...setup().trainer.options, random }),
    TypeError,
    "hold 12 values and the network takes 5",
  );
});
