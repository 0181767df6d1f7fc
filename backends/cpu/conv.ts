// 2-d convolution on the CPU: im2col into a column buffer, then the blocked
// gemm of matmul.ts, per image and group. The kernels take dense row-major
// typed arrays and know nothing of storages or views, so faster ones
// (WebAssembly SIMD) can replace them behind the same signatures; the
// plumbing at the bottom adapts them to the backend contract.

import {
  allocArray,
  contiguousStrides,
  type Conv2dGeometry,
  type DataArray,
  type DType,
  type FusedKernels,
  isContiguous,
  numel,
  type Shape,
  type Storage,
  type View,
} from "@flint/backend";
import { copyRow } from "./elementwise.ts";
import { gemm } from "./matmul.ts";
import { dataOf } from "./storage.ts";
import { planRows, walkRows } from "./walk.ts";

/** Every size of one conv2d call: input [n, c, h, w], weight [o, c/groups, kh, kw], output [n, o, oh, ow]. */
export interface Conv2dSizes {
  readonly n: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly o: number;
  readonly kh: number;
  readonly kw: number;
  readonly oh: number;
  readonly ow: number;
  readonly groups: number;
  readonly strideH: number;
  readonly strideW: number;
  readonly padH: number;
  readonly padW: number;
  readonly dilationH: number;
  readonly dilationW: number;
}

/** The sizes of a conv2d from its input, weight and output shapes and its geometry. */
export function conv2dSizes(input: Shape, weight: Shape, output: Shape, geometry: Conv2dGeometry): Conv2dSizes {
  return {
    n: input[0],
    c: input[1],
    h: input[2],
    w: input[3],
    o: weight[0],
    kh: weight[2],
    kw: weight[3],
    oh: output[2],
    ow: output[3],
    groups: geometry.groups,
    strideH: geometry.stride[0],
    strideW: geometry.stride[1],
    padH: geometry.padding[0],
    padW: geometry.padding[1],
    dilationH: geometry.dilation[0],
    dilationW: geometry.dilation[1],
  };
}

/** True when the columns are the input itself: a 1×1 kernel with stride 1 and no padding. */
function isPointwise(s: Conv2dSizes): boolean {
  return s.kh === 1 && s.kw === 1 && s.strideH === 1 && s.strideW === 1 && s.padH === 0 && s.padW === 0;
}

/** First and one-past-last output position whose tap `offset` (= k·dilation − pad) lands inside [0, size). */
function validRange(offset: number, stride: number, size: number, outSize: number): [number, number] {
  const lo = offset >= 0 ? 0 : Math.ceil(-offset / stride);
  const hi = size - 1 - offset < 0 ? 0 : Math.floor((size - 1 - offset) / stride) + 1;
  return [Math.min(lo, outSize), Math.max(Math.min(hi, outSize), Math.min(lo, outSize))];
}

/**
 * Unfolds channels [c0, c0 + channels) of one image (at `xOffset` in `x`)
 * into `cols` [channels·kh·kw, oh·ow]: row (ci, i, j) holds the input under
 * tap (i, j) of every output position, zero where the tap falls in padding.
 */
export function im2col(
  x: DataArray,
  xOffset: number,
  s: Conv2dSizes,
  c0: number,
  channels: number,
  cols: DataArray,
): void {
  const { h, w, kh, kw, oh, ow, strideH, strideW } = s;
  const plane = h * w;
  const L = oh * ow;
  for (let ci = 0; ci < channels; ci++) {
    const src = xOffset + (c0 + ci) * plane;
    for (let i = 0; i < kh; i++) {
      const offH = i * s.dilationH - s.padH;
      const [yLo, yHi] = validRange(offH, strideH, h, oh);
      for (let j = 0; j < kw; j++) {
        const offW = j * s.dilationW - s.padW;
        const [xLo, xHi] = validRange(offW, strideW, w, ow);
        const row = ((ci * kh + i) * kw + j) * L;
        cols.fill(0, row, row + yLo * ow);
        for (let y = yLo; y < yHi; y++) {
          const dst = row + y * ow;
          cols.fill(0, dst, dst + xLo);
          let q = src + (y * strideH + offH) * w + xLo * strideW + offW;
          for (let x2 = xLo; x2 < xHi; x2++, q += strideW) cols[dst + x2] = x[q];
          cols.fill(0, dst + xHi, dst + ow);
        }
        cols.fill(0, row + yHi * ow, row + L);
      }
    }
  }
}

/** The reverse of {@linkcode im2col}: adds each column entry back onto the input element it came from. */
export function col2im(
  cols: Float64Array,
  s: Conv2dSizes,
  c0: number,
  channels: number,
  x: Float64Array,
  xOffset: number,
): void {
  const { h, w, kh, kw, oh, ow, strideH, strideW } = s;
  const plane = h * w;
  const L = oh * ow;
  for (let ci = 0; ci < channels; ci++) {
    const dstBase = xOffset + (c0 + ci) * plane;
    for (let i = 0; i < kh; i++) {
      const offH = i * s.dilationH - s.padH;
      const [yLo, yHi] = validRange(offH, strideH, h, oh);
      for (let j = 0; j < kw; j++) {
        const offW = j * s.dilationW - s.padW;
        const [xLo, xHi] = validRange(offW, strideW, w, ow);
        const row = ((ci * kh + i) * kw + j) * L;
        for (let y = yLo; y < yHi; y++) {
          const src = row + y * ow;
          let q = dstBase + (y * strideH + offH) * w + xLo * strideW + offW;
          for (let x2 = xLo; x2 < xHi; x2++, q += strideW) x[q] += cols[src + x2];
        }
      }
    }
  }
}

/** Copies `src` (float64) into `out` from `at`, converting to out's type. */
function store(src: Float64Array, length: number, out: DataArray, at: number): void {
  out.set(length === src.length ? src : src.subarray(0, length), at);
}

/** conv2d without bias: dense x [n, c, h, w] and weight [o, c/groups, kh, kw] into dense `out` [n, o, oh, ow]. */
export function conv2dForward(x: DataArray, weight: DataArray, s: Conv2dSizes, out: DataArray): void {
  const cg = s.c / s.groups, og = s.o / s.groups;
  const K = cg * s.kh * s.kw, L = s.oh * s.ow, plane = s.h * s.w;
  const pointwise = isPointwise(s);
  const cols = pointwise ? x : allocArray(dtypeOf(x), K * L);
  const acc = new Float64Array(og * L);
  for (let b = 0; b < s.n; b++) {
    for (let g = 0; g < s.groups; g++) {
      let colBase = 0;
      if (pointwise) colBase = (b * s.c + g * cg) * plane;
      else im2col(x, b * s.c * plane, s, g * cg, cg, cols);
      acc.fill(0);
      gemm(
        og,
        L,
        K,
        { data: weight, offset: g * og * K, rowStride: K, colStride: 1 },
        { data: cols, offset: colBase, rowStride: L, colStride: 1 },
        acc,
      );
      store(acc, og * L, out, (b * s.o + g * og) * L);
    }
  }
}

/** Gradient of conv2d with respect to its input: dense gradOut [n, o, oh, ow] and weight into dense `gradIn`. */
export function conv2dBackwardInputKernel(
  gradOut: DataArray,
  weight: DataArray,
  s: Conv2dSizes,
  gradIn: DataArray,
): void {
  const cg = s.c / s.groups, og = s.o / s.groups;
  const K = cg * s.kh * s.kw, L = s.oh * s.ow, plane = s.h * s.w;
  const pointwise = isPointwise(s);
  const image = new Float64Array(s.c * plane);
  const cols = pointwise ? image : new Float64Array(K * L);
  for (let b = 0; b < s.n; b++) {
    image.fill(0);
    for (let g = 0; g < s.groups; g++) {
      if (!pointwise) cols.fill(0);
      // columns = Wᵀ · gradOut: W [og, K] read with its strides swapped.
      gemm(
        K,
        L,
        og,
        { data: weight, offset: g * og * K, rowStride: 1, colStride: K },
        { data: gradOut, offset: (b * s.o + g * og) * L, rowStride: L, colStride: 1 },
        cols,
        pointwise ? g * cg * plane : 0,
      );
      if (!pointwise) col2im(cols, s, g * cg, cg, image, 0);
    }
    store(image, s.c * plane, gradIn, b * s.c * plane);
  }
}

/** Gradient of conv2d with respect to its weight: dense x and gradOut into dense `gradWeight`, summed over the batch. */
export function conv2dBackwardWeightKernel(
  x: DataArray,
  gradOut: DataArray,
  s: Conv2dSizes,
  gradWeight: DataArray,
): void {
  const cg = s.c / s.groups, og = s.o / s.groups;
  const K = cg * s.kh * s.kw, L = s.oh * s.ow, plane = s.h * s.w;
  const pointwise = isPointwise(s);
  const cols = pointwise ? x : allocArray(dtypeOf(x), K * L);
  const acc = new Float64Array(s.o * K);
  for (let b = 0; b < s.n; b++) {
    for (let g = 0; g < s.groups; g++) {
      let colBase = 0;
      if (pointwise) colBase = (b * s.c + g * cg) * plane;
      else im2col(x, b * s.c * plane, s, g * cg, cg, cols);
      // gradW[g] += gradOut[g] · columnsᵀ
      gemm(
        og,
        K,
        L,
        { data: gradOut, offset: (b * s.o + g * og) * L, rowStride: L, colStride: 1 },
        { data: cols, offset: colBase, rowStride: 1, colStride: L },
        acc,
        g * og * K,
      );
    }
  }
  store(acc, s.o * K, gradWeight, 0);
}

function dtypeOf(x: DataArray): DType {
  if (x instanceof Float32Array) return "float32";
  if (x instanceof Float64Array) return "float64";
  if (x instanceof Int32Array) return "int32";
  return "bool";
}

// ---- plumbing: views in, storages out ----

/** Turns a result array into a storage of the backend that runs the kernels. */
export type WrapStorage = (data: DataArray, dtype: DType) => Storage;

/** The view's elements as a dense row-major array: the storage itself when it already is one. */
export function denseData(view: View): DataArray {
  const src = dataOf(view);
  const n = numel(view.shape);
  if (isContiguous(view.shape, view.strides)) {
    return view.offset === 0 && src.length === n ? src : src.subarray(view.offset, view.offset + n);
  }
  const out = allocArray(view.dtype, n);
  const plan = planRows(view.shape, [view.strides, contiguousStrides(view.shape)]);
  const [xs, os] = plan.rowStrides;
  walkRows(plan, [view.offset, 0], (o) => copyRow(src, o[0], xs, out, o[1], os, plan.rowLength));
  return out;
}

/**
 * The CPU's fused convolution kernels, as the backend contract names them,
 * around `wrap` (which hands the result arrays to the backend's ledger).
 */
export function convKernels(
  wrap: WrapStorage,
): Pick<FusedKernels, "conv2d" | "conv2dBackwardInput" | "conv2dBackwardWeight"> {
  return {
    conv2d(x: View, w: View, geometry: Conv2dGeometry, outShape: Shape): Storage {
      const out = allocArray(x.dtype, numel(outShape));
      conv2dForward(denseData(x), denseData(w), conv2dSizes(x.shape, w.shape, outShape, geometry), out);
      return wrap(out, x.dtype);
    },
    conv2dBackwardInput(gradOut: View, w: View, geometry: Conv2dGeometry, inputShape: Shape): Storage {
      const out = allocArray(gradOut.dtype, numel(inputShape));
      const s = conv2dSizes(inputShape, w.shape, gradOut.shape, geometry);
      conv2dBackwardInputKernel(denseData(gradOut), denseData(w), s, out);
      return wrap(out, gradOut.dtype);
    },
    conv2dBackwardWeight(x: View, gradOut: View, geometry: Conv2dGeometry, weightShape: Shape): Storage {
      const out = allocArray(x.dtype, numel(weightShape));
      const s = conv2dSizes(x.shape, weightShape, gradOut.shape, geometry);
      conv2dBackwardWeightKernel(denseData(x), denseData(gradOut), s, out);
      return wrap(out, x.dtype);
    },
  };
}
