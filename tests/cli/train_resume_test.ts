/**
 * Kill-and-resume: a real `deno task train` process is killed with SIGKILL at
 * several points, resumed from its last KV checkpoint each time, and must end
 * with exactly the weights of a run that was never interrupted.
 */
import { assert, assertEquals } from "@std/assert";
import { keys } from "../../src/store/keys.ts";
import { loadModel } from "../../src/store/models.ts";
import {
  type CheckpointMeta,
  saveCheckpoint,
} from "../../src/store/checkpoints.ts";

const TRAIN = new URL("../../src/cli/train.ts", import.meta.url).pathname;
const ARGS = [
  "--arch",
  "mlp",
  "--layers",
  "784,48,10",
  "--epochs",
  "4",
  "--train-count",
  "3000",
  "--test-count",
  "500",
  "--seed",
  "3",
  "--checkpoint-every",
  "0.05",
  "--json",
];

function spawnTrain(kvPath: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TRAIN, ...args],
    env: { KV_PATH: kvPath, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function finish(child: Deno.ChildProcess): Promise<{ modelId: string }> {
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

async function weightsOf(kvPath: string, id: string): Promise<Float32Array> {
  const kv = await Deno.openKv(kvPath);
  try {
    return (await loadModel(kv, id)).model.weights;
  } finally {
    kv.close();
  }
}

/** Waits until the run's checkpoint has passed `afterSteps`, then returns its step. */
async function waitForCheckpoint(
  kvPath: string,
  afterSteps: number,
): Promise<[string, number]> {
  const kv = await Deno.openKv(kvPath);
  try {
    for (let i = 0; i < 600; i++) {
      for await (
        const e of kv.list<CheckpointMeta>({ prefix: ["checkpoint"] })
      ) {
        if (e.key[2] === "meta" && e.value.steps > afterSteps) {
          return [String(e.key[1]), e.value.steps];
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("no checkpoint appeared within 30 s");
  } finally {
    kv.close();
  }
}

Deno.test("train resumed after SIGKILLs ends with the uninterrupted run's exact weights", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const whole = `${dir}/whole.sqlite`;
    const expected = await weightsOf(
      whole,
      (await finish(spawnTrain(whole, ARGS))).modelId,
    );

    const killed = `${dir}/killed.sqlite`;
    let child = spawnTrain(killed, ARGS);
    let steps = 0;
    let id = "";
    // Kill three times, each right after a newer checkpoint than the last.
    for (let k = 0; k < 3; k++) {
      [id, steps] = await waitForCheckpoint(killed, steps);
      child.kill("SIGKILL");
      const status = await child.status;
      await child.stdout.cancel();
      await child.stderr.cancel();
      assertEquals(status.signal, "SIGKILL");
      child = spawnTrain(killed, [
        "--resume",
        id,
        "--checkpoint-every",
        "0.05",
        "--json",
      ]);
    }
    const result = await finish(child);
    assertEquals(result.modelId, id);
    assertEquals(await weightsOf(killed, id), expected);
    // The finished run leaves no checkpoint behind.
    const kv = await Deno.openKv(killed);
    try {
      assertEquals((await kv.get(keys.checkpointMeta(id))).value, null);
    } finally {
      kv.close();
    }
    assert(steps > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train --resume of an unknown run exits 1 and says so", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", TRAIN, "--resume", "m-nope"],
      env: { KV_PATH: `${dir}/kv.sqlite`, NO_COLOR: "1" },
    }).output();
    assertEquals(out.code, 1);
    assert(
      new TextDecoder().decode(out.stderr).includes(
        "holds no checkpoint for it",
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train --resume of a run killed after its model was stored finishes it (activate, drop checkpoint)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/kv.sqlite`;
    const { modelId } = await finish(
      spawnTrain(path, [...ARGS, "--no-activate"]),
    );
    // What a kill between saveModel and deleteCheckpoint leaves behind:
    let kv = await Deno.openKv(path);
    await saveCheckpoint(kv, modelId, {
      meta: {},
      state: {
        epoch: 0,
        batch: 0,
        steps: 0,
        lossSum: 0,
        lossCount: 0,
        order: new Uint32Array(1),
        random: new Uint32Array(4),
        params: [],
        optimizer: [],
      },
    });
    kv.close();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", TRAIN, "--resume", modelId],
      env: { KV_PATH: path, NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    assert(text.includes("had finished"), text);
    assert(
      /test accuracy \d+\.\d\d%/.test(text.trim().split("\n").at(-1)!),
      text,
    );
    kv = await Deno.openKv(path);
    try {
      assertEquals((await kv.get(keys.checkpointMeta(modelId))).value, null);
      assertEquals(
        (await kv.get<{ id: string }>(keys.activeModel())).value?.id,
        modelId,
      );
    } finally {
      kv.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
