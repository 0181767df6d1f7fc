// 2-d max, average and adaptive pooling, with their gradients. The backend's
// fused kernels run them when it has them; otherwise every window is gathered
// at precomputed positions (padding reads an extra element: -inf for max, 0
// for average) and reduced with the required ops, so every backend pools.

import {
  type AvgPoolOptions,
  formatShape,
  isFloatingPoint,
  numel,
  type Pool2dGeometry,
  type View,
} from "@flint/backend";
import { noGrad } from "../grad_mode.ts";
import type { Tensor } from "../tensor.ts";
import type { ValuesIndices } from "../types.ts";
import { backendOf, fromStorage, record, viewOf } from "./_core.ts";
import { arange, full, zeros } from "./creation.ts";
import { gatherFlat, scatterAddFlat } from "./indexing.ts";
import { max, mean, sum } from "./reduction.ts";
import { cat } from "./shape.ts";

/** Options of {@linkcode maxPool2d}, as `torch.nn.functional.max_pool2d`'s arguments. */
export interface MaxPool2dOptions {
  /** window size over (height, width) */
  kernelSize: number | readonly [number, number];
  /** step of the window; the kernel size when absent or null */
  stride?: number | readonly [number, number] | null;
  /** implicit -inf padding on each side, at most half the kernel; 0 by default */
  padding?: number | readonly [number, number];
  /** spacing between window taps; 1 by default */
  dilation?: number | readonly [number, number];
  /** round the output size up (a last, partial window) instead of down */
  ceilMode?: boolean;
}

/** Options of {@linkcode avgPool2d}, as `torch.nn.functional.avg_pool2d`'s arguments. */
export interface AvgPool2dOptions {
  /** window size over (height, width) */
  kernelSize: number | readonly [number, number];
  /** step of the window; the kernel size when absent or null */
  stride?: number | readonly [number, number] | null;
  /** implicit zero padding on each side, at most half the kernel; 0 by default */
  padding?: number | readonly [number, number];
  /** round the output size up (a last, partial window) instead of down */
  ceilMode?: boolean;
  /** count padding zeros in the divisor (true by default) */
  countIncludePad?: boolean;
  /** divide every window's sum by this instead of its size */
  divisorOverride?: number | null;
}

// ---- sizes and checks, as PyTorch's Pool.h ----

function pairArg(value: number | readonly number[], what: string, fn: string): [number, number] {
  const list = typeof value === "number" ? [value] : [...value];
  if (list.length !== 1 && list.length !== 2) throw new RangeError(`${fn}: ${what}`);
  for (const v of list) {
    if (!Number.isInteger(v)) throw new TypeError(`${fn}(): expected integer sizes, but got ${String(value)}`);
  }
  return [list[0], list[list.length - 1]];
}

/** One spatial dim of a pooling output: floor (or ceil) of the window count, the last window starting in range. */
function pooledSize(size: number, k: number, pad: number, stride: number, dilation: number, ceil: boolean): number {
  if (stride === 0) throw new RangeError("stride should not be zero");
  if (pad < 0) throw new RangeError(`pad must be non-negative, but got pad: ${pad}`);
  if (pad > Math.trunc(k / 2)) {
    throw new RangeError(`pad should be at most half of kernel size, but got pad=${pad} and kernel_size=${k}`);
  }
  let out = Math.floor((size + 2 * pad - dilation * (k - 1) - 1 + (ceil ? stride - 1 : 0)) / stride) + 1;
  if (ceil && (out - 1) * stride >= size + pad) out--;
  return out;
}

/** Everything a pooling call needs: the input's planes and the window geometry. */
interface PoolPlan {
  readonly inputShape: readonly number[];
  readonly outShape: readonly number[];
  /** N·C, the number of H×W planes */
  readonly planes: number;
  readonly h: number;
  readonly w: number;
  /** the geometry a fused kernel takes; null when no fused kernel computes these windows */
  readonly geometry: Pool2dGeometry | null;
  readonly avg: AvgPoolOptions;
  /** every output's taps, for the composed path */
  readonly windows: () => Windows;
}

/** PyTorch's pool2d_shape_check. */
function checkPool(
  x: Tensor,
  k: readonly number[],
  s: readonly number[],
  d: readonly number[],
  out: readonly number[],
): void {
  if (k[0] <= 0 || k[1] <= 0) {
    throw new RangeError(`kernel size should be greater than zero, but got kH: ${k[0]} kW: ${k[1]}`);
  }
  if (s[0] <= 0 || s[1] <= 0) {
    throw new RangeError(`stride should be greater than zero, but got dH: ${s[0]} dW: ${s[1]}`);
  }
  if (d[0] <= 0 || d[1] <= 0) {
    throw new RangeError(`dilation should be greater than zero, but got dilationH: ${d[0]} dilationW: ${d[1]}`);
  }
  const sh = x.shape;
  const validDims = sh[1] !== 0 && sh[2] !== 0;
  if (!((x.ndim === 3 && sh[0] !== 0 && validDims) || (x.ndim === 4 && validDims && sh[3] !== 0))) {
    throw new RangeError(
      `Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:${formatShape(sh)}`,
    );
  }
  if (out[0] < 1 || out[1] < 1) {
    const [c, h, w] = sh.slice(-3);
    throw new RangeError(
      `Given input size: (${c}x${h}x${w}). Calculated output size: (${c}x${out[0]}x${out[1]}). ` +
        `Output size is too small`,
    );
  }
}

function requireFloat(x: Tensor, name: string): void {
  if (!isFloatingPoint(x.dtype)) {
    const t = { int32: "Int", bool: "Bool", float32: "Float", float64: "Double" }[x.dtype];
    throw new TypeError(`"${name}" not implemented for '${t}'`);
  }
}

function planOf(
  x: Tensor,
  geometry: Pool2dGeometry | null,
  outHW: readonly number[],
  avg: AvgPoolOptions,
): PoolPlan {
  const nd = x.ndim;
  const h = x.shape[nd - 2], w = x.shape[nd - 1];
  const outShape = [...x.shape.slice(0, nd - 2), outHW[0], outHW[1]];
  let cached: Windows | undefined;
  const windows = () => (cached ??= geometry ? slidingWindows(h, w, geometry) : adaptiveWindows(h, w, outHW));
  return { inputShape: x.shape, outShape, planes: numel(x.shape.slice(0, nd - 2)), h, w, geometry, avg, windows };
}

function maxPlan(x: Tensor, options: MaxPool2dOptions): PoolPlan {
  const fn = "max_pool2d";
  const k = pairArg(options.kernelSize, "kernel_size must either be a single int, or a tuple of two ints", fn);
  const s = options.stride === undefined || options.stride === null ||
      (Array.isArray(options.stride) && options.stride.length === 0)
    ? k
    : pairArg(options.stride, "stride must either be omitted, a single int, or a tuple of two ints", fn);
  const p = pairArg(options.padding ?? 0, "padding must be either be a single int, or a tuple of two ints", fn);
  const d = pairArg(options.dilation ?? 1, "dilation must be either a single int, or a tuple of two ints", fn);
  if (x.ndim !== 3 && x.ndim !== 4) throw new RangeError("non-empty 3D or 4D (batch mode) tensor expected for input");
  const ceilMode = options.ceilMode ?? false;
  const out = [0, 1].map((i) => pooledSize(x.shape[x.ndim - 2 + i], k[i], p[i], s[i], d[i], ceilMode));
  checkPool(x, k, s, d, out);
  requireFloat(x, "max_pool2d");
  const geometry: Pool2dGeometry = {
    kernel: k,
    stride: s,
    padding: p,
    dilation: d,
    ceilMode,
    outSize: [out[0], out[1]],
  };
  return planOf(x, geometry, out, { countIncludePad: true });
}

function avgPlan(x: Tensor, options: AvgPool2dOptions): PoolPlan {
  const fn = "avg_pool2d";
  const k = pairArg(options.kernelSize, "kernel_size must either be a single int, or a tuple of two ints", fn);
  const s = options.stride === undefined || options.stride === null ||
      (Array.isArray(options.stride) && options.stride.length === 0)
    ? k
    : pairArg(options.stride, "stride must either be omitted, a single int, or a tuple of two ints", fn);
  const p = pairArg(options.padding ?? 0, "padding must either be a single int, or a tuple of two ints", fn);
  const divisor = options.divisorOverride ?? undefined;
  if (divisor === 0) throw new RangeError("divisor must be not zero");
  if (x.ndim < 3) {
    throw new RangeError(
      `Dimension out of range (expected to be in range of [${-Math.max(x.ndim, 1)}, ${
        Math.max(x.ndim, 1) - 1
      }], but got -3)`,
    );
  }
  const ceilMode = options.ceilMode ?? false;
  const out = [0, 1].map((i) => pooledSize(x.shape[x.ndim - 2 + i], k[i], p[i], s[i], 1, ceilMode));
  checkPool(x, k, s, [1, 1], out);
  requireFloat(x, "avg_pool2d");
  const geometry: Pool2dGeometry = {
    kernel: k,
    stride: s,
    padding: p,
    dilation: [1, 1],
    ceilMode,
    outSize: [out[0], out[1]],
  };
  return planOf(x, geometry, out, { countIncludePad: options.countIncludePad ?? true, divisorOverride: divisor });
}

/** An adaptive pooling's plan: PyTorch's windows [floor(i·H/oH), ceil((i+1)·H/oH)). */
function adaptivePlan(x: Tensor, outHW: readonly number[]): PoolPlan {
  const nd = x.ndim;
  const h = x.shape[nd - 2], w = x.shape[nd - 1];
  // Windows that tile the input evenly are a plain pooling, which a fused kernel can run.
  const even = outHW[0] > 0 && outHW[1] > 0 && h % outHW[0] === 0 && w % outHW[1] === 0;
  const k: [number, number] = [h / outHW[0], w / outHW[1]];
  const geometry: Pool2dGeometry | null = even
    ? { kernel: k, stride: k, padding: [0, 0], dilation: [1, 1], ceilMode: false, outSize: [outHW[0], outHW[1]] }
    : null;
  return planOf(x, geometry, outHW, { countIncludePad: true });
}

/** An adaptive output size with `null` entries taken from the input, checked as PyTorch does. */
function adaptiveSize(x: Tensor, outputSize: number | readonly (number | null)[], fn: string): [number, number] {
  const list = typeof outputSize === "number" ? [outputSize, outputSize] : [...outputSize];
  if (list.length !== 2) throw new RangeError(`${fn}: output_size must be 2`);
  const size = list.map((v, i) => v ?? x.shape[x.ndim - 2 + i]);
  for (const v of size) {
    if (!Number.isInteger(v)) throw new TypeError(`${fn}(): output_size must be integers, but got ${String(v)}`);
  }
  return size as [number, number];
}

// ---- windows, for the composed path ----

/** Marks a tap outside the input (it reads the padding element). */
const PAD = -1;

/**
 * Each output position's window within an H×W plane: `taps` entries per
 * output (PAD where a tap falls outside), the position PyTorch reports for a
 * window with no finite max (its first tap inside), and the two sizes an
 * average may divide by: the window clipped to the padded input, and the
 * part inside the input.
 */
interface Windows {
  readonly taps: number;
  readonly positions: Int32Array;
  readonly first: Int32Array;
  readonly padded: Float64Array;
  readonly inside: Float64Array;
}

function slidingWindows(h: number, w: number, g: Pool2dGeometry): Windows {
  const [kh, kw] = g.kernel, [sh, sw] = g.stride, [ph, pw] = g.padding, [dh, dw] = g.dilation;
  const [oh, ow] = g.outSize;
  const taps = kh * kw;
  const positions = new Int32Array(oh * ow * taps);
  const first = new Int32Array(oh * ow);
  const padded = new Float64Array(oh * ow);
  const inside = new Float64Array(oh * ow);
  for (let y = 0, o = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++, o++) {
      let firstInside = -1;
      for (let i = 0; i < kh; i++) {
        const iy = y * sh - ph + i * dh;
        for (let j = 0; j < kw; j++) {
          const ix = x * sw - pw + j * dw;
          const isIn = iy >= 0 && iy < h && ix >= 0 && ix < w;
          positions[o * taps + i * kw + j] = isIn ? iy * w + ix : PAD;
          if (isIn && firstInside < 0) firstInside = iy * w + ix;
        }
      }
      first[o] = Math.max(firstInside, 0);
      const y0 = y * sh - ph, x0 = x * sw - pw;
      const y1 = Math.min(y0 + kh, h + ph), x1 = Math.min(x0 + kw, w + pw);
      const inH = Math.min(y1, h) - Math.max(y0, 0), inW = Math.min(x1, w) - Math.max(x0, 0);
      padded[o] = (y1 - y0) * (x1 - x0);
      inside[o] = inH > 0 && inW > 0 ? inH * inW : 0;
    }
  }
  return { taps, positions, first, padded, inside };
}

function adaptiveWindows(h: number, w: number, outHW: readonly number[]): Windows {
  const [oh, ow] = outHW;
  const starts = (out: number, size: number) => Array.from({ length: out }, (_, i) => Math.floor((i * size) / out));
  const ends = (out: number, size: number) => Array.from({ length: out }, (_, i) => Math.ceil(((i + 1) * size) / out));
  const [y0, y1, x0, x1] = [starts(oh, h), ends(oh, h), starts(ow, w), ends(ow, w)];
  const mh = Math.max(0, ...y1.map((e, i) => e - y0[i]));
  const mw = Math.max(0, ...x1.map((e, i) => e - x0[i]));
  const taps = mh * mw;
  const positions = new Int32Array(oh * ow * taps).fill(PAD);
  const first = new Int32Array(oh * ow);
  const size = new Float64Array(oh * ow);
  for (let y = 0, o = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++, o++) {
      for (let iy = y0[y]; iy < y1[y]; iy++) {
        for (let ix = x0[x]; ix < x1[x]; ix++) positions[o * taps + (iy - y0[y]) * mw + ix - x0[x]] = iy * w + ix;
      }
      first[o] = y0[y] * w + x0[x];
      size[o] = (y1[y] - y0[y]) * (x1[x] - x0[x]);
    }
  }
  return { taps, positions, first, padded: size, inside: size };
}

// ---- the forward and backward products: fused kernel, or composed ----

/** A 3-d [C, H, W] tensor's view as a batch of one, since the fused kernels take [N, C, H, W]. */
function view4d(t: Tensor): View {
  const v = viewOf(t);
  return t.ndim === 4 ? v : { ...v, shape: [1, ...v.shape], strides: [0, ...v.strides] };
}

function shape4d(shape: readonly number[]): readonly number[] {
  return shape.length === 4 ? shape : [1, ...shape];
}

function zerosOf(shape: readonly number[], like: Tensor, dtype = like.dtype): Tensor {
  return zeros([...shape], { dtype, device: like.device });
}

function outPlane(plan: PoolPlan): number {
  return plan.outShape[plan.outShape.length - 2] * plan.outShape[plan.outShape.length - 1];
}

function int32Tensor(data: Int32Array, shape: readonly number[], like: Tensor): Tensor {
  return fromStorage(like.device, backendOf(like).upload(data, "int32"), shape, "int32");
}

/** Every tap of every plane, in `x` flattened to [planes, H·W + 1] whose last column is the padding. */
function tapPositions(plan: PoolPlan, like: Tensor): Tensor {
  const win = plan.windows();
  const plane = plan.h * plan.w;
  const perPlane = win.positions.length;
  const data = new Int32Array(plan.planes * perPlane);
  for (let p = 0; p < plan.planes; p++) {
    const base = p * (plane + 1);
    for (let k = 0; k < perPlane; k++) {
      const v = win.positions[k];
      data[p * perPlane + k] = base + (v === PAD ? plane : v);
    }
  }
  return int32Tensor(data, [plan.planes, outPlane(plan), win.taps], like);
}

/** The windows of `planes` [count, H·W] as [count, oH·oW, taps], reading `fill` where a tap is in the padding. */
function gatherWindows(planes: Tensor, plan: PoolPlan, fill: number): Tensor {
  const count = planes.shape[0];
  const padded = cat([planes, full([count, 1], fill, { dtype: planes.dtype, device: planes.device })], 1);
  return gatherFlat(padded, tapPositions({ ...plan, planes: count }, planes), "IndexBackward0");
}

/** Window elements the composed path materializes at once: planes are cut into chunks below this. */
const WINDOW_BUDGET = 1 << 24;

/**
 * Runs `fn` over runs of planes whose gathered windows fit the budget, with
 * `x` flattened to [planes, H·W] and cut to the run, and joins the results.
 */
function byPlanes(x: Tensor, plan: PoolPlan, fn: (planes: Tensor) => Tensor): Tensor {
  const flat = x.reshape([plan.planes, plan.h * plan.w]);
  const step = Math.max(1, Math.floor(WINDOW_BUDGET / Math.max(outPlane(plan) * plan.windows().taps, 1)));
  if (step >= plan.planes) return fn(flat);
  const parts: Tensor[] = [];
  for (let start = 0; start < plan.planes; start += step) {
    parts.push(fn(flat.narrow(0, start, Math.min(step, plan.planes - start))));
  }
  return cat(parts, 0);
}

/** The flat positions in [planes·H·W] of max-pool indices (positions within each plane). */
function planePositions(indices: Tensor, plan: PoolPlan): Tensor {
  const offsets = arange(plan.planes, { device: indices.device }).mul(plan.h * plan.w).reshape([plan.planes, 1]);
  return indices.reshape([plan.planes, outPlane(plan)]).add(offsets);
}

/** Each average's divisor as a tensor [oH·oW] of `like`'s dtype (1 for an empty window, whose sum is 0). */
function divisors(plan: PoolPlan, like: Tensor): Tensor {
  const win = plan.windows();
  const { countIncludePad, divisorOverride } = plan.avg;
  const n = win.inside.length;
  const data = like.dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
  for (let o = 0; o < n; o++) {
    data[o] = win.inside[o] === 0 ? 1 : divisorOverride ?? (countIncludePad ? win.padded[o] : win.inside[o]);
  }
  return fromStorage(like.device, backendOf(like).upload(data, like.dtype), [n], like.dtype);
}

function maxForward(x: Tensor, plan: PoolPlan): [Tensor, Tensor] {
  if (numel(plan.outShape) === 0) return [zerosOf(plan.outShape, x), zerosOf(plan.outShape, x, "int32")];
  const fused = backendOf(x).fused.maxPool2d;
  if (fused && plan.geometry) {
    const r = fused(view4d(x), plan.geometry);
    return [
      fromStorage(x.device, r.values, plan.outShape, x.dtype),
      fromStorage(x.device, r.indices, plan.outShape, "int32"),
    ];
  }
  const win = plan.windows();
  // A tap in the padding only wins a window with no finite max, which PyTorch
  // reports at the window's first tap inside the input.
  const table = int32Tensor(
    win.positions.map((v, k) => (v === PAD ? win.first[Math.floor(k / win.taps)] : v)),
    [win.positions.length],
    x,
  );
  const tapBase = arange(outPlane(plan), { device: x.device }).mul(win.taps);
  const indexParts: Tensor[] = [];
  const values = byPlanes(x, plan, (planes) => {
    const [v, tap] = max(gatherWindows(planes, plan, -Infinity), 2) as ValuesIndices;
    const idx = gatherFlat(table, tap.add(tapBase), "IndexBackward0");
    indexParts.push(idx);
    return v;
  });
  const indices = indexParts.length === 1 ? indexParts[0] : cat(indexParts, 0);
  return [values.reshape(plan.outShape), indices.reshape(plan.outShape)];
}

function maxBackwardRaw(g: Tensor, indices: Tensor, plan: PoolPlan): Tensor {
  if (numel(plan.inputShape) === 0 || numel(g.shape) === 0) return zerosOf(plan.inputShape, g);
  const fused = backendOf(g).fused.maxPool2dBackward;
  if (fused) {
    const storage = fused(view4d(g), view4d(indices), shape4d(plan.inputShape));
    return fromStorage(g.device, storage, plan.inputShape, g.dtype);
  }
  const flat = scatterAddFlat(g.reshape([plan.planes, outPlane(plan)]), planePositions(indices, plan), [
    numel(plan.inputShape),
  ]);
  return flat.reshape(plan.inputShape);
}

function avgForward(x: Tensor, plan: PoolPlan): Tensor {
  if (numel(plan.outShape) === 0) return zerosOf(plan.outShape, x);
  const fused = backendOf(x).fused.avgPool2d;
  if (fused && plan.geometry) {
    return fromStorage(x.device, fused(view4d(x), plan.geometry, plan.avg), plan.outShape, x.dtype);
  }
  const divisor = divisors(plan, x);
  return byPlanes(x, plan, (planes) => sum(gatherWindows(planes, plan, 0), 2).div(divisor)).reshape(plan.outShape);
}

function avgBackwardRaw(g: Tensor, plan: PoolPlan): Tensor {
  if (numel(plan.inputShape) === 0 || numel(g.shape) === 0) return zerosOf(plan.inputShape, g);
  const fused = backendOf(g).fused.avgPool2dBackward;
  if (fused && plan.geometry) {
    const storage = fused(view4d(g), plan.geometry, plan.avg, shape4d(plan.inputShape));
    return fromStorage(g.device, storage, plan.inputShape, g.dtype);
  }
  const taps = plan.windows().taps;
  const plane = plan.h * plan.w;
  const divisor = divisors(plan, g);
  // byPlanes cuts g as planes of oH·oW; each run spreads into its H·W planes.
  const flatPlan = { ...plan, h: plan.outShape[plan.outShape.length - 2], w: plan.outShape[plan.outShape.length - 1] };
  return byPlanes(g, flatPlan, (shares) => {
    const count = shares.shape[0];
    const spread = shares.div(divisor).unsqueeze(2).expand([count, outPlane(plan), taps]).contiguous();
    const padded = scatterAddFlat(spread, tapPositions({ ...plan, planes: count }, g), [count, plane + 1]);
    return padded.narrow(1, 0, plane);
  }).reshape(plan.inputShape);
}

// ---- recorded ops: each backward is itself an op with a rule ----

interface Names {
  readonly forward: string;
  readonly backward: string;
}

// As in PyTorch, a pooling's backward also takes the pooled input, with a
// zero gradient: the gradient it returns requires grad whenever the input does.

function maxPoolOp(x: Tensor, plan: PoolPlan, names: Names): ValuesIndices {
  const [values, indices] = noGrad(() => maxForward(x, plan));
  record(values, names.forward, [x], [indices], (g, [idx]) => [maxPoolBackward(g, x, idx, plan, names)]);
  return Object.assign([values, indices] as [Tensor, Tensor], { values, indices });
}

function maxPoolBackward(g: Tensor, x: Tensor, indices: Tensor, plan: PoolPlan, names: Names): Tensor {
  const out = noGrad(() => maxBackwardRaw(g, indices, plan));
  // Linear in g: its gradient reads the upstream gradient back at the winners.
  return record(out, names.backward, [g, x], [indices], (gg, [idx]) => [
    g.requiresGrad ? gatherFlat(gg, planePositions(idx, plan), "GatherBackward0").reshape(plan.outShape) : null,
    null,
  ]);
}

function avgPoolOp(x: Tensor, plan: PoolPlan, names: Names): Tensor {
  const out = noGrad(() => avgForward(x, plan));
  return record(out, names.forward, [x], [], (g) => [avgPoolBackward(g, x, plan, names)]);
}

function avgPoolBackward(g: Tensor, x: Tensor, plan: PoolPlan, names: Names): Tensor {
  const out = noGrad(() => avgBackwardRaw(g, plan));
  // Linear in g, and the adjoint of the adjoint is the pooling itself.
  return record(out, names.backward, [g, x], [], (gg) => [g.requiresGrad ? avgPoolOp(gg, plan, names) : null, null]);
}

const MAX_POOL: Names = { forward: "MaxPool2DWithIndicesBackward0", backward: "MaxPool2DWithIndicesBackwardBackward0" };
const AVG_POOL: Names = { forward: "AvgPool2DBackward0", backward: "AvgPool2DBackwardBackward0" };
const ADAPTIVE_AVG: Names = {
  forward: "AdaptiveAvgPool2DBackward0",
  backward: "AdaptiveAvgPool2DBackwardBackward0",
};
const ADAPTIVE_MAX: Names = {
  forward: "AdaptiveMaxPool2DBackward0",
  backward: "AdaptiveMaxPool2DBackwardBackward0",
};

// ---- the API ----

/**
 * 2-d max pooling over `input` [N, C, H, W] or [C, H, W], with its values
 * and, for each, the flat position of the winner within its H×W plane (int32),
 * as `torch.nn.functional.max_pool2d(..., return_indices=True)`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.arange(16, { dtype: "float32" }).reshape([1, 1, 4, 4]);
 * const [values, indices] = torch.maxPool2dWithIndices(x, { kernelSize: 2 });
 * console.log(values.tolistSync(), indices.tolistSync()); // [[[[5, 7], [13, 15]]]] [[[[5, 7], [13, 15]]]]
 * ```
 */
export function maxPool2dWithIndices(input: Tensor, options: MaxPool2dOptions): ValuesIndices {
  return maxPoolOp(input, maxPlan(input, options), MAX_POOL);
}

/**
 * 2-d max pooling over `input` [N, C, H, W] or [C, H, W], as
 * `torch.nn.functional.max_pool2d`: stride (the kernel size by default),
 * -inf padding, dilation and ceil mode; the gradient goes to each window's
 * max.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.tensor([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]], { requiresGrad: true });
 * const y = torch.maxPool2d(x, { kernelSize: 2, stride: 1 });
 * console.log(y.tolistSync(), y.gradFn?.name); // [[[5, 6], [8, 9]]] MaxPool2DWithIndicesBackward0
 * ```
 */
export function maxPool2d(input: Tensor, options: MaxPool2dOptions): Tensor {
  return maxPool2dWithIndices(input, options)[0];
}

/**
 * 2-d average pooling over `input` [N, C, H, W] or [C, H, W], as
 * `torch.nn.functional.avg_pool2d`: zero padding counted in the divisor
 * unless `countIncludePad` is false, ceil mode, and `divisorOverride`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.tensor([[[1, 2], [3, 4]]]);
 * console.log(torch.avgPool2d(x, { kernelSize: 2 }).tolistSync()); // [[[2.5]]]
 * console.log(torch.avgPool2d(x, { kernelSize: 2, padding: 1 }).tolistSync()); // [[[0.25, 0.5], [0.75, 1]]]
 * ```
 */
export function avgPool2d(input: Tensor, options: AvgPool2dOptions): Tensor {
  return avgPoolOp(input, avgPlan(input, options), AVG_POOL);
}

/**
 * Average pooling to a fixed output size, as
 * `torch.nn.functional.adaptive_avg_pool2d`: output (i, j) averages rows
 * [floor(i·H/oH), ceil((i+1)·H/oH)) and the same for columns; a `null` size
 * keeps the input's. A 1×1 output is a mean over H and W, as in PyTorch.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.tensor([[[1, 2, 3], [4, 5, 6]]]);
 * console.log(torch.adaptiveAvgPool2d(x, [1, 2]).tolistSync()); // [[[3, 4]]]
 * ```
 */
export function adaptiveAvgPool2d(input: Tensor, outputSize: number | readonly [number | null, number | null]): Tensor {
  const fn = "adaptive_avg_pool2d";
  const size = adaptiveSize(input, outputSize, fn);
  if (size[0] < 0 || size[1] < 0) {
    throw new RangeError(
      `${fn}: elements of output_size must be greater than or equal to 0 but received {${size[0]}, ${size[1]}}`,
    );
  }
  if (size[0] === 1 && size[1] === 1) return mean(input, [-1, -2], { keepdim: true });
  const nd = input.ndim;
  if (nd !== 3 && nd !== 4) {
    throw new RangeError(`${fn}(): Expected 3D or 4D tensor, but got ${formatShape(input.shape)}`);
  }
  for (const d of [nd - 2, nd - 1]) {
    if (input.shape[d] <= 0) {
      throw new RangeError(
        `${fn}(): Expected input to have non-zero size for non-batch dimensions, but input has sizes ` +
          `${formatShape(input.shape)} with dimension ${d} being empty`,
      );
    }
  }
  requireFloat(input, fn);
  return avgPoolOp(input, adaptivePlan(input, size), ADAPTIVE_AVG);
}

/**
 * Max pooling to a fixed output size, with the winners' positions within
 * each plane, as `torch.nn.functional.adaptive_max_pool2d(...,
 * return_indices=True)`; windows as in {@linkcode adaptiveAvgPool2d}.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.tensor([[[1, 5, 3], [4, 2, 6]]]);
 * const { values, indices } = torch.adaptiveMaxPool2d(x, [1, 2]);
 * console.log(values.tolistSync(), indices.tolistSync()); // [[[5, 6]]] [[[1, 5]]]
 * ```
 */
export function adaptiveMaxPool2d(
  input: Tensor,
  outputSize: number | readonly [number | null, number | null],
): ValuesIndices {
  const fn = "adaptive_max_pool2d";
  const nd = input.ndim;
  if (nd !== 3 && nd !== 4) {
    throw new RangeError(`${fn}(): Expected 3D or 4D tensor, but got: ${formatShape(input.shape)}`);
  }
  for (let d = 1; d < nd; d++) {
    if (input.shape[d] <= 0) {
      throw new RangeError(
        `${fn}(): Expected input to have non-zero size for non-batch dimensions, but input has sizes ` +
          `${formatShape(input.shape)} with dimension ${d} being empty`,
      );
    }
  }
  const size = adaptiveSize(input, outputSize, fn);
  if (size[0] < 0 || size[1] < 0) {
    const shape = [...input.shape.slice(0, nd - 2), ...size];
    throw new RangeError(
      `Trying to create tensor with negative dimension ${Math.min(...size)}: ${formatShape(shape)}`,
    );
  }
  requireFloat(input, fn);
  return maxPoolOp(input, adaptivePlan(input, size), ADAPTIVE_MAX);
}
