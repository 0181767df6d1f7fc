// Reductions. The input is walked in its own memory order and each row is
// folded into the output, which has stride 0 along reduced dims: summing over
// the batch of a [N, C] tensor then reads memory front to back.

import { type ArgReduceOp, contiguousStrides, type DataArray, numel, type ReduceOp, type View } from "@flint/backend";
import { planRows, walkRows } from "./walk.ts";

/** Folds a row of `x` into one accumulator slot `acc[ai]`. */
type FoldRow = (x: DataArray, xi: number, xs: number, n: number, acc: Float64Array, ai: number) => void;
/** Combines a row of `x` element-wise into accumulator slots `acc[ai..]` (step `as`). */
type CombineRow = (x: DataArray, xi: number, xs: number, n: number, acc: Float64Array, ai: number, as: number) => void;

interface ReduceKernel {
  readonly init: number;
  readonly fold: FoldRow;
  readonly combine: CombineRow;
}

// NaN propagates through max and min, as in PyTorch: `v !== v` catches it.
// deno-fmt-ignore
const reduceKernels = {
  sum: {
    init: 0,
    fold(x, xi, xs, n, acc, ai) { let s = acc[ai]; for (let i = 0; i < n; i++, xi += xs) s += x[xi]; acc[ai] = s; },
    combine(x, xi, xs, n, acc, ai, as) { for (let i = 0; i < n; i++, xi += xs, ai += as) acc[ai] += x[xi]; },
  },
  prod: {
    init: 1,
    fold(x, xi, xs, n, acc, ai) { let s = acc[ai]; for (let i = 0; i < n; i++, xi += xs) s *= x[xi]; acc[ai] = s; },
    combine(x, xi, xs, n, acc, ai, as) { for (let i = 0; i < n; i++, xi += xs, ai += as) acc[ai] *= x[xi]; },
  },
  max: {
    init: -Infinity,
    fold(x, xi, xs, n, acc, ai) { let s = acc[ai]; for (let i = 0; i < n; i++, xi += xs) { const v = x[xi]; if (v > s || v !== v) s = v; } acc[ai] = s; },
    combine(x, xi, xs, n, acc, ai, as) { for (let i = 0; i < n; i++, xi += xs, ai += as) { const v = x[xi]; if (v > acc[ai] || v !== v) acc[ai] = v; } },
  },
  min: {
    init: Infinity,
    fold(x, xi, xs, n, acc, ai) { let s = acc[ai]; for (let i = 0; i < n; i++, xi += xs) { const v = x[xi]; if (v < s || v !== v) s = v; } acc[ai] = s; },
    combine(x, xi, xs, n, acc, ai, as) { for (let i = 0; i < n; i++, xi += xs, ai += as) { const v = x[xi]; if (v < acc[ai] || v !== v) acc[ai] = v; } },
  },
  any: {
    init: 0,
    fold(x, xi, xs, n, acc, ai) { for (let i = 0; i < n; i++, xi += xs) if (x[xi] !== 0) { acc[ai] = 1; return; } },
    combine(x, xi, xs, n, acc, ai, as) { for (let i = 0; i < n; i++, xi += xs, ai += as) if (x[xi] !== 0) acc[ai] = 1; },
  },
  all: {
    init: 1,
    fold(x, xi, xs, n, acc, ai) { for (let i = 0; i < n; i++, xi += xs) if (x[xi] === 0) { acc[ai] = 0; return; } },
    combine(x, xi, xs, n, acc, ai, as) { for (let i = 0; i < n; i++, xi += xs, ai += as) if (x[xi] === 0) acc[ai] = 0; },
  },
} satisfies Record<ReduceOp, ReduceKernel>;

/**
 * Reduces `axes` of `x` into `out` (row-major over the kept dims). The
 * accumulator is float64, so float32 sums lose less than PyTorch's own.
 */
export function reduceInto(op: ReduceOp, x: View, xData: DataArray, axes: readonly number[], out: DataArray): void {
  const kernel = reduceKernels[op];
  const keptShape = x.shape.filter((_, d) => !axes.includes(d));
  const acc = new Float64Array(numel(keptShape)).fill(kernel.init);
  if (numel(x.shape) > 0) {
    // Output strides laid over the input's dims: 0 along reduced ones.
    const keptStrides = contiguousStrides(keptShape);
    const accStrides: number[] = [];
    let k = 0;
    for (let d = 0; d < x.shape.length; d++) accStrides.push(axes.includes(d) ? 0 : keptStrides[k++]);
    const plan = planRows(x.shape, [x.strides, accStrides]);
    const [xs, as] = plan.rowStrides;
    const n = plan.rowLength;
    walkRows(plan, [x.offset, 0], (o) => {
      if (as === 0) kernel.fold(xData, o[0], xs, n, acc, o[1]);
      else kernel.combine(xData, o[0], xs, n, acc, o[1], as);
    });
  }
  for (let i = 0; i < acc.length; i++) out[i] = acc[i];
}

/** Position of the first max (or min) along `axis`; NaN counts as the winner. */
export function argReduceInto(op: ArgReduceOp, x: View, xData: DataArray, axis: number, out: Int32Array): void {
  const keptShape = x.shape.filter((_, d) => d !== axis);
  const keptStrides = x.strides.filter((_, d) => d !== axis);
  const n = x.shape[axis];
  const step = x.strides[axis];
  const sign = op === "argmax" ? 1 : -1;
  const plan = planRows(keptShape, [keptStrides]);
  let oi = 0;
  walkRows(plan, [x.offset], (o) => {
    let xi = o[0];
    for (let r = 0; r < plan.rowLength; r++, xi += plan.rowStrides[0]) {
      let best = xData[xi];
      let bestAt = 0;
      for (let j = 1, p = xi + step; j < n && best === best; j++, p += step) {
        const v = xData[p];
        if (v !== v || sign * (v - best) > 0) {
          best = v;
          bestAt = j;
        }
      }
      out[oi++] = bestAt;
    }
  });
}
