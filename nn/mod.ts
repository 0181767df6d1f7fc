/**
 * Neural-network building blocks, as PyTorch's `torch.nn`: `Module`,
 * `Parameter`, containers, layers, losses, `functional` and `init`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const { nn } = torch;
 *
 * const model = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 1));
 * console.log(String(model).split("\n")[0]); // Sequential(
 * ```
 *
 * @module
 */
export { Parameter } from "@flint/autograd";
export {
  type LoadStateDictOptions,
  type LoadStateDictResult,
  Module,
  type RemovableHandle,
  type StateDictOptions,
  stateKey,
} from "./module.ts";
export { ModuleDict, ModuleList, Sequential } from "./container.ts";
export { type FactoryOptions, Identity, Linear, type LinearOptions } from "./linear.ts";
export { Flatten } from "./flatten.ts";
export { Conv2d, type Conv2dModuleOptions, type PaddingMode } from "./conv.ts";
export {
  AdaptiveAvgPool2d,
  AdaptiveMaxPool2d,
  AvgPool2d,
  type AvgPool2dModuleOptions,
  MaxPool2d,
  type MaxPool2dModuleOptions,
} from "./pooling.ts";
export type { AdaptiveSize2d, Size2d } from "./_pool_ops.ts";
export { BatchNorm1d, BatchNorm2d, BatchNormBase, type BatchNormModuleOptions } from "./batchnorm.ts";
export { LayerNorm, type LayerNormModuleOptions } from "./normalization.ts";
export { Dropout } from "./dropout.ts";
export { Embedding, type EmbeddingModuleOptions } from "./sparse.ts";
export { GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh } from "./activation.ts";
export {
  BCELoss,
  BCEWithLogitsLoss,
  type ClassLossOptions,
  CrossEntropyLoss,
  HuberLoss,
  L1Loss,
  Loss,
  type LossOptions,
  MSELoss,
  NLLLoss,
  type Reduction,
  SmoothL1Loss,
} from "./loss.ts";
export * as functional from "./functional.ts";
export * as init from "./init.ts";
export * as utils from "./utils.ts";
