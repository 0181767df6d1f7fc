// Pooling layers, as torch.nn.modules.pooling.

import { adaptiveAvgPool2d, type Tensor, type ValuesIndices } from "@flint/autograd";
import { adaptiveMaxPool2d, type AdaptiveSize2d, avgPool2d, maxPool2d, type Size2d } from "./_pool_ops.ts";
import { pyRepr } from "./_util.ts";
import { Module } from "./module.ts";

/** Options of {@linkcode MaxPool2d}. */
export interface MaxPool2dModuleOptions<R extends boolean = boolean> {
  /** step of the window (default: the kernel size) */
  stride?: Size2d | null;
  /** implicit -inf padding on each side (default 0) */
  padding?: Size2d;
  /** spacing between window taps (default 1) */
  dilation?: Size2d;
  /** also return the position of each max (the module then returns `[values, indices]`) */
  returnIndices?: R;
  /** round the output size up instead of down (default false) */
  ceilMode?: boolean;
}

/**
 * 2-d max pooling, as `nn.MaxPool2d`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const pool = new torch.nn.MaxPool2d(3, { stride: 2, padding: 1 });
 * console.log(String(pool)); // MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)
 * console.log(pool(torch.zeros(1, 64, 112, 112)).shape); // [1, 64, 56, 56]
 * ```
 */
export class MaxPool2d<R extends boolean = false> extends Module<[Tensor], R extends true ? ValuesIndices : Tensor> {
  /** window size, as given */
  readonly kernelSize: Size2d;
  /** step, as given (the kernel size by default) */
  readonly stride: Size2d;
  /** padding, as given */
  readonly padding: Size2d;
  /** dilation, as given */
  readonly dilation: Size2d;
  /** whether forward returns `[values, indices]` */
  readonly returnIndices: R;
  /** whether the output size rounds up */
  readonly ceilMode: boolean;

  /** Pools over `kernelSize` windows. */
  constructor(kernelSize: Size2d, options: MaxPool2dModuleOptions<R> = {}) {
    super();
    this.kernelSize = kernelSize;
    this.stride = options.stride ?? kernelSize;
    this.padding = options.padding ?? 0;
    this.dilation = options.dilation ?? 1;
    this.returnIndices = (options.returnIndices ?? false) as R;
    this.ceilMode = options.ceilMode ?? false;
  }

  /** The pooled input (and the indices, with `returnIndices`). */
  override forward(input: Tensor): R extends true ? ValuesIndices : Tensor {
    const options = { stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode };
    return (this.returnIndices
      ? maxPool2d(input, this.kernelSize, { ...options, returnIndices: true })
      : maxPool2d(input, this.kernelSize, options)) as R extends true ? ValuesIndices : Tensor;
  }

  /** `kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False` */
  override extraRepr(): string {
    return `kernel_size=${pyRepr(this.kernelSize)}, stride=${pyRepr(this.stride)}, padding=${pyRepr(this.padding)}, ` +
      `dilation=${pyRepr(this.dilation)}, ceil_mode=${pyRepr(this.ceilMode)}`;
  }
}

/** Options of {@linkcode AvgPool2d}. */
export interface AvgPool2dModuleOptions {
  /** step of the window (default: the kernel size) */
  stride?: Size2d | null;
  /** implicit zero padding on each side (default 0) */
  padding?: Size2d;
  /** round the output size up instead of down (default false) */
  ceilMode?: boolean;
  /** count padding zeros in the divisor (default true) */
  countIncludePad?: boolean;
  /** divide every window's sum by this instead of its size */
  divisorOverride?: number | null;
}

/**
 * 2-d average pooling, as `nn.AvgPool2d`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const pool = new torch.nn.AvgPool2d(2);
 * console.log(String(pool), pool(torch.ones(1, 1, 4, 4)).shape); // AvgPool2d(kernel_size=2, stride=2, padding=0) [1, 1, 2, 2]
 * ```
 */
export class AvgPool2d extends Module<[Tensor], Tensor> {
  /** window size, as given */
  readonly kernelSize: Size2d;
  /** step, as given (the kernel size by default) */
  readonly stride: Size2d;
  /** padding, as given */
  readonly padding: Size2d;
  /** whether the output size rounds up */
  readonly ceilMode: boolean;
  /** whether padding zeros count in the divisor */
  readonly countIncludePad: boolean;
  /** the fixed divisor, if any */
  readonly divisorOverride: number | null;

  /** Averages over `kernelSize` windows. */
  constructor(kernelSize: Size2d, options: AvgPool2dModuleOptions = {}) {
    super();
    this.kernelSize = kernelSize;
    this.stride = options.stride ?? kernelSize;
    this.padding = options.padding ?? 0;
    this.ceilMode = options.ceilMode ?? false;
    this.countIncludePad = options.countIncludePad ?? true;
    this.divisorOverride = options.divisorOverride ?? null;
  }

  /** The pooled input. */
  override forward(input: Tensor): Tensor {
    return avgPool2d(input, this.kernelSize, {
      stride: this.stride,
      padding: this.padding,
      ceilMode: this.ceilMode,
      countIncludePad: this.countIncludePad,
      divisorOverride: this.divisorOverride,
    });
  }

  /** `kernel_size=2, stride=2, padding=0` */
  override extraRepr(): string {
    return `kernel_size=${pyRepr(this.kernelSize)}, stride=${pyRepr(this.stride)}, padding=${pyRepr(this.padding)}`;
  }
}

/**
 * Average pooling to a fixed output size, as `nn.AdaptiveAvgPool2d`
 * (`null` in the size keeps the input's).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const pool = new torch.nn.AdaptiveAvgPool2d([1, 1]);
 * console.log(String(pool), pool(torch.ones(2, 512, 7, 7)).shape); // AdaptiveAvgPool2d(output_size=(1, 1)) [2, 512, 1, 1]
 * ```
 */
export class AdaptiveAvgPool2d extends Module<[Tensor], Tensor> {
  /** the output size, as given */
  readonly outputSize: AdaptiveSize2d;

  /** Pools to `outputSize`. */
  constructor(outputSize: AdaptiveSize2d) {
    super();
    this.outputSize = outputSize;
  }

  /** The pooled input. */
  override forward(input: Tensor): Tensor {
    return adaptiveAvgPool2d(input, this.outputSize);
  }

  /** `output_size=(1, 1)` */
  override extraRepr(): string {
    return `output_size=${pyRepr(this.outputSize)}`;
  }
}

/**
 * Max pooling to a fixed output size, as `nn.AdaptiveMaxPool2d`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const pool = new torch.nn.AdaptiveMaxPool2d(2);
 * console.log(String(pool), pool(torch.ones(1, 3, 5, 5)).shape); // AdaptiveMaxPool2d(output_size=2) [1, 3, 2, 2]
 * ```
 */
export class AdaptiveMaxPool2d<R extends boolean = false>
  extends Module<[Tensor], R extends true ? ValuesIndices : Tensor> {
  /** the output size, as given */
  readonly outputSize: AdaptiveSize2d;
  /** whether forward returns `[values, indices]` */
  readonly returnIndices: R;

  /** Pools to `outputSize`. */
  constructor(outputSize: AdaptiveSize2d, options: { returnIndices?: R } = {}) {
    super();
    this.outputSize = outputSize;
    this.returnIndices = (options.returnIndices ?? false) as R;
  }

  /** The pooled input (and the indices, with `returnIndices`). */
  override forward(input: Tensor): R extends true ? ValuesIndices : Tensor {
    return (this.returnIndices
      ? adaptiveMaxPool2d(input, this.outputSize, { returnIndices: true })
      : adaptiveMaxPool2d(input, this.outputSize)) as R extends true ? ValuesIndices : Tensor;
  }

  /** `output_size=2` */
  override extraRepr(): string {
    return `output_size=${pyRepr(this.outputSize)}`;
  }
}
