// WGSL building blocks: how each dtype is stored and computed on the GPU, the
// helper functions the op expressions call, and one expression per op. The
// kernels in _kernels.ts assemble shaders from these strings; nothing is
// evaluated on the host.

import type { BinaryOp, DType, ReduceOp, UnaryOp } from "@flint/backend";

/** How an element sits in a storage buffer. */
export type Elem = "f32" | "f16" | "i32" | "u32";
/** The type arithmetic runs in: half storage computes in f32, bool in u32 (0 or 1). */
export type Compute = "f32" | "i32" | "u32";

/** The storage element type of a dtype (`half`: float tensors stored as f16). */
export function elemOf(dtype: DType, half: boolean): Elem {
  if (dtype === "float32" || dtype === "float64") return half ? "f16" : "f32";
  return dtype === "int32" ? "i32" : "u32";
}

/** The compute type of a storage element type. */
export function computeOf(elem: Elem): Compute {
  return elem === "f16" ? "f32" : elem;
}

/** The compute type of a dtype. */
export function computeOfDType(dtype: DType): Compute {
  return dtype === "float32" || dtype === "float64" ? "f32" : dtype === "int32" ? "i32" : "u32";
}

/** Bytes per element in storage. */
export function elemBytes(elem: Elem): number {
  return elem === "f16" ? 2 : 4;
}

/** A binding's declaration line. */
export function declare(
  binding: number,
  name: string,
  elem: Elem | "atomic<u32>" | "atomic<i32>",
  write: boolean,
): string {
  return `@group(0) @binding(${binding}) var<storage, ${write ? "read_write" : "read"}> ${name}: array<${elem}>;`;
}

/** An expression that loads `name[index]` as its compute type. */
export function load(name: string, elem: Elem, index: string): string {
  return elem === "f16" ? `f32(${name}[${index}])` : `${name}[${index}]`;
}

/** A statement that stores compute value `value` into `name[index]`. */
export function store(name: string, elem: Elem, index: string, value: string): string {
  return elem === "f16" ? `${name}[${index}] = f16(${value});` : `${name}[${index}] = ${value};`;
}

/** Converts a value of compute type `from` to compute type `to`, by the CPU backend's rules. */
export function convert(value: string, from: Compute, to: Compute): string {
  if (from === to) return to === "u32" ? `select(0u, 1u, ${value} != 0u)` : value;
  if (to === "f32") return `f32(${value})`;
  if (to === "i32") return from === "f32" ? `f2i(${value})` : `i32(${value})`;
  return from === "f32" ? `select(0u, 1u, f_nonzero(${value}))` : `select(0u, 1u, ${value} != 0)`;
}

/** The atomic array element a buffer of `elem` is declared with for atomic adds. */
export function atomicElem(elem: Elem): "atomic<u32>" | "atomic<i32>" {
  return elem === "i32" ? "atomic<i32>" : "atomic<u32>";
}

/**
 * Statements adding compute value `v` to element `at` of `name` (declared
 * with `atomicElem`) atomically. WGSL has no float atomics: floats exchange
 * the bits in a compare-exchange loop; halves exchange the 32-bit word that
 * holds two of them; bools (0/1) add as a logical or.
 */
export function atomicAdd(elem: Elem, name: string, at: string, v: string): string {
  if (elem === "i32") return `atomicAdd(&${name}[${at}], ${v});`;
  if (elem === "u32") return `atomicOr(&${name}[${at}], select(0u, 1u, ${v} != 0u));`;
  if (elem === "f32") {
    return `{
    let at_ = ${at};
    loop {
      let old = atomicLoad(&${name}[at_]);
      let r = atomicCompareExchangeWeak(&${name}[at_], old, bitcast<u32>(bitcast<f32>(old) + ${v}));
      if (r.exchanged) { break; }
    }
  }`;
  }
  return `{
    let at_ = ${at};
    let word = at_ >> 1u;
    let hi = (at_ & 1) == 1;
    loop {
      let old = atomicLoad(&${name}[word]);
      let pair = unpack2x16float(old);
      let sum = select(pair.x, pair.y, hi) + ${v};
      let next = pack2x16float(select(vec2<f32>(sum, pair.y), vec2<f32>(pair.x, sum), hi));
      let r = atomicCompareExchangeWeak(&${name}[word], old, next);
      if (r.exchanged) { break; }
    }
  }`;
}

/** The literal zero and one of a compute type. */
export function zeroOf(c: Compute): string {
  return c === "f32" ? "0.0" : c === "i32" ? "0" : "0u";
}

// Helper functions, each included in a shader only when its text mentions the
// name. NaN tests look at the bits because the shader compiler may assume
// finite math and fold `v != v` away; NaN and infinity come from private
// variables for the same reason (a NaN constant expression is an error).
const HELPERS: Record<string, { code: string; uses?: string[] }> = {
  f_nan: {
    code: "var<private> nan_bits: u32 = 0x7fc00000u;\nfn f_nan() -> f32 { return bitcast<f32>(nan_bits); }",
  },
  f_inf: {
    code: "var<private> inf_bits: u32 = 0x7f800000u;\nfn f_inf() -> f32 { return bitcast<f32>(inf_bits); }",
  },
  is_nan: { code: "fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }" },
  is_inf: { code: "fn is_inf(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) == 0x7f800000u; }" },
  f_nonzero: { code: "fn f_nonzero(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) != 0u; }" },
  f_sign: {
    uses: ["is_nan"],
    code:
      "fn f_sign(x: f32) -> f32 { if (is_nan(x)) { return 0.0; } return select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0); }",
  },
  f_max: {
    uses: ["is_nan"],
    code: "fn f_max(a: f32, b: f32) -> f32 { if (is_nan(a)) { return a; } if (is_nan(b)) { return b; } " +
      "return select(b, a, a > b); }",
  },
  f_min: {
    uses: ["is_nan"],
    code: "fn f_min(a: f32, b: f32) -> f32 { if (is_nan(a)) { return a; } if (is_nan(b)) { return b; } " +
      "return select(b, a, a < b); }",
  },
  f_ne: {
    uses: ["is_nan"],
    code: "fn f_ne(a: f32, b: f32) -> bool { return is_nan(a) || is_nan(b) || !(a == b); }",
  },
  f_expm1: {
    // The series near 0, where exp(x) - 1 would cancel.
    code: `fn f_expm1(x: f32) -> f32 {
  if (abs(x) < 0.1) {
    return x * (1.0 + x * (0.5 + x * (0.16666667 + x * (0.041666668 + x * (0.008333334 + x * 0.0013888889)))));
  }
  return exp(x) - 1.0;
}`,
  },
  f_log1p: {
    uses: ["is_nan", "f_nan", "is_inf"],
    // Kahan's trick: log(u) * x / (u - 1) cancels the rounding of u = 1 + x.
    code: `fn f_log1p(x: f32) -> f32 {
  if (is_nan(x) || x < -1.0) { return f_nan(); }
  if (is_inf(x)) { return x; }
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  if (u == 0.0) { return log(u); }
  return log(u) * (x / (u - 1.0));
}`,
  },
  f_tanh: {
    uses: ["f_expm1"],
    // tanh|x| = -expm1(-2|x|) / (2 + expm1(-2|x|)): no overflow, no cancellation near 0.
    code: `fn f_tanh(x: f32) -> f32 {
  let e = f_expm1(-2.0 * abs(x));
  let t = -e / (2.0 + e);
  return select(t, -t, x < 0.0);
}`,
  },
  f_sigmoid: { code: "fn f_sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }" },
  trig_reduce: {
    // Payne–Hanek reduction: x·2/π mod 4 from a 96-bit window of 2/π's bits
    // times the 24-bit mantissa, in 32-bit integers. Returns r in [-π/4, π/4]
    // and the quadrant; the built-in sin/cos lose all accuracy past ~1e7.
    code: `var<private> TWO_OVER_PI: array<u32, 9> = array<u32, 9>(0u, 0xa2f9836eu, 0x4e441529u, 0xfc2757d1u,
  0xf534ddc0u, 0xdb629599u, 0x3c439041u, 0xfe5163abu, 0xdebbc561u);
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2<u32>((p00 & 0xffffu) | (mid << 16u), a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u));
}
fn two_over_pi_word(i: i32, s: u32) -> u32 {
  if (s == 0u) { return TWO_OVER_PI[i]; }
  return (TWO_OVER_PI[i] << s) | (TWO_OVER_PI[i + 1] >> (32u - s));
}
fn trig_reduce(ax: f32) -> vec2<f32> {
  let bits = bitcast<u32>(ax);
  let e = i32((bits >> 23u) & 0xffu) - 150;
  let m = (bits & 0x7fffffu) | 0x800000u;
  let p = e + 30;
  let i = p >> 5u;
  let s = u32(p & 31);
  let w0 = two_over_pi_word(i, s);
  let w1 = two_over_pi_word(i + 1, s);
  let w2 = two_over_pi_word(i + 2, s);
  let a2 = mul_wide(m, w2);
  let a1 = mul_wide(m, w1);
  let a0 = mul_wide(m, w0);
  let r2 = a2.x;
  let r1 = a2.y + a1.x;
  let r0 = a1.y + a0.x + select(0u, 1u, r1 < a2.y);
  var q = r0 >> 30u;
  let hi = (r0 << 2u) | (r1 >> 30u);
  let lo = (r1 << 2u) | (r2 >> 30u);
  var f = f32(hi) * 2.3283064e-10 + f32(lo) * 5.421011e-20;
  if (f >= 0.5) { f = f - 1.0; q = q + 1u; }
  return vec2<f32>(f * 1.5707964, f32(q & 3u));
}`,
  },
  f_sin: {
    uses: ["trig_reduce", "f_nan"],
    code: `fn f_sin(x: f32) -> f32 {
  let ax = abs(x);
  if (!(ax > 0.7853982)) { return sin(x); }
  if (ax > 3.4028235e38) { return f_nan(); }
  let rq = trig_reduce(ax);
  let q = u32(rq.y);
  var v = select(sin(rq.x), cos(rq.x), (q & 1u) == 1u);
  if (q >= 2u) { v = -v; }
  return select(v, -v, x < 0.0);
}`,
  },
  f_cos: {
    uses: ["trig_reduce", "f_nan"],
    code: `fn f_cos(x: f32) -> f32 {
  let ax = abs(x);
  if (!(ax > 0.7853982)) { return cos(x); }
  if (ax > 3.4028235e38) { return f_nan(); }
  let rq = trig_reduce(ax);
  let q = u32(rq.y);
  let v = select(cos(rq.x), sin(rq.x), (q & 1u) == 1u);
  return select(v, -v, q == 1u || q == 2u);
}`,
  },
  f_tan: { uses: ["f_sin", "f_cos"], code: "fn f_tan(x: f32) -> f32 { return f_sin(x) / f_cos(x); }" },
  f_erf: {
    uses: ["is_nan"],
    // Taylor series below 1 (alternating, terms < 1); above, 1 - erfc with
    // Numerical Recipes' erfcc (fractional error < 1.2e-7).
    code: `fn f_erf(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  let ax = abs(x);
  if (ax < 1.0) {
    let x2 = x * x;
    var term = x;
    var sum = x;
    for (var n = 1; n < 14; n++) {
      let fn_ = f32(n);
      term = -term * x2 / fn_;
      sum += term / (2.0 * fn_ + 1.0);
    }
    return 1.1283791671 * sum;
  }
  if (ax > 4.0) { return select(1.0, -1.0, x < 0.0); }
  let t = 1.0 / (1.0 + 0.5 * ax);
  let p = -ax * ax - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let r = 1.0 - t * exp(p);
  return select(r, -r, x < 0.0);
}`,
  },
  f_pow: {
    uses: ["is_nan", "is_inf", "f_nan", "f_inf"],
    // C's pow: exp2(b·log2|a|) with the sign and the special cases done by hand,
    // since WGSL's pow is undefined for a negative base.
    code: `fn f_pow(a: f32, b: f32) -> f32 {
  if (b == 0.0 || a == 1.0) { return 1.0; }
  if (is_nan(a) || is_nan(b)) { return f_nan(); }
  if (b == 1.0) { return a; }
  if (b == 2.0) { return a * a; }
  let b_int = floor(b) == b;
  let odd = b_int && abs(b) < 16777216.0 && (i32(b) & 1) != 0;
  let aa = abs(a);
  let negative = (bitcast<u32>(a) & 0x80000000u) != 0u;
  if (a < 0.0 && !b_int && !is_inf(a)) { return f_nan(); }
  var r: f32;
  if (aa == 0.0) {
    r = select(0.0, f_inf(), b < 0.0);
  } else if (is_inf(aa)) {
    r = select(0.0, f_inf(), b > 0.0);
  } else if (is_inf(b)) {
    if (aa == 1.0) { return 1.0; }
    r = select(0.0, f_inf(), (aa > 1.0) == (b > 0.0));
  } else {
    r = exp2(b * log2(aa));
  }
  return select(r, -r, negative && odd);
}`,
  },
  f_fmod: {
    uses: ["is_nan", "f_nan"],
    // C's fmod, exact: long division of the mantissas in integers (musl's fmodf).
    code: `fn f_fmod(x: f32, y: f32) -> f32 {
  var ux = bitcast<u32>(x);
  var uy = bitcast<u32>(y);
  var ex = i32((ux >> 23u) & 0xffu);
  var ey = i32((uy >> 23u) & 0xffu);
  let sx = ux & 0x80000000u;
  if ((uy << 1u) == 0u || is_nan(y) || ex == 0xff) { return f_nan(); }
  if ((ux << 1u) <= (uy << 1u)) {
    if ((ux << 1u) == (uy << 1u)) { return bitcast<f32>(sx); }
    return x;
  }
  if (ex == 0) {
    var i = ux << 9u;
    loop { if ((i >> 31u) != 0u) { break; } ex -= 1; i = i << 1u; }
    ux = ux << u32(1 - ex);
  } else {
    ux = (ux & 0x7fffffu) | 0x800000u;
  }
  if (ey == 0) {
    var i = uy << 9u;
    loop { if ((i >> 31u) != 0u) { break; } ey -= 1; i = i << 1u; }
    uy = uy << u32(1 - ey);
  } else {
    uy = (uy & 0x7fffffu) | 0x800000u;
  }
  for (; ex > ey; ex -= 1) {
    let i = ux - uy;
    if ((i >> 31u) == 0u) {
      if (i == 0u) { return bitcast<f32>(sx); }
      ux = i;
    }
    ux = ux << 1u;
  }
  let i = ux - uy;
  if ((i >> 31u) == 0u) {
    if (i == 0u) { return bitcast<f32>(sx); }
    ux = i;
  }
  loop { if ((ux >> 23u) != 0u) { break; } ux = ux << 1u; ex -= 1; }
  if (ex > 0) {
    ux = (ux - 0x800000u) | (u32(ex) << 23u);
  } else {
    ux = ux >> u32(1 - ex);
  }
  return bitcast<f32>(ux | sx);
}`,
  },
  f_floordiv: {
    uses: ["f_fmod"],
    // PyTorch's div_floor: the exact remainder first, so quotients far beyond 2^24 still floor right.
    code: `fn f_floordiv(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return a / b; }
  let m = f_fmod(a, b);
  var d = (a - m) / b;
  if (m != 0.0 && ((b < 0.0) != (m < 0.0))) { d = d - 1.0; }
  if (d == 0.0) { return select(0.0, -0.0, (a < 0.0) != (b < 0.0)); }
  var q = floor(d);
  if (d - q > 0.5) { q = q + 1.0; }
  return q;
}`,
  },
  f_rem: {
    uses: ["f_fmod"],
    // Python's remainder: fmod, moved into the divisor's sign.
    code: `fn f_rem(a: f32, b: f32) -> f32 {
  let m = f_fmod(a, b);
  if (m != 0.0 && ((m < 0.0) != (b < 0.0))) { return m + b; }
  return m;
}`,
  },
  f2i: {
    uses: ["is_nan", "is_inf"],
    // C truncation; out of range wraps modulo 2^32 and NaN/inf give 0, as the CPU backend's Int32Array stores do.
    code: `fn f2i(v: f32) -> i32 {
  if (is_nan(v) || is_inf(v)) { return 0; }
  let t = trunc(v);
  if (abs(t) < 2147483648.0) { return i32(t); }
  let m = t - 4294967296.0 * floor(t / 4294967296.0);
  return bitcast<i32>(u32(m));
}`,
  },
  udiv: {
    // a / b for a ≥ 0, b > 0 through a float division and one correction: CPUs running WGSL
    // (llvmpipe) have no vector integer division, and index arithmetic divides a lot.
    code: `fn udiv(a: i32, b: i32) -> i32 {
  if (a >= 16777216) { return a / b; }
  var q = i32(f32(a) / f32(b));
  let r = a - q * b;
  if (r < 0) { q -= 1; } else if (r >= b) { q += 1; }
  return q;
}`,
  },
  i_div: { code: "fn i_div(a: i32, b: i32) -> i32 { if (b == 0) { return 0; } return a / b; }" },
  i_floordiv: {
    code: `fn i_floordiv(a: i32, b: i32) -> i32 {
  if (b == 0) { return 0; }
  var q = a / b;
  if ((a % b) != 0 && ((a < 0) != (b < 0))) { q = q - 1; }
  return q;
}`,
  },
  i_rem: {
    code: `fn i_rem(a: i32, b: i32) -> i32 {
  if (b == 0) { return 0; }
  var r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) { r = r + b; }
  return r;
}`,
  },
  i_pow: {
    // Integer power by squaring, wrapping on overflow as C does.
    code: `fn i_pow(a: i32, b: i32) -> i32 {
  if (b < 0) {
    if (a == 1) { return 1; }
    if (a == -1) { return select(1, -1, (b & 1) != 0); }
    return 0;
  }
  var r = 1;
  var base = a;
  var e = b;
  loop {
    if (e == 0) { break; }
    if ((e & 1) != 0) { r = r * base; }
    base = base * base;
    e = e >> 1;
  }
  return r;
}`,
  },
};

/** The helper functions `code` calls, in dependency order, followed by `code`. */
export function withHelpers(code: string): string {
  const included: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const helper = HELPERS[name];
    for (const dep of helper.uses ?? []) visit(dep);
    included.push(helper.code);
  };
  for (const name of Object.keys(HELPERS)) {
    if (new RegExp(`\\b${name}\\(`).test(code)) visit(name);
  }
  const enable = /\bf16\b/.test(code) ? "enable f16;\n" : "";
  return `${enable}${included.join("\n")}\n${code}`;
}

/** Unary op expressions over `x`, per compute type; bool-output ops yield a WGSL bool. */
export interface UnaryExpr {
  readonly f32: string;
  readonly i32: string;
}

// deno-fmt-ignore
export const UNARY_EXPR = {
  neg: { f32: "-x", i32: "-x" },
  abs: { f32: "abs(x)", i32: "abs(x)" },
  sign: { f32: "f_sign(x)", i32: "sign(x)" },
  exp: { f32: "exp(x)", i32: "" },
  expm1: { f32: "f_expm1(x)", i32: "" },
  log: { f32: "log(x)", i32: "" },
  log1p: { f32: "f_log1p(x)", i32: "" },
  log2: { f32: "log2(x)", i32: "" },
  sqrt: { f32: "sqrt(x)", i32: "" },
  rsqrt: { f32: "1.0 / sqrt(x)", i32: "" },
  reciprocal: { f32: "1.0 / x", i32: "" },
  sin: { f32: "f_sin(x)", i32: "" },
  cos: { f32: "f_cos(x)", i32: "" },
  tan: { f32: "f_tan(x)", i32: "" },
  tanh: { f32: "f_tanh(x)", i32: "" },
  sigmoid: { f32: "f_sigmoid(x)", i32: "" },
  // `x < 0 ? 0 : x` keeps NaN, as PyTorch's relu does.
  relu: { f32: "select(x, 0.0, x < 0.0)", i32: "max(x, 0)" },
  floor: { f32: "floor(x)", i32: "x" },
  ceil: { f32: "ceil(x)", i32: "x" },
  // WGSL's round() rounds half to even, like C's nearbyint.
  round: { f32: "round(x)", i32: "x" },
  trunc: { f32: "trunc(x)", i32: "x" },
  erf: { f32: "f_erf(x)", i32: "" },
  logicalNot: { f32: "!f_nonzero(x)", i32: "x == 0" },
  isnan: { f32: "is_nan(x)", i32: "false" },
} satisfies Record<UnaryOp, UnaryExpr>;

/** Binary op expressions over `a` and `b`, per compute type; compare and logical ops yield a WGSL bool. */
export interface BinaryExpr {
  readonly f32: string;
  readonly i32: string;
}

// deno-fmt-ignore
export const BINARY_EXPR = {
  add: { f32: "a + b", i32: "a + b" },
  sub: { f32: "a - b", i32: "a - b" },
  mul: { f32: "a * b", i32: "a * b" },
  div: { f32: "a / b", i32: "i_div(a, b)" },
  pow: { f32: "f_pow(a, b)", i32: "i_pow(a, b)" },
  maximum: { f32: "f_max(a, b)", i32: "max(a, b)" },
  minimum: { f32: "f_min(a, b)", i32: "min(a, b)" },
  remainder: { f32: "f_rem(a, b)", i32: "i_rem(a, b)" },
  floorDivide: { f32: "f_floordiv(a, b)", i32: "i_floordiv(a, b)" },
  eq: { f32: "a == b", i32: "a == b" },
  ne: { f32: "f_ne(a, b)", i32: "a != b" },
  lt: { f32: "a < b", i32: "a < b" },
  le: { f32: "a <= b", i32: "a <= b" },
  gt: { f32: "a > b", i32: "a > b" },
  ge: { f32: "a >= b", i32: "a >= b" },
  logicalAnd: { f32: "f_nonzero(a) && f_nonzero(b)", i32: "a != 0 && b != 0" },
  logicalOr: { f32: "f_nonzero(a) || f_nonzero(b)", i32: "a != 0 || b != 0" },
  logicalXor: { f32: "f_nonzero(a) != f_nonzero(b)", i32: "(a != 0) != (b != 0)" },
} satisfies Record<BinaryOp, BinaryExpr>;

/** How a reduction starts and folds one value `v` into `acc`, per compute type. */
export interface ReduceExpr {
  readonly init: Record<Compute, string>;
  readonly fold: Record<Compute, string>;
}

// NaN propagates through max and min: once acc is NaN no comparison replaces it.
// deno-fmt-ignore
export const REDUCE_EXPR = {
  sum: { init: { f32: "0.0", i32: "0", u32: "0u" }, fold: { f32: "acc + v", i32: "acc + v", u32: "acc + v" } },
  prod: { init: { f32: "1.0", i32: "1", u32: "1u" }, fold: { f32: "acc * v", i32: "acc * v", u32: "acc * v" } },
  max: {
    init: { f32: "-f_inf()", i32: "(-2147483647 - 1)", u32: "0u" },
    fold: { f32: "select(acc, v, v > acc || is_nan(v))", i32: "max(acc, v)", u32: "max(acc, v)" },
  },
  min: {
    init: { f32: "f_inf()", i32: "2147483647", u32: "1u" },
    fold: { f32: "select(acc, v, v < acc || is_nan(v))", i32: "min(acc, v)", u32: "min(acc, v)" },
  },
  any: { init: { f32: "0u", i32: "0u", u32: "0u" }, fold: { f32: "acc | v", i32: "acc | v", u32: "acc | v" } },
  all: { init: { f32: "1u", i32: "1u", u32: "1u" }, fold: { f32: "acc & v", i32: "acc & v", u32: "acc & v" } },
} satisfies Record<ReduceOp, ReduceExpr>;
