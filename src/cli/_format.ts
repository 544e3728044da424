/**
 * Terminal formatting for the commands: a live progress bar and tables.
 *
 * @module
 */

/** A one-line progress bar redrawn in place on a terminal (silent elsewhere). */
export class ProgressBar {
  #out: { writeSync(p: Uint8Array): number };
  #enabled: boolean;
  #last = 0;
  #drawn = false;
  #encoder = new TextEncoder();

  /** Draws on `out` when `enabled` (pass whether it is a terminal). */
  constructor(out: { writeSync(p: Uint8Array): number }, enabled: boolean) {
    this.#out = out;
    this.#enabled = enabled;
  }

  /** Shows `done` of `total` with a label and an ETA; redraws at most 10 times a second. */
  update(done: number, total: number, label: string, etaMs: number): void {
    if (!this.#enabled) return;
    const now = Date.now();
    if (now - this.#last < 100 && done < total) return;
    this.#last = now;
    const width = 24;
    const filled = Math.round((width * done) / total);
    const eta = Number.isFinite(etaMs)
      ? `eta ${(etaMs / 1000).toFixed(1)} s`
      : "";
    const line = `\r[${"#".repeat(filled)}${
      ".".repeat(width - filled)
    }] ${done}/${total} ${label} ${eta}\x1b[K`;
    this.#out.writeSync(this.#encoder.encode(line));
    this.#drawn = true;
  }

  /** Removes the bar so a log line can take its place. */
  clear(): void {
    if (!this.#drawn) return;
    this.#out.writeSync(this.#encoder.encode("\r\x1b[K"));
    this.#drawn = false;
  }
}

/** A confusion matrix as aligned text, with per-row accuracy. */
export function formatConfusion(confusion: number[][]): string {
  const cell = Math.max(
    4,
    ...confusion.flat().map((n) => String(n).length + 1),
  );
  const pad = (s: string | number) => String(s).padStart(cell);
  const lines = [
    "    " + confusion.map((_, j) => pad(j)).join("") + "  accuracy",
  ];
  for (const [i, row] of confusion.entries()) {
    const total = row.reduce((s, n) => s + n, 0);
    const acc = total ? ((100 * row[i]) / total).toFixed(1) + "%" : "-";
    lines.push(`  ${i} ` + row.map(pad).join("") + "  " + acc.padStart(8));
  }
  return lines.join("\n");
}

/**
 * The usage text of a command: its module's opening JSDoc comment, without
 * the comment markers (so `--help` and the file's header never disagree).
 */
export async function usageOf(moduleUrl: string): Promise<string> {
  const source = await Deno.readTextFile(new URL(moduleUrl));
  const usage = source.slice(
    source.indexOf("/**") + 4,
    source.indexOf("@module"),
  );
  return usage.replace(/^ \* ?/gm, "").trim();
}
