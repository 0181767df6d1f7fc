// Reductions (sum, mean, max, var, ...) and the softmax family, each with its
// gradient rule.

import { type DType, isFloatingPoint, type ReduceOp } from "@flint/backend";
import { noGrad } from "../grad_mode.ts";
import { Tensor } from "../tensor.ts";
import type { ReduceOptions, ValuesIndices, VarOptions } from "../types.ts";
import { backendOf, castTo, floatTypeOf, fromStorage, record, torchTypeName, viewOf } from "./_core.ts";
import { zerosLike } from "./creation.ts";
import { maximum, minimum, where } from "./elementwise.ts";
import { positionsAlong, scatterAddFlat } from "./indexing.ts";
import { mm } from "./linalg.ts";
import { normalizeDim } from "./views.ts";

/** A reduction's dims (sorted, unique) and whether they stay as size 1. */
interface Reduction {
  readonly dims: number[];
  readonly keepdim: boolean;
  readonly dtype?: DType;
  /** true when the caller named dims (PyTorch's "…Backward1" nodes) */
  readonly named: boolean;
}

/** The dims argument of a reduction: one dim, several, an options object, or none (all dims). */
export type DimArg = number | readonly number[] | ReduceOptions | null | undefined;

function parseReduction(x: Tensor, dim: DimArg, options: ReduceOptions = {}): Reduction {
  let opts = options;
  let d: number | readonly number[] | null | undefined = dim as number | readonly number[] | null | undefined;
  if (dim !== null && typeof dim === "object" && !Array.isArray(dim)) {
    opts = dim as ReduceOptions;
    d = opts.dim;
  }
  const all = [...x.shape.keys()];
  let dims: number[];
  let named = true;
  if (d === undefined || d === null) {
    dims = all;
    named = false;
  } else if (typeof d === "number") dims = [normalizeDim(d, x.ndim)];
  else if ((d as readonly number[]).length === 0) dims = all;
  else {
    dims = (d as readonly number[]).map((k) => normalizeDim(k, x.ndim));
    const seen = new Set<number>();
    for (const k of dims) {
      if (seen.has(k)) throw new RangeError(`dim ${k} appears multiple times in the list of dims`);
      seen.add(k);
    }
  }
  if (x.ndim === 0) dims = [];
  dims.sort((a, b) => a - b);
  return { dims, keepdim: opts.keepdim ?? false, dtype: opts.dtype, named };
}

/** The output shape of a reduction. */
function reducedShape(shape: readonly number[], r: Reduction): number[] {
  return r.keepdim ? shape.map((s, i) => (r.dims.includes(i) ? 1 : s)) : shape.filter((_, i) => !r.dims.includes(i));
}

/** Runs a reduction on the backend without recording. */
function reduceRaw(op: ReduceOp, x: Tensor, r: Reduction): Tensor {
  const storage = backendOf(x).reduce(op, viewOf(x), r.dims);
  const dtype = op === "any" || op === "all" ? "bool" : x.dtype;
  return fromStorage(x.device, storage, reducedShape(x.shape, r), dtype);
}

/** A reduced gradient broadcast back over the input's shape. */
function expandBack(g: Tensor, r: Reduction, shape: readonly number[]): Tensor {
  const keepShape = shape.map((s, i) => (r.dims.includes(i) ? 1 : s));
  return g.reshape(keepShape).expand(shape);
}

function countOf(shape: readonly number[], r: Reduction): number {
  return r.dims.reduce((n, d) => n * shape[d], 1);
}

function requireFloat(x: Tensor, name: string): void {
  if (!isFloatingPoint(x.dtype)) {
    throw new TypeError(
      `${name}(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. ` +
        `Got: ${torchTypeName(x.dtype)}`,
    );
  }
}

/** Sum over `dim` (all dims by default). Integer and bool inputs sum to int32. */
export function sum(x: Tensor, dim?: DimArg, options?: ReduceOptions): Tensor {
  const r = parseReduction(x, dim, options);
  const input = r.dtype ? castTo(x, r.dtype) : x.dtype === "bool" ? castTo(x, "int32") : x;
  const out = reduceRaw("sum", input, r);
  if (!isFloatingPoint(out.dtype)) return out;
  const shape = input.shape;
  return record(out, r.named ? "SumBackward1" : "SumBackward0", [input], [], (g) => [expandBack(g, r, shape)]);
}

/** Mean over `dim` (all dims by default); floating-point inputs only, as in PyTorch. */
export function mean(x: Tensor, dim?: DimArg, options?: ReduceOptions): Tensor {
  const r = parseReduction(x, dim, options);
  const input = r.dtype ? castTo(x, r.dtype) : x;
  requireFloat(input, "mean");
  const total = reduceRaw("sum", input, r);
  const count = countOf(input.shape, r);
  const out = fromStorage(
    x.device,
    backendOf(x).binary("div", viewOf(total), count, total.shape, total.dtype),
    total.shape,
    total.dtype,
  );
  const shape = input.shape;
  return record(
    out,
    r.named ? "MeanBackward1" : "MeanBackward0",
    [input],
    [],
    (g) => [expandBack(g, r, shape).div(count)],
  );
}

/** Product of all elements, or along one dim; gradients are right even with zeros in the input. */
export function prod(x: Tensor, dim?: number | ReduceOptions | null, options?: ReduceOptions): Tensor {
  const r = parseReduction(x, dim as DimArg, options);
  if (r.named && r.dims.length > 1) throw new TypeError("prod(): only a single dim is supported");
  const input = r.dtype ? castTo(x, r.dtype) : x.dtype === "bool" ? castTo(x, "int32") : x;
  const out = reduceRaw("prod", input, r);
  if (!isFloatingPoint(out.dtype)) return out;
  return record(out, r.named ? "ProdBackward1" : "ProdBackward0", [input], [input, out], (g, [sx, so]) => {
    // d prod / d x_i = product of the others: out / x_i where x_i != 0; with
    // one zero in the slice, the product of the rest there; with two, 0.
    const keep: Reduction = { ...r, keepdim: true };
    const isZero = sx.eq(0);
    const zeros = sum(isZero, r.dims, { keepdim: true });
    const others = prod(where(isZero, 1, sx), r.dims.length === 1 ? r.dims[0] : null, { keepdim: true });
    const outKeep = so.reshape(reducedShape(sx.shape, keep));
    const grad = where(isZero, where(zeros.eq(1), others, 0), outKeep.div(where(isZero, 1, sx)));
    return [grad.mul(expandBack(g, r, sx.shape))];
  });
}

/** The max/min over all elements; the gradient is shared evenly among ties. */
function extremeAll(x: Tensor, op: "max" | "min", name: string): Tensor {
  if (x.numel() === 0) {
    throw new RangeError(
      `${op}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the ` +
        `'dim' argument.`,
    );
  }
  const r = parseReduction(x, null);
  const out = reduceRaw(op, x, r);
  if (!isFloatingPoint(out.dtype)) return out;
  return record(out, name, [x], [x, out], (g, [sx, so]) => {
    const mask = sx.eq(so);
    return [where(mask, g.div(sum(mask)), 0)];
  });
}

/** Values and int32 positions of the max/min along `dim`. */
function extremeAlong(x: Tensor, op: "max" | "min", dim: number, keepdim: boolean): ValuesIndices {
  const d = normalizeDim(dim, x.ndim);
  if (x.ndim > 0 && x.shape[d] === 0) {
    throw new RangeError(`${op}(): Expected reduction dim ${d} to have non-zero size.`);
  }
  const r: Reduction = { dims: x.ndim === 0 ? [] : [d], keepdim, named: true };
  const values = reduceRaw(op, x, r);
  const indices = argAlong(x, op === "max" ? "argmax" : "argmin", d, keepdim);
  if (isFloatingPoint(values.dtype)) {
    const shape = x.shape;
    record(values, op === "max" ? "MaxBackward0" : "MinBackward0", [x], [indices], (g, [idx]) => {
      const keepIdx = idx.reshape(shape.map((s, i) => (i === d ? 1 : s)));
      return [scatterAlong(expandBack(g, r, shape.map((s, i) => (i === d ? 1 : s))), keepIdx, d, shape)];
    });
  }
  return Object.assign([values, indices] as [Tensor, Tensor], { values, indices });
}

/** Zeros of `shape` with `g` added along `dim` at `index` (gather's gradient). */
export function scatterAlong(g: Tensor, index: Tensor, dim: number, shape: readonly number[]): Tensor {
  return scatterAddFlat(g.contiguous(), positionsAlong(index, dim, shape), shape);
}

function argAlong(x: Tensor, op: "argmax" | "argmin", dim: number, keepdim: boolean): Tensor {
  if (x.ndim === 0) return fromStorage(x.device, backendOf(x).fill(1, 0, "int32"), [], "int32");
  const storage = backendOf(x).argReduce(op, viewOf(x), dim);
  const shape = keepdim ? x.shape.map((s, i) => (i === dim ? 1 : s)) : x.shape.filter((_, i) => i !== dim);
  return fromStorage(x.device, storage, shape, "int32");
}

/** The largest element; along a dim, `[values, indices]`; with a tensor, element-wise maximum. */
export function max(
  x: Tensor,
  dim?: number | Tensor | { dim: number; keepdim?: boolean },
  options: { keepdim?: boolean } = {},
): Tensor | ValuesIndices {
  if (dim instanceof Tensor) return maximum(x, dim);
  if (dim === undefined) return extremeAll(x, "max", "MaxBackward1");
  const [d, keepdim] = typeof dim === "number" ? [dim, options.keepdim ?? false] : [dim.dim, dim.keepdim ?? false];
  return extremeAlong(x, "max", d, keepdim);
}

/** The smallest element; along a dim, `[values, indices]`; with a tensor, element-wise minimum. */
export function min(
  x: Tensor,
  dim?: number | Tensor | { dim: number; keepdim?: boolean },
  options: { keepdim?: boolean } = {},
): Tensor | ValuesIndices {
  if (dim instanceof Tensor) return minimum(x, dim);
  if (dim === undefined) return extremeAll(x, "min", "MinBackward1");
  const [d, keepdim] = typeof dim === "number" ? [dim, options.keepdim ?? false] : [dim.dim, dim.keepdim ?? false];
  return extremeAlong(x, "min", d, keepdim);
}

function amaxOrAmin(x: Tensor, op: "max" | "min", dim: DimArg, options?: ReduceOptions): Tensor {
  const r = parseReduction(x, dim, options);
  for (const d of r.dims) {
    if (x.shape[d] === 0) {
      throw new RangeError(`a${op}(): Expected reduction dim ${d} to have non-zero size.`);
    }
  }
  const out = reduceRaw(op, x, r);
  if (!isFloatingPoint(out.dtype)) return out;
  const shape = x.shape;
  return record(out, op === "max" ? "AmaxBackward0" : "AminBackward0", [x], [x, out], (g, [sx, so]) => {
    const keepShape = shape.map((s, i) => (r.dims.includes(i) ? 1 : s));
    const mask = sx.eq(so.reshape(keepShape));
    const count = sum(mask, r.dims, { keepdim: true });
    return [where(mask, expandBack(g, r, shape).div(count), 0)];
  });
}

/** Largest values over `dim`; ties share the gradient. */
export function amax(x: Tensor, dim?: DimArg, options?: ReduceOptions): Tensor {
  return amaxOrAmin(x, "max", dim, options);
}

/** Smallest values over `dim`; ties share the gradient. */
export function amin(x: Tensor, dim?: DimArg, options?: ReduceOptions): Tensor {
  return amaxOrAmin(x, "min", dim, options);
}

function argExtreme(
  x: Tensor,
  op: "argmax" | "argmin",
  dim: number | ReduceOptions | null | undefined,
  options?: ReduceOptions,
): Tensor {
  const r = parseReduction(x, dim as DimArg, options);
  if (!r.named) {
    if (x.numel() === 0) {
      throw new RangeError(`${op}(): Expected reduction dim to be specified for input.numel() == 0.`);
    }
    const flat = argAlong(x.reshape([-1]), op, 0, false);
    return r.keepdim ? flat.reshape(x.shape.map(() => 1)) : flat;
  }
  if (x.ndim > 0 && x.shape[r.dims[0]] === 0) {
    throw new RangeError(`${op}(): Expected reduction dim ${r.dims[0]} to have non-zero size.`);
  }
  return argAlong(x, op, r.dims[0] ?? 0, r.keepdim);
}

/** Position of the largest element (over the flattened tensor, or along `dim`). */
export function argmax(x: Tensor, dim?: number | ReduceOptions | null, options?: ReduceOptions): Tensor {
  return argExtreme(x, "argmax", dim, options);
}

/** Position of the smallest element (over the flattened tensor, or along `dim`). */
export function argmin(x: Tensor, dim?: number | ReduceOptions | null, options?: ReduceOptions): Tensor {
  return argExtreme(x, "argmin", dim, options);
}

function parseVar(x: Tensor, dim: number | readonly number[] | VarOptions | null | undefined, options?: VarOptions) {
  const opts: VarOptions = dim !== null && typeof dim === "object" && !Array.isArray(dim)
    ? dim as VarOptions
    : options ?? {};
  const r = parseReduction(x, dim as DimArg, options);
  const correction = opts.correction ?? (opts.unbiased === false ? 0 : 1);
  return { r, correction };
}

/** Squared deviations summed, the divisor, and the mean, computed without recording. */
function varianceParts(x: Tensor, r: Reduction, correction: number) {
  const n = countOf(x.shape, r);
  const centered = x.sub(x.mean(r.dims, { keepdim: true }));
  const divisor = Math.max(n - correction, 0);
  return { centered, divisor };
}

/** Variance over `dim`, with `correction` (1, Bessel's, unless given). */
export function variance(
  x: Tensor,
  dim?: number | readonly number[] | VarOptions | null,
  options?: VarOptions,
): Tensor {
  requireFloat(x, "var");
  const { r, correction } = parseVar(x, dim, options);
  const out = noGrad(() => {
    const { centered, divisor } = varianceParts(x, r, correction);
    return sum(centered.mul(centered), r.dims, { keepdim: r.keepdim }).div(divisor);
  });
  const shape = x.shape;
  return record(out, "VarBackward0", [x], [x], (g, [sx]) => {
    const { centered, divisor } = varianceParts(sx, r, correction);
    return [expandBack(g, r, shape).mul(centered).mul(2 / divisor)];
  });
}

/** Standard deviation over `dim`, with `correction` (1 unless given). */
export function std(x: Tensor, dim?: number | readonly number[] | VarOptions | null, options?: VarOptions): Tensor {
  requireFloat(x, "std");
  const { r, correction } = parseVar(x, dim, options);
  const out = noGrad(() => variance(x, dim, options).sqrt());
  const shape = x.shape;
  return record(out, "StdBackward0", [x], [x, out], (g, [sx, so]) => {
    if (sx.ndim === 0) return [zerosLike(sx)];
    const { centered, divisor } = varianceParts(sx, r, correction);
    const keepShape = shape.map((s, i) => (r.dims.includes(i) ? 1 : s));
    return [expandBack(g, r, shape).mul(centered).div(so.reshape(keepShape).mul(divisor))];
  });
}

/** `log(sum(exp(x)))` over `dim`, shifted by the max so it never overflows. */
export function logsumexp(x: Tensor, dim: number | readonly number[], options: ReduceOptions = {}): Tensor {
  const input = castTo(x, floatTypeOf(x.dtype));
  const r = parseReduction(input, dim, options);
  const out = noGrad(() => {
    const m = input.numel() === 0
      ? zerosLike(input).sum(r.dims, { keepdim: true })
      : amax(input, r.dims, { keepdim: true });
    const shift = where(m.abs().eq(Infinity), 0, m);
    const s = input.sub(shift).exp().sum(r.dims, { keepdim: true }).log().add(shift);
    return r.keepdim ? s : s.reshape(reducedShape(input.shape, r));
  });
  const shape = input.shape;
  return record(out, "LogsumexpBackward0", [input], [input, out], (g, [sx, so]) => {
    const keepShape = shape.map((s, i) => (r.dims.includes(i) ? 1 : s));
    return [expandBack(g, r, shape).mul(sx.sub(so.reshape(keepShape)).exp())];
  });
}

/** Softmax along `dim` (a fused kernel when the backend has one). */
export function softmax(x: Tensor, dim: number): Tensor {
  return softmaxImpl(x, dim, false);
}

/** Log-softmax along `dim`, computed stably. */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return softmaxImpl(x, dim, true);
}

function softmaxImpl(x: Tensor, dim: number, log: boolean): Tensor {
  requireFloat(x, log ? "log_softmax" : "softmax");
  const d = normalizeDim(dim, x.ndim);
  const fused = backendOf(x).fused;
  let out: Tensor;
  if (fused.softmax && x.ndim > 0) {
    out = fromStorage(x.device, fused.softmax(viewOf(x), d, log), x.shape, x.dtype);
  } else {
    out = noGrad(() => {
      if (x.ndim === 0) return log ? zerosLike(x) : zerosLike(x).add(1);
      const m = amax(x, d, { keepdim: true });
      const shifted = x.sub(where(m.abs().eq(Infinity), 0, m));
      const total = shifted.exp().sum(d, { keepdim: true });
      return log ? shifted.sub(total.log()) : shifted.exp().div(total);
    });
  }
  return record(out, log ? "LogSoftmaxBackward0" : "SoftmaxBackward0", [x], [out], (g, [so]) => {
    if (x.ndim === 0) return [zerosLike(g)];
    if (log) return [g.sub(so.exp().mul(g.sum(d, { keepdim: true })))];
    return [so.mul(g.sub(g.mul(so).sum(d, { keepdim: true })))];
  });
}

/** The p-norm of all elements or over `dim` (p = 2 by default; Infinity and 0 allowed). */
export function norm(x: Tensor, p = 2, dim?: number | readonly number[] | null, options: ReduceOptions = {}): Tensor {
  requireFloat(x, "norm");
  const r = parseReduction(x, dim, options);
  const kd = { keepdim: r.keepdim };
  const out = noGrad(() => {
    if (p === Infinity) return amax(x.abs(), r.dims, kd);
    if (p === -Infinity) return amin(x.abs(), r.dims, kd);
    if (p === 0) return sum(x.ne(0), r.dims, kd).to(x.dtype);
    if (p === 1) return sum(x.abs(), r.dims, kd);
    if (p === 2) return sum(x.mul(x), r.dims, kd).sqrt();
    return sum(x.abs().pow(p), r.dims, kd).pow(1 / p);
  });
  const shape = x.shape;
  return record(out, "NormBackward1", [x], [x, out], (g, [sx, so]) => {
    const keepShape = shape.map((s, i) => (r.dims.includes(i) ? 1 : s));
    const n = so.reshape(keepShape);
    const ge = expandBack(g, r, shape);
    if (p === 0) return [zerosLike(sx)];
    if (p === 1) return [ge.mul(sx.sign())];
    if (p === Infinity || p === -Infinity) {
      const mask = sx.abs().eq(n);
      return [where(mask, ge.mul(sx.sign()).div(sum(mask, r.dims, { keepdim: true })), 0)];
    }
    if (p === 2) return [where(n.eq(0), 0, ge.mul(sx).div(n))];
    return [where(n.eq(0), 0, ge.mul(sx).mul(sx.abs().pow(p - 2)).div(n.pow(p - 1)))];
  });
}

/** Running sum along `dim`. */
export function cumsum(x: Tensor, dim: number): Tensor {
  const d = normalizeDim(dim, x.ndim);
  const input = x.dtype === "bool" ? castTo(x, "int32") : x;
  const out = noGrad(() => runningSum(input, d, false));
  if (!isFloatingPoint(out.dtype)) return out;
  return record(out, "CumsumBackward0", [input], [], (g) => [runningSum(g, d, true)]);
}

/** Sums along `dim` from the start (or from the end, `reverse`), as a product with a triangle of ones. */
function runningSum(x: Tensor, dim: number, reverse: boolean): Tensor {
  if (x.ndim === 0) return x.clone();
  const n = x.shape[dim];
  const moved = x.transpose(dim, -1);
  const data = new (x.dtype === "float64" ? Float64Array : x.dtype === "int32" ? Int32Array : Float32Array)(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      data[i * n + j] = reverse ? (i >= j ? 1 : 0) : (i <= j ? 1 : 0);
    }
  }
  const tri = fromStorage(x.device, backendOf(x).upload(data, x.dtype), [n, n], x.dtype);
  const flat = moved.reshape([-1, n]);
  return mm(flat, tri).reshape(moved.shape).transpose(dim, -1).contiguous();
}

/** True where every element along `dim` (or all) is non-zero. */
export function all(x: Tensor, dim?: number | null, options: ReduceOptions = {}): Tensor {
  const r = parseReduction(x, dim, options);
  return reduceRaw("all", castTo(x, "bool"), r);
}

/** True where any element along `dim` (or all) is non-zero. */
export function any(x: Tensor, dim?: number | null, options: ReduceOptions = {}): Tensor {
  const r = parseReduction(x, dim, options);
  return reduceRaw("any", castTo(x, "bool"), r);
}
