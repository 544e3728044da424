import { assert, assertEquals, assertRejects } from "@std/assert";
import type { Model } from "../../src/nn/model_file.ts";
import {
  startTrainingRun,
  type TrainingRun,
  trainRun,
} from "../../src/server/train_runner.ts";
import { validateTrainConfig } from "../../src/training/config.ts";
import type { RunCheckpoint, RunThreads } from "../../src/training/run.ts";

/** 784-16-10, two epochs of 500 digits (40 batches): well under a second. */
const CONFIG = validateTrainConfig({
  arch: "mlp",
  layers: [784, 16, 10],
  epochs: 2,
  trainCount: 500,
  testCount: 200,
  batchSize: 25,
  learningRate: 0.01,
  seed: 5,
});

function run(
  mode: "worker" | "inline" | "auto",
  extra: {
    config?: typeof CONFIG;
    onThreads?: (threads: RunThreads) => void;
    resume?: RunCheckpoint;
    onCheckpoint?: (c: RunCheckpoint) => void;
    signal?: AbortSignal;
    onFallback?: (reason: string) => void;
  } = {},
): TrainingRun {
  return startTrainingRun(extra.config ?? CONFIG, {
    id: "m-runner-test",
    createdAt: new Date(0).toISOString(),
    signal: extra.signal ?? new AbortController().signal,
    onBatch: () => {},
    onEpoch: () => {},
    mode,
    resume: extra.resume,
    onCheckpoint: extra.onCheckpoint,
    checkpointEveryMs: extra.onCheckpoint ? 0.001 : 0,
    onFallback: extra.onFallback,
    onThreads: extra.onThreads,
  });
}

async function trained(r: TrainingRun): Promise<Model> {
  try {
    return await r.model;
  } finally {
    await r.close();
  }
}

Deno.test("a run on the main thread ends with exactly the weights of a run in a worker", async () => {
  const inWorker = await trained(run("worker"));
  const inline = run("inline");
  assertEquals(inline.mode(), "inline");
  const onMain = await trained(inline);
  assertEquals(onMain.weights, inWorker.weights);
  assertEquals(onMain.metrics.testAccuracy, inWorker.metrics.testAccuracy);
});

Deno.test("a run asking for 2 workers starts them from inside the training worker, with the weights of a main-thread run", async () => {
  const config = { ...CONFIG, workers: 2 };
  const seen: RunThreads[] = [];
  const inWorker = await trained(
    run("worker", { config, onThreads: (t) => seen.push(t) }),
  );
  const onMain = await trained(run("inline", { config }));
  assertEquals(seen, [{ workers: 2, parallel: true }]);
  assertEquals(inWorker.config.workers, 2);
  assertEquals(onMain.weights, inWorker.weights);
});

Deno.test("a main-thread run lets timers run between its slices", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    const r = run("inline");
    await trained(r);
  } finally {
    clearInterval(timer);
  }
  assert(ticks > 0, "no timer ran while training on the main thread");
});

Deno.test('mode "auto" trains on the main thread when the runtime has no Worker', async () => {
  const saved = globalThis.Worker;
  const reasons: string[] = [];
  let r: TrainingRun;
  // deno-lint-ignore no-explicit-any
  (globalThis as any).Worker = undefined;
  try {
    r = run("auto", { onFallback: (reason) => reasons.push(reason) });
  } finally {
    globalThis.Worker = saved;
  }
  assertEquals(r.mode(), "inline");
  assertEquals(reasons, ["this runtime has no Worker"]);
  const model = await trained(r);
  assertEquals(model.id, "m-runner-test");
});

for (const mode of ["worker", "inline"] as const) {
  Deno.test(`a ${mode === "inline" ? "main-thread" : "worker"} run resumed from any of its checkpoints ends with the uninterrupted weights`, async () => {
    const checkpoints: RunCheckpoint[] = [];
    const whole = await trained(
      run(mode, { onCheckpoint: (c) => checkpoints.push(c) }),
    );
    assert(checkpoints.length >= 3, `only ${checkpoints.length} checkpoints`);
    for (
      const c of [checkpoints[1], checkpoints[checkpoints.length >> 1]]
    ) {
      const resumed = await trained(run(mode, { resume: structuredClone(c) }));
      assertEquals(
        resumed.weights,
        whole.weights,
        `from step ${c.state.steps}`,
      );
    }
  });
}

Deno.test("aborting a main-thread run rejects its model with the reason", async () => {
  const controller = new AbortController();
  const r = run("inline", { signal: controller.signal });
  controller.abort(new Error("stop now"));
  await assertRejects(() => r.model, Error, "stop now");
  await r.close();
});

/** Threads of this process (Linux), or null elsewhere. */
function threadCount(): number | null {
  try {
    return [...Deno.readDirSync("/proc/self/task")].length;
  } catch {
    return null;
  }
}

Deno.test("aborting a worker run with 2 workers leaves no thread behind", async () => {
  const before = threadCount();
  const controller = new AbortController();
  let batches = 0;
  const config = { ...CONFIG, workers: 2, epochs: 50 };
  const r = startTrainingRun(config, {
    id: "m-runner-test",
    createdAt: new Date(0).toISOString(),
    signal: controller.signal,
    mode: "worker",
    progressEveryMs: 0,
    onBatch: () => {
      if (++batches === 5) controller.abort(new Error("stop now"));
    },
    onEpoch: () => {},
  });
  await assertRejects(() => r.model, Error, "stop now");
  await r.close();
  if (before === null) return;
  let now = threadCount()!;
  for (let waited = 0; now > before && waited < 15_000; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    now = threadCount()!;
  }
  assert(now <= before, `${now - before} threads still run after the abort`);
});

Deno.test("trainRun() stops between batches when stopRequested() says so, with an AbortError", async () => {
  let asked = 0;
  const error = await assertRejects(
    () =>
      trainRun({
        type: "train",
        config: { ...CONFIG, workers: 2 },
        id: "m-runner-test",
        createdAt: new Date(0).toISOString(),
        progressEveryMs: 0,
        checkpointEveryMs: 0,
      }, {
        onBatch: () => {},
        onEpoch: () => {},
        onCheckpoint: () => {},
        stopRequested: () => ++asked > 3,
      }),
    DOMException,
    "stopped",
  );
  assertEquals([error.name, asked], ["AbortError", 4]);
});

Deno.test("evaluate() measures another model on the run's test split", async () => {
  const { encodeModel } = await import("../../src/nn/model_file.ts");
  for (const mode of ["worker", "inline"] as const) {
    const r = run(mode);
    try {
      const model = await r.model;
      const accuracy = await r.evaluate(encodeModel(model));
      assertEquals(accuracy, model.metrics.testAccuracy, mode);
    } finally {
      await r.close();
    }
  }
});
