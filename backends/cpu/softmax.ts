// Softmax and log-softmax along one axis in one pass per row (in float64),
// with the semantics of autograd's composed version: the row's max is
// subtracted first unless it is infinite, so a NaN anywhere makes the row NaN
// and an all -inf row gives NaN for softmax, as in PyTorch.

import type { DataArray, View } from "@flint/backend";
import { dataOf } from "./storage.ts";

/** The view's extent around `axis`: rows before it, its length, elements after it (row-major). */
function around(shape: readonly number[], axis: number): [outer: number, n: number, inner: number] {
  let outer = 1, inner = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d];
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d];
  return [outer, shape[axis], inner];
}

/** Position of element (o, j, i) of the view, for each outer row o, axis step j, inner step i. */
function offsets(x: View, axis: number): (o: number, i: number) => number {
  const nd = x.shape.length;
  return (o, i) => {
    let at = x.offset;
    for (let d = nd - 1; d > axis; d--) {
      const size = x.shape[d];
      at += (i % size) * x.strides[d];
      i = Math.floor(i / size);
    }
    for (let d = axis - 1; d >= 0; d--) {
      const size = x.shape[d];
      at += (o % size) * x.strides[d];
      o = Math.floor(o / size);
    }
    return at;
  };
}

/** softmax (or log-softmax when `log`) of x along `axis` into `out` (row-major, x's shape). */
export function softmaxKernel(x: View, axis: number, log: boolean, out: DataArray): void {
  const [outer, n, inner] = around(x.shape, axis);
  const src = dataOf(x);
  const start = offsets(x, axis);
  const step = x.strides[axis];
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = start(o, i);
      const dst = o * n * inner + i;
      let max = -Infinity;
      for (let j = 0, q = base; j < n; j++, q += step) {
        const v = src[q];
        if (v > max || v !== v) max = v;
      }
      const shift = Math.abs(max) === Infinity ? 0 : max;
      let total = 0;
      for (let j = 0, q = base; j < n; j++, q += step) total += Math.exp(src[q] - shift);
      if (log) {
        const logTotal = Math.log(total);
        for (let j = 0, q = base; j < n; j++, q += step) out[dst + j * inner] = src[q] - shift - logTotal;
      } else {
        for (let j = 0, q = base; j < n; j++, q += step) out[dst + j * inner] = Math.exp(src[q] - shift) / total;
      }
    }
  }
}

/**
 * The gradient of softmax / log-softmax given its output: softmax gives
 * out·(g − Σ g·out), log-softmax gives g − exp(out)·Σ g.
 */
export function softmaxBackwardKernel(gradOut: View, y: View, axis: number, log: boolean, out: DataArray): void {
  const [outer, n, inner] = around(y.shape, axis);
  const g = dataOf(gradOut), o = dataOf(y);
  const gStart = offsets(gradOut, axis), yStart = offsets(y, axis);
  const gStep = gradOut.strides[axis], yStep = y.strides[axis];
  for (let r = 0; r < outer; r++) {
    for (let i = 0; i < inner; i++) {
      const gb = gStart(r, i), yb = yStart(r, i);
      const dst = r * n * inner + i;
      let sum = 0;
      for (let j = 0; j < n; j++) sum += log ? g[gb + j * gStep] : g[gb + j * gStep] * o[yb + j * yStep];
      for (let j = 0; j < n; j++) {
        const gv = g[gb + j * gStep], yv = o[yb + j * yStep];
        out[dst + j * inner] = log ? gv - Math.exp(yv) * sum : yv * (gv - sum);
      }
    }
  }
}
