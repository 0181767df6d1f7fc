// LayerNorm, as torch.nn.modules.normalization.

import { ones, type Parameter, type Tensor, zeros } from "@flint/autograd";
import { layerNorm } from "./_norm_ops.ts";
import { parameterOver, pyFloat, pyRepr } from "./_util.ts";
import { ones_, zeros_ } from "./init.ts";
import type { FactoryOptions } from "./linear.ts";
import { Module } from "./module.ts";

/** Options of {@linkcode LayerNorm}. */
export interface LayerNormModuleOptions extends FactoryOptions {
  /** added to the variance for stability (default 1e-5) */
  eps?: number;
  /** learn an elementwise scale (and shift) of the normalized shape (default true) */
  elementwiseAffine?: boolean;
  /** with elementwiseAffine, learn the shift too (default true) */
  bias?: boolean;
}

/**
 * Layer normalization over the last dims, as `nn.LayerNorm`: each sample is
 * normalised over `normalizedShape`, then scaled by `weight` and shifted by
 * `bias` (ones and zeros at first).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const ln = new torch.nn.LayerNorm(4);
 * console.log(String(ln), ln(torch.randn(2, 3, 4)).shape); // LayerNorm((4,), eps=1e-05, elementwise_affine=True) [2, 3, 4]
 * ```
 */
export class LayerNorm extends Module<[Tensor], Tensor> {
  /** the trailing shape normalised over */
  readonly normalizedShape: readonly number[];
  /** added to the variance */
  readonly eps: number;
  /** whether weight (and bias) are learnt */
  readonly elementwiseAffine: boolean;
  /** elementwise scale, or null */
  weight: Parameter | null;
  /** elementwise shift, or null */
  bias: Parameter | null;

  /** Normalises over the last dims of shape `normalizedShape`. */
  constructor(normalizedShape: number | readonly number[], options: LayerNormModuleOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    this.eps = options.eps ?? 1e-5;
    this.elementwiseAffine = options.elementwiseAffine ?? true;
    const factory = { dtype: options.dtype, device: options.device };
    const shape = [...this.normalizedShape];
    this.weight = this.elementwiseAffine ? parameterOver(ones(shape, factory)) : null;
    this.bias = this.elementwiseAffine && (options.bias ?? true) ? parameterOver(zeros(shape, factory)) : null;
  }

  /** Weight to ones, bias to zeros. */
  resetParameters(): void {
    if (this.weight) ones_(this.weight);
    if (this.bias) zeros_(this.bias);
  }

  /** The normalised input. */
  override forward(input: Tensor): Tensor {
    return layerNorm(input, this.normalizedShape, { weight: this.weight, bias: this.bias, eps: this.eps });
  }

  /** `(4,), eps=1e-05, elementwise_affine=True` */
  override extraRepr(): string {
    return `${pyRepr(this.normalizedShape)}, eps=${pyFloat(this.eps)}, elementwise_affine=${
      pyRepr(this.elementwiseAffine)
    }`;
  }
}
