// Pooling in nn.functional's calling convention (the kernel size positional,
// as `F.max_pool2d(x, 2)`), on autograd's pooling ops.

import {
  adaptiveMaxPool2d as adaptiveMaxPoolOp,
  avgPool2d as avgPoolOp,
  maxPool2dWithIndices,
  type Tensor,
  type ValuesIndices,
} from "@flint/autograd";

/** A size over (height, width): one number for both, or a pair. */
export type Size2d = number | readonly [number, number];

/** Options of {@linkcode maxPool2d}, as `F.max_pool2d`'s keyword arguments. */
export interface MaxPool2dOptions {
  /** step of the window; the kernel size when absent or null */
  stride?: Size2d | null;
  /** implicit -inf padding on each side (default 0) */
  padding?: Size2d;
  /** spacing between window taps (default 1) */
  dilation?: Size2d;
  /** round the output size up instead of down (default false) */
  ceilMode?: boolean;
  /** also return the flat position of each max within its plane */
  returnIndices?: boolean;
}

/**
 * 2-d max pooling over `[N, C, H, W]` or `[C, H, W]`, as `F.max_pool2d`;
 * with `returnIndices: true`, `[values, indices]`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * const x = torch.arange(16, { dtype: "float32" }).reshape([1, 1, 4, 4]);
 * console.log(F.maxPool2d(x, 2).tolistSync()); // [[[[5, 7], [13, 15]]]]
 * ```
 */
export function maxPool2d(
  input: Tensor,
  kernelSize: Size2d,
  options?: MaxPool2dOptions & { returnIndices?: false },
): Tensor;
export function maxPool2d(
  input: Tensor,
  kernelSize: Size2d,
  options: MaxPool2dOptions & { returnIndices: true },
): ValuesIndices;
export function maxPool2d(input: Tensor, kernelSize: Size2d, options: MaxPool2dOptions = {}): Tensor | ValuesIndices {
  const { returnIndices, ...rest } = options;
  const result = maxPool2dWithIndices(input, { kernelSize, ...rest });
  return returnIndices ? result : result[0];
}

/** Options of {@linkcode avgPool2d}, as `F.avg_pool2d`'s keyword arguments. */
export interface AvgPool2dOptions {
  /** step of the window; the kernel size when absent or null */
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
 * 2-d average pooling over `[N, C, H, W]` or `[C, H, W]`, as `F.avg_pool2d`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log(F.avgPool2d(torch.tensor([[[1, 2], [3, 4]]]), 2).tolistSync()); // [[[2.5]]]
 * ```
 */
export function avgPool2d(input: Tensor, kernelSize: Size2d, options: AvgPool2dOptions = {}): Tensor {
  return avgPoolOp(input, { kernelSize, ...options });
}

/** An adaptive pooling output size: one number, or (height, width) where null keeps the input's. */
export type AdaptiveSize2d = number | readonly [number | null, number | null];

/**
 * Max pooling to a fixed output size, as `F.adaptive_max_pool2d`; with
 * `returnIndices: true`, `[values, indices]`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log(F.adaptiveMaxPool2d(torch.tensor([[[1, 5, 3], [4, 2, 6]]]), [1, 2]).tolistSync()); // [[[5, 6]]]
 * ```
 */
export function adaptiveMaxPool2d(
  input: Tensor,
  outputSize: AdaptiveSize2d,
  options?: { returnIndices?: false },
): Tensor;
export function adaptiveMaxPool2d(
  input: Tensor,
  outputSize: AdaptiveSize2d,
  options: { returnIndices: true },
): ValuesIndices;
export function adaptiveMaxPool2d(
  input: Tensor,
  outputSize: AdaptiveSize2d,
  options: { returnIndices?: boolean } = {},
): Tensor | ValuesIndices {
  const result = adaptiveMaxPoolOp(input, outputSize);
  return options.returnIndices ? result : result[0];
}
