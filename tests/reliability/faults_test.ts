/**
 * A smaller `deno task faults`: 10 SIGKILLs — a store worker killed while
 * saving, activating and deleting models, the real server killed while it
 * stores uploads, and a training run killed and resumed from its checkpoint —
 * each followed by the checks of the full run through a fresh KV handle.
 */
import { assert, assertEquals } from "@std/assert";
import {
  FAULT_DEFAULTS,
  formatFaults,
  runFaults,
} from "../../src/cli/faults.ts";

Deno.test("faults: 10 kills lose no completed model, show no half model, and training resumes to the end", async () => {
  const report = await runFaults({
    ...FAULT_DEFAULTS,
    seed: 5,
    storeTrials: 6,
    serverTrials: 2,
    trainerKills: 2,
    killsPerRun: 2,
    compare: false,
    timeLimitMs: 120_000,
  });
  const table = formatFaults(report, { compare: false });
  assertEquals(report.trials.length, 10, table);
  assertEquals(report.trials.filter((t) => t.problems.length > 0), [], table);
  assertEquals(report.problems, [], table);
  // Every interrupted run finished (a run that does not finish is a problem above).
  assertEquals(
    report.trials.filter((t) => t.kind === "trainer").length,
    2,
    table,
  );
  assert(report.trainerRuns >= 1, table);
});
