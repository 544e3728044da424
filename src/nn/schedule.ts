/**
 * Learning-rate schedules: η as a function of training progress.
 *
 *   constant  η(t) = η₀
 *   step      η(t) = η₀ · 0.5^⌊epoch / stepEpochs⌋   (halve every few epochs)
 *   cosine    η(t) = η₀ · ½ (1 + cos(π t)),  t = fraction of training done
 *
 * @module
 */

/** The schedule names, for flag validation and error messages. */
export const SCHEDULES = ["constant", "step", "cosine"] as const;
/** A schedule name. */
export type Schedule = typeof SCHEDULES[number];

/** Where a run stands, as {@link learningRateAt} needs it. */
export interface ScheduleProgress {
  /** Optimizer steps taken so far. */
  done: number;
  /** Steps of the whole run. */
  total: number;
  stepsPerEpoch: number;
  /** Epochs between halvings of the "step" schedule (default 2). */
  stepEpochs?: number;
}

/**
 * The learning rate after `done` of `total` steps (an epoch is
 * `stepsPerEpoch` steps).
 *
 * @example
 * ```ts
 * import { learningRateAt } from "./schedule.ts";
 * console.assert(learningRateAt("cosine", 0.1, { done: 0, total: 100, stepsPerEpoch: 10 }) === 0.1);
 * ```
 */
export function learningRateAt(
  schedule: Schedule,
  base: number,
  { done, total, stepsPerEpoch, stepEpochs = 2 }: ScheduleProgress,
): number {
  switch (schedule) {
    case "constant":
      return base;
    case "step":
      return base *
        Math.pow(0.5, Math.floor(done / stepsPerEpoch / stepEpochs));
    case "cosine":
      return base * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, done / total)));
  }
}
