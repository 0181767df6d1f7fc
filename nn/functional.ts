/**
 * `torch.nn.functional`: the layers and losses as functions of their inputs
 * and weights, with PyTorch's names in camelCase (`F.crossEntropy`,
 * `F.maxPool2d`) and keyword arguments as a last options object.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * const logits = torch.tensor([[2, 0.5, -1]], { requiresGrad: true });
 * const loss = F.crossEntropy(F.relu(logits), torch.tensor([0], { dtype: "int32" }));
 * loss.backward();
 * console.log(loss.gradFn?.name, logits.grad!.shape); // NllLossBackward0 [1, 3]
 * ```
 *
 * @module
 */
export {
  gelu,
  type GeluOptions,
  type InplaceOptions,
  leakyRelu,
  logSoftmax,
  relu,
  sigmoid,
  silu,
  softmax,
  type SoftmaxOptions,
  tanh,
} from "./_activation_ops.ts";
export { batchNorm, type BatchNormOptions, layerNorm, type LayerNormOptions } from "./_norm_ops.ts";
export {
  dropout,
  type DropoutOptions,
  embedding,
  type EmbeddingOptions,
  linear,
  oneHot,
  pad,
  type PadMode,
  type PadOptions,
} from "./_layer_ops.ts";
export {
  adaptiveMaxPool2d,
  type AdaptiveSize2d,
  avgPool2d,
  type AvgPool2dOptions,
  maxPool2d,
  type MaxPool2dOptions,
  type Size2d,
} from "./_pool_ops.ts";
export { adaptiveAvgPool2d, conv2d, type Conv2dOptions } from "@flint/autograd";
export {
  binaryCrossEntropy,
  type BinaryCrossEntropyOptions,
  binaryCrossEntropyWithLogits,
  type BinaryCrossEntropyWithLogitsOptions,
  crossEntropy,
  type CrossEntropyOptions,
  huberLoss,
  type HuberLossOptions,
  l1Loss,
  type LossOptions,
  mseLoss,
  nllLoss,
  type NllLossOptions,
  smoothL1Loss,
  type SmoothL1LossOptions,
} from "./_loss_ops.ts";
export type { Reduction } from "./_util.ts";
