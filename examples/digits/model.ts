// The digits network: a small ResNet for 8×8 images. A 3×3 stem, one residual
// block at full resolution, max pooling to 4×4, a wider 3×3 convolution,
// global average pooling and a linear classifier.

import * as torch from "@flint/torch";

const { nn } = torch;

/**
 * A residual block as ResNet's `BasicBlock` at stride 1: two 3×3
 * convolutions with batch norm, added to the input (the skip connection),
 * then ReLU.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { ResidualBlock } from "./model.ts";
 *
 * const block = new ResidualBlock(4);
 * console.log(block(torch.rand(2, 4, 8, 8)).shape); // [ 2, 4, 8, 8 ]
 * ```
 */
export class ResidualBlock extends nn.Module<[torch.Tensor], torch.Tensor> {
  /** the first 3×3 convolution */
  conv1: torch.nn.Conv2d;
  /** batch norm after conv1 */
  bn1: torch.nn.BatchNorm2d;
  /** the second 3×3 convolution */
  conv2: torch.nn.Conv2d;
  /** batch norm after conv2, before the sum */
  bn2: torch.nn.BatchNorm2d;
  /** the activation */
  relu: torch.nn.ReLU;

  /** A block keeping `channels` channels. */
  constructor(channels: number) {
    super();
    this.conv1 = new nn.Conv2d(channels, channels, 3, { padding: 1, bias: false });
    this.bn1 = new nn.BatchNorm2d(channels);
    this.conv2 = new nn.Conv2d(channels, channels, 3, { padding: 1, bias: false });
    this.bn2 = new nn.BatchNorm2d(channels);
    this.relu = new nn.ReLU();
  }

  /** `relu(bn2(conv2(relu(bn1(conv1(x))))) + x)` */
  override forward(x: torch.Tensor): torch.Tensor {
    const out = this.bn2(this.conv2(this.relu(this.bn1(this.conv1(x)))));
    return this.relu(out.add(x));
  }
}

/** Options of {@linkcode DigitsNet}. */
export interface DigitsNetOptions {
  /** channels of the stem and the residual block; the last convolution has twice as many (default 16) */
  channels?: number;
}

/**
 * The classifier: `[N, 1, 8, 8]` images in 0..1 to `[N, 10]` logits.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { DigitsNet } from "./model.ts";
 *
 * torch.manualSeed(0);
 * const model = new DigitsNet().eval();
 * console.log(model(torch.rand(3, 1, 8, 8)).shape); // [ 3, 10 ]
 * ```
 */
export class DigitsNet extends nn.Module<[torch.Tensor], torch.Tensor> {
  /** conv 3×3 (1 → C), batch norm, ReLU at 8×8 */
  stem: torch.nn.Sequential;
  /** the residual block at 8×8 */
  block: ResidualBlock;
  /** 2×2 max pooling to 4×4 */
  pool: torch.nn.MaxPool2d;
  /** conv 3×3 (C → 2C), batch norm, ReLU at 4×4 */
  head: torch.nn.Sequential;
  /** global average pooling to 1×1 */
  avgpool: torch.nn.AdaptiveAvgPool2d;
  /** the classifier, 2C → 10 */
  fc: torch.nn.Linear;

  /** A network with `channels` channels in its first stage (default 16). */
  constructor(options: DigitsNetOptions = {}) {
    super();
    const c = options.channels ?? 16;
    this.stem = new nn.Sequential(
      new nn.Conv2d(1, c, 3, { padding: 1, bias: false }),
      new nn.BatchNorm2d(c),
      new nn.ReLU(),
    );
    this.block = new ResidualBlock(c);
    this.pool = new nn.MaxPool2d(2);
    this.head = new nn.Sequential(
      new nn.Conv2d(c, 2 * c, 3, { padding: 1, bias: false }),
      new nn.BatchNorm2d(2 * c),
      new nn.ReLU(),
    );
    this.avgpool = new nn.AdaptiveAvgPool2d(1);
    this.fc = new nn.Linear(2 * c, 10);
  }

  /** The logits of each image. */
  override forward(x: torch.Tensor): torch.Tensor {
    const features = this.avgpool(this.head(this.pool(this.block(this.stem(x)))));
    return this.fc(features.flatten(1));
  }
}
