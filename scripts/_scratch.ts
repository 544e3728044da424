import { loadMnistSplit } from "../src/data/mnist_package.ts";
import { createNetwork } from "../src/nn/network.ts";
import { createRandom } from "../src/nn/random.ts";
import { Trainer } from "../src/nn/trainer.ts";
import { evaluate } from "../src/nn/metrics.ts";
const [act, cost, opt, lr, bs, ep] = Deno.args;
const { train, test } = loadMnistSplit();
const random = createRandom(42);
const out = cost === "mse" ? "sigmoid" : "softmax";
const net = createNetwork({
  input: [1, 28, 28],
  layers: [
    { type: "dense", units: 128, activation: act as "relu" },
    { type: "dense", units: 64, activation: act as "relu" },
    { type: "dense", units: 10, activation: out },
  ],
}, { random });
const t = new Trainer(net, train, {
  cost: cost as "mse",
  optimizer: { kind: opt as "sgd" },
  learningRate: +lr,
  schedule: "constant",
  epochs: +ep,
  batchSize: +bs,
  random,
});
while (!t.done) {
  const t0 = performance.now();
  let r;
  do {
    r = t.trainBatch();
  } while (!r.epochEnded);
  const ms = performance.now() - t0;
  console.log(
    r.epoch,
    t.epochLoss.toFixed(4),
    evaluate(net, test).accuracy,
    ms.toFixed(0) + "ms",
  );
}
