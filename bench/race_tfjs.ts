// TensorFlow.js in the bench race: tfjs-cpu and tfjs-wasm (XNNPACK), loaded
// from npm as bench/tfjs_bench.ts and @flint/tfjs load them, and the race's
// cases written as a tfjs user writes them: tfjs's own NHWC layout and HWIO
// filters, ResNet18 built from tfjs ops (torchvision's layout: 7×7 stem,
// max pool, four stages of two basic blocks, average pool, fc), training
// through tf.train optimizers.

// The umbrella package, not tfjs-core alone: tfjs-core registers no gradients by itself (the umbrella's bundle
// does; tfjs-core's own register_all_gradients is ESM that Deno cannot load), and the training cases need them.
// It shares tfjs-core 4.22.0, and so the engine, with tfjs-backend-wasm and @flint/tfjs.
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
import { getThreadsCount, setWasmPaths } from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import { createRequire } from "node:module";

/** The tfjs backends raced. */
export type TfjsBackendName = "cpu" | "wasm";

let wasmPathsSet = false;

/** Makes `name` tfjs's active backend (every tfjs runner calls it before timing, since the two share one engine). */
export async function useTfjs(name: TfjsBackendName): Promise<void> {
  if (name === "wasm" && !wasmPathsSet) {
    // The .wasm files of the installed npm package: no network needed.
    const file = createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm");
    setWasmPaths(file.slice(0, file.lastIndexOf("/") + 1));
    wasmPathsSet = true;
  }
  if (tf.getBackend() !== name) {
    if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend("${name}") returned false`);
  }
  await tf.ready();
}

/** tfjs's version and tfjs-wasm's thread count (null until `useTfjs("wasm")` has run). */
export function tfjsInfo(): { version: string; wasmThreads: number | null } {
  let wasmThreads: number | null = null;
  try {
    wasmThreads = getThreadsCount();
  } catch {
    // tfjs-wasm not initialised yet
  }
  return { version: tf.version_core, wasmThreads };
}

/** A case on one tfjs backend: `run` runs it once; `dispose` frees its tensors. */
export interface TfjsRunner {
  /** runs the case once */
  run(): void;
  /** frees the case's tensors */
  dispose(): void;
}

/** Seeded N(0, std²) values, so every contender's inputs have the same scale. */
function randn(shape: number[], std = 1, seed = 1): tf.Tensor {
  return tf.randomNormal(shape, 0, std, "float32", seed);
}

/** n×n by n×n. */
export function tfjsMatmul(n: number): TfjsRunner {
  const a = randn([n, n], 1, 1), b = randn([n, n], 1, 2);
  return { run: () => tf.matMul(a, b).dispose(), dispose: () => tf.dispose([a, b]) };
}

/** conv 3×3 64→64 on size², padding 1, NHWC. */
export function tfjsConv(batch: number, size: number): TfjsRunner {
  const x = randn([batch, size, size, 64], 1, 3) as tf.Tensor4D;
  const w = randn([3, 3, 64, 64], 1, 4) as tf.Tensor4D;
  return { run: () => tf.conv2d(x, w, 1, "same").dispose(), dispose: () => tf.dispose([x, w]) };
}

// ---- ResNet18 from tfjs ops ----

/** A batch norm's parameters and running statistics. */
export interface Bn {
  /** scale and shift (trained) */
  gamma: tf.Variable;
  /** the shift */
  beta: tf.Variable;
  /** running mean and variance (used in eval mode) */
  mean: tf.Tensor;
  /** the running variance */
  variance: tf.Tensor;
}

/** A basic block: two 3×3 convolutions, their batch norms, and the shortcut's projection when it changes shape. */
export interface Block {
  /** the first 3×3 convolution (strided in a stage's first block) */
  conv1: tf.Variable;
  /** its batch norm */
  bn1: Bn;
  /** the second 3×3 convolution */
  conv2: tf.Variable;
  /** its batch norm */
  bn2: Bn;
  /** the block's stride */
  stride: number;
  /** the shortcut's 1×1 projection and batch norm, or null for the identity */
  down: { conv: tf.Variable; bn: Bn } | null;
}

/** ResNet18's parameters in tfjs layout, initialised as torchvision does (Kaiming normal, fan-out). */
export interface TfjsResNet18 {
  /** the 7×7 stride-2 convolution (HWIO) */
  readonly stem: tf.Variable;
  /** its batch norm */
  readonly stemBn: Bn;
  /** the four stages' basic blocks, in order */
  readonly blocks: readonly Block[];
  /** the classifier's weight (512×1000) and bias */
  readonly fcW: tf.Variable;
  /** the classifier's bias */
  readonly fcB: tf.Variable;
  /** every trainable variable */
  readonly variables: readonly tf.Variable[];
}

/** A new ResNet18 (1000 classes) on the active tfjs backend. */
export function tfjsResnet18(): TfjsResNet18 {
  const variables: tf.Variable[] = [];
  let seed = 10;
  const variable = (t: tf.Tensor) => {
    const v = tf.variable(t);
    t.dispose();
    variables.push(v);
    return v;
  };
  const conv = (k: number, cin: number, cout: number) =>
    variable(randn([k, k, cin, cout], Math.sqrt(2 / (cout * k * k)), seed++));
  const bn = (c: number): Bn => ({
    gamma: variable(tf.ones([c])),
    beta: variable(tf.zeros([c])),
    mean: tf.zeros([c]),
    variance: tf.ones([c]),
  });
  const stem = conv(7, 3, 64), stemBn = bn(64);
  const blocks: Block[] = [];
  let inplanes = 64;
  for (const [planes, stride] of [[64, 1], [128, 2], [256, 2], [512, 2]]) {
    for (let i = 0; i < 2; i++) {
      const s = i === 0 ? stride : 1;
      const down = s !== 1 || inplanes !== planes ? { conv: conv(1, inplanes, planes), bn: bn(planes) } : null;
      blocks.push({
        conv1: conv(3, inplanes, planes),
        bn1: bn(planes),
        conv2: conv(3, planes, planes),
        bn2: bn(planes),
        stride: s,
        down,
      });
      inplanes = planes;
    }
  }
  const bound = 1 / Math.sqrt(512);
  const fcW = variable(tf.randomUniform([512, 1000], -bound, bound, "float32", seed++));
  const fcB = variable(tf.randomUniform([1000], -bound, bound, "float32", seed++));
  return { stem, stemBn, blocks, fcW, fcB, variables };
}

function disposeResnet(m: TfjsResNet18): void {
  const bns = [m.stemBn, ...m.blocks.flatMap((b) => [b.bn1, b.bn2, ...(b.down ? [b.down.bn] : [])])];
  tf.dispose([...m.variables, ...bns.flatMap((b) => [b.mean, b.variance])]);
}

/** PyTorch's symmetric padding (tfjs's "same" pads the odd pixel after, not on both sides). */
function pad(p: number): "valid" | number {
  return p === 0 ? "valid" : p;
}

function batchNorm(x: tf.Tensor4D, bn: Bn, training: boolean): tf.Tensor4D {
  if (!training) {
    return tf.batchNorm4d(
      x,
      bn.mean as tf.Tensor1D,
      bn.variance as tf.Tensor1D,
      bn.beta as tf.Tensor1D,
      bn.gamma as tf.Tensor1D,
      1e-5,
    );
  }
  // Training: the batch's statistics, as nn.BatchNorm2d in train() mode.
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.batchNorm4d(
    x,
    mean as tf.Tensor1D,
    variance as tf.Tensor1D,
    bn.beta as tf.Tensor1D,
    bn.gamma as tf.Tensor1D,
    1e-5,
  );
}

/** ResNet18's logits for NHWC images. */
export function tfjsResnet18Forward(m: TfjsResNet18, x: tf.Tensor4D, training: boolean): tf.Tensor2D {
  let h = tf.relu(batchNorm(tf.conv2d(x, m.stem as tf.Tensor4D, 2, pad(3)), m.stemBn, training));
  h = tf.maxPool(h, 3, 2, pad(1));
  for (const b of m.blocks) {
    let y = tf.relu(batchNorm(tf.conv2d(h, b.conv1 as tf.Tensor4D, b.stride, pad(1)), b.bn1, training));
    y = batchNorm(tf.conv2d(y, b.conv2 as tf.Tensor4D, 1, pad(1)), b.bn2, training);
    const shortcut = b.down
      ? batchNorm(tf.conv2d(h, b.down.conv as tf.Tensor4D, b.stride, "valid"), b.down.bn, training)
      : h;
    h = tf.relu(tf.add(y, shortcut));
  }
  const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
  return tf.add(tf.matMul(pooled, m.fcW), m.fcB);
}

/** ResNet18 inference at `batch`×size², eval mode (running statistics). */
export function tfjsResnetForward(batch: number, size: number): TfjsRunner {
  const m = tfjsResnet18();
  const x = tf.randomUniform([batch, size, size, 3], 0, 1, "float32", 5) as tf.Tensor4D;
  return {
    run: () => tf.tidy(() => void tfjsResnet18Forward(m, x, false)),
    dispose: () => (disposeResnet(m), x.dispose()),
  };
}

/** One ResNet18 training step: SGD momentum 0.9 (tf.train.momentum), softmax cross-entropy, batch statistics. */
export function tfjsResnetTrain(batch: number, size: number): TfjsRunner {
  const m = tfjsResnet18();
  const x = tf.randomUniform([batch, size, size, 3], 0, 1, "float32", 6) as tf.Tensor4D;
  const labels = tf.tidy(() =>
    tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => (i * 37) % 1000), "int32"), 1000)
  );
  const optimizer = tf.train.momentum(0.01, 0.9);
  return {
    // In a tidy: a step that throws (tfjs-wasm has no Conv2DBackpropFilter) leaves nothing behind.
    run: () =>
      tf.tidy(() => {
        optimizer.minimize(
          () => tf.losses.softmaxCrossEntropy(labels, tfjsResnet18Forward(m, x, true)) as tf.Scalar,
          false,
          m.variables as tf.Variable[],
        );
      }),
    dispose: () => (disposeResnet(m), optimizer.dispose(), tf.dispose([x, labels])),
  };
}

/**
 * Tutorial 001's MLP step: 64×1000 → 100 → 10, ReLU, summed squared error,
 * Adam lr 1e-4 (tf.train.adam); the layers as tfjs-layers' Dense runs them
 * (tf.fused.matMul with the bias and the activation).
 */
export function tfjsMlp(): TfjsRunner {
  const x = randn([64, 1000], 1, 7), y = randn([64, 10], 1, 8);
  const b1 = 1 / Math.sqrt(1000), b2 = 1 / Math.sqrt(100);
  const w1 = tf.variable(tf.randomUniform([1000, 100], -b1, b1, "float32", 9));
  const c1 = tf.variable(tf.randomUniform([100], -b1, b1, "float32", 10));
  const w2 = tf.variable(tf.randomUniform([100, 10], -b2, b2, "float32", 11));
  const c2 = tf.variable(tf.randomUniform([10], -b2, b2, "float32", 12));
  const optimizer = tf.train.adam(1e-4);
  return {
    run: () => {
      optimizer.minimize(() => {
        const h = tf.fused.matMul({ a: x, b: w1, bias: c1, activation: "relu" });
        const out = tf.fused.matMul({ a: h, b: w2, bias: c2 });
        return tf.sum(tf.squaredDifference(out, y)) as tf.Scalar;
      });
    },
    dispose: () => (optimizer.dispose(), tf.dispose([x, y, w1, c1, w2, c2])),
  };
}

/** Live tfjs tensors (a leak check for the runners). */
export function tfjsTensors(): number {
  return tf.memory().numTensors;
}
