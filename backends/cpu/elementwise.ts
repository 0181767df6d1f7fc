// Element-wise kernels: one tight loop per op over one strided row, so the
// per-element work has no calls and no branches on the op.

import type { BinaryOp, DataArray, UnaryOp } from "@flint/backend";
import { erf, powC, pythonRemainder, roundHalfEven } from "./math.ts";

/** Applies a unary op to `n` elements of `x` (step `xs`) into contiguous `o`. */
export type UnaryKernel = (x: DataArray, xi: number, xs: number, o: DataArray, oi: number, n: number) => void;

/** Applies a binary op to rows of `a` and `b` (steps `as`, `bs`) into contiguous `o`. */
export type BinaryKernel = (
  a: DataArray,
  ai: number,
  as: number,
  b: DataArray,
  bi: number,
  bs: number,
  o: DataArray,
  oi: number,
  n: number,
) => void;

// deno-fmt-ignore
export const unaryKernels = {
  neg(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = -x[xi]; },
  abs(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = Math.abs(x[xi]); },
  // NaN has sign 0 in PyTorch.
  sign(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) { const v = x[xi]; o[oi + i] = v > 0 ? 1 : v < 0 ? -1 : 0; } },
  exp(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = Math.exp(x[xi]); },
  expm1(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = Math.expm1(x[xi]); },
  log(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = Math.log(x[xi]); },
  log1p(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = Math.log1p(x[xi]); },
  log2(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = Math.log2(x[xi]); },
  sqrt(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = Math.sqrt(x[xi]); },
  rsqrt(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = 1 / Math.sqrt(x[xi]); },
  reciprocal(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = 1 / x[xi]; },
  sin(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = Math.sin(x[xi]); },
  cos(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = Math.cos(x[xi]); },
  tan(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = Math.tan(x[xi]); },
  tanh(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = Math.tanh(x[xi]); },
  sigmoid(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = 1 / (1 + Math.exp(-x[xi])); },
  // `v < 0 ? 0 : v` keeps NaN, as PyTorch's relu does.
  relu(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) { const v = x[xi]; o[oi + i] = v < 0 ? 0 : v; } },
  floor(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = Math.floor(x[xi]); },
  ceil(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = Math.ceil(x[xi]); },
  round(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = roundHalfEven(x[xi]); },
  trunc(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = Math.trunc(x[xi]); },
  erf(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = erf(x[xi]); },
  logicalNot(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) o[oi + i] = x[xi] === 0 ? 1 : 0; },
  isnan(x, xi, xs, o, oi, n) { for (let i = 0; i < n; i++, xi += xs) { const v = x[xi]; o[oi + i] = v !== v ? 1 : 0; } },
} satisfies Record<UnaryOp, UnaryKernel>;

// deno-fmt-ignore
export const binaryKernels = {
  add(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = a[ai] + b[bi]; },
  sub(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = a[ai] - b[bi]; },
  mul(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = a[ai] * b[bi]; },
  div(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = a[ai] / b[bi]; },
  pow(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = powC(a[ai], b[bi]); },
  maximum(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = Math.max(a[ai], b[bi]); },
  minimum(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = Math.min(a[ai], b[bi]); },
  remainder(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = pythonRemainder(a[ai], b[bi]); },
  floorDivide(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = Math.floor(a[ai] / b[bi]); },
  eq(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = a[ai] === b[bi] ? 1 : 0; },
  ne(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = a[ai] !== b[bi] ? 1 : 0; },
  lt(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = a[ai] < b[bi] ? 1 : 0; },
  le(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = a[ai] <= b[bi] ? 1 : 0; },
  gt(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = a[ai] > b[bi] ? 1 : 0; },
  ge(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = a[ai] >= b[bi] ? 1 : 0; },
  logicalAnd(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = a[ai] !== 0 && b[bi] !== 0 ? 1 : 0; },
  logicalOr(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = a[ai] !== 0 || b[bi] !== 0 ? 1 : 0; },
  logicalXor(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = (a[ai] !== 0) !== (b[bi] !== 0) ? 1 : 0; },
} satisfies Record<BinaryOp, BinaryKernel>;

// Integer versions where float arithmetic would be wrong for int32: products
// beyond 2^53 lose low bits in doubles (Math.imul wraps as C does), and
// integer division rounds toward minus infinity with an error on zero.
// deno-fmt-ignore
export const int32BinaryKernels: Partial<Record<BinaryOp, BinaryKernel>> = {
  mul(a, ai, as, b, bi, bs, o, oi, n) { for (let i = 0; i < n; i++, ai += as, bi += bs) o[oi + i] = Math.imul(a[ai], b[bi]); },
  floorDivide(a, ai, as, b, bi, bs, o, oi, n) {
    for (let i = 0; i < n; i++, ai += as, bi += bs) {
      if (b[bi] === 0) throw new RangeError("ZeroDivisionError: integer division by zero");
      o[oi + i] = Math.floor(a[ai] / b[bi]);
    }
  },
  remainder(a, ai, as, b, bi, bs, o, oi, n) {
    for (let i = 0; i < n; i++, ai += as, bi += bs) {
      if (b[bi] === 0) throw new RangeError("ZeroDivisionError: integer remainder by zero");
      o[oi + i] = pythonRemainder(a[ai], b[bi]);
    }
  },
};

/** Copies `n` elements with steps, converting on store by the typed array's rules. */
export function copyRow(x: DataArray, xi: number, xs: number, o: DataArray, oi: number, os: number, n: number): void {
  for (let i = 0; i < n; i++, xi += xs, oi += os) o[oi] = x[xi];
}

/** Copies `n` elements into a bool array: anything not zero (NaN included) is true. */
export function copyRowToBool(
  x: DataArray,
  xi: number,
  xs: number,
  o: DataArray,
  oi: number,
  os: number,
  n: number,
): void {
  for (let i = 0; i < n; i++, xi += xs, oi += os) o[oi] = x[xi] !== 0 ? 1 : 0;
}

/** Selects `cond ? a : b` over rows. */
export function whereRow(
  c: DataArray,
  ci: number,
  cs: number,
  a: DataArray,
  ai: number,
  as: number,
  b: DataArray,
  bi: number,
  bs: number,
  o: DataArray,
  oi: number,
  n: number,
): void {
  for (let i = 0; i < n; i++, ci += cs, ai += as, bi += bs) o[oi + i] = c[ci] !== 0 ? a[ai] : b[bi];
}
