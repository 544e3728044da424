import { assertEquals } from "@std/assert";
import { formatConfusion, ProgressBar } from "../../src/cli/_format.ts";

/** A writer that keeps what it was given as text. */
function sink() {
  const writes: string[] = [];
  const decoder = new TextDecoder();
  return {
    writes,
    writeSync(p: Uint8Array): number {
      writes.push(decoder.decode(p));
      return p.length;
    },
  };
}

/** Runs `fn` with Date.now() reading `clock.t`, restoring the real clock after. */
function withClock(fn: (clock: { t: number }) => void): void {
  const real = Date.now;
  const clock = { t: 1_000_000 };
  Date.now = () => clock.t;
  try {
    fn(clock);
  } finally {
    Date.now = real;
  }
}

Deno.test("ProgressBar draws a bar with the count, label and ETA", () => {
  withClock(() => {
    const out = sink();
    new ProgressBar(out, true).update(6, 24, "epoch 1/3 · loss 0.5000", 1500);
    assertEquals(out.writes, [
      `\r[${"#".repeat(6)}${
        ".".repeat(18)
      }] 6/24 epoch 1/3 · loss 0.5000 eta 1.5 s\x1b[K`,
    ]);
  });
});

Deno.test("ProgressBar leaves the ETA out when it is not finite", () => {
  withClock(() => {
    const out = sink();
    new ProgressBar(out, true).update(0, 10, "x", NaN);
    assertEquals(out.writes, [`\r[${".".repeat(24)}] 0/10 x \x1b[K`]);
  });
});

Deno.test("ProgressBar redraws at most every 100 ms but always draws the last step", () => {
  withClock((clock) => {
    const out = sink();
    const bar = new ProgressBar(out, true);
    bar.update(1, 10, "a", 0);
    clock.t += 99;
    bar.update(2, 10, "b", 0); // too soon: skipped
    clock.t += 1;
    bar.update(3, 10, "c", 0); // 100 ms after the last draw
    bar.update(10, 10, "d", 0); // the end is always drawn
    assertEquals(out.writes.map((w) => w.match(/\] (\d+\/\d+ \w)/)?.[1]), [
      "1/10 a",
      "3/10 c",
      "10/10 d",
    ]);
    assertEquals(out.writes.at(-1)?.includes(`[${"#".repeat(24)}]`), true);
  });
});

Deno.test("ProgressBar writes nothing when disabled (not a terminal)", () => {
  withClock(() => {
    const out = sink();
    const bar = new ProgressBar(out, false);
    bar.update(1, 2, "a", 10);
    bar.update(2, 2, "b", 0);
    bar.clear();
    assertEquals(out.writes, []);
  });
});

Deno.test("ProgressBar.clear() erases a drawn bar once", () => {
  withClock(() => {
    const out = sink();
    const bar = new ProgressBar(out, true);
    bar.clear(); // nothing drawn yet
    assertEquals(out.writes, []);
    bar.update(1, 2, "a", 0);
    bar.clear();
    bar.clear();
    assertEquals(out.writes.slice(1), ["\r\x1b[K"]);
  });
});

Deno.test("formatConfusion() aligns counts with per-row accuracy", () => {
  assertEquals(
    formatConfusion([[3, 1], [0, 0]]),
    [
      "       0   1  accuracy",
      "  0    3   1     75.0%",
      "  1    0   0         -",
    ].join("\n"),
  );
});

Deno.test("formatConfusion() widens the columns for large counts", () => {
  const text = formatConfusion([[12345, 0], [7, 99999]]);
  const lines = text.split("\n");
  assertEquals(lines[0], "         0     1  accuracy");
  assertEquals(lines[1], "  0  12345     0    100.0%");
  assertEquals(lines[2], "  1      7 99999    100.0%");
  assertEquals(
    new Set(lines.map((l) => l.length)).size,
    1,
    "all lines equally wide",
  );
});

Deno.test("formatConfusion() renders a 10×10 matrix with one header and ten rows", () => {
  const confusion = Array.from(
    { length: 10 },
    (_, i) => Array.from({ length: 10 }, (_, j) => (i === j ? 9 : 1)),
  );
  const lines = formatConfusion(confusion).split("\n");
  assertEquals(lines.length, 11);
  assertEquals(lines[0].trim().split(/\s+/), [
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
    "accuracy",
  ]);
  for (const [i, line] of lines.slice(1).entries()) {
    assertEquals(line.trim().split(/\s+/)[0], String(i));
    assertEquals(line.trim().endsWith("50.0%"), true, line);
  }
});
