/**
 * `deno task load`: reading wrk's report, and a short real run (needs wrk:
 * `apt-get install -y wrk`) that must see no errors.
 */
import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  formatLoad,
  parseDuration,
  parseWrk,
  runLoad,
} from "../../src/cli/load.ts";

/** A real report of wrk 4.1 (Debian), from a run that got 400s (an empty JSON body). */
const WRK_REPORT = `Running 1s test @ http://127.0.0.1:18777/api/predict
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    13.13ms   20.60ms 118.11ms   89.90%
    Req/Sec   671.67    738.72     2.47k    88.89%
  Latency Distribution
     50%    5.51ms
     75%   15.17ms
     90%   33.77ms
     99%  104.79ms
  634 requests in 1.03s, 426.59KB read
  Non-2xx or 3xx responses: 634
Requests/sec:    615.30
Transfer/sec:    414.01KB
`;

Deno.test("parseWrk() reads requests/s, p50, p99, max, the count and the errors", () => {
  assertEquals(parseWrk(WRK_REPORT), {
    requestsPerSecond: 615.3,
    p50Ms: 5.51,
    p99Ms: 104.79,
    maxMs: 118.11,
    requests: 634,
    errors: 634,
  });
  const socket = WRK_REPORT.replace(
    "  Non-2xx or 3xx responses: 634\n",
    "  Socket errors: connect 1, read 2, write 3, timeout 4\n",
  );
  assertEquals(parseWrk(socket).errors, 10);
  assertThrows(
    () => parseWrk("wrk: command failed"),
    SyntaxError,
    "latency line",
  );
});

Deno.test("parseDuration() converts wrk's units to ms", () => {
  assertEquals(parseDuration("812.00us"), 0.812);
  assertEquals(parseDuration("1.20ms"), 1.2);
  assertEquals(parseDuration("2.00s"), 2000);
  assertEquals(parseDuration("1.50m"), 90_000);
  assertThrows(() => parseDuration("fast"), SyntaxError);
});

Deno.test("load: a short wrk run on POST /api/predict at 1 and 4 connections has no errors", async () => {
  const pixels = Array.from(
    { length: 784 },
    (_, i) => (i % 28 > 12 && i % 28 < 16 ? 1 : 0),
  );
  const report = await runLoad({
    levels: [1, 4],
    seconds: 1,
    rounds: 1,
    warmupSeconds: 0,
    body: JSON.stringify({ pixels }),
  });
  const table = formatLoad(report);
  assertEquals(report.levels.map((l) => l.connections), [1, 4], table);
  for (const level of report.levels) {
    const [run] = level.runs;
    assertEquals(run.errors, 0, table);
    assert(run.requests > 0 && run.requestsPerSecond > 0, table);
    assert(run.p50Ms <= run.p99Ms && run.p99Ms <= run.maxMs, table);
    assert(level.memoryAfter.rssKiB > 0, table);
  }
});
