// The training loop and the evaluation: Adam with a one-cycle learning-rate
// schedule (stepped every batch), cross-entropy, and per-epoch train and test
// loss and accuracy.

import * as torch from "@flint/torch";
import { CLASSES } from "./data.ts";

/** What one epoch did. */
export interface EpochStats {
  /** 1-based */
  epoch: number;
  /** mean cross-entropy over the epoch's batches (in training mode, as the optimizer saw them) */
  trainLoss: number;
  /** fraction of training images the batches got right */
  trainAccuracy: number;
  /** mean cross-entropy on the test set, in eval mode after the epoch */
  testLoss: number;
  /** fraction of test images classified right after the epoch */
  testAccuracy: number;
  /** wall time of the epoch's training steps, in seconds (the test pass excluded) */
  seconds: number;
  /** optimizer steps in the epoch */
  steps: number;
}

/** The progress of one step, for a progress bar. */
export interface StepInfo {
  /** 1-based epoch */
  epoch: number;
  /** steps done in all, 1-based */
  step: number;
  /** the epoch's mean loss so far */
  loss: number;
  /** the epoch's accuracy so far */
  accuracy: number;
}

/** Options of {@linkcode fit}. */
export interface FitOptions {
  /** passes over the training set (default 12) */
  epochs?: number;
  /** images per batch (default 32) */
  batchSize?: number;
  /** the peak learning rate of the one-cycle schedule (default 0.01) */
  maxLr?: number;
  /** seeds the shuffling (default 0) */
  seed?: number;
  /** called after every step */
  onStep?: (info: StepInfo) => void;
  /** called after every epoch */
  onEpoch?: (stats: EpochStats) => void;
}

/** What {@linkcode fit} returns. */
export interface FitResult {
  /** one entry per epoch */
  history: EpochStats[];
  /** wall time of the whole loop, test passes included, in seconds */
  seconds: number;
  /** optimizer steps per epoch */
  stepsPerEpoch: number;
}

/** What {@linkcode evaluate} returns. */
export interface Evaluation {
  /** mean cross-entropy */
  loss: number;
  /** fraction right */
  accuracy: number;
  /** the predicted class of each image */
  predictions: Int32Array;
  /** the true class of each image */
  labels: Int32Array;
}

/**
 * Batches of a TensorDataset, gathered with one `index` per batch (rather
 * than stacking one view per image), in the order a seeded DataLoader draws.
 */
function batches(
  dataset: torch.utils.data.TensorDataset,
  options: { batchSize: number; shuffle: boolean; generator?: torch.Generator },
): torch.utils.data.DataLoader<number, torch.Tensor[]> {
  const [x, y] = dataset.tensors;
  const indices = Array.from({ length: dataset.length }, (_, i) => i);
  return new torch.utils.data.DataLoader(indices, {
    ...options,
    collateFn: (batch: number[]) => {
      const rows = torch.tensor(batch, { dtype: "int32", device: x.device });
      return [x.index(rows), y.index(rows)];
    },
  });
}

/**
 * Evaluates `model` on `dataset` in eval mode without gradients.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { evaluate } from "./fit.ts";
 *
 * const model = new torch.nn.Linear(2, 10);
 * const data = new torch.utils.data.TensorDataset(torch.zeros(4, 2), torch.tensor([0, 1, 2, 3], { dtype: "int32" }));
 * const { labels, predictions } = await evaluate(model, data);
 * console.log(labels, predictions.length); // Int32Array(4) [ 0, 1, 2, 3 ] 4
 * ```
 */
export async function evaluate(
  model: torch.nn.Module<[torch.Tensor], torch.Tensor>,
  dataset: torch.utils.data.TensorDataset,
  options: { batchSize?: number } = {},
): Promise<Evaluation> {
  const wasTraining = model.training;
  model.eval();
  const criterion = new torch.nn.CrossEntropyLoss({ reduction: "sum" });
  const predictions = new Int32Array(dataset.length);
  const labels = new Int32Array(dataset.length);
  let lossSum = 0;
  let at = 0;
  try {
    for (const [x, y] of batches(dataset, { batchSize: options.batchSize ?? 512, shuffle: false })) {
      const [loss, predicted] = torch.scope(() =>
        torch.noGrad(() => {
          const logits = model(x);
          return [criterion(logits, y), logits.argmax(1)];
        })
      );
      lossSum += await loss.item();
      predictions.set(await predicted.data() as Int32Array, at);
      labels.set(await y.data() as Int32Array, at);
      at += y.shape[0];
    }
  } finally {
    model.train(wasTraining);
  }
  const right = predictions.reduce((n, p, i) => n + (p === labels[i] ? 1 : 0), 0);
  return { loss: lossSum / dataset.length, accuracy: right / dataset.length, predictions, labels };
}

/**
 * Trains `model` on `train`, testing on `test` after every epoch: Adam,
 * `OneCycleLR` up to `maxLr` and back down, stepped every batch, on shuffled
 * batches drawn from a `Generator` seeded with `seed`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { fit } from "./fit.ts";
 *
 * torch.manualSeed(0);
 * const x = torch.randn(64, 2);
 * const y = x.index(":, 0").gt(0).to("int32");
 * const data = new torch.utils.data.TensorDataset(x, y);
 * const { history } = await fit(new torch.nn.Linear(2, 10), { train: data, test: data }, { epochs: 5 });
 * console.log(history.length, history[4].testAccuracy > 0.9); // 5 true
 * ```
 */
export async function fit(
  model: torch.nn.Module<[torch.Tensor], torch.Tensor>,
  data: { train: torch.utils.data.TensorDataset; test: torch.utils.data.TensorDataset },
  options: FitOptions = {},
): Promise<FitResult> {
  const epochs = options.epochs ?? 12;
  const maxLr = options.maxLr ?? 0.01;
  const loader = batches(data.train, {
    batchSize: options.batchSize ?? 32,
    shuffle: true,
    generator: new torch.Generator(options.seed ?? 0),
  });
  const optimizer = new torch.optim.Adam(model.parameters(), { lr: maxLr });
  const scheduler = new torch.optim.lrScheduler.OneCycleLR(optimizer, maxLr, {
    epochs,
    stepsPerEpoch: loader.length,
  });
  const criterion = new torch.nn.CrossEntropyLoss();
  const history: EpochStats[] = [];
  const started = performance.now();
  let step = 0;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    model.train();
    const epochStart = performance.now();
    let lossSum = 0;
    let right = 0;
    let seen = 0;
    for (const [x, y] of loader) {
      const [loss, correct] = torch.scope(() => {
        optimizer.zeroGrad();
        const logits = model(x);
        const loss = criterion(logits, y);
        loss.backward();
        optimizer.step();
        return [loss.detach(), logits.detach().argmax(1).eq(y).sum()];
      });
      scheduler.step();
      const n = y.shape[0];
      lossSum += (await loss.item()) * n;
      right += await correct.item();
      seen += n;
      step++;
      options.onStep?.({ epoch, step, loss: lossSum / seen, accuracy: right / seen });
    }
    const seconds = (performance.now() - epochStart) / 1000;
    const test = await evaluate(model, data.test);
    const stats: EpochStats = {
      epoch,
      trainLoss: lossSum / seen,
      trainAccuracy: right / seen,
      testLoss: test.loss,
      testAccuracy: test.accuracy,
      seconds,
      steps: loader.length,
    };
    history.push(stats);
    options.onEpoch?.(stats);
  }
  model.eval();
  return { history, seconds: (performance.now() - started) / 1000, stepsPerEpoch: loader.length };
}

/**
 * The confusion matrix: `matrix[truth][prediction]` counts.
 *
 * @example
 * ```ts
 * import { confusionMatrix } from "./fit.ts";
 *
 * const m = confusionMatrix(Int32Array.of(0, 1, 1), Int32Array.of(0, 1, 0), 2);
 * console.log(m); // [ [ 1, 0 ], [ 1, 1 ] ]
 * ```
 */
export function confusionMatrix(labels: Int32Array, predictions: Int32Array, classes: number = CLASSES): number[][] {
  const matrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  labels.forEach((truth, i) => matrix[truth][predictions[i]]++);
  return matrix;
}
