/**
 * Models and weights for Flint: torchvision's ResNets with their pretrained
 * weights and preprocessing, image decoding, `torch.load` / `torch.save` for
 * PyTorch `.pth` files (read as `weights_only=True` reads them), safetensors
 * and compressed Flint packs, and a `torch.hub`-like download cache.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { load, resnet18, save } from "@flint/models";
 *
 * torch.manualSeed(0);
 * const model = resnet18().eval();
 * const bytes = await save(model.stateDict(), { format: "pth" });
 * model.loadStateDict(await load(bytes));
 * console.log(model(torch.rand(1, 3, 64, 64)).shape); // [1, 1000]
 * ```
 *
 * @module
 */
export * from "./io/mod.ts";
export * from "./hub/mod.ts";
export {
  BasicBlock,
  type BlockOptions,
  Bottleneck,
  ResNet,
  resnet18,
  ResNet18_Weights,
  type ResNet18WeightsEnum,
  resnet34,
  ResNet34_Weights,
  type ResNet34WeightsEnum,
  resnet50,
  ResNet50_Weights,
  type ResNet50WeightsEnum,
  type ResNetBlock,
  type ResNetBuilderOptions,
  type ResNetOptions,
} from "./resnet.ts";
export {
  type GetStateDictOptions,
  Weights,
  type WeightsLike,
  type WeightsMeta,
  type WeightsMetrics,
} from "./weights.ts";
export { IMAGENET_CATEGORIES } from "./imagenet_classes.ts";
export { decodeImage, type DecodeImageOptions, openImage } from "./image.ts";
/** torchvision-style image transforms: resize, center crop, to tensor, normalize. */
export * as transforms from "./transforms.ts";
export type { ImageClassification, RgbImage } from "./transforms.ts";
export type { ResolvedLimits } from "./io/limits.ts";
