// Element-wise kernels as tfjs ops, one entry per Flint op. Where tfjs's own
// kernel differs from PyTorch (NaN in maximum on tfjs-wasm, int32 division
// done in float32 on tfjs-wasm, products past 2^53 on tfjs-cpu, log1p near
// zero on tfjs-wasm, bool casts of raw bytes on tfjs-wasm) the entry composes
// the PyTorch result from ops whose behaviour is the same on every tfjs
// backend. Every function runs inside the caller's `tf.tidy`.

import type { BinaryOp, UnaryOp } from "@flint/backend";
import * as tf from "@tensorflow/tfjs-core";

/** What a kernel may need to know about the device beyond its inputs. */
export interface KernelContext {
  /** true when int32 bitwise-and runs here (for the exact wrapping product) */
  readonly bitwiseAnd: boolean;
  /** reads one bool flag now; undefined when the device cannot read synchronously */
  readonly readFlag?: (flag: tf.Tensor) => boolean;
}

/** An element-wise op of one tensor. */
export type UnaryKernel = (x: tf.Tensor) => tf.Tensor;
/** An element-wise op of two tensors of one dtype that broadcast against each other. */
export type BinaryKernel = (a: tf.Tensor, b: tf.Tensor, ctx: KernelContext) => tf.Tensor;

const isFloat = (x: tf.Tensor): boolean => x.dtype === "float32";

/** Nonzero (NaN included) is true, as a C cast to bool. tfjs-wasm's `cast` to bool keeps raw bytes instead. */
export function toBool(x: tf.Tensor): tf.Tensor {
  return x.dtype === "bool" ? x : tf.notEqual(x, tf.scalar(0, x.dtype));
}

/**
 * `cond ? a : b`, broadcasting all three. tfjs-wasm's `where` writes bool
 * results four bytes per element and overruns its output, so bools are
 * selected with logical ops instead.
 */
export function select(cond: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (a.dtype !== "bool") return tf.where(cond, a, b);
  return tf.logicalOr(tf.logicalAnd(cond, a), tf.logicalAnd(tf.logicalNot(cond), b));
}

/** `x` clamped into [lo, hi]; tfjs-wasm's clipByValue leaves int32 unclamped. */
export function clampInt(x: tf.Tensor, lo: number, hi: number): tf.Tensor {
  return tf.minimum(tf.maximum(x, tf.scalar(lo, "int32")), tf.scalar(hi, "int32"));
}

/** `x` converted to a tfjs dtype: C truncation for float → int32, nonzero → true for bool. */
export function castTensor(x: tf.Tensor, dtype: "float32" | "int32" | "bool"): tf.Tensor {
  if (x.dtype === dtype) return x;
  if (dtype === "bool") return toBool(x);
  return tf.cast(x, dtype);
}

/**
 * log(1 + x) without the cancellation of forming 1 + x in float32 (tfjs-wasm
 * does): below |x| = 0.01 a Taylor polynomial whose first dropped term is
 * under 2e-11 relative.
 */
function log1p(x: tf.Tensor): tf.Tensor {
  const series = tf.mul(
    x,
    tf.sub(1, tf.mul(x, tf.sub(0.5, tf.mul(x, tf.sub(1 / 3, tf.mul(x, tf.sub(0.25, tf.mul(x, 0.2)))))))),
  );
  return tf.where(tf.less(tf.abs(x), 0.01), series, tf.log1p(x));
}

const identityUnlessFloat = (op: (x: tf.Tensor) => tf.Tensor): UnaryKernel => (x) => (isFloat(x) ? op(x) : x);

/** The unary ops; input dtypes follow `UNARY_OP_INFO`. */
export const unaryKernels = {
  neg: (x) => tf.neg(x),
  abs: (x) => tf.abs(x),
  // tfjs's sign is 0 at NaN, as PyTorch's.
  sign: (x) => tf.sign(x),
  exp: (x) => tf.exp(x),
  expm1: (x) => tf.expm1(x),
  log: (x) => tf.log(x),
  log1p,
  log2: (x) => tf.mul(tf.log(x), Math.LOG2E),
  sqrt: (x) => tf.sqrt(x),
  rsqrt: (x) => tf.rsqrt(x),
  reciprocal: (x) => tf.reciprocal(x),
  sin: (x) => tf.sin(x),
  cos: (x) => tf.cos(x),
  tan: (x) => tf.tan(x),
  tanh: (x) => tf.tanh(x),
  sigmoid: (x) => tf.sigmoid(x),
  // `x < 0 ? 0 : x` keeps NaN, as PyTorch's relu does.
  relu: (x) => (x.dtype === "bool" ? x : tf.where(tf.less(x, tf.scalar(0, x.dtype)), tf.zerosLike(x), x)),
  floor: identityUnlessFloat(tf.floor),
  ceil: identityUnlessFloat(tf.ceil),
  // tfjs rounds half to even, as PyTorch does; tfjs-cpu drops the sign of a zero result (-0.5 → -0).
  round: identityUnlessFloat((x) => {
    const r = tf.round(x);
    return tf.where(tf.equal(r, 0), tf.mul(x, 0), r);
  }),
  trunc: identityUnlessFloat((x) => tf.where(tf.less(x, 0), tf.ceil(x), tf.floor(x))),
  erf: (x) => tf.erf(x),
  logicalNot: (x) => tf.logicalNot(toBool(x)),
  // tfjs-wasm's isNaN reads int32 bits as floats, so integers skip it.
  isnan: (x) => (isFloat(x) ? tf.isNaN(x) : tf.zeros(x.shape, "bool")),
} satisfies Record<UnaryOp, UnaryKernel>;

/**
 * int32 floor division, exact. tfjs-wasm divides int32 in float32, off by up
 * to hundreds past 2^24; the remainder of that first guess is small, so a
 * second division corrects it and a last comparison settles off-by-ones.
 */
function floorDivInt(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  let q = tf.floorDiv(a, b);
  q = tf.add(q, tf.floorDiv(tf.sub(a, tf.mul(q, b)), b));
  const r = tf.sub(a, tf.mul(q, b));
  const zero = tf.scalar(0, "int32");
  const positive = tf.greater(b, zero);
  const low = select(positive, tf.less(r, zero), tf.greater(r, zero));
  const high = select(positive, tf.greaterEqual(r, b), tf.lessEqual(r, b));
  return tf.add(tf.sub(q, tf.cast(low, "int32")), tf.cast(high, "int32"));
}

/** Throws PyTorch's ZeroDivisionError when `b` holds a zero and the device can tell now. */
function checkNoZero(b: tf.Tensor, ctx: KernelContext, what: string): void {
  if (ctx.readFlag?.(tf.any(tf.equal(b, tf.scalar(0, "int32"))))) {
    throw new RangeError(`ZeroDivisionError: integer ${what} by zero`);
  }
}

/**
 * int32 product wrapping at 2^32 as C's does. tfjs-cpu multiplies in doubles,
 * which drop low bits past 2^53; splitting each factor into 16-bit halves
 * keeps every partial product exact.
 */
function mulInt(a: tf.Tensor, b: tf.Tensor, ctx: KernelContext): tf.Tensor {
  if (!ctx.bitwiseAnd) return tf.mul(a, b);
  // bitwiseAnd does not broadcast: the mask takes each factor's shape.
  const low = (x: tf.Tensor) => tf.bitwiseAnd(x, tf.fill(x.shape, 0xffff, "int32"));
  const shift = tf.scalar(0x10000, "int32");
  const al = low(a), bl = low(b);
  const ah = tf.floorDiv(tf.sub(a, al), shift), bh = tf.floorDiv(tf.sub(b, bl), shift);
  const cross = tf.add(tf.mul(ah, bl), tf.mul(al, bh));
  return tf.add(tf.mul(al, bl), tf.mul(cross, shift));
}

/** NaN wherever `a` or `b` is NaN, else `op(a, b)`: tfjs-wasm's maximum(0, NaN) is 0. */
function nanPropagating(op: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): BinaryKernel {
  return (a, b) => {
    if (!isFloat(a)) return op(a, b);
    const nan = tf.logicalOr(tf.isNaN(a), tf.isNaN(b));
    return tf.where(nan, tf.scalar(NaN), op(a, b));
  };
}

/**
 * Python's `%` on floats: tfjs's mod is already floored, but gives NaN for an
 * infinite divisor where Python gives `a` (same signs) or the divisor.
 */
function remainderFloat(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const sameSign = tf.logicalOr(tf.equal(a, 0), tf.equal(tf.less(a, 0), tf.less(b, 0)));
  const byInfinity = tf.logicalAnd(tf.equal(tf.abs(b), Infinity), tf.isFinite(a));
  return tf.where(byInfinity, tf.where(sameSign, a, b), tf.mod(a, b));
}

const int = (x: tf.Tensor): boolean => x.dtype === "int32";

/** The binary ops; comparisons and logical ops give bool, the others keep the dtype. */
export const binaryKernels = {
  add: (a, b) => tf.add(a, b),
  sub: (a, b) => tf.sub(a, b),
  mul: (a, b, ctx) => (int(a) ? mulInt(a, b, ctx) : tf.mul(a, b)),
  // int32 division truncates toward zero, as storing a C quotient does (and x / 0 stores 0).
  div: (a, b) => {
    if (!int(a)) return tf.div(a, b);
    const q = floorDivInt(a, b);
    const r = tf.sub(a, tf.mul(q, b));
    const zero = tf.scalar(0, "int32");
    const roundUp = tf.logicalAnd(tf.notEqual(r, zero), tf.notEqual(tf.less(a, zero), tf.less(b, zero)));
    return tf.where(tf.equal(b, zero), tf.zerosLike(q), tf.add(q, tf.cast(roundUp, "int32")));
  },
  pow: (a, b) => tf.pow(a, b),
  maximum: nanPropagating(tf.maximum),
  minimum: nanPropagating(tf.minimum),
  remainder: (a, b, ctx) => {
    if (!int(a)) return remainderFloat(a, b);
    checkNoZero(b, ctx, "remainder");
    return tf.sub(a, tf.mul(floorDivInt(a, b), b));
  },
  floorDivide: (a, b, ctx) => {
    if (!int(a)) return tf.floorDiv(a, b);
    checkNoZero(b, ctx, "division");
    return floorDivInt(a, b);
  },
  eq: (a, b) => tf.equal(a, b),
  ne: (a, b) => tf.notEqual(a, b),
  lt: (a, b) => tf.less(a, b),
  le: (a, b) => tf.lessEqual(a, b),
  gt: (a, b) => tf.greater(a, b),
  ge: (a, b) => tf.greaterEqual(a, b),
  logicalAnd: (a, b) => tf.logicalAnd(toBool(a), toBool(b)),
  logicalOr: (a, b) => tf.logicalOr(toBool(a), toBool(b)),
  logicalXor: (a, b) => tf.logicalXor(toBool(a), toBool(b)),
} satisfies Record<BinaryOp, BinaryKernel>;
