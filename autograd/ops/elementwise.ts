// Element-wise ops and, beside each, its gradient rule.

import {
  BINARY_OP_KIND,
  type BinaryOp,
  type DType,
  formatShape,
  isFloatingPoint,
  sameShape,
  UNARY_OP_INFO,
  type UnaryOp,
} from "@flint/backend";
import { Tensor } from "../tensor.ts";
import type { ClampOptions, DivOptions } from "../types.ts";
import {
  backendOf,
  broadcastAll,
  broadcastShapes,
  castTo,
  commonDevice,
  expandedView,
  floatTypeOf,
  fromStorage,
  type GradRule,
  onDevice,
  operandOf,
  record,
  resultType,
  sumToShape,
  viewOf,
} from "./_core.ts";
import { zerosLike } from "./creation.ts";

// ---- unary ----

/** A unary op's PyTorch node name, what its rule needs saved, and the rule. */
interface UnaryRule {
  readonly name: string;
  readonly save: "x" | "out" | "none";
  readonly grad: (g: Tensor, saved: Tensor) => Tensor;
}

const TWO_OVER_SQRT_PI = 1.1283791670955126;

/** One gradient rule per differentiable unary op. */
export const unaryRules: Partial<Record<UnaryOp, UnaryRule>> = {
  neg: { name: "NegBackward0", save: "none", grad: (g) => g.neg() },
  abs: { name: "AbsBackward0", save: "x", grad: (g, x) => g.mul(x.sign()) },
  sign: { name: "SignBackward0", save: "x", grad: (_g, x) => zerosLike(x) },
  exp: { name: "ExpBackward0", save: "out", grad: (g, out) => g.mul(out) },
  expm1: { name: "Expm1Backward0", save: "out", grad: (g, out) => g.mul(out.add(1)) },
  log: { name: "LogBackward0", save: "x", grad: (g, x) => g.div(x) },
  log1p: { name: "Log1PBackward0", save: "x", grad: (g, x) => g.div(x.add(1)) },
  log2: { name: "Log2Backward0", save: "x", grad: (g, x) => g.div(x.mul(Math.LN2)) },
  sqrt: { name: "SqrtBackward0", save: "out", grad: (g, out) => g.div(out.mul(2)) },
  rsqrt: { name: "RsqrtBackward0", save: "out", grad: (g, out) => g.mul(out.pow(3)).mul(-0.5) },
  reciprocal: { name: "ReciprocalBackward0", save: "out", grad: (g, out) => g.mul(out.mul(out)).neg() },
  sin: { name: "SinBackward0", save: "x", grad: (g, x) => g.mul(x.cos()) },
  cos: { name: "CosBackward0", save: "x", grad: (g, x) => g.mul(x.sin()).neg() },
  tan: { name: "TanBackward0", save: "out", grad: (g, out) => g.mul(out.mul(out).add(1)) },
  tanh: { name: "TanhBackward0", save: "out", grad: (g, out) => g.mul(rsub(out.mul(out), 1)) },
  sigmoid: { name: "SigmoidBackward0", save: "out", grad: (g, out) => g.mul(out.mul(rsub(out, 1))) },
  relu: { name: "ReluBackward0", save: "out", grad: (g, out) => thresholdBackward(g, out, 0) },
  erf: { name: "ErfBackward0", save: "x", grad: (g, x) => g.mul(x.mul(x).neg().exp()).mul(TWO_OVER_SQRT_PI) },
  floor: { name: "FloorBackward0", save: "x", grad: (_g, x) => zerosLike(x) },
  ceil: { name: "CeilBackward0", save: "x", grad: (_g, x) => zerosLike(x) },
  round: { name: "RoundBackward0", save: "x", grad: (_g, x) => zerosLike(x) },
  trunc: { name: "TruncBackward0", save: "x", grad: (_g, x) => zerosLike(x) },
};

/**
 * `out <= threshold ? 0 : g`, PyTorch's threshold_backward (a NaN in `out`
 * passes the gradient): one op where the backend has the fused kernel, a
 * comparison and a select elsewhere. Recorded when a second derivative is
 * being built, as PyTorch's ThresholdBackwardBackward0.
 */
function thresholdBackward(g: Tensor, out: Tensor, threshold: number): Tensor {
  const kernel = backendOf(g).fused.thresholdBackward;
  if (!kernel || g.dtype !== out.dtype || !sameShape(g.shape, out.shape) || !isFloatingPoint(g.dtype)) {
    return where(out.le(threshold), 0, g);
  }
  const result = fromStorage(g.device, kernel(viewOf(g), viewOf(out), threshold), g.shape, g.dtype);
  return record(result, "ThresholdBackwardBackward0", [g, out], [out], (gg, [saved]) => [
    thresholdBackward(gg, saved, threshold),
    null,
  ]);
}

function unary(op: UnaryOp, x: Tensor): Tensor {
  const info = UNARY_OP_INFO[op];
  let input = x;
  if (info.input === "float") input = castTo(x, floatTypeOf(x.dtype));
  else if (info.input === "bool") input = castTo(x, "bool");
  const outDtype = info.out === "bool" ? "bool" : input.dtype;
  const out = fromStorage(x.device, backendOf(x).unary(op, viewOf(input)), x.shape, outDtype);
  const rule = unaryRules[op];
  if (rule && isFloatingPoint(outDtype)) {
    const toSave = rule.save === "x" ? [input] : rule.save === "out" ? [out] : [];
    record(out, rule.name, [input], toSave, (g, [s]) => [rule.grad(g, s)]);
  }
  return out;
}

/** `-x`. */
export function neg(x: Tensor): Tensor {
  if (x.dtype === "bool") {
    throw new TypeError(
      "Negation, the `-` operator, on a bool tensor is not supported. " +
        "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.",
    );
  }
  return unary("neg", x);
}
/** `|x|`. */
export function abs(x: Tensor): Tensor {
  return unary("abs", x);
}
/** -1, 0 or 1 by sign. */
export function sign(x: Tensor): Tensor {
  return unary("sign", x);
}
/** `e ** x`. */
export function exp(x: Tensor): Tensor {
  return unary("exp", x);
}
/** `e ** x - 1`. */
export function expm1(x: Tensor): Tensor {
  return unary("expm1", x);
}
/** Natural logarithm. */
export function log(x: Tensor): Tensor {
  return unary("log", x);
}
/** `log(1 + x)`. */
export function log1p(x: Tensor): Tensor {
  return unary("log1p", x);
}
/** Base-2 logarithm. */
export function log2(x: Tensor): Tensor {
  return unary("log2", x);
}
/** Square root. */
export function sqrt(x: Tensor): Tensor {
  return unary("sqrt", x);
}
/** `1 / sqrt(x)`. */
export function rsqrt(x: Tensor): Tensor {
  return unary("rsqrt", x);
}
/** `1 / x`. */
export function reciprocal(x: Tensor): Tensor {
  return unary("reciprocal", x);
}
/** Sine. */
export function sin(x: Tensor): Tensor {
  return unary("sin", x);
}
/** Cosine. */
export function cos(x: Tensor): Tensor {
  return unary("cos", x);
}
/** Tangent. */
export function tan(x: Tensor): Tensor {
  return unary("tan", x);
}
/** Hyperbolic tangent. */
export function tanh(x: Tensor): Tensor {
  return unary("tanh", x);
}
/** Logistic sigmoid. */
export function sigmoid(x: Tensor): Tensor {
  return unary("sigmoid", x);
}
/** `max(x, 0)`. */
export function relu(x: Tensor): Tensor {
  return unary("relu", x);
}
/** The error function. */
export function erf(x: Tensor): Tensor {
  return unary("erf", x);
}
/** Rounds down. */
export function floor(x: Tensor): Tensor {
  return unary("floor", x);
}
/** Rounds up. */
export function ceil(x: Tensor): Tensor {
  return unary("ceil", x);
}
/** Rounds half to even. */
export function round(x: Tensor): Tensor {
  return unary("round", x);
}
/** Rounds toward zero. */
export function trunc(x: Tensor): Tensor {
  return unary("trunc", x);
}
/** Logical not (any dtype in, bool out). */
export function logicalNot(x: Tensor): Tensor {
  return unary("logicalNot", x);
}
/** True where `x` is NaN. */
export function isnan(x: Tensor): Tensor {
  return unary("isnan", x);
}
/** `x * x` (PyTorch records it as `pow(x, 2)`). */
export function square(x: Tensor): Tensor {
  return pow(x, 2);
}

// ---- binary ----

/**
 * Runs a binary op on the backend: finds the result dtype, converts operands
 * to the compute dtype and broadcasts them by strides. No recording.
 */
function computeBinary(op: BinaryOp, a: Tensor | number, b: Tensor | number, computeDtype?: DType): Tensor {
  const device = commonDevice([a, b], true);
  a = onDevice(a, device);
  b = onDevice(b, device);
  const kind = BINARY_OP_KIND[op];
  let dtype = computeDtype ?? resultType(a, b);
  if (kind === "logical") dtype = "bool";
  const shape = broadcastShapes(a instanceof Tensor ? a.shape : [], b instanceof Tensor ? b.shape : []);
  const ca = a instanceof Tensor ? castTo(a, dtype) : a;
  const cb = b instanceof Tensor ? castTo(b, dtype) : b;
  if (kind === "arith" && dtype === "bool") {
    // bool arithmetic runs on int32 and is cast back, so true + true stays true.
    return castTo(
      computeBinary(op, castTo(a as Tensor, "int32"), cb instanceof Tensor ? castTo(cb, "int32") : cb),
      "bool",
    );
  }
  const storage = device.backend.binary(op, operandOf(ca, shape), operandOf(cb, shape), shape, dtype);
  return fromStorage(device, storage, shape, kind === "arith" ? dtype : "bool");
}

/** The gradient for one side of a broadcast binary op, summed back to that side's shape. */
function gradFor(x: Tensor | number, g: Tensor | null): Tensor | null {
  if (!(x instanceof Tensor) || g === null) return null;
  return castTo(sumToShape(g, x.shape), x.dtype);
}

/** Records a binary op whose rule returns full-shape gradients for both sides. */
function recordBinary(
  out: Tensor,
  name: string,
  a: Tensor | number,
  b: Tensor | number,
  toSave: readonly (Tensor | null)[],
  rule: GradRule,
): Tensor {
  if (!isFloatingPoint(out.dtype)) return out;
  return record(out, name, [a, b], toSave, (g, saved) => {
    const [ga, gb] = rule(g, saved);
    return [gradFor(a, ga ?? null), gradFor(b, gb ?? null)];
  });
}

/** `a + alpha * b`, broadcasting. */
export function add(a: Tensor | number, b: Tensor | number, options: { alpha?: number } = {}): Tensor {
  const alpha = options.alpha ?? 1;
  const scaledB = alpha === 1
    ? b
    : typeof b === "number"
    ? b * alpha
    : computeBinary("mul", b, alpha, resultType(a, b));
  const out = computeBinary("add", a, scaledB, resultType(a, b));
  return recordBinary(out, "AddBackward0", a, b, [], (g) => [g, !requires(b) ? null : alpha === 1 ? g : g.mul(alpha)]);
}

/** `a - alpha * b`, broadcasting. */
export function sub(a: Tensor | number, b: Tensor | number, options: { alpha?: number } = {}): Tensor {
  const alpha = options.alpha ?? 1;
  if (a instanceof Tensor && b instanceof Tensor && (a.dtype === "bool" || b.dtype === "bool")) {
    throw new TypeError(
      "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a mask, " +
        "use the `~` or `logical_not()` operator instead.",
    );
  }
  const scaledB = alpha === 1
    ? b
    : typeof b === "number"
    ? b * alpha
    : computeBinary("mul", b, alpha, resultType(a, b));
  const out = computeBinary("sub", a, scaledB, resultType(a, b));
  const name = a instanceof Tensor ? "SubBackward0" : "RsubBackward1";
  // No pass for an operand that needs no gradient (a loss's target).
  return recordBinary(out, name, a, b, [], (g) => [g, requires(b) ? g.mul(-alpha) : null]);
}

/** `other - x`, as `torch.rsub(x, other)`. */
export function rsub(x: Tensor, other: Tensor | number, options: { alpha?: number } = {}): Tensor {
  return sub(other, x, options);
}

/**
 * What a product-like rule keeps, as PyTorch does: `a` only if `b` needs a
 * gradient, `b` only if `a` does (a scalar operand is kept by the closure and
 * marked with null).
 */
function savedOperands(a: Tensor | number, b: Tensor | number, aFor: boolean, bFor: boolean): (Tensor | null)[] {
  const slot = (x: Tensor | number, needed: boolean) => (needed ? (x instanceof Tensor ? x : null) : undefined);
  return [slot(a, aFor), slot(b, bFor)].filter((x): x is Tensor | null => x !== undefined);
}

function requires(x: Tensor | number): boolean {
  return x instanceof Tensor && x.requiresGrad;
}

/** Maps saved tensors back onto the operands (numbers come from the closure). */
function savedPair(
  a: Tensor | number,
  b: Tensor | number,
  saved: readonly Tensor[],
  aKept: boolean,
  bKept: boolean,
): [Tensor | number, Tensor | number] {
  let i = 0;
  const pick = (x: Tensor | number, kept: boolean) => {
    if (!kept) return x;
    const s = saved[i++];
    return s === null ? x : s;
  };
  const sa = pick(a, aKept);
  const sb = pick(b, bKept);
  return [sa, sb];
}

/** `a * b`, broadcasting. */
export function mul(a: Tensor | number, b: Tensor | number): Tensor {
  const out = computeBinary("mul", a, b);
  const [keepA, keepB] = [requires(b), requires(a)];
  return recordBinary(out, "MulBackward0", a, b, savedOperands(a, b, keepA, keepB), (g, saved) => {
    const [sa, sb] = savedPair(a, b, saved, keepA, keepB);
    return [keepB ? g.mul(sb) : null, keepA ? g.mul(sa) : null];
  });
}

/** `a / b`: true division (integers give float32), or rounded by `roundingMode`. */
export function div(a: Tensor | number, b: Tensor | number, options: DivOptions = {}): Tensor {
  const mode = options.roundingMode ?? null;
  if (mode !== null && mode !== "trunc" && mode !== "floor") {
    throw new RangeError(
      `div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '${String(mode)}'`,
    );
  }
  const type = resultType(a, b);
  if (mode === null) {
    const out = computeBinary("div", a, b, floatTypeOf(type));
    const [keepA, keepB] = [requires(b), requires(a) || requires(b)];
    return recordBinary(out, "DivBackward0", a, b, savedOperands(a, b, keepA, keepB), (g, saved) => {
      const [sa, sb] = savedPair(a, b, saved, keepA, keepB);
      return [requires(a) ? g.div(sb) : null, keepA ? g.mul(sa).div(mul(sb, sb)).neg() : null];
    });
  }
  let out: Tensor;
  if (isFloatingPoint(type)) {
    const q = computeBinary("div", a, b, type);
    out = mode === "trunc" ? trunc(q) : floor(q);
  } else if (mode === "floor") {
    out = computeBinary("floorDivide", a, b, type);
  } else {
    const q = computeBinary("div", a, b, "float64");
    out = castTo(trunc(q), type);
  }
  return recordBinary(out, "DivBackward2", a, b, [], () => [zerosLikeOf(a), zerosLikeOf(b)]);
}

function zerosLikeOf(x: Tensor | number): Tensor | null {
  return x instanceof Tensor ? zerosLike(x) : null;
}

/** `a ** b`. */
export function pow(a: Tensor | number, b: Tensor | number): Tensor {
  const type = resultType(a, b);
  if (type === "int32" && b instanceof Tensor === false && (b as number) < 0) {
    throw new RangeError("Integers to negative integer powers are not allowed.");
  }
  const out = computeBinary("pow", a, b, type);
  if (typeof b === "number") {
    // PowBackward0: d/da a^e = e * a^(e-1), and 0 where e == 0.
    return recordBinary(out, "PowBackward0", a, b, [a as Tensor], (g, [sa]) => {
      if (b === 0) return [zerosLike(sa), null];
      // a^1 is a exactly: the square of every loss skips a pow pass.
      return [g.mul(b === 2 ? sa : pow(sa, b - 1)).mul(b), null];
    });
  }
  return recordBinary(out, "PowBackward1", a, b, [...savedOperands(a, b, true, true), out], (g, saved) => {
    const sOut = saved[saved.length - 1];
    const [sa, sb] = savedPair(a, b, saved, true, true);
    const ga = a instanceof Tensor ? where((sb as Tensor).eq(0), 0, g.mul(sb).mul(pow(sa, sub(sb, 1)))) : null;
    // d/db a^b = a^b * log(a); PyTorch masks it to 0 where a == 0 and b >= 0.
    const logA = a instanceof Tensor ? log(sa as Tensor) : Math.log(sa as number);
    let gb = g.mul(sOut).mul(logA);
    if (a instanceof Tensor) gb = where((sa as Tensor).eq(0).logicalAnd((sb as Tensor).ge(0)), 0, gb);
    else if (a === 0) gb = where((sb as Tensor).ge(0), 0, gb);
    return [ga, gb];
  });
}

/** Element-wise maximum; ties share the gradient. */
export function maximum(a: Tensor, b: Tensor): Tensor {
  const out = computeBinary("maximum", a, b);
  return recordBinary(out, "MaximumBackward0", a, b, [a, b], (g, [sa, sb]) => {
    const half = where(sa.eq(sb), g.div(2), g);
    return [half.maskedFill(sa.lt(sb), 0), half.maskedFill(sa.gt(sb), 0)];
  });
}

/** Element-wise minimum; ties share the gradient. */
export function minimum(a: Tensor, b: Tensor): Tensor {
  const out = computeBinary("minimum", a, b);
  return recordBinary(out, "MinimumBackward0", a, b, [a, b], (g, [sa, sb]) => {
    const half = where(sa.eq(sb), g.div(2), g);
    return [half.maskedFill(sa.gt(sb), 0), half.maskedFill(sa.lt(sb), 0)];
  });
}

/** Python's `a % b`: the result takes the divisor's sign. */
export function remainder(a: Tensor | number, b: Tensor | number): Tensor {
  const out = computeBinary("remainder", a, b);
  const name = b instanceof Tensor ? "RemainderBackward1" : "RemainderBackward0";
  return recordBinary(out, name, a, b, savedOperands(a, b, true, true), (g, saved) => {
    const [sa, sb] = savedPair(a, b, saved, true, true);
    return [g, b instanceof Tensor ? g.mul(div(sa, sb, { roundingMode: "floor" })).neg() : null];
  });
}

/** Integer division rounding down, as `torch.floor_divide`. */
export function floorDivide(a: Tensor | number, b: Tensor | number): Tensor {
  return div(a, b, { roundingMode: "floor" });
}

function compare(op: BinaryOp, a: Tensor | number, b: Tensor | number): Tensor {
  return computeBinary(op, a, b);
}

/** `a < b` as bool. */
export function lt(a: Tensor | number, b: Tensor | number): Tensor {
  return compare("lt", a, b);
}
/** `a <= b` as bool. */
export function le(a: Tensor | number, b: Tensor | number): Tensor {
  return compare("le", a, b);
}
/** `a > b` as bool. */
export function gt(a: Tensor | number, b: Tensor | number): Tensor {
  return compare("gt", a, b);
}
/** `a >= b` as bool. */
export function ge(a: Tensor | number, b: Tensor | number): Tensor {
  return compare("ge", a, b);
}
/** `a == b` as bool. */
export function eq(a: Tensor | number, b: Tensor | number): Tensor {
  return compare("eq", a, b);
}
/** `a != b` as bool. */
export function ne(a: Tensor | number, b: Tensor | number): Tensor {
  return compare("ne", a, b);
}
/** Logical and. */
export function logicalAnd(a: Tensor, b: Tensor): Tensor {
  return compare("logicalAnd", a, b);
}
/** Logical or. */
export function logicalOr(a: Tensor, b: Tensor): Tensor {
  return compare("logicalOr", a, b);
}
/** Logical exclusive or. */
export function logicalXor(a: Tensor, b: Tensor): Tensor {
  return compare("logicalXor", a, b);
}

// ---- selection ----

/** `condition ? a : b` element-wise, broadcasting all three. */
export function where(condition: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  if (condition.dtype !== "bool") {
    throw new TypeError(
      `where expected condition to be a boolean tensor, but got a tensor with dtype ${condition.dtype}`,
    );
  }
  const device = commonDevice([condition, a, b], true);
  condition = onDevice(condition, device);
  a = onDevice(a, device);
  b = onDevice(b, device);
  const dtype = resultType(a, b);
  const shape = broadcastAll(condition.shape, a instanceof Tensor ? a.shape : [], b instanceof Tensor ? b.shape : []);
  const ca = a instanceof Tensor ? castTo(a, dtype) : a;
  const cb = b instanceof Tensor ? castTo(b, dtype) : b;
  const storage = device.backend.where(
    expandedView(condition, shape),
    operandOf(ca, shape),
    operandOf(cb, shape),
    shape,
    dtype,
  );
  const out = fromStorage(device, storage, shape, dtype);
  if (!isFloatingPoint(dtype)) return out;
  return record(out, "WhereBackward0", [condition, a, b], [condition], (g, [c]) => [
    null,
    gradFor(a, where(c, g, 0)),
    gradFor(b, where(c, 0, g)),
  ]);
}

/** `x` with `value` wherever `mask` (bool, broadcastable to x) is true. */
export function maskedFill(x: Tensor, mask: Tensor, value: number | Tensor): Tensor {
  if (mask.dtype !== "bool") {
    throw new TypeError(`masked_fill_ only supports boolean masks, but got mask with dtype ${mask.dtype}`);
  }
  if (value instanceof Tensor && value.ndim !== 0) {
    throw new RangeError(
      `masked_fill_ only supports a 0-dimensional value tensor, but got tensor with ${value.ndim} dimension(s).`,
    );
  }
  const shape = broadcastShapes(x.shape, mask.shape);
  if (shape.length !== x.ndim || shape.some((d, i) => d !== x.shape[i])) {
    throw new RangeError(
      `masked_fill: mask of shape ${formatShape(mask.shape)} does not broadcast to ${formatShape(x.shape)}`,
    );
  }
  const v = value instanceof Tensor ? castTo(value, x.dtype) : value;
  const device = commonDevice([x, mask, value], true);
  mask = onDevice(mask, device);
  value = onDevice(value, device);
  const storage = device.backend.where(
    expandedView(mask, shape),
    operandOf(v, shape),
    operandOf(x, shape),
    shape,
    x.dtype,
  );
  const out = fromStorage(device, storage, shape, x.dtype);
  if (!isFloatingPoint(x.dtype)) return out;
  return record(out, "MaskedFillBackward0", [x, null, value], [mask], (g, [m]) => [
    where(m, 0, g),
    null,
    value instanceof Tensor ? where(m, g, 0).sum() : null,
  ]);
}

/** Limits values to `[min, max]`: `clamp(x, { min: 0 })`, `clamp(x, 0, 1)`, bounds may be tensors. */
export function clamp(x: Tensor, min?: number | Tensor | ClampOptions | null, max?: number | Tensor | null): Tensor {
  let lo: number | Tensor | null | undefined = min as number | Tensor | null | undefined;
  let hi = max;
  if (min !== null && typeof min === "object" && !(min instanceof Tensor)) {
    lo = min.min;
    hi = min.max;
  }
  if ((lo === undefined || lo === null) && (hi === undefined || hi === null)) {
    throw new RangeError("torch.clamp: At least one of 'min' or 'max' must not be None");
  }
  if (lo instanceof Tensor || hi instanceof Tensor) {
    let out = x;
    if (lo !== undefined && lo !== null) out = maximum(out, lo instanceof Tensor ? lo : fullOf(x, lo));
    if (hi !== undefined && hi !== null) out = minimum(out, hi instanceof Tensor ? hi : fullOf(x, hi));
    return out;
  }
  const dtype = resultType(x, lo ?? 0, hi ?? 0);
  // NaN stays NaN: the backend's maximum/minimum propagate it.
  let value = castTo(x, dtype);
  if (lo !== undefined && lo !== null) value = noGradBinary("maximum", value, lo);
  if (hi !== undefined && hi !== null) value = noGradBinary("minimum", value, hi);
  if (!isFloatingPoint(dtype)) return value;
  return record(value, "ClampBackward1", [x], [x], (g, [sx]) => {
    let keep = sx.eq(sx); // all true except NaN
    if (lo !== undefined && lo !== null) keep = keep.logicalAnd(sx.ge(lo as number));
    if (hi !== undefined && hi !== null) keep = keep.logicalAnd(sx.le(hi as number));
    return [where(keep, g, 0)];
  });
}

function noGradBinary(op: BinaryOp, x: Tensor, scalar: number): Tensor {
  const storage = x.device.backend.binary(op, viewOf(x), scalar, x.shape, x.dtype);
  return fromStorage(x.device, storage, x.shape, x.dtype);
}

function fullOf(x: Tensor, value: number): Tensor {
  return zerosLike(x).add(value);
}
