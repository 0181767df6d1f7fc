// Identity and Linear, as torch.nn.modules.linear.

import { type DeviceLike, type DType, empty, type Parameter, type Tensor } from "@flint/autograd";
import { linear } from "./_layer_ops.ts";
import { parameterOver } from "./_util.ts";
import { calculateFanInAndFanOut, kaimingUniform_, uniform_ } from "./init.ts";
import { Module } from "./module.ts";

/** Where and how a layer's parameters are created. */
export interface FactoryOptions {
  /** parameter dtype (default float32) */
  dtype?: DType;
  /** parameter device (default: the default device) */
  device?: DeviceLike;
}

/**
 * A placeholder that returns its input unchanged; constructor arguments are
 * accepted and ignored, as in PyTorch.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.randn(2);
 * console.log(new torch.nn.Identity()(x) === x, String(new torch.nn.Identity())); // true Identity()
 * ```
 */
export class Identity extends Module<[Tensor], Tensor> {
  /** Any arguments are ignored. */
  constructor(..._args: unknown[]) {
    super();
  }

  /** Returns the input itself. */
  override forward(input: Tensor): Tensor {
    return input;
  }
}

/** Options of {@linkcode Linear}. */
export interface LinearOptions extends FactoryOptions {
  /** learn an additive bias (default true) */
  bias?: boolean;
}

/**
 * `y = x Wᵀ + b`, as `nn.Linear`: weight `[outFeatures, inFeatures]`, bias
 * `[outFeatures]`, both initialised as PyTorch does (Kaiming uniform with
 * a = √5, then U(±1/√in) for the bias), so after `torch.manualSeed(s)` they
 * hold PyTorch's values.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * torch.manualSeed(0);
 * const fc = new torch.nn.Linear(3, 2);
 * console.log(String(fc)); // Linear(in_features=3, out_features=2, bias=True)
 * console.log(fc(torch.ones(5, 3)).shape, fc.weight.index(0, 0).itemSync().toFixed(4)); // [5, 2] -0.0043
 * ```
 */
export class Linear extends Module<[Tensor], Tensor> {
  /** size of each input sample */
  readonly inFeatures: number;
  /** size of each output sample */
  readonly outFeatures: number;
  /** `[outFeatures, inFeatures]` */
  weight: Parameter;
  /** `[outFeatures]`, or null without bias */
  bias: Parameter | null;

  /** A layer from `inFeatures` to `outFeatures`. */
  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const factory = { dtype: options.dtype, device: options.device };
    this.weight = parameterOver(empty([outFeatures, inFeatures], factory));
    this.bias = (options.bias ?? true) ? parameterOver(empty([outFeatures], factory)) : null;
    this.resetParameters();
  }

  /** Re-draws the weight and bias as the constructor did. */
  resetParameters(): void {
    kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const [fanIn] = calculateFanInAndFanOut(this.weight);
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
      uniform_(this.bias, -bound, bound);
    }
  }

  /** `input @ weight.T + bias`. */
  override forward(input: Tensor): Tensor {
    return linear(input, this.weight, this.bias);
  }

  /** `in_features=3, out_features=2, bias=True` */
  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias ? "True" : "False"}`;
  }
}
