/**
 * A smaller `deno task fuzz`: 1,000 generated bad requests (one of them a
 * 4096 × 4096 decompression bomb) against the real server in a subprocess,
 * with every check of the full run — 4xx JSON errors only, no 500 logged,
 * the process alive, memory bounded, the stored models unchanged.
 */
import { assert, assertEquals } from "@std/assert";
import {
  CATEGORIES,
  generateCase,
  makeContext,
} from "../../src/cli/_fuzz_cases.ts";
import { formatReport, FUZZ_DEFAULTS, runFuzz } from "../../src/cli/fuzz.ts";

Deno.test("fuzz: 1,000 bad requests all get a 4xx JSON error; the server stays up, bounded, its models unchanged", async () => {
  const report = await runFuzz({
    ...FUZZ_DEFAULTS,
    requests: 1000,
    seed: 11,
    timeLimitMs: 120_000,
  });
  const table = formatReport(report);
  assertEquals(report.failures, [], table);
  assertEquals(report.sent, 1000);
  // Every category was exercised.
  for (const category of CATEGORIES) {
    assert(
      report.results.some((r) => r.category === category),
      `${category} was not sent\n${table}`,
    );
  }
  assertEquals(report.serverDied, null);
  assertEquals(report.serverErrorLines, []);
  assertEquals(report.modelsAfter, report.modelsBefore);
  assert(
    report.modelsBefore.models.length === 2 &&
      report.modelsBefore.active !== null,
  );
  assert(report.controls.sent > 0 && report.controls.failed === 0);
});

Deno.test("fuzz cases are reproducible: the same seed and index make the same request", async () => {
  const ctx = await makeContext({
    token: "t-0123456789abcdef",
    activeId: "m-a",
    inactiveId: "m-b",
    digit: new Array(784).fill(0),
    newModelFile: new Uint8Array(100),
    activeModelFile: new Uint8Array(100),
  });
  for (const index of [0, 1, 2, 3, 50, 999]) {
    const a = await generateCase(ctx, 5, index, { heavyEvery: 0 });
    const b = await generateCase(ctx, 5, index, { heavyEvery: 0 });
    assertEquals(a, b, `case ${index}`);
  }
  const first = await generateCase(ctx, 5, 1, { heavyEvery: 0 });
  const other = await generateCase(ctx, 6, 1, { heavyEvery: 0 });
  assert(
    JSON.stringify(first) !== JSON.stringify(other),
    "another seed makes other cases",
  );
});
