import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "@std/assert";
import type { Dataset } from "../../src/nn/dataset.ts";
import type { LayerSpec } from "../../src/nn/layer.ts";
import { evaluate } from "../../src/nn/metrics.ts";
import { createNetwork, type Network } from "../../src/nn/network.ts";
import type { OptimizerOptions } from "../../src/nn/optimizer.ts";
import {
  ParallelTrainer,
  type ParallelTrainerOptions,
} from "../../src/nn/parallel.ts";
import { createRandom } from "../../src/nn/random.ts";
import { Trainer, type TrainerOptions } from "../../src/nn/trainer.ts";
import { syntheticDataset } from "./_fixtures.ts";

const data = syntheticDataset(61, 20, 4, 5); // 61: the last batch is partial

const MLP: LayerSpec[] = [
  { type: "dense", units: 9, activation: "relu" },
  { type: "dense", units: 7, activation: "sigmoid" },
  { type: "dense", units: 4, activation: "softmax" },
];

function setup(
  seed: number,
  layers: LayerSpec[] = MLP,
  overrides: Partial<TrainerOptions> = {},
  input = [20],
) {
  const random = createRandom(seed);
  const network = createNetwork({ input, layers }, { random });
  const options: TrainerOptions = {
    cost: "cross-entropy",
    optimizer: { kind: "sgd" },
    learningRate: 0.1,
    schedule: "cosine",
    epochs: 3,
    batchSize: 8,
    random,
    ...overrides,
  };
  return { network, options };
}

/** Trains to the end and returns the per-batch losses; closes the trainer. */
function trainAll(trainer: Trainer | ParallelTrainer): number[] {
  const losses: number[] = [];
  try {
    while (!trainer.done) losses.push(trainer.trainBatch().loss);
  } finally {
    if (trainer instanceof ParallelTrainer) trainer.close();
  }
  return losses;
}

async function parallelRun(
  seed: number,
  options: Partial<ParallelTrainerOptions>,
  layers: LayerSpec[] = MLP,
  dataset: Dataset = data,
  input = [20],
): Promise<{ network: Network; losses: number[] }> {
  const s = setup(seed, layers, options, input);
  const trainer = await ParallelTrainer.create(s.network, dataset, {
    ...s.options,
    ...options,
  });
  return { network: s.network, losses: trainAll(trainer) };
}

const OPTIMIZERS: OptimizerOptions[] = [
  { kind: "sgd" },
  { kind: "sgd", weightDecay: 1e-2 },
  { kind: "momentum", momentum: 0.9, weightDecay: 1e-3 },
  { kind: "adam" },
];

for (const optimizer of OPTIMIZERS) {
  Deno.test(`ParallelTrainer with 1 worker gives bit-identical weights and losses to Trainer (${JSON.stringify(optimizer)})`, async () => {
    const plain = setup(3, MLP, { optimizer });
    const expectedLosses = trainAll(
      new Trainer(plain.network, data, plain.options),
    );
    const { network, losses } = await parallelRun(3, { optimizer, workers: 1 });
    assertEquals(losses, expectedLosses);
    assertEquals(network.params, plain.network.params);
  });

  Deno.test(`ParallelTrainer on 2 workers gives bit-identical weights to the single-thread path (${JSON.stringify(optimizer)})`, async () => {
    const threads = await parallelRun(4, { optimizer, workers: 2 });
    const single = await parallelRun(4, {
      optimizer,
      workers: 2,
      mode: "single-thread",
    });
    assertEquals(threads.losses, single.losses);
    assertEquals(threads.network.params, single.network.params);
  });
}

Deno.test("ParallelTrainer draws augmentation from the run's generator in batch order, like Trainer", async () => {
  // Shifts every pixel by a random amount: any change of draw order changes the weights.
  const augment: TrainerOptions["augment"] = (out, offset, image, random) => {
    for (let k = 0; k < image.length; k++) {
      out[offset + k] = image[k] + 0.1 * random();
    }
  };
  const plain = setup(7, MLP, { augment });
  trainAll(new Trainer(plain.network, data, plain.options));
  const one = await parallelRun(7, { augment, workers: 1 });
  assertEquals(one.network.params, plain.network.params);
  const threads = await parallelRun(7, { augment, workers: 2 });
  const single = await parallelRun(7, {
    augment,
    workers: 2,
    mode: "single-thread",
  });
  assertEquals(threads.network.params, single.network.params);
});

Deno.test("ParallelTrainer reports whether its shards run on workers", async () => {
  const s = setup(1);
  const threads = await ParallelTrainer.create(s.network, data, {
    ...s.options,
    workers: 2,
  });
  threads.close();
  assert(threads.parallel);
  const single = await ParallelTrainer.create(s.network, data, {
    ...s.options,
    workers: 2,
    mode: "single-thread",
  });
  assert(!single.parallel);
  assertEquals(single.workers, 2);
});

Deno.test("ParallelTrainer on 2 workers trains to nearly the same weights as Trainer (only the summation order differs)", async () => {
  const plain = setup(6, MLP, { schedule: "constant" });
  trainAll(new Trainer(plain.network, data, plain.options));
  const { network } = await parallelRun(6, {
    workers: 2,
    schedule: "constant",
  });
  const a = network.params.flatMap((p) => [...p]);
  const b = plain.network.params.flatMap((p) => [...p]);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
  }
  assert(worst < 1e-9, `largest difference ${worst}`);
  assertNotEquals(a, b.map((v) => v + 1)); // (the comparison above can fail)
});

Deno.test("ParallelTrainer falls back to the single-thread path, with the same results, when its workers cannot start", async () => {
  const s = setup(4);
  const trainer = await ParallelTrainer.create(s.network, data, {
    ...s.options,
    workers: 2,
    // A worker that reports a failure instead of building its shard.
    workerUrl: 'data:text/javascript,postMessage({ error: "no worker here" })',
  });
  assert(!trainer.parallel);
  assertEquals(trainer.workerError?.message, "no worker here");
  trainAll(trainer);
  const single = await parallelRun(4, { workers: 2, mode: "single-thread" });
  assertEquals(s.network.params, single.network.params);
});

Deno.test("ParallelTrainer is deterministic for a seed and worker count, 3 workers, batches smaller than 3 and dropout", async () => {
  const layers: LayerSpec[] = [
    { type: "dense", units: 9, activation: "relu" },
    { type: "dropout", rate: 0.3 },
    { type: "dense", units: 4, activation: "softmax" },
  ];
  const tiny = syntheticDataset(7, 20, 4, 9); // batches of 3, 3 and 1: one shard is empty
  const options = {
    workers: 3,
    batchSize: 3,
    optimizer: { kind: "adam" as const },
  };
  const first = await parallelRun(8, options, layers, tiny);
  const second = await parallelRun(8, options, layers, tiny);
  const single = await parallelRun(
    8,
    { ...options, mode: "single-thread" },
    layers,
    tiny,
  );
  assertEquals(first.network.params, second.network.params);
  assertEquals(first.network.params, single.network.params);
  assert(first.losses.every(Number.isFinite));
  const otherSeed = await parallelRun(9, options, layers, tiny);
  assertNotEquals(otherSeed.network.params, first.network.params);
});

Deno.test("ParallelTrainer trains layers without shared storage (conv2d) identically on workers and in one thread", async () => {
  const layers: LayerSpec[] = [
    {
      type: "conv2d",
      filters: 2,
      kernelSize: 3,
      activation: "relu",
      padding: "same",
    },
    { type: "maxpool2d", size: 2 },
    { type: "dense", units: 4, activation: "softmax" },
  ];
  const images = syntheticDataset(20, 36, 4, 2);
  const dataset = { ...images, shape: [1, 6, 6] };
  const options = {
    workers: 2,
    epochs: 2,
    optimizer: { kind: "adam" as const },
  };
  const threads = await parallelRun(2, options, layers, dataset, [1, 6, 6]);
  const single = await parallelRun(
    2,
    { ...options, mode: "single-thread" },
    layers,
    dataset,
    [1, 6, 6],
  );
  const plain = setup(2, layers, { epochs: 2, optimizer: { kind: "adam" } }, [
    1,
    6,
    6,
  ]);
  const before = plain.network.params.map((p) => p.slice());
  assertEquals(threads.network.params, single.network.params);
  assertNotEquals(
    threads.network.params,
    before,
    "the conv weights were trained",
  );
});

Deno.test("ParallelTrainer resumed from getState() ends with exactly the uninterrupted weights", async () => {
  const options = { workers: 2, optimizer: { kind: "adam" as const } };
  const whole = await parallelRun(5, options);

  const first = setup(5);
  const interrupted = await ParallelTrainer.create(first.network, data, {
    ...first.options,
    ...options,
  });
  for (let i = 0; i < 11; i++) interrupted.trainBatch(); // mid-epoch 2
  const state = structuredClone(interrupted.getState());
  interrupted.close();

  const again = setup(999); // a different seed: everything must come from the state
  const resumed = await ParallelTrainer.create(again.network, data, {
    ...again.options,
    ...options,
  });
  resumed.setState(state);
  assertEquals(resumed.epoch, 1);
  assertEquals(resumed.batch, 3);
  trainAll(resumed);
  assertEquals(again.network.params, whole.network.params);
});

Deno.test("a Trainer checkpoint resumes in ParallelTrainer with 1 worker exactly", async () => {
  const whole = setup(12, MLP, { optimizer: { kind: "momentum" } });
  trainAll(new Trainer(whole.network, data, whole.options));

  const first = setup(12, MLP, { optimizer: { kind: "momentum" } });
  const trainer = new Trainer(first.network, data, first.options);
  for (let i = 0; i < 9; i++) trainer.trainBatch();
  const again = setup(1, MLP, { optimizer: { kind: "momentum" } });
  const resumed = await ParallelTrainer.create(again.network, data, {
    ...again.options,
    workers: 1,
  });
  resumed.setState(trainer.getState());
  trainAll(resumed);
  assertEquals(again.network.params, whole.network.params);
});

Deno.test("the network stays usable after close() and holds the trained weights", async () => {
  const s = setup(2);
  const trainer = await ParallelTrainer.create(s.network, data, {
    ...s.options,
    workers: 2,
  });
  for (let i = 0; i < 5; i++) trainer.trainBatch();
  const state = trainer.getState();
  trainer.close();
  assertEquals(s.network.params, state.params);
  assertEquals(evaluate(s.network, data).count, data.count);
  assertThrows(() => trainer.trainBatch(), RangeError, "after close()");
});

Deno.test("ParallelTrainer.create() rejects bad worker counts and the options Trainer rejects", async () => {
  const s = setup(1);
  await assertRejects(
    () => ParallelTrainer.create(s.network, data, { ...s.options, workers: 0 }),
    RangeError,
    "workers must be an integer in 1..64: got 0",
  );
  await assertRejects(
    () =>
      ParallelTrainer.create(s.network, data, { ...s.options, workers: 1.5 }),
    RangeError,
    "got 1.5",
  );
  await assertRejects(
    () =>
      ParallelTrainer.create(s.network, data, {
        ...s.options,
        batchSize: 0,
        workers: 2,
      }),
    RangeError,
    "batch size must be a positive integer: got 0",
  );
});

Deno.test("ParallelTrainer.setState() rejects a state of another shape", async () => {
  const s = setup(1);
  const trainer = await ParallelTrainer.create(s.network, data, {
    ...s.options,
    workers: 2,
    mode: "single-thread",
  });
  const state = trainer.getState();
  state.params.pop();
  assertThrows(() => trainer.setState(state), TypeError, "does not match");
});

/** 20 inputs: 0–4 always 0, 5–9 rarely non-zero, 10–19 often: whole rows of the first w get no gradient. */
function deadInputs(count: number): Dataset {
  const r = createRandom(9);
  const images = new Float32Array(count * 20);
  for (let k = 0; k < count; k++) {
    for (let i = 5; i < 20; i++) {
      const p = i < 10 ? 0.05 : 0.6;
      images[k * 20 + i] = r() < p ? r() : 0;
    }
  }
  const labels = Uint8Array.from({ length: count }, (_, k) => k % 4);
  return { images, labels, count, shape: [20] };
}

for (
  const optimizer of [{ kind: "sgd" }, {
    kind: "sgd",
    weightDecay: 0.1,
  }] as OptimizerOptions[]
) {
  Deno.test(`ParallelTrainer skips the first layer's untouched rows without changing a bit (${JSON.stringify(optimizer)})`, async () => {
    const dead = deadInputs(61);
    const plain = setup(5, MLP, { optimizer });
    const initial = plain.network.params[0].slice();
    const expected = trainAll(new Trainer(plain.network, dead, plain.options));
    const { network, losses } = await parallelRun(
      5,
      { optimizer, workers: 1 },
      MLP,
      dead,
    );
    assertEquals(losses, expected);
    assertEquals(network.params, plain.network.params);
    // Rows 0–4 of w (inputs that are always 0): untouched without decay, decayed with it.
    const rows = network.params[0].subarray(0, 5 * 9);
    if (optimizer.weightDecay) assertNotEquals(rows, initial.subarray(0, 45));
    else assertEquals(rows, initial.subarray(0, 45));
    const threads = await parallelRun(5, { optimizer, workers: 2 }, MLP, dead);
    const single = await parallelRun(
      5,
      { optimizer, workers: 2, mode: "single-thread" },
      MLP,
      dead,
    );
    assertEquals(threads.network.params, single.network.params);
  });
}
