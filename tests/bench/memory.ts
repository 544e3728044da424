/**
 * Peak memory (VmHWM, the high-water mark of resident memory) of
 * `deno task train` and of the idle server, read from /proc/<pid>/status of
 * the process itself (Linux only).
 *
 * Usage:
 *   deno run -A tests/bench/memory.ts train [-- train flags]
 *   deno run -A tests/bench/memory.ts server [--idle 5]
 *
 * (-A because Deno reads /proc/<pid>/status only with all permissions.)
 *
 * `train` runs src/cli/train.ts with the task's permissions and KV_PATH=:memory:
 * (nothing is kept), polling its status every 20 ms; the last VmHWM read
 * before it exits is reported. `server` starts main.ts on a free loopback
 * port with an in-memory KV and no start-up training, waits until it answers
 * GET /, leaves it idle for --idle seconds and reports VmRSS and VmHWM.
 *
 * @module
 */

import { parseArgs } from "@std/cli";

const args = parseArgs(Deno.args, {
  string: ["idle", "port"],
  default: { idle: "5", port: "8791" },
  "--": true,
});
const mode = String(args._[0] ?? "train");
const root = new URL("../../", import.meta.url);

function status(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = (name: string) =>
      Number(text.match(new RegExp(`${name}:\\s+(\\d+) kB`))?.[1] ?? NaN);
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
  } catch {
    return undefined; // exited
  }
}

const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;

if (mode === "train") {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-net",
      "src/cli/train.ts",
      ...(args["--"] ?? []).map(String),
    ],
    cwd: root,
    env: { KV_PATH: ":memory:" },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  let peak = 0;
  const timer = setInterval(() => {
    const s = status(child.pid);
    if (s && s.hwm > peak) peak = s.hwm;
  }, 20);
  const { code } = await child.status;
  clearInterval(timer);
  console.log(
    `deno task train ${
      (args["--"] ?? []).join(" ")
    }: exit ${code}, peak RSS (VmHWM) ${mb(peak)}`,
  );
} else if (mode === "server") {
  const port = Number(args.port);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-net",
      "main.ts",
    ],
    cwd: root,
    env: { PORT: String(port), KV_PATH: ":memory:", TRAIN_WHEN_EMPTY: "0" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/`);
        await response.body?.cancel();
        break;
      } catch {
        if (Date.now() > deadline) {
          throw new Error(
            `The server did not answer on port ${port} within 30 s`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await new Promise((r) => setTimeout(r, Number(args.idle) * 1000));
    const s = status(child.pid);
    if (!s) throw new Error("The server exited while idle");
    console.log(
      `idle server after ${args.idle} s: RSS ${mb(s.rss)}, peak RSS (VmHWM) ${
        mb(s.hwm)
      }`,
    );
  } finally {
    child.kill();
    await child.status;
  }
} else {
  console.error(`Unknown mode "${mode}": use train or server`);
  Deno.exit(2);
}
