// 2-d convolution and its gradients. Each of the three products (the conv,
// its gradient for the input, its gradient for the weight) runs the backend's
// fused kernel when it has one and is otherwise composed from required ops
// (im2col as a gather at precomputed positions, then matmul), so every backend
// runs conv2d. The three are bilinear and each one's gradient rule is written
// with the other two, so gradients of any order exist.

import { type Conv2dGeometry, type DType, formatShape, isFloatingPoint, numel, type Shape } from "@flint/backend";
import { noGrad } from "../grad_mode.ts";
import type { Tensor } from "../tensor.ts";
import { backendOf, commonDevice, fromStorage, record, torchTypeName, viewOf } from "./_core.ts";
import { zeros } from "./creation.ts";
import { gatherFlat, scatterAddFlat } from "./indexing.ts";
import { matmul } from "./linalg.ts";
import { sum } from "./reduction.ts";
import { cat } from "./shape.ts";

/** Options of {@linkcode conv2d}, as `torch.nn.functional.conv2d`'s keyword arguments. */
export interface Conv2dOptions {
  /** step of the kernel over (height, width); 1 by default */
  stride?: number | readonly [number, number];
  /**
   * zeros added on each side of (height, width), 0 by default; "valid" is no
   * padding, "same" pads so the output has the input's size (stride 1 only)
   */
  padding?: number | readonly [number, number] | "same" | "valid";
  /** spacing between kernel taps; 1 by default */
  dilation?: number | readonly [number, number];
  /** split channels into this many independent groups; 1 by default */
  groups?: number;
}

/** A size given as one number or a pair, as PyTorch's `_pair`, with its message for a wrong length. */
function pairOf(value: number | readonly number[], name: string): [number, number] {
  if (typeof value !== "number" && !Array.isArray(value)) {
    const type = typeof value === "string" ? "str" : typeof value === "boolean" ? "bool" : typeof value;
    throw new TypeError(`conv2d(): argument '${name}' must be tuple of ints, not ${type}`);
  }
  const list = typeof value === "number" ? [value, value] : [...value];
  if (list.length === 1) list.push(list[0]);
  if (list.length !== 2) {
    throw new RangeError(
      `expected ${name} to be a single integer value or a list of 2 values to match the convolution dimensions, ` +
        `but got ${name}=[${list.join(", ")}]`,
    );
  }
  for (const v of list) {
    if (!Number.isInteger(v)) throw new TypeError(`conv2d(): ${name} must be integers, but got ${String(value)}`);
  }
  return list as [number, number];
}

/** The output shape of a conv2d: floor((size + 2·pad − dilation·(k − 1) − 1) / stride) + 1 per spatial dim. */
function outputShape(input: Shape, weight: Shape, g: Conv2dGeometry): number[] {
  const size = (i: 0 | 1) =>
    Math.floor((input[2 + i] + 2 * g.padding[i] - g.dilation[i] * (weight[2 + i] - 1) - 1) / g.stride[i]) + 1;
  return [input[0], weight[0], size(0), size(1)];
}

const C_TYPE: Record<DType, string> = { float32: "float", float64: "double", int32: "int", bool: "bool" };

/** PyTorch's checks of a convolution's operands (check_shape_forward), with its messages. */
function checkOperands(x: Tensor, w: Tensor, bias: Tensor | null, g: Conv2dGeometry): void {
  if (g.padding.some((p) => p < 0)) throw new RangeError("negative padding is not supported");
  if (g.stride.some((s) => s <= 0)) throw new RangeError("non-positive stride is not supported");
  if (g.dilation.some((d) => d < 0)) throw new RangeError("non-positive dilation is not supported");
  if (g.dilation.some((d) => d === 0)) {
    throw new RangeError(`dilation should be greater than zero, but got [${g.dilation.join(", ")}]`);
  }
  const ws = formatShape(w.shape);
  if (w.ndim !== 4) {
    throw new RangeError(
      `Expected ${w.ndim}-dimensional input for ${w.ndim}-dimensional weight ${ws}, but got 4-dimensional input of ` +
        `size ${formatShape(x.shape)} instead`,
    );
  }
  const groups = g.groups;
  if (w.shape[0] < groups) {
    throw new RangeError(
      `Given groups=${groups}, expected weight to be at least ${groups} at dimension 0, but got weight of size ${ws} ` +
        `instead`,
    );
  }
  if (w.shape[0] % groups !== 0) {
    throw new RangeError(
      `Given groups=${groups}, expected weight to be divisible by ${groups} at dimension 0, but got weight of size ` +
        `[${ws}] instead`,
    );
  }
  if (x.shape[1] !== w.shape[1] * groups) {
    throw new RangeError(
      `Given groups=${groups}, weight of size ${ws}, expected input${formatShape(x.shape)} to have ` +
        `${w.shape[1] * groups} channels, but got ${x.shape[1]} channels instead`,
    );
  }
  if (bias !== null && (bias.ndim !== 1 || bias.shape[0] !== w.shape[0])) {
    throw new RangeError(
      `Given weight of size ${ws}, expected bias to be 1-dimensional with ${w.shape[0]} elements, but got bias of ` +
        `size ${formatShape(bias.shape)} instead`,
    );
  }
  const padded = [0, 1].map((i) => x.shape[2 + i] + 2 * g.padding[i]);
  const kernel = [0, 1].map((i) => g.dilation[i] * (w.shape[2 + i] - 1) + 1);
  if (padded[0] < kernel[0] || padded[1] < kernel[1]) {
    throw new RangeError(
      `Calculated padded input size per channel: (${padded.join(" x ")}). Kernel size: (${kernel.join(" x ")}). ` +
        `Kernel size can't be greater than actual input size`,
    );
  }
  if (x.dtype === "bool") throw new TypeError(`"slow_conv2d_cpu" not implemented for 'Bool'`);
  if (w.dtype !== x.dtype) {
    throw new TypeError(
      `Input type (torch.${torchTypeName(x.dtype)}Tensor) and weight type (torch.${torchTypeName(w.dtype)}Tensor) ` +
        `should be the same`,
    );
  }
  if (bias !== null && bias.dtype !== x.dtype) {
    throw new TypeError(`Input type (${C_TYPE[x.dtype]}) and bias type (${C_TYPE[bias.dtype]}) should be the same`);
  }
}

/**
 * 2-d convolution over `input` [N, C, H, W] (or unbatched [C, H, W]) with
 * `weight` [O, C/groups, kH, kW] and an optional `bias` [O], as
 * `torch.nn.functional.conv2d`: the same output sizes, "same"/"valid"
 * padding (an even kernel with "same" pads one more on the bottom and right,
 * as PyTorch does), groups and dilation, the same errors, and a
 * `ConvolutionBackward0` node whose gradients can be differentiated again.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.ones([1, 1, 4, 4], { requiresGrad: true });
 * const w = torch.ones([2, 1, 3, 3]);
 * const y = torch.conv2d(x, w, torch.tensor([0, 1]), { padding: 1 });
 * console.log(y.shape, y.gradFn?.name); // [1, 2, 4, 4] ConvolutionBackward0
 * console.log(y.index(0, 1, 1, 1).itemSync()); // 10
 * ```
 */
export function conv2d(input: Tensor, weight: Tensor, bias?: Tensor | null, options?: Conv2dOptions): Tensor;
/**
 * `conv2d` with PyTorch's positional arguments, as a ported
 * `F.conv2d(x, w, b, 2, 3)` passes them: stride, padding, dilation, groups.
 */
export function conv2d(
  input: Tensor,
  weight: Tensor,
  bias: Tensor | null | undefined,
  stride: NonNullable<Conv2dOptions["stride"]>,
  padding?: NonNullable<Conv2dOptions["padding"]>,
  dilation?: NonNullable<Conv2dOptions["dilation"]>,
  groups?: number,
): Tensor;
export function conv2d(
  input: Tensor,
  weight: Tensor,
  bias?: Tensor | null,
  optionsOrStride: Conv2dOptions | NonNullable<Conv2dOptions["stride"]> = {},
  ...positional: [Conv2dOptions["padding"]?, Conv2dOptions["dilation"]?, number?]
): Tensor {
  // Anything but an options object is the positional stride (pairOf rejects a string or a boolean, as PyTorch does).
  const strideFirst = typeof optionsOrStride !== "object" || optionsOrStride === null || Array.isArray(optionsOrStride);
  const options: Conv2dOptions = strideFirst
    ? {
      stride: optionsOrStride as Conv2dOptions["stride"],
      padding: positional[0],
      dilation: positional[1],
      groups: positional[2],
    }
    : optionsOrStride as Conv2dOptions;
  if (input.ndim !== 3 && input.ndim !== 4) {
    throw new RangeError(
      `Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: ${formatShape(input.shape)}`,
    );
  }
  const b = bias ?? null;
  commonDevice([input, weight, b]);
  // An unbatched input is a batch of one, squeezed afterwards, as in PyTorch.
  if (input.ndim === 3) return conv2d(input.unsqueeze(0), weight, b, options).squeeze(0);
  const stride = pairOf(options.stride ?? 1, "stride");
  const dilation = pairOf(options.dilation ?? 1, "dilation");
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups)) throw new TypeError(`conv2d(): groups must be an integer, but got ${groups}`);
  if (groups <= 0) throw new RangeError("non-positive groups is not supported");
  const padding = options.padding ?? 0;
  let x = input;
  let pad: [number, number];
  if (padding === "valid") pad = [0, 0];
  else if (padding === "same") {
    if (stride[0] !== 1 || stride[1] !== 1) {
      throw new RangeError("padding='same' is not supported for strided convolutions");
    }
    if (weight.ndim !== 4) pad = [0, 0];
    else {
      // Total padding d·(k − 1) per dim; an odd total puts the extra zero
      // after the input (bottom, right), padded explicitly here.
      const total = [0, 1].map((i) => dilation[i] * (weight.shape[2 + i] - 1));
      pad = [Math.floor(total[0] / 2), Math.floor(total[1] / 2)];
      for (const i of [0, 1]) {
        if (total[i] % 2 === 0) continue;
        const shape = [...x.shape];
        shape[2 + i] = 1;
        x = cat([x, zeros(shape, { dtype: x.dtype, device: x.device })], 2 + i);
      }
    }
  } else if (typeof padding === "string") {
    throw new RangeError(`Invalid padding string: '${padding}'`);
  } else pad = pairOf(padding, "padding");
  const geometry: Conv2dGeometry = { stride, padding: pad, dilation, groups };
  checkOperands(x, weight, b, geometry);
  return convolution(x, weight, b, geometry);
}

/** The recorded convolution: forward product plus bias, one node for all three inputs. */
function convolution(x: Tensor, w: Tensor, bias: Tensor | null, geometry: Conv2dGeometry): Tensor {
  const outShape = outputShape(x.shape, w.shape, geometry);
  const out = noGrad(() => {
    const y = convForward(x, w, geometry, outShape);
    return bias === null ? y : y.add(bias.reshape([1, -1, 1, 1]));
  });
  if (!isFloatingPoint(out.dtype)) return out;
  return record(out, "ConvolutionBackward0", [x, w, bias], [x, w], (g, [sx, sw]) => [
    x.requiresGrad ? convBackwardInput(g, sw, geometry, sx.shape) : null,
    w.requiresGrad ? convBackwardWeight(sx, g, geometry, sw.shape) : null,
    bias?.requiresGrad ? sum(g, [0, 2, 3]) : null,
  ]);
}

/** The gradient of a convolution for its input (a transposed convolution of `g`), recorded. */
function convBackwardInput(g: Tensor, w: Tensor, geometry: Conv2dGeometry, inputShape: Shape): Tensor {
  const out = noGrad(() => backwardInput(g, w, geometry, inputShape));
  return record(out, "ConvolutionBackwardBackward0", [g, w], [g, w], (gg, [sg, sw]) => [
    g.requiresGrad ? convolution(gg, sw, null, geometry) : null,
    w.requiresGrad ? convBackwardWeight(gg, sg, geometry, sw.shape) : null,
  ]);
}

/** The gradient of a convolution for its weight (the input correlated with `g`), recorded. */
function convBackwardWeight(x: Tensor, g: Tensor, geometry: Conv2dGeometry, weightShape: Shape): Tensor {
  const out = noGrad(() => backwardWeight(x, g, geometry, weightShape));
  return record(out, "ConvolutionBackwardBackward0", [x, g], [x, g], (gw, [sx, sg]) => [
    x.requiresGrad ? convBackwardInput(sg, gw, geometry, sx.shape) : null,
    g.requiresGrad ? convolution(sx, gw, null, geometry) : null,
  ]);
}

// ---- the three products: fused kernel, or composed ----

function zerosOf(shape: Shape, like: Tensor): Tensor {
  return zeros([...shape], { dtype: like.dtype, device: like.device });
}

function convForward(x: Tensor, w: Tensor, geometry: Conv2dGeometry, outShape: Shape): Tensor {
  if (numel(outShape) === 0 || w.shape[1] === 0) return zerosOf(outShape, x);
  const fused = backendOf(x).fused.conv2d;
  if (fused) return fromStorage(x.device, fused(viewOf(x), viewOf(w), geometry, outShape), outShape, x.dtype);
  const whole = sizesOf(x.shape, w.shape, outShape, geometry);
  const w3 = w.reshape([whole.groups, whole.og, whole.kg]);
  const parts = imageChunks(whole).map(([start, s]) => matmul(w3, im2col(x.narrow(0, start, s.n), s)));
  return (parts.length === 1 ? parts[0] : cat(parts, 0)).reshape(outShape);
}

function backwardInput(g: Tensor, w: Tensor, geometry: Conv2dGeometry, inputShape: Shape): Tensor {
  if (numel(inputShape) === 0 || numel(g.shape) === 0) return zerosOf(inputShape, g);
  const fused = backendOf(g).fused.conv2dBackwardInput;
  if (fused) {
    return fromStorage(g.device, fused(viewOf(g), viewOf(w), geometry, inputShape), inputShape, g.dtype);
  }
  const whole = sizesOf(inputShape, w.shape, g.shape, geometry);
  const wt = w.reshape([whole.groups, whole.og, whole.kg]).transpose(1, 2);
  const plane = whole.c * whole.h * whole.w;
  const parts = imageChunks(whole).map(([start, s]) => {
    const gs = g.narrow(0, start, s.n).reshape([s.n, s.groups, s.og, s.l]);
    const cols = matmul(wt, gs).reshape([s.n, s.c * s.kh * s.kw, s.l]);
    // col2im: every column entry adds onto the input element it was read from.
    return scatterAddFlat(cols.contiguous(), positionsOf(s, g), [s.n, plane + 1]).narrow(1, 0, plane);
  });
  return (parts.length === 1 ? parts[0] : cat(parts, 0)).reshape(inputShape);
}

function backwardWeight(x: Tensor, g: Tensor, geometry: Conv2dGeometry, weightShape: Shape): Tensor {
  if (numel(weightShape) === 0 || numel(x.shape) === 0 || numel(g.shape) === 0) return zerosOf(weightShape, x);
  const fused = backendOf(x).fused.conv2dBackwardWeight;
  if (fused) {
    return fromStorage(x.device, fused(viewOf(x), viewOf(g), geometry, weightShape), weightShape, x.dtype);
  }
  let total: Tensor | undefined;
  for (const [start, s] of imageChunks(sizesOf(x.shape, weightShape, g.shape, geometry))) {
    const cols = im2col(x.narrow(0, start, s.n), s);
    const gs = g.narrow(0, start, s.n).reshape([s.n, s.groups, s.og, s.l]);
    const part = sum(matmul(gs, cols.transpose(2, 3)), 0);
    total = total === undefined ? part : total.add(part);
  }
  return total!.reshape(weightShape);
}

/** Column elements the composed path materializes at once: a batch is cut into chunks of images below this. */
const COLUMN_BUDGET = 1 << 24;

/** The batch cut into runs of images whose columns fit the budget: [first image, sizes of the run]. */
function imageChunks(s: Sizes): [number, Sizes][] {
  const perImage = s.c * s.kh * s.kw * s.l;
  const step = Math.max(1, Math.floor(COLUMN_BUDGET / Math.max(perImage, 1)));
  const chunks: [number, Sizes][] = [];
  for (let start = 0; start < s.n; start += step) chunks.push([start, { ...s, n: Math.min(step, s.n - start) }]);
  return chunks;
}

/** Sizes of a convolution, for the composed path. */
interface Sizes {
  n: number;
  c: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  oh: number;
  ow: number;
  groups: number;
  /** output channels per group */
  og: number;
  /** column rows per group: (C / groups)·kH·kW */
  kg: number;
  /** output positions per channel: oH·oW */
  l: number;
  geometry: Conv2dGeometry;
}

function sizesOf(input: Shape, weight: Shape, output: Shape, geometry: Conv2dGeometry): Sizes {
  const [n, c, h, w] = input;
  const [o, cg, kh, kw] = weight;
  const [oh, ow] = [output[2], output[3]];
  const groups = geometry.groups;
  return { n, c, h, w, kh, kw, oh, ow, groups, og: o / groups, kg: cg * kh * kw, l: oh * ow, geometry };
}

/**
 * Positions of im2col's columns [N, C·kH·kW, oH·oW] in the input flattened to
 * [N, C·H·W + 1], where the extra last element of each image is a zero that
 * every tap in the padding reads.
 */
function positionsOf(s: Sizes, like: Tensor): Tensor {
  const { n, c, h, w, kh, kw, oh, ow, l, geometry } = s;
  const plane = c * h * w;
  const rows = c * kh * kw;
  const data = new Int32Array(n * rows * l);
  for (let ci = 0; ci < c; ci++) {
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const row = ((ci * kh + i) * kw + j) * l;
        for (let y = 0; y < oh; y++) {
          const iy = y * geometry.stride[0] - geometry.padding[0] + i * geometry.dilation[0];
          for (let x = 0; x < ow; x++) {
            const ix = x * geometry.stride[1] - geometry.padding[1] + j * geometry.dilation[1];
            const inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
            data[row + y * ow + x] = inside ? (ci * h + iy) * w + ix : plane;
          }
        }
      }
    }
  }
  const perImage = rows * l;
  for (let b = 1; b < n; b++) {
    const shift = b * (plane + 1);
    for (let k = 0; k < perImage; k++) data[b * perImage + k] = data[k] + shift;
  }
  const storage = backendOf(like).upload(data, "int32");
  return fromStorage(like.device, storage, [n, rows, l], "int32");
}

/** im2col by gather: the columns [N, groups, (C/groups)·kH·kW, oH·oW] of `x`. */
function im2col(x: Tensor, s: Sizes): Tensor {
  const plane = s.c * s.h * s.w;
  const padded = cat([x.reshape([s.n, plane]), zerosOf([s.n, 1], x)], 1);
  const cols = gatherFlat(padded, positionsOf(s, x), "Im2ColBackward0");
  return cols.reshape([s.n, s.groups, s.kg, s.l]);
}
