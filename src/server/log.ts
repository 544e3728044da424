/**
 * The server's log: one line per event, `<ISO time> <LEVEL> <message>`.
 * Injected into `createApp` so tests can capture or silence it.
 *
 * @module
 */

/** Where the server writes what happened. */
export interface Log {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/**
 * A log that writes fixed-format lines to the console (stderr for warnings
 * and errors).
 *
 * @example
 * ```ts
 * import { consoleLog } from "./log.ts";
 * consoleLog().info("listening on http://localhost:8000/");
 * ```
 */
export function consoleLog(now: () => number = Date.now): Log {
  const line = (level: string, message: string) =>
    `${new Date(now()).toISOString()} ${level} ${message}`;
  return {
    info: (m) => console.log(line("INFO ", m)),
    warn: (m) => console.error(line("WARN ", m)),
    error: (m) => console.error(line("ERROR", m)),
  };
}

/** A log that keeps its lines in `lines` (for tests) and prints nothing. */
export function memoryLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`INFO ${m}`),
    warn: (m) => lines.push(`WARN ${m}`),
    error: (m) => lines.push(`ERROR ${m}`),
  };
}
