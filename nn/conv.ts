// Conv2d, as torch.nn.modules.conv.

import { conv2d, empty, type Parameter, type Tensor } from "@flint/autograd";
import { pad, type PadMode } from "./_layer_ops.ts";
import { pair, parameterOver, pyRepr } from "./_util.ts";
import { calculateFanInAndFanOut, kaimingUniform_, uniform_ } from "./init.ts";
import type { FactoryOptions } from "./linear.ts";
import { Module } from "./module.ts";

/** How a convolution pads its input: with zeros (default), or by reflecting, replicating or wrapping it. */
export type PaddingMode = "zeros" | "reflect" | "replicate" | "circular";

/** Options of {@linkcode Conv2d}. */
export interface Conv2dModuleOptions extends FactoryOptions {
  /** step of the kernel (default 1) */
  stride?: number | readonly [number, number];
  /** padding on each side (default 0), or "valid" (none) or "same" (output size = input size, stride 1) */
  padding?: number | readonly [number, number] | "same" | "valid";
  /** spacing between kernel taps (default 1) */
  dilation?: number | readonly [number, number];
  /** split the channels into this many independent groups (default 1) */
  groups?: number;
  /** learn an additive bias (default true) */
  bias?: boolean;
  /** what the padding holds (default "zeros") */
  paddingMode?: PaddingMode;
}

const PADDING_MODES: readonly PaddingMode[] = ["zeros", "reflect", "replicate", "circular"];

/**
 * A 2-d convolution over `[N, C, H, W]` (or `[C, H, W]`), as `nn.Conv2d`:
 * weight `[outChannels, inChannels / groups, kH, kW]`, bias `[outChannels]`,
 * initialised as PyTorch does, so after `torch.manualSeed(s)` they hold
 * PyTorch's values.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const conv = new torch.nn.Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false });
 * console.log(String(conv)); // Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)
 * console.log(conv(torch.zeros(1, 3, 32, 32)).shape); // [1, 64, 16, 16]
 * ```
 */
export class Conv2d extends Module<[Tensor], Tensor> {
  /** channels of the input */
  readonly inChannels: number;
  /** channels of the output */
  readonly outChannels: number;
  /** (kH, kW) */
  readonly kernelSize: [number, number];
  /** (sH, sW) */
  readonly stride: [number, number];
  /** (pH, pW), or "same" / "valid" */
  readonly padding: [number, number] | "same" | "valid";
  /** (dH, dW) */
  readonly dilation: [number, number];
  /** channel groups */
  readonly groups: number;
  /** what the padding holds */
  readonly paddingMode: PaddingMode;
  /** `[outChannels, inChannels / groups, kH, kW]` */
  weight: Parameter;
  /** `[outChannels]`, or null without bias */
  bias: Parameter | null;
  // F.pad's amounts for the non-zero padding modes: (left, right, top, bottom).
  readonly #reversedPadding: number[];

  /** A convolution from `inChannels` to `outChannels` with a `kernelSize` kernel. */
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number | readonly [number, number],
    options: Conv2dModuleOptions = {},
  ) {
    super();
    const groups = options.groups ?? 1;
    if (!(groups > 0) || !Number.isInteger(groups)) throw new RangeError("groups must be a positive integer");
    if (inChannels % groups !== 0) throw new RangeError("in_channels must be divisible by groups");
    if (outChannels % groups !== 0) throw new RangeError("out_channels must be divisible by groups");
    const stride = pair(options.stride ?? 1, "stride");
    const padding = options.padding ?? 0;
    if (typeof padding === "string") {
      if (padding !== "same" && padding !== "valid") {
        throw new RangeError(`Invalid padding string '${padding}', should be one of {'valid', 'same'}`);
      }
      if (padding === "same" && (stride[0] !== 1 || stride[1] !== 1)) {
        throw new RangeError("padding='same' is not supported for strided convolutions");
      }
    }
    const paddingMode = options.paddingMode ?? "zeros";
    if (!PADDING_MODES.includes(paddingMode)) {
      throw new RangeError(
        `padding_mode must be one of {'reflect', 'replicate', 'zeros', 'circular'}, but got padding_mode='${paddingMode}'`,
      );
    }
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair(kernelSize, "kernel_size");
    this.stride = stride;
    this.padding = typeof padding === "string" ? padding : pair(padding, "padding");
    this.dilation = pair(options.dilation ?? 1, "dilation");
    this.groups = groups;
    this.paddingMode = paddingMode;
    this.#reversedPadding = reversedPadding(this.padding, this.kernelSize, this.dilation);
    const factory = { dtype: options.dtype, device: options.device };
    this.weight = parameterOver(empty([outChannels, inChannels / groups, ...this.kernelSize], factory));
    this.bias = (options.bias ?? true) ? parameterOver(empty([outChannels], factory)) : null;
    this.resetParameters();
  }

  /** Re-draws the weight and bias as the constructor did (Kaiming uniform, a = √5; bias U(±1/√fanIn)). */
  resetParameters(): void {
    kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const [fanIn] = calculateFanInAndFanOut(this.weight);
      if (fanIn !== 0) uniform_(this.bias, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn));
    }
  }

  /** The convolution of `input`. */
  override forward(input: Tensor): Tensor {
    const options = { stride: this.stride, dilation: this.dilation, groups: this.groups };
    if (this.paddingMode !== "zeros") {
      const padded = pad(input, this.#reversedPadding, { mode: this.paddingMode as PadMode });
      return conv2d(padded, this.weight, this.bias, { ...options, padding: 0 });
    }
    return conv2d(input, this.weight, this.bias, { ...options, padding: this.padding });
  }

  /** PyTorch's text: `3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False`. */
  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${pyRepr(this.kernelSize)}, ` +
      `stride=${pyRepr(this.stride)}`;
    const p = this.padding;
    if (typeof p === "string") s += `, padding=${p}`;
    else if (p[0] !== 0 || p[1] !== 0) s += `, padding=${pyRepr(p)}`;
    if (this.dilation[0] !== 1 || this.dilation[1] !== 1) s += `, dilation=${pyRepr(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.bias) s += ", bias=False";
    if (this.paddingMode !== "zeros") s += `, padding_mode=${this.paddingMode}`;
    return s;
  }
}

// PyTorch's _reversed_padding_repeated_twice, including the split of "same".
function reversedPadding(
  padding: [number, number] | "same" | "valid",
  kernel: [number, number],
  dilation: [number, number],
): number[] {
  if (padding === "valid") return [0, 0, 0, 0];
  if (padding === "same") {
    const out = [0, 0, 0, 0];
    for (let d = 0; d < 2; d++) {
      const total = dilation[d] * (kernel[d] - 1);
      const left = Math.floor(total / 2);
      const i = 1 - d;
      out[2 * i] = left;
      out[2 * i + 1] = total - left;
    }
    return out;
  }
  return [padding[1], padding[1], padding[0], padding[0]];
}
