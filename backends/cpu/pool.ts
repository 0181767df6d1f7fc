// 2-d max and average pooling on the CPU, plane by plane over dense arrays,
// with PyTorch's window rules (its CPU kernels' loop order, so ties, NaN and
// sums come out the same). As in conv.ts, the kernels are free functions and
// the plumbing at the bottom adapts them to the backend contract.

import {
  allocArray,
  type AvgPoolOptions,
  type DataArray,
  type FusedKernels,
  numel,
  type Pool2dGeometry,
  type Shape,
  type Storage,
  type View,
} from "@flint/backend";
import { denseData, type WrapStorage } from "./conv.ts";

/** Planes (batch × channels) and the input height and width of a pooling call. */
export interface PoolPlanes {
  /** number of H×W planes: N·C */
  readonly planes: number;
  /** input height */
  readonly h: number;
  /** input width */
  readonly w: number;
}

/** The planes of an [N, C, H, W] (or [C, H, W]) shape. */
export function poolPlanes(shape: Shape): PoolPlanes {
  const nd = shape.length;
  return { planes: numel(shape.slice(0, nd - 2)), h: shape[nd - 2], w: shape[nd - 1] };
}

/**
 * Max pooling: `values` and `indices` (flat position within the plane) of
 * each window. A window keeps the first largest element, and any NaN wins
 * (the last one, as PyTorch's CPU loop does); an all -inf window reports its
 * first in-bounds position.
 */
export function maxPool2dKernel(
  x: DataArray,
  p: PoolPlanes,
  geometry: Pool2dGeometry,
  values: DataArray,
  indices: Int32Array,
): void {
  const [kh, kw] = geometry.kernel, [sh, sw] = geometry.stride, [ph, pw] = geometry.padding;
  const [dh, dw] = geometry.dilation, [oh, ow] = geometry.outSize;
  const plane = p.h * p.w;
  for (let c = 0; c < p.planes; c++) {
    const base = c * plane;
    let o = c * oh * ow;
    for (let y = 0; y < oh; y++) {
      let y0 = y * sh - ph;
      const y1 = Math.min(y0 + (kh - 1) * dh + 1, p.h);
      while (y0 < 0) y0 += dh;
      for (let x0 = 0; x0 < ow; x0++, o++) {
        let xs = x0 * sw - pw;
        const xe = Math.min(xs + (kw - 1) * dw + 1, p.w);
        while (xs < 0) xs += dw;
        let best = y0 * p.w + xs;
        let max = -Infinity;
        for (let iy = y0; iy < y1; iy += dh) {
          for (let ix = xs; ix < xe; ix += dw) {
            const at = iy * p.w + ix;
            const v = x[base + at];
            if (v > max || v !== v) {
              max = v;
              best = at;
            }
          }
        }
        values[o] = max;
        indices[o] = best;
      }
    }
  }
}

/** Adds each output gradient onto the input position its window's max came from. */
export function maxPool2dBackwardKernel(
  gradOut: DataArray,
  indices: Int32Array,
  p: PoolPlanes,
  outPlane: number,
  gradIn: DataArray,
): void {
  const plane = p.h * p.w;
  for (let c = 0; c < p.planes; c++) {
    const base = c * plane;
    const o = c * outPlane;
    for (let i = 0; i < outPlane; i++) gradIn[base + indices[o + i]] += gradOut[o + i];
  }
}

/** Every output's average-pooling window, clipped to the input, and its divisor (0 for an empty window). */
interface AvgWindows {
  readonly y0: Int32Array;
  readonly y1: Int32Array;
  readonly x0: Int32Array;
  readonly x1: Int32Array;
  readonly divisor: Float64Array;
}

/** The windows of every output position, as PyTorch's kernels compute them. */
function avgWindows(p: PoolPlanes, geometry: Pool2dGeometry, options: AvgPoolOptions): AvgWindows {
  const [kh, kw] = geometry.kernel, [sh, sw] = geometry.stride, [ph, pw] = geometry.padding;
  const [oh, ow] = geometry.outSize;
  const n = oh * ow;
  const win = {
    y0: new Int32Array(n),
    y1: new Int32Array(n),
    x0: new Int32Array(n),
    x1: new Int32Array(n),
    divisor: new Float64Array(n),
  };
  for (let y = 0, o = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++, o++) {
      let y0 = y * sh - ph, x0 = x * sw - pw;
      let y1 = Math.min(y0 + kh, p.h + ph), x1 = Math.min(x0 + kw, p.w + pw);
      // The window before clipping to the input is what count_include_pad divides by.
      const poolSize = (y1 - y0) * (x1 - x0);
      y0 = Math.max(y0, 0), x0 = Math.max(x0, 0);
      y1 = Math.min(y1, p.h), x1 = Math.min(x1, p.w);
      win.y0[o] = y0, win.y1[o] = y1, win.x0[o] = x0, win.x1[o] = x1;
      if (y0 >= y1 || x0 >= x1) win.divisor[o] = 0;
      else if (options.divisorOverride !== undefined) win.divisor[o] = options.divisorOverride;
      else win.divisor[o] = options.countIncludePad ? poolSize : (y1 - y0) * (x1 - x0);
    }
  }
  return win;
}

/** Average pooling: each window's sum over its divisor (padding counts only with `countIncludePad`). */
export function avgPool2dKernel(
  x: DataArray,
  p: PoolPlanes,
  geometry: Pool2dGeometry,
  options: AvgPoolOptions,
  out: DataArray,
): void {
  const outPlane = geometry.outSize[0] * geometry.outSize[1];
  const plane = p.h * p.w;
  const { y0, y1, x0, x1, divisor } = avgWindows(p, geometry, options);
  for (let c = 0; c < p.planes; c++) {
    const base = c * plane;
    for (let i = 0, o = c * outPlane; i < outPlane; i++, o++) {
      if (divisor[i] === 0) {
        out[o] = 0;
        continue;
      }
      let sum = 0;
      for (let iy = y0[i]; iy < y1[i]; iy++) {
        const row = base + iy * p.w;
        for (let at = row + x0[i], end = row + x1[i]; at < end; at++) sum += x[at];
      }
      out[o] = sum / divisor[i];
    }
  }
}

/** Gradient of average pooling: each output gradient over its divisor, spread over its window. */
export function avgPool2dBackwardKernel(
  gradOut: DataArray,
  p: PoolPlanes,
  geometry: Pool2dGeometry,
  options: AvgPoolOptions,
  gradIn: DataArray,
): void {
  const outPlane = geometry.outSize[0] * geometry.outSize[1];
  const plane = p.h * p.w;
  const { y0, y1, x0, x1, divisor } = avgWindows(p, geometry, options);
  for (let c = 0; c < p.planes; c++) {
    const base = c * plane;
    for (let i = 0, o = c * outPlane; i < outPlane; i++, o++) {
      if (divisor[i] === 0) continue;
      const share = gradOut[o] / divisor[i];
      for (let iy = y0[i]; iy < y1[i]; iy++) {
        const row = base + iy * p.w;
        for (let at = row + x0[i], end = row + x1[i]; at < end; at++) gradIn[at] += share;
      }
    }
  }
}

// ---- plumbing: views in, storages out ----

/** The CPU's fused pooling kernels, as the backend contract names them, around `wrap`. */
export function poolKernels(
  wrap: WrapStorage,
): Pick<FusedKernels, "maxPool2d" | "maxPool2dBackward" | "avgPool2d" | "avgPool2dBackward"> {
  return {
    maxPool2d(x: View, geometry: Pool2dGeometry): { values: Storage; indices: Storage } {
      const p = poolPlanes(x.shape);
      const count = p.planes * geometry.outSize[0] * geometry.outSize[1];
      const values = allocArray(x.dtype, count);
      const indices = new Int32Array(count);
      maxPool2dKernel(denseData(x), p, geometry, values, indices);
      return { values: wrap(values, x.dtype), indices: wrap(indices, "int32") };
    },
    maxPool2dBackward(gradOut: View, indices: View, inputShape: Shape): Storage {
      const out = allocArray(gradOut.dtype, numel(inputShape));
      const outPlane = gradOut.shape[gradOut.shape.length - 2] * gradOut.shape[gradOut.shape.length - 1];
      const idx = denseData(indices) as Int32Array;
      maxPool2dBackwardKernel(denseData(gradOut), idx, poolPlanes(inputShape), outPlane, out);
      return wrap(out, gradOut.dtype);
    },
    avgPool2d(x: View, geometry: Pool2dGeometry, options: AvgPoolOptions): Storage {
      const p = poolPlanes(x.shape);
      const out = allocArray(x.dtype, p.planes * geometry.outSize[0] * geometry.outSize[1]);
      avgPool2dKernel(denseData(x), p, geometry, options, out);
      return wrap(out, x.dtype);
    },
    avgPool2dBackward(gradOut: View, geometry: Pool2dGeometry, options: AvgPoolOptions, inputShape: Shape): Storage {
      const out = allocArray(gradOut.dtype, numel(inputShape));
      avgPool2dBackwardKernel(denseData(gradOut), poolPlanes(inputShape), geometry, options, out);
      return wrap(out, gradOut.dtype);
    },
  };
}
