// torchvision's ResNets (torchvision/models/resnet.py): the same modules
// under the same names, so state-dict keys match torchvision's files, and the
// same initialisation drawn in the same order, so after `manualSeed(s)` the
// weights equal torchvision's after `torch.manual_seed(s)`.

import type { Tensor } from "@flint/autograd";
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, init, Linear, MaxPool2d, Module, ReLU, Sequential } from "@flint/nn";
import { IMAGENET_CATEGORIES } from "./imagenet_classes.ts";
import { type GetStateDictOptions, verifyWeights, Weights, type WeightsLike, type WeightsMeta } from "./weights.ts";

/** 3x3 convolution with padding, without bias. */
function conv3x3(inPlanes: number, outPlanes: number, stride = 1, groups = 1, dilation = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 3, { stride, padding: dilation, groups, bias: false, dilation });
}

/** 1x1 convolution without bias. */
function conv1x1(inPlanes: number, outPlanes: number, stride = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false });
}

/** Options of the residual blocks, as torchvision's block arguments after `inplanes, planes`. */
export interface BlockOptions {
  /** stride of the block's strided convolution (default 1) */
  stride?: number;
  /** what maps the input to the output's shape for the shortcut (default none: the identity) */
  downsample?: Module<[Tensor], Tensor> | null;
  /** groups of the 3x3 convolution (default 1; BasicBlock allows only 1) */
  groups?: number;
  /** channels per group (default 64; BasicBlock allows only 64) */
  baseWidth?: number;
  /** dilation of the 3x3 convolution (default 1; BasicBlock allows only 1) */
  dilation?: number;
}

/**
 * ResNet18/34's residual block: two 3x3 convolutions with batch norm, added
 * to the shortcut, as torchvision's `BasicBlock`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { BasicBlock } from "@flint/models";
 *
 * const block = new BasicBlock(8, 8);
 * console.log(block(torch.rand(1, 8, 5, 5)).shape); // [1, 8, 5, 5]
 * ```
 */
export class BasicBlock extends Module<[Tensor], Tensor> {
  /** output channels per `planes` */
  static readonly expansion: number = 1;
  /** the first 3x3 convolution (strided) */
  conv1: Conv2d;
  /** batch norm after conv1 */
  bn1: BatchNorm2d;
  /** the activation, in place */
  relu: ReLU;
  /** the second 3x3 convolution */
  conv2: Conv2d;
  /** batch norm after conv2 */
  bn2: BatchNorm2d;
  /** the shortcut's projection, or null for the identity */
  downsample: Module<[Tensor], Tensor> | null;
  /** the stride */
  readonly stride: number;

  /** A block from `inplanes` to `planes` channels. */
  constructor(inplanes: number, planes: number, options: BlockOptions = {}) {
    super();
    if ((options.groups ?? 1) !== 1 || (options.baseWidth ?? 64) !== 64) {
      throw new RangeError("BasicBlock only supports groups=1 and base_width=64");
    }
    if ((options.dilation ?? 1) > 1) throw new RangeError("Dilation > 1 not supported in BasicBlock");
    const stride = options.stride ?? 1;
    this.conv1 = conv3x3(inplanes, planes, stride);
    this.bn1 = new BatchNorm2d(planes);
    this.relu = new ReLU({ inplace: true });
    this.conv2 = conv3x3(planes, planes);
    this.bn2 = new BatchNorm2d(planes);
    this.downsample = options.downsample ?? null;
    this.stride = stride;
  }

  /** `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))` */
  override forward(x: Tensor): Tensor {
    let out = this.relu(this.bn1(this.conv1(x)));
    out = this.bn2(this.conv2(out));
    const identity = this.downsample === null ? x : this.downsample(x);
    // In place, as torchvision's `out += identity`: one activation less to keep.
    return this.relu(out.add_(identity));
  }
}

/**
 * ResNet50's residual block: 1x1 reduce, 3x3 (strided), 1x1 expand by 4,
 * each with batch norm, added to the shortcut, as torchvision's
 * `Bottleneck` (the stride on the 3x3, "ResNet v1.5").
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { Bottleneck } from "@flint/models";
 *
 * const block = new Bottleneck(16, 4);
 * console.log(block(torch.rand(1, 16, 5, 5)).shape); // [1, 16, 5, 5]
 * ```
 */
export class Bottleneck extends Module<[Tensor], Tensor> {
  /** output channels per `planes` */
  static readonly expansion: number = 4;
  /** the 1x1 reduction */
  conv1: Conv2d;
  /** batch norm after conv1 */
  bn1: BatchNorm2d;
  /** the 3x3 convolution (strided) */
  conv2: Conv2d;
  /** batch norm after conv2 */
  bn2: BatchNorm2d;
  /** the 1x1 expansion */
  conv3: Conv2d;
  /** batch norm after conv3 */
  bn3: BatchNorm2d;
  /** the activation, in place */
  relu: ReLU;
  /** the shortcut's projection, or null for the identity */
  downsample: Module<[Tensor], Tensor> | null;
  /** the stride */
  readonly stride: number;

  /** A block from `inplanes` to `planes * 4` channels. */
  constructor(inplanes: number, planes: number, options: BlockOptions = {}) {
    super();
    const groups = options.groups ?? 1;
    const width = Math.trunc(planes * ((options.baseWidth ?? 64) / 64)) * groups;
    const stride = options.stride ?? 1;
    this.conv1 = conv1x1(inplanes, width);
    this.bn1 = new BatchNorm2d(width);
    this.conv2 = conv3x3(width, width, stride, groups, options.dilation ?? 1);
    this.bn2 = new BatchNorm2d(width);
    this.conv3 = conv1x1(width, planes * Bottleneck.expansion);
    this.bn3 = new BatchNorm2d(planes * Bottleneck.expansion);
    this.relu = new ReLU({ inplace: true });
    this.downsample = options.downsample ?? null;
    this.stride = stride;
  }

  /** The three convolutions added to the shortcut. */
  override forward(x: Tensor): Tensor {
    let out = this.relu(this.bn1(this.conv1(x)));
    out = this.relu(this.bn2(this.conv2(out)));
    out = this.bn3(this.conv3(out));
    const identity = this.downsample === null ? x : this.downsample(x);
    return this.relu(out.add_(identity));
  }
}

/** A residual block class: {@linkcode BasicBlock} or {@linkcode Bottleneck}. */
export type ResNetBlock = typeof BasicBlock | typeof Bottleneck;

/** Options of {@linkcode ResNet}, as torchvision's keyword arguments. */
export interface ResNetOptions {
  /** outputs of the classifier (default 1000) */
  numClasses?: number;
  /** start each residual branch's last batch norm at zero, so each block starts as the identity (default false) */
  zeroInitResidual?: boolean;
  /** groups of the 3x3 convolutions (default 1; ResNeXt uses 32) */
  groups?: number;
  /** channels per group (default 64; Wide ResNet uses 128) */
  widthPerGroup?: number;
  /** for layer2..layer4, dilate instead of striding (default `[false, false, false]`) */
  replaceStrideWithDilation?: readonly [boolean, boolean, boolean];
}

/**
 * A residual network, as torchvision's `ResNet`: a 7x7 stem, four stages of
 * blocks, global average pooling and a linear classifier `fc`. Convolutions
 * are initialised with `kaiming_normal_(mode="fan_out", nonlinearity="relu")`,
 * batch norms with ones and zeros, `fc` as `nn.Linear` does.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { BasicBlock, ResNet } from "@flint/models";
 *
 * const net = new ResNet(BasicBlock, [1, 1, 1, 1], { numClasses: 3 });
 * console.log(net.eval()(torch.rand(1, 3, 32, 32)).shape); // [1, 3]
 * ```
 */
export class ResNet extends Module<[Tensor], Tensor> {
  /** the 7x7 stem convolution, stride 2 */
  conv1: Conv2d;
  /** batch norm of the stem */
  bn1: BatchNorm2d;
  /** the activation, in place */
  relu: ReLU;
  /** 3x3 max pooling, stride 2 */
  maxpool: MaxPool2d;
  /** stage 1 (64 planes) */
  layer1: Sequential;
  /** stage 2 (128 planes, stride 2) */
  layer2: Sequential;
  /** stage 3 (256 planes, stride 2) */
  layer3: Sequential;
  /** stage 4 (512 planes, stride 2) */
  layer4: Sequential;
  /** global average pooling to 1x1 */
  avgpool: AdaptiveAvgPool2d;
  /** the classifier: replace it to fine-tune on other classes */
  fc: Linear;

  /** A ResNet of `block`s, `layers[i]` of them in stage i + 1. */
  constructor(block: ResNetBlock, layers: readonly [number, number, number, number], options: ResNetOptions = {}) {
    super();
    const dilate = options.replaceStrideWithDilation ?? [false, false, false];
    if (dilate.length !== 3) {
      throw new RangeError(
        `replace_stride_with_dilation should be None or a 3-element tuple, got [${dilate.join(", ")}]`,
      );
    }
    const groups = options.groups ?? 1;
    const baseWidth = options.widthPerGroup ?? 64;
    let inplanes = 64;
    let dilation = 1;
    // torchvision's _make_layer: the shortcut's projection is built (and draws
    // its default initialisation) before the stage's first block.
    const makeLayer = (planes: number, blocks: number, stride = 1, dilateStage = false): Sequential => {
      let downsample: Sequential | null = null;
      const previousDilation = dilation;
      if (dilateStage) {
        dilation *= stride;
        stride = 1;
      }
      if (stride !== 1 || inplanes !== planes * block.expansion) {
        downsample = new Sequential(
          conv1x1(inplanes, planes * block.expansion, stride),
          new BatchNorm2d(planes * block.expansion),
        );
      }
      const stage: Module[] = [
        new block(inplanes, planes, { stride, downsample, groups, baseWidth, dilation: previousDilation }),
      ];
      inplanes = planes * block.expansion;
      for (let i = 1; i < blocks; i++) stage.push(new block(inplanes, planes, { groups, baseWidth, dilation }));
      return new Sequential(...stage);
    };
    this.conv1 = new Conv2d(3, inplanes, 7, { stride: 2, padding: 3, bias: false });
    this.bn1 = new BatchNorm2d(inplanes);
    this.relu = new ReLU({ inplace: true });
    this.maxpool = new MaxPool2d(3, { stride: 2, padding: 1 });
    this.layer1 = makeLayer(64, layers[0]);
    this.layer2 = makeLayer(128, layers[1], 2, dilate[0]);
    this.layer3 = makeLayer(256, layers[2], 2, dilate[1]);
    this.layer4 = makeLayer(512, layers[3], 2, dilate[2]);
    this.avgpool = new AdaptiveAvgPool2d([1, 1]);
    this.fc = new Linear(512 * block.expansion, options.numClasses ?? 1000);

    for (const m of this.modules()) {
      if (m instanceof Conv2d) {
        init.kaimingNormal_(m.weight, { mode: "fan_out", nonlinearity: "relu" });
      } else if (m instanceof BatchNorm2d) {
        init.constant_(m.weight!, 1);
        init.constant_(m.bias!, 0);
      }
    }
    if (options.zeroInitResidual) {
      for (const m of this.modules()) {
        if (m instanceof Bottleneck && m.bn3.weight !== null) init.constant_(m.bn3.weight, 0);
        else if (m instanceof BasicBlock && m.bn2.weight !== null) init.constant_(m.bn2.weight, 0);
      }
    }
  }

  /** The logits `[N, numClasses]` of images `[N, 3, H, W]`. */
  override forward(x: Tensor): Tensor {
    x = this.maxpool(this.relu(this.bn1(this.conv1(x))));
    x = this.layer4(this.layer3(this.layer2(this.layer1(x))));
    return this.fc(this.avgpool(x).flatten(1));
  }
}

// ---- pretrained weights ----

const RECIPE = "https://github.com/pytorch/vision/tree/main/references/classification#resnet";
const V1_DOCS = "These weights reproduce closely the results of the paper using a simple training recipe.";

function imagenetMeta(numParams: number, acc1: number, acc5: number, recipe = RECIPE, docs = V1_DOCS): WeightsMeta {
  return Object.freeze({
    categories: IMAGENET_CATEGORIES,
    minSize: [1, 1] as const,
    numParams,
    recipe,
    metrics: Object.freeze({ "ImageNet-1K": Object.freeze({ "acc@1": acc1, "acc@5": acc5 }) }),
    docs,
  });
}

/** The pretrained ResNet18 weights torchvision offers. */
export interface ResNet18WeightsEnum {
  /** ImageNet-1k, 69.758% top-1: `resnet18-f37072fd.pth` */
  readonly IMAGENET1K_V1: Weights;
  /** the best available: IMAGENET1K_V1 */
  readonly DEFAULT: Weights;
}

const resnet18V1 = new Weights(
  "ResNet18_Weights.IMAGENET1K_V1",
  "https://download.pytorch.org/models/resnet18-f37072fd.pth",
  { cropSize: 224 },
  imagenetMeta(11689512, 69.758, 89.078),
);

/**
 * ResNet18's pretrained weights, as `torchvision.models.ResNet18_Weights`.
 *
 * @example
 * ```ts
 * import { ResNet18_Weights } from "@flint/models";
 *
 * console.log(ResNet18_Weights.IMAGENET1K_V1.meta.metrics["ImageNet-1K"]["acc@1"]); // 69.758
 * ```
 */
// deno-lint-ignore camelcase
export const ResNet18_Weights: ResNet18WeightsEnum = Object.freeze({ IMAGENET1K_V1: resnet18V1, DEFAULT: resnet18V1 });

/** The pretrained ResNet34 weights torchvision offers. */
export interface ResNet34WeightsEnum {
  /** ImageNet-1k, 73.314% top-1: `resnet34-b627a593.pth` */
  readonly IMAGENET1K_V1: Weights;
  /** the best available: IMAGENET1K_V1 */
  readonly DEFAULT: Weights;
}

const resnet34V1 = new Weights(
  "ResNet34_Weights.IMAGENET1K_V1",
  "https://download.pytorch.org/models/resnet34-b627a593.pth",
  { cropSize: 224 },
  imagenetMeta(21797672, 73.314, 91.42),
);

/**
 * ResNet34's pretrained weights, as `torchvision.models.ResNet34_Weights`.
 *
 * @example
 * ```ts
 * import { ResNet34_Weights } from "@flint/models";
 *
 * console.log(ResNet34_Weights.DEFAULT.url); // https://download.pytorch.org/models/resnet34-b627a593.pth
 * ```
 */
// deno-lint-ignore camelcase
export const ResNet34_Weights: ResNet34WeightsEnum = Object.freeze({ IMAGENET1K_V1: resnet34V1, DEFAULT: resnet34V1 });

/** The pretrained ResNet50 weights torchvision offers. */
export interface ResNet50WeightsEnum {
  /** ImageNet-1k, 76.130% top-1: `resnet50-0676ba61.pth` */
  readonly IMAGENET1K_V1: Weights;
  /** ImageNet-1k with the newer recipe, 80.858% top-1 at resize 232: `resnet50-11ad3fa6.pth` */
  readonly IMAGENET1K_V2: Weights;
  /** the best available: IMAGENET1K_V2 */
  readonly DEFAULT: Weights;
}

const resnet50V2 = new Weights(
  "ResNet50_Weights.IMAGENET1K_V2",
  "https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
  { cropSize: 224, resizeSize: 232 },
  imagenetMeta(
    25557032,
    80.858,
    95.434,
    "https://github.com/pytorch/vision/issues/3995#issuecomment-1013906621",
    "These weights improve upon the results of the original paper by using TorchVision's `new training recipe " +
      "<https://pytorch.org/blog/how-to-train-state-of-the-art-models-using-torchvision-latest-primitives/>`_.",
  ),
);

/**
 * ResNet50's pretrained weights, as `torchvision.models.ResNet50_Weights`
 * (DEFAULT is V2, prepared with a 232 resize).
 *
 * @example
 * ```ts
 * import { ResNet50_Weights } from "@flint/models";
 *
 * console.log(String(ResNet50_Weights.DEFAULT), ResNet50_Weights.DEFAULT.transforms().resizeSize); // ResNet50_Weights.IMAGENET1K_V2 [ 232 ]
 * ```
 */
// deno-lint-ignore camelcase
export const ResNet50_Weights: ResNet50WeightsEnum = Object.freeze({
  IMAGENET1K_V1: new Weights(
    "ResNet50_Weights.IMAGENET1K_V1",
    "https://download.pytorch.org/models/resnet50-0676ba61.pth",
    { cropSize: 224 },
    imagenetMeta(25557032, 76.13, 92.862),
  ),
  IMAGENET1K_V2: resnet50V2,
  DEFAULT: resnet50V2,
});

/** Options of {@linkcode resnet18}, {@linkcode resnet34} and {@linkcode resnet50}. */
export interface ResNetBuilderOptions<W extends WeightsLike | null = WeightsLike | null> extends ResNetOptions {
  /**
   * pretrained weights (a member such as `ResNet18_Weights.DEFAULT`, or its
   * name, `"DEFAULT"`); loading them is asynchronous, so the builder then
   * returns a promise. Default: none, randomly initialised.
   */
  weights?: W;
  /** show download progress on stderr (default true) */
  progress?: boolean;
  /** where the hub cache keeps downloaded weights (default `<getDir()>/checkpoints`) */
  modelDir?: string;
}

async function withWeights(model: ResNet, weights: Weights, options: GetStateDictOptions): Promise<ResNet> {
  model.loadStateDict(await weights.getStateDict(options));
  return model;
}

function build(
  enumName: string,
  members: object,
  block: ResNetBlock,
  layers: readonly [number, number, number, number],
  options: ResNetBuilderOptions,
): ResNet | Promise<ResNet> {
  const weights = verifyWeights(enumName, members, options.weights);
  if (weights === null) return new ResNet(block, layers, options);
  const expected = weights.meta.categories.length;
  if (options.numClasses !== undefined && options.numClasses !== expected) {
    return Promise.reject(
      new RangeError(`The parameter 'num_classes' expected value ${expected} but got ${options.numClasses} instead.`),
    );
  }
  // Built (and randomly initialised) first, then loaded, as in torchvision: the generator advances the same way.
  const model = new ResNet(block, layers, { ...options, numClasses: expected });
  return withWeights(model, weights, { progress: options.progress, modelDir: options.modelDir });
}

/**
 * ResNet-18 ("Deep Residual Learning for Image Recognition"), as
 * `torchvision.models.resnet18`. Without weights it returns the model;
 * with `weights` it returns a promise of the model with them loaded through
 * the download cache.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { resnet18 } from "@flint/models";
 *
 * torch.manualSeed(0);
 * const model = resnet18().eval();
 * console.log(model.fc.weight.shape, Object.keys(model.stateDict()).length); // [1000, 512] 122
 * // const pretrained = await resnet18({ weights: ResNet18_Weights.DEFAULT });
 * ```
 */
export function resnet18(options?: ResNetBuilderOptions<null>): ResNet;
/** ResNet-18 with pretrained weights, loaded through the download cache. */
export function resnet18(options: ResNetBuilderOptions<WeightsLike>): Promise<ResNet>;
/** ResNet-18, with weights when `options.weights` is set. */
export function resnet18(options?: ResNetBuilderOptions): ResNet | Promise<ResNet>;
export function resnet18(options: ResNetBuilderOptions = {}): ResNet | Promise<ResNet> {
  return build("ResNet18_Weights", ResNet18_Weights, BasicBlock, [2, 2, 2, 2], options);
}

/**
 * ResNet-34, as `torchvision.models.resnet34`; with `weights`, a promise.
 *
 * @example
 * ```ts
 * import "@flint/torch"; // sets up the CPU device
 * import { resnet34 } from "@flint/models";
 *
 * console.log(resnet34({ numClasses: 10 }).layer3.length); // 6
 * ```
 */
export function resnet34(options?: ResNetBuilderOptions<null>): ResNet;
/** ResNet-34 with pretrained weights, loaded through the download cache. */
export function resnet34(options: ResNetBuilderOptions<WeightsLike>): Promise<ResNet>;
/** ResNet-34, with weights when `options.weights` is set. */
export function resnet34(options?: ResNetBuilderOptions): ResNet | Promise<ResNet>;
export function resnet34(options: ResNetBuilderOptions = {}): ResNet | Promise<ResNet> {
  return build("ResNet34_Weights", ResNet34_Weights, BasicBlock, [3, 4, 6, 3], options);
}

/**
 * ResNet-50, as `torchvision.models.resnet50` (Bottleneck blocks, stride on
 * the 3x3); with `weights`, a promise.
 *
 * @example
 * ```ts
 * import "@flint/torch"; // sets up the CPU device
 * import { resnet50 } from "@flint/models";
 *
 * console.log(resnet50().fc.inFeatures); // 2048
 * ```
 */
export function resnet50(options?: ResNetBuilderOptions<null>): ResNet;
/** ResNet-50 with pretrained weights, loaded through the download cache. */
export function resnet50(options: ResNetBuilderOptions<WeightsLike>): Promise<ResNet>;
/** ResNet-50, with weights when `options.weights` is set. */
export function resnet50(options?: ResNetBuilderOptions): ResNet | Promise<ResNet>;
export function resnet50(options: ResNetBuilderOptions = {}): ResNet | Promise<ResNet> {
  return build("ResNet50_Weights", ResNet50_Weights, Bottleneck, [3, 4, 6, 3], options);
}
