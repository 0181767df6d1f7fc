/**
 * A random number generator that reproduces PyTorch's CPU generator (`torch.Generator()`, the
 * default generator behind `torch.manual_seed`) bit for bit. Verified against torch 1.13.1 (Debian build,
 * GCC 12, glibc 2.36) on x86-64, where torch dispatches its AVX2 kernels (it does so on every x86-64 CPU
 * with AVX2; forcing `ATEN_CPU_CAPABILITY=avx512` gives the same numbers). Torch's own results depend on
 * the machine: with `ATEN_CPU_CAPABILITY=default` (and on non-x86 builds) its float32 `normal_` fill uses
 * other math and its `uniform_(a, b)` rounds twice, so they differ from these in the last bits.
 *
 * The engine is ATen's `at::mt19937`: the reference MT19937 seeded through `init_genrand` with the low
 * 32 bits of the 64-bit seed (seeds 5 and 5 + 2^32 give the same stream, yet `initialSeed()` keeps all 64
 * bits). `random()` is one tempered 32-bit output; `random64()` is two, the first one being the high
 * word. The whole 624-word state is regenerated at once, on the draw after the last word was used.
 *
 * How PyTorch's functions consume the generator (contiguous tensors, elements in row-major order):
 *
 * | PyTorch                                                   | here                                          |
 * | --------------------------------------------------------- | --------------------------------------------- |
 * | `torch.rand(*size)`, `t.uniform_(a, b)`                   | {@linkcode Generator.uniform}                 |
 * | `torch.randn(*size)`, `t.normal_(mean, std)`              | {@linkcode Generator.normal}                  |
 * | `torch.randint(low, high, size)`, `t.random_(low, high)`  | {@linkcode Generator.randint}                 |
 * | `torch.randperm(n)`                                       | {@linkcode Generator.randperm}                |
 * | `t.bernoulli_(p)` (float `p`)                             | {@linkcode Generator.bernoulli}               |
 * | `F.dropout(x, p, training=True)`, `nn.Dropout`            | `bernoulli(mask, 1 - p)`, see below           |
 * | `nn.Linear(i, o)` init                                    | two `uniform` calls, see below                |
 *
 * - `torch.rand` / `torch.randn` are `torch.empty(size)` followed by `uniform_(0, 1)` /
 *   `normal_(0, 1)`; so `torch.randn(2, 3)` is `normal(new Float32Array(6))`, one call for the whole
 *   tensor. Creating a tensor with `dtype=torch.float64` uses the 53-bit paths.
 * - `uniform_(a, b)` on float32: per element one 32-bit draw `r`, `x = (r & 0xffffff) * 2^-24`, result
 *   `fmaf(x, float(b) - float(a), float(a))`; float64: one `random64()`, `x = (v & (2^53 - 1)) * 2^-53`,
 *   result `fma(x, b - a, a)`. torch's AVX2 build fuses the multiply-add (single rounding; about half of the
 *   values of `uniform_(-b, b)` would differ otherwise); this class emulates the fused operation exactly.
 * - `normal_(mean, std)` has three paths, all reproduced: (1) float32 with at least 16 elements: first
 *   one 24-bit uniform per element, then Box-Muller on groups of 16 (`u[j]`, `u[j + 8]`, `j < 8`) with the
 *   `log256_ps` / `sincos256_ps` polynomials of ATen's `avx_mathfun.h` in float arithmetic, FMA-contracted
 *   as GCC compiled them; when the size is not a multiple of 16 the last 16 slots are refilled with 16 fresh
 *   uniforms and transformed again; (2) float64 with at least 16 elements: the same layout with 53-bit
 *   uniforms and glibc's double `log` and `sincos`; (3) fewer than 16 elements (any dtype): per element
 *   `at::normal_distribution<double>`, which draws two 53-bit uniforms `u1`, `u2`, returns
 *   `r cos(2 pi u1)` with `r = sqrt(-2 log(1 - u2))` and caches `r sin(2 pi u1)` in the generator; the
 *   next per-element draw (even in a later call, of either dtype) consumes the cache. Paths (1) and (2)
 *   neither use nor reset the cache; `manualSeed` clears it. The result is `fma(value, std, mean)`.
 *   The float64 paths compute `log`, `sin` and `cos` with JavaScript's `Math`; torch uses glibc's, and
 *   neither is correctly rounded, so about 0.16% of float64 normals differ from torch's in the last bit.
 * - `torch.randint(low, high, size)` (any dtype) is `random_(low, high)`: per element
 *   `low + random() % (high - low)`, or `random64() % (high - low)` when `high - low >= 2^32` (64-bit and
 *   floating dtypes).
 * - `torch.randperm(n)`: identity, then for `i` in `0 .. n-2` swap `i` with `i + random() % (n - i)`, for
 *   every `n` (checked up to n = 214748364, where later PyTorch versions switch to a 64-bit shuffle).
 * - `t.bernoulli_(p)` with a float `p` (no MKL in the reference build, which is the default kernel):
 *   per element one `random64()` 53-bit uniform `u`, result `u < p`; `p = 0` and `p = 1` still draw.
 *   (Builds with MKL, such as the official x86-64 wheels, take one `random()` as the seed of an MKL
 *   stream instead; that kernel is not reproduced.)
 * - `F.dropout(x, p, training=True)` on CPU (also `nn.Dropout`, `inplace=True` and every rank): if
 *   `p == 0` or not training, returns `x` with no draw; if `p == 1`, `x * 0` with no draw; else
 *   `noise = empty_like(x).bernoulli_(1 - p)` (contiguous, row-major order of `x`'s shape, the
 *   probability `1 - p` computed in double), `noise.div_(1 - p)` and `x * noise`. For float32 the kept
 *   scale is `Math.fround(1 / Math.fround(1 - p))`, for float64 `1 / (1 - p)`; the output is `x * scale`
 *   where kept and `x * 0` (a signed zero) where dropped.
 * - `nn.Linear(in, out)` draws the weight then the bias, both with `uniform_(-bound, bound)` on float32:
 *   weight `bound = Math.sqrt(3) * (Math.sqrt(2 / (1 + Math.sqrt(5) ** 2)) / Math.sqrt(in))`
 *   (`kaiming_uniform_(a=sqrt(5))`, evaluated in double exactly in this order), bias
 *   `bound = 1 / Math.sqrt(in)` (the two differ in the last bit for some `in`).
 *
 * @example
 * ```ts
 * import { Generator } from "./generator.ts";
 *
 * const g = new Generator(0); // torch.manual_seed(0)
 * const x = new Float32Array(3);
 * g.uniform(x); // torch.rand(3)
 * console.log(Array.from(x)); // [ 0.49625658988952637, 0.7682217955589294, 0.08847743272781372 ]
 * ```
 *
 * @module
 */

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df | 0;
const UPPER_MASK = 0x80000000 | 0;
const LOWER_MASK = 0x7fffffff;

/** `c10::detail::default_rng_seed_val`, the seed of `torch.Generator()` and of the default generator.
 *
 * @example
 * ```ts
 * import { DEFAULT_SEED, Generator } from "./generator.ts";
 *
 * console.log(new Generator().initialSeed() === DEFAULT_SEED); // true
 * ```
 */
export const DEFAULT_SEED: bigint = 67280421310721n;

const TWO_POW_M24 = 2 ** -24;
const TWO_POW_M53 = 2 ** -53;
const TWO_POW_32 = 4294967296;
const TWO_POW_64 = 1n << 64n;
const TWO_PI = 2 * Math.PI;
const FLT_MAX = 3.4028234663852886e38;

const STATE_MAGIC = [0x46, 0x4c, 0x52, 0x47]; // "FLRG"
const STATE_VERSION = 1;
const STATE_BYTES = 32 + 4 * N;

// ---------------------------------------------------------------------------------------------------
// MT19937 core

/** `at::mt19937::init_with_uint32`: the reference `init_genrand` on the low 32 bits of the seed. */
function initState(mt: Int32Array, seedLow32: number): void {
  let prev = seedLow32 | 0;
  mt[0] = prev;
  for (let j = 1; j < N; j++) {
    prev = (Math.imul(1812433253, prev ^ (prev >>> 30)) + j) | 0;
    mt[j] = prev;
  }
}

/** Regenerates the 624-word state in place and writes the tempered outputs to `out`. */
function twist(mt: Int32Array, out: Int32Array): void {
  let kk = 0;
  let y: number;
  for (; kk < N - M; kk++) {
    y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
    mt[kk] = mt[kk + M] ^ (y >>> 1) ^ (-(y & 1) & MATRIX_A);
  }
  for (; kk < N - 1; kk++) {
    y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
    mt[kk] = mt[kk + M - N] ^ (y >>> 1) ^ (-(y & 1) & MATRIX_A);
  }
  y = (mt[N - 1] & UPPER_MASK) | (mt[0] & LOWER_MASK);
  mt[N - 1] = mt[M - 1] ^ (y >>> 1) ^ (-(y & 1) & MATRIX_A);
  temperAll(mt, out);
}

function temperAll(mt: Int32Array, out: Int32Array): void {
  for (let i = 0; i < N; i++) {
    let t = mt[i];
    t ^= t >>> 11;
    t ^= (t << 7) & 0x9d2c5680;
    t ^= (t << 15) & 0xefc60000;
    t ^= t >>> 18;
    out[i] = t;
  }
}

// ---------------------------------------------------------------------------------------------------
// Exactly rounded fused multiply-add, float32 and float64

/**
 * `fmaf(a, b, c)` for float32 `a`, `b`, `c`: `a * b` is exact in double, so `a * b + c` is one double
 * rounding away from exact; the float rounding of that is right unless it landed exactly on a float
 * midpoint, which is detected and fixed with the sign of the double rounding error.
 */
function fmaf(a: number, b: number, c: number): number {
  const s = a * b + c;
  const f = Math.fround(s);
  const g = 2 * s - f;
  if (g === f || Math.fround(g) !== g || !(Math.abs(g) <= FLT_MAX)) return f;
  // s is exactly halfway between the floats f and g: the sign of its rounding error decides.
  const bv = s - c;
  const err = (c - (s - bv)) + (a * b - bv);
  return err === 0 || (err > 0) !== (g > f) ? f : g;
}

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO_WORD = LITTLE_ENDIAN ? 0 : 1;
const HI_WORD = LITTLE_ENDIAN ? 1 : 0;
const SPLITTER = 134217729; // 2^27 + 1

/**
 * `fma(a, b, c)` for doubles, exactly rounded (finite arguments, no underflow). `a * b = ph + pl` exactly
 * (Dekker), `c + ph = sh + sl` exactly (Knuth), then `sh + (sl + pl)`: that is the exactly rounded result
 * unless the last addition is a tie or cancels, which {@linkcode fma64Slow} settles.
 */
function fma64(a: number, b: number, c: number): number {
  const ph = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  const pl = ((ah * bh - ph) + ah * bl + al * bh) + al * bl;
  const sh = c + ph;
  const bv = sh - c;
  const v = ((c - (sh - bv)) + (ph - bv)) + pl;
  if (v === 0) return sh;
  if (Math.abs(v) * 8 <= Math.abs(sh)) {
    // |v| <= |sh| / 8: sh + v and the rounding boundaries around r are multiples of ulp(v), which exceeds
    // twice the rounding error of v, so r is the exact result's rounding unless sh + v was a tie.
    const r = sh + v;
    const rr = v - (r - sh);
    if (rr === 0 || (r + 2 * rr) - r !== 2 * rr) return r;
  }
  return fma64Slow(a, b, c);
}

/**
 * The general exactly rounded `fma(a, b, c)` (Boldo & Melquiond, "Emulation of FMA and correctly rounded
 * sums: proved algorithms using rounding to odd", 2008): `a * b = ph + pl` and `c + ph = sh + sl` exactly,
 * `v = RO(sl + pl)` rounded to odd, result `RN(sh + v)`.
 */
function fma64Slow(a: number, b: number, c: number): number {
  const ph = a * b;
  if (!Number.isFinite(ph) || !Number.isFinite(c) || Math.abs(ph) > 1e300) return ph + c;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  const pl = ((ah * bh - ph) + ah * bl + al * bh) + al * bl;
  const sh = c + ph;
  let bv = sh - c;
  const sl = (c - (sh - bv)) + (ph - bv);
  let v = sl + pl;
  bv = v - sl;
  const ve = (sl - (v - bv)) + (pl - bv);
  if (ve !== 0) {
    F64[0] = v;
    const lo = U32[LO_WORD];
    if ((lo & 1) === 0) {
      // v is inexact and even: move one ulp towards the exact value (round to odd).
      if ((ve > 0) === (v > 0)) {
        U32[LO_WORD] = lo + 1;
      } else {
        if (lo === 0) U32[HI_WORD] = U32[HI_WORD] - 1;
        U32[LO_WORD] = lo - 1;
      }
      v = F64[0];
    }
  }
  return sh + v;
}

/** `(hi * 2^32 + lo) % m` for `0 <= hi, lo < 2^32` and `1 <= m <= 2^53`, exactly, without BigInt. */
function mod64(hi: number, lo: number, m: number): number {
  if (m <= 68719476736) {
    // m <= 2^36: 16-bit chunks stay below 2^53.
    const r = ((hi % m) * 65536) % m;
    return (r * 65536 + lo) % m;
  }
  let r = hi % m;
  for (let k = 0; k < 32; k++) {
    r *= 2; // < 2^54 and even: exact
    if (r >= m) r -= m;
  }
  const rest = m - lo; // r + lo could pass 2^53; compare with m - lo instead
  return r >= rest ? r - rest : r + lo;
}

// ---------------------------------------------------------------------------------------------------
// Double-precision Box-Muller uses JavaScript's Math.log/sin/cos. torch calls glibc's, which are not
// correctly rounded either: the two agree on the vast majority of float64 normals and differ by one ulp on
// about 0.16% of them. We do not carry glibc's implementation tables (LGPL) to close that gap.

// ---------------------------------------------------------------------------------------------------
// avx_mathfun.h constants, as float32 (ATen's normal_fill_16_AVX2)

const SQRTHF = Math.fround(0.707106781186547524);
const LOG_P0 = Math.fround(7.0376836292e-2);
const LOG_P1 = Math.fround(-1.1514610310e-1);
const LOG_P2 = Math.fround(1.1676998740e-1);
const LOG_P3 = Math.fround(-1.2420140846e-1);
const LOG_P4 = Math.fround(1.4249322787e-1);
const LOG_P5 = Math.fround(-1.6668057665e-1);
const LOG_P6 = Math.fround(2.0000714765e-1);
const LOG_P7 = Math.fround(-2.4999993993e-1);
const LOG_P8 = Math.fround(3.3333331174e-1);
const LOG_Q1 = Math.fround(-2.12194440e-4);
const LOG_Q2 = Math.fround(0.693359375);
const DP1 = Math.fround(-0.78515625);
const DP2 = Math.fround(-2.4187564849853515625e-4);
const DP3 = Math.fround(-3.77489497744594108e-8);
const SIN_P0 = Math.fround(-1.9515295891e-4);
const SIN_P1 = Math.fround(8.3321608736e-3);
const SIN_P2 = Math.fround(-1.6666654611e-1);
const COS_P0 = Math.fround(2.443315711809948e-5);
const COS_P1 = Math.fround(-1.388731625493765e-3);
const COS_P2 = Math.fround(4.166664568298827e-2);
const FOPI = Math.fround(1.27323954473516);
const TWO_PI_F = Math.fround(2 * Math.PI);
/** POW2_NEG[L] = 2^-L */
const POW2_NEG = Array.from({ length: 26 }, (_, l) => 2 ** -l);

/**
 * ATen's `normal_fill_16_AVX2` on each group of 16 floats `data[i .. i+16)` for `i = start, start + 16, ...`
 * while `i + 16 <= end`: lanes `j = i .. i+7` hold uniforms `u1 = data[j]`, `u2 = data[j + 8]` and become
 * `radius * cos(theta) * std + mean` and `radius * sin(theta) * std + mean`, `radius = sqrt(-2 log(1 - u1))`,
 * `theta = 2 pi u2`, with avx_mathfun's `log256_ps` and `sincos256_ps` in float32 arithmetic.
 *
 * Every float operation of torch's compiled code (GCC 12, `-mavx2 -mfma`, which contracts most multiply-adds
 * into FMAs) is reproduced in order. Each fused `a * b + c` inside log and sincos is evaluated as
 * `Math.fround(a * b + c)`: `a * b` is exact in double and, as checked exhaustively over all 2^24 possible
 * uniforms, the double sum never rounds differently from the single-rounded fused result. The final
 * `n * std + mean` depends on caller values and uses the exactly rounded {@linkcode fmaf}.
 */
function normalFillAvx2(data: Float32Array, start: number, end: number, mean: number, std: number): void {
  const plain = mean === 0 && std === 1;
  const fr = Math.fround;
  for (let i = start; i + 16 <= end; i += 16) {
    for (let j = i; j < i + 8; j++) {
      // ---- log256_ps(1 - u1) ----
      // u1 = m * 2^-24, so 1 - u1 = k * 2^-24 with k = 2^24 - m in [1, 2^24]: exponent and mantissa exactly.
      const k = 16777216 - data[j] * 16777216;
      const bits = 32 - Math.clz32(k);
      let x = k * POW2_NEG[bits]; // mantissa in [0.5, 1)
      let e = bits - 24; // exponent + 1, as the cephes code keeps it
      if (x < SQRTHF) {
        e -= 1;
        x = fr(fr(x - 1) + x);
      } else {
        x = x - 1;
      }
      let y = fr(fr(fr(fr(LOG_P0 * x + LOG_P1) * x + LOG_P2) * x + LOG_P3) * x + LOG_P4);
      y = fr(fr(fr(fr(y * x + LOG_P5) * x + LOG_P6) * x + LOG_P7) * x + LOG_P8);
      let z = fr(x * x);
      y = fr(fr(x * y) * z + fr(e * LOG_Q1));
      y = fr(y - z * 0.5);
      const radius = fr(Math.sqrt(fr(e * LOG_Q2 + fr(x + y)) * -2));

      // ---- sincos256_ps(theta), theta = 2 pi u2 >= 0 (no sign handling needed) ----
      const theta = fr(TWO_PI_F * data[j + 8]);
      const jp1 = ((fr(theta * FOPI) | 0) + 1) | 0;
      const ji = jp1 & ~1;
      x = fr(ji * DP3 + fr(ji * DP2 + fr(ji * DP1 + theta)));
      z = fr(x * x);
      let yc = fr(fr(COS_P0 * z + COS_P1) * z + COS_P2);
      yc = fr(fr(fr(z * yc) * z - z * 0.5) + 1);
      let ys = fr(fr(SIN_P0 * z + SIN_P1) * z + SIN_P2);
      ys = fr(fr(z * ys) * x + x);
      // the polynomial selection adds +0 to the chosen value, as the masked adds do
      let s = (jp1 & 2) === 0 ? ys + 0 : yc + 0;
      let c = (jp1 & 2) === 0 ? yc + 0 : ys + 0;
      if ((jp1 & 4) !== 0) s = -s;
      if (((ji - 2) & 4) === 0) c = -c;
      const n1 = fr(radius * c);
      const n2 = fr(radius * s);
      if (plain) {
        // fma(n, 1, 0) = n + 0: a -0 (radius 0 times a negative cosine) becomes +0
        data[j] = n1 + 0;
        data[j + 8] = n2 + 0;
      } else {
        data[j] = fmaf(n1, std, mean);
        data[j + 8] = fmaf(n2, std, mean);
      }
    }
  }
}

/** ATen's `normal_fill_16<double>`. */
function normalFill16Double(data: Float64Array, i: number, mean: number, std: number, plain: boolean): void {
  for (let j = i; j < i + 8; j++) {
    const radius = Math.sqrt(-2 * Math.log(1 - data[j]));
    const theta = TWO_PI * data[j + 8];
    const n1 = radius * Math.cos(theta);
    const n2 = radius * Math.sin(theta);
    if (plain) {
      data[j] = n1 + 0;
      data[j + 8] = n2 + 0;
    } else {
      data[j] = fma64(n1, std, mean);
      data[j + 8] = fma64(n2, std, mean);
    }
  }
}

function describe(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value);
  return String(value);
}

function checkArray(out: unknown, allowed: readonly (new (n: number) => ArrayBufferView)[], what: string): void {
  for (const ctor of allowed) if (out instanceof ctor) return;
  throw new TypeError(`${what}: expected ${allowed.map((c) => c.name).join(" | ")}, got ${describe(out)}`);
}

// ---------------------------------------------------------------------------------------------------

/**
 * PyTorch's CPU generator (`torch.Generator()`, `CPUGeneratorImpl`): MT19937 plus the cached normal
 * sample, with the sampling kernels of `torch.rand`, `randn`, `randint`, `randperm`, `bernoulli_`,
 * `uniform_` and `normal_`. The same seed and the same sequence of calls give the same numbers as
 * PyTorch, bit for bit; see the module documentation for which call matches which PyTorch function.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Generator } from "./generator.ts";
 *
 * const g = new Generator().manualSeed(0); // torch.manual_seed(0)
 * const a = new Float32Array(3);
 * g.normal(a); // torch.randn(3)
 * assert.deepEqual(Array.from(a), [1.5409960746765137, -0.293428897857666, -2.1787893772125244]);
 * ```
 */
export class Generator {
  #mt: Int32Array = new Int32Array(N);
  /** tempered outputs of the current block */
  #out: Int32Array = new Int32Array(N);
  /** outputs of the current block already used; N means "twist before the next draw" */
  #pos = N;
  #seed = DEFAULT_SEED;
  #hasNormal = false;
  #nextNormal = 0;

  /**
   * A generator seeded like `torch.Generator().manual_seed(seed)`.
   *
   * @param seed an integer in `[-2^63, 2^64)`; defaults to {@linkcode DEFAULT_SEED} like `torch.Generator()`
   *
   * @example
   * ```ts
   * import { Generator } from "./generator.ts";
   *
   * console.log(new Generator(42).initialSeed()); // 42n
   * ```
   */
  constructor(seed: number | bigint = DEFAULT_SEED) {
    this.manualSeed(seed);
  }

  /**
   * Reseeds like `torch.Generator.manual_seed` / `torch.manual_seed`: any integer in `[-2^63, 2^64)`;
   * negative seeds wrap to `seed + 2^64` like torch. Clears the cached normal sample.
   *
   * @param seed a number (an integer; use a bigint beyond `2^53`) or a bigint
   * @returns this generator
   * @throws {RangeError} when the seed is not an integer or lies outside `[-2^63, 2^64)` (torch:
   *   "Overflow when unpacking long")
   *
   * @example
   * ```ts
   * import { Generator } from "./generator.ts";
   *
   * const g = new Generator().manualSeed(-1);
   * console.log(g.initialSeed()); // 18446744073709551615n
   * ```
   */
  manualSeed(seed: number | bigint): this {
    let s: bigint;
    if (typeof seed === "bigint") {
      s = seed;
    } else if (typeof seed === "number" && Number.isInteger(seed)) {
      s = BigInt(seed);
    } else {
      throw new RangeError(
        `Generator.manualSeed: the seed must be an integer (number or bigint), got ${describe(seed)}`,
      );
    }
    if (s < -(1n << 63n) || s >= TWO_POW_64) {
      throw new RangeError(`Generator.manualSeed: the seed ${s} is outside [-2^63, 2^64)`);
    }
    if (s < 0n) s += TWO_POW_64;
    this.#seed = s;
    initState(this.#mt, Number(s & 0xffffffffn));
    this.#pos = N;
    this.#hasNormal = false;
    this.#nextNormal = 0;
    return this;
  }

  /**
   * The seed last set, as `torch.Generator.initial_seed()` (an unsigned 64-bit integer).
   *
   * @returns the seed in `[0, 2^64)`
   *
   * @example
   * ```ts
   * import { Generator } from "./generator.ts";
   *
   * console.log(new Generator().initialSeed()); // 67280421310721n
   * ```
   */
  initialSeed(): bigint {
    return this.#seed;
  }

  /**
   * Reseeds with 64 non-deterministic bits from `crypto.getRandomValues` and returns the new seed,
   * like `torch.Generator.seed()` (which reads 64 bits from `/dev/urandom`).
   *
   * @returns the new seed, also returned by {@linkcode Generator.initialSeed} afterwards
   *
   * @example
   * ```ts
   * import { Generator } from "./generator.ts";
   *
   * const g = new Generator();
   * const s = g.seed();
   * console.log(s === g.initialSeed()); // true
   * ```
   */
  seed(): bigint {
    const words = crypto.getRandomValues(new Uint32Array(2));
    const s = (BigInt(words[0]) << 32n) | BigInt(words[1]);
    this.manualSeed(s);
    return s;
  }

  /**
   * A snapshot of the whole state (seed, MT19937 words, position and the cached normal sample) in
   * this library's own 2528-byte format (not torch's `get_state()` layout). Restore it with
   * {@linkcode Generator.setState}. Layout (little-endian): bytes 0-3 `"FLRG"`, 4 version (1), 5 flags (1
   * when a normal sample is cached), 6-7 position: how many of the 624 tempered outputs of the current block
   * were used (624: the next draw regenerates the block first), 8-15 the seed (u64), 16-23 the cached
   * sample (f64, 0 when none), 24-31 zero, 32-2527 the 624 MT19937 words (u32): the current block's
   * untempered outputs, or the seeded state when the position is 624. So position 0 with words
   * `untemper(y[i])` makes the next outputs exactly `y[0..623]`.
   *
   * @returns a fresh byte array
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Generator } from "./generator.ts";
   *
   * const g = new Generator(7);
   * const saved = g.getState();
   * const a = g.nextUint32();
   * g.setState(saved);
   * assert.equal(g.nextUint32(), a);
   * ```
   */
  getState(): Uint8Array {
    const bytes = new Uint8Array(STATE_BYTES);
    const view = new DataView(bytes.buffer);
    bytes.set(STATE_MAGIC, 0);
    view.setUint8(4, STATE_VERSION);
    view.setUint8(5, this.#hasNormal ? 1 : 0);
    view.setUint16(6, this.#pos, true);
    view.setBigUint64(8, this.#seed, true);
    view.setFloat64(16, this.#hasNormal ? this.#nextNormal : 0, true);
    // bytes 24..32 reserved (zero)
    const mt = this.#mt;
    for (let i = 0; i < N; i++) view.setInt32(32 + 4 * i, mt[i], true);
    return bytes;
  }

  /**
   * Restores a state returned by {@linkcode Generator.getState} (of this or another generator).
   *
   * @param state the bytes from `getState()`
   * @returns this generator
   * @throws {RangeError} naming what is wrong when the bytes are not such a state (length, magic,
   *   version, flags, position, reserved bytes, a non-finite cached normal, an all-zero MT state)
   * @throws {TypeError} when `state` is not a Uint8Array
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Generator } from "./generator.ts";
   *
   * const a = new Generator(1);
   * const b = new Generator().setState(a.getState());
   * assert.equal(b.nextUint32(), a.nextUint32());
   * ```
   */
  setState(state: Uint8Array): this {
    if (!(state instanceof Uint8Array)) {
      throw new TypeError(`Generator.setState: expected a Uint8Array from getState(), got ${describe(state)}`);
    }
    if (state.length !== STATE_BYTES) {
      throw new RangeError(
        `Generator.setState: expected ${STATE_BYTES} bytes from getState(), got ${state.length}`,
      );
    }
    for (let i = 0; i < 4; i++) {
      if (state[i] !== STATE_MAGIC[i]) {
        throw new RangeError(`Generator.setState: bad magic bytes (expected "FLRG"): not a Generator state`);
      }
    }
    const view = new DataView(state.buffer, state.byteOffset, state.byteLength);
    const version = view.getUint8(4);
    if (version !== STATE_VERSION) {
      throw new RangeError(`Generator.setState: unsupported state version ${version} (expected ${STATE_VERSION})`);
    }
    const flags = view.getUint8(5);
    if (flags > 1) throw new RangeError(`Generator.setState: bad flags byte ${flags} (expected 0 or 1)`);
    const pos = view.getUint16(6, true);
    if (pos > N) throw new RangeError(`Generator.setState: position ${pos} is out of range [0, ${N}]`);
    const cached = view.getFloat64(16, true);
    if (flags === 1 && !Number.isFinite(cached)) {
      throw new RangeError(`Generator.setState: the cached normal sample ${cached} is not finite`);
    }
    if (flags === 0 && !Object.is(cached, 0)) {
      throw new RangeError(`Generator.setState: a cached normal sample ${cached} is stored but flagged absent`);
    }
    for (let i = 24; i < 32; i++) {
      if (state[i] !== 0) throw new RangeError(`Generator.setState: reserved byte ${i} is ${state[i]}, expected 0`);
    }
    const mt = new Int32Array(N);
    let any = 0;
    for (let i = 0; i < N; i++) {
      mt[i] = view.getInt32(32 + 4 * i, true);
      any |= i === 0 ? mt[i] & UPPER_MASK : mt[i];
    }
    if (any === 0) throw new RangeError("Generator.setState: the MT19937 state is all zero (degenerate)");
    this.#mt.set(mt);
    if (pos < N) temperAll(mt, this.#out);
    this.#pos = pos;
    this.#seed = view.getBigUint64(8, true);
    this.#hasNormal = flags === 1;
    this.#nextNormal = flags === 1 ? cached : 0;
    return this;
  }

  /**
   * An independent copy in the same state, like `torch.Generator().set_state(g.get_state())`.
   *
   * @returns the copy
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Generator } from "./generator.ts";
   *
   * const g = new Generator(3);
   * const h = g.clone();
   * assert.equal(h.nextUint32(), g.nextUint32());
   * ```
   */
  clone(): Generator {
    const g = new Generator(0);
    g.#mt = this.#mt.slice();
    g.#out = this.#out.slice();
    g.#pos = this.#pos;
    g.#seed = this.#seed;
    g.#hasNormal = this.#hasNormal;
    g.#nextNormal = this.#nextNormal;
    return g;
  }

  /**
   * One MT19937 output, `CPUGeneratorImpl::random()`.
   *
   * @returns an unsigned 32-bit integer
   *
   * @example
   * ```ts
   * import { Generator } from "./generator.ts";
   *
   * console.log(new Generator(0).nextUint32()); // 2357136044
   * ```
   */
  nextUint32(): number {
    if (this.#pos === N) {
      twist(this.#mt, this.#out);
      this.#pos = 0;
    }
    return this.#out[this.#pos++] >>> 0;
  }

  /** Two outputs as `random64()`: high word first. Returns the 53-bit uniform `(v & (2^53-1)) * 2^-53`. */
  #uniform53(): number {
    if (this.#pos === N) {
      twist(this.#mt, this.#out);
      this.#pos = 0;
    }
    const hi = this.#out[this.#pos++];
    if (this.#pos === N) {
      twist(this.#mt, this.#out);
      this.#pos = 0;
    }
    const lo = this.#out[this.#pos++];
    return ((hi & 0x1fffff) * TWO_POW_32 + (lo >>> 0)) * TWO_POW_M53;
  }

  /** Fills `out` with 24-bit uniforms in [0, 1): `(random() & 0xffffff) * 2^-24`. */
  #fill24(out: Float32Array, start: number, end: number): void {
    const buf = this.#out;
    let pos = this.#pos;
    for (let i = start; i < end; i++) {
      if (pos === N) {
        twist(this.#mt, buf);
        pos = 0;
      }
      out[i] = (buf[pos++] & 0xffffff) * TWO_POW_M24;
    }
    this.#pos = pos;
  }

  /** Fills `out` with 53-bit uniforms in [0, 1) from `random64()`. */
  #fill53(out: Float64Array, start: number, end: number): void {
    const buf = this.#out;
    let pos = this.#pos;
    for (let i = start; i < end; i++) {
      if (pos === N) {
        twist(this.#mt, buf);
        pos = 0;
      }
      const hi = buf[pos++];
      if (pos === N) {
        twist(this.#mt, buf);
        pos = 0;
      }
      out[i] = ((hi & 0x1fffff) * TWO_POW_32 + (buf[pos++] >>> 0)) * TWO_POW_M53;
    }
    this.#pos = pos;
  }

  /**
   * Fills `out` like `tensor.uniform_(low, high)` on a contiguous tensor of `out.length` elements (and
   * `torch.rand` with the default bounds). Float32: one 32-bit draw per element; float64: one
   * `random64()` per element. The result is `fma(x, high - low, low)` with `x` the 24- or 53-bit uniform,
   * in float32 resp. float64 arithmetic with a single rounding, as torch's AVX2 build computes it.
   *
   * @param out the tensor data to overwrite
   * @param low inclusive lower bound (default 0)
   * @param high upper bound (default 1)
   * @throws {RangeError} when a bound is not finite or not representable in the dtype, or `low > high`
   *
   * @example
   * ```ts
   * import { Generator } from "./generator.ts";
   *
   * // torch.manual_seed(0); torch.rand(3, dtype=torch.float64)
   * const x = new Float64Array(3);
   * new Generator(0).uniform(x);
   * console.log(x); // Float64Array(3) [ 0.9700530018065531, 0.707819864399788, 0.45938294312745087 ]
   * ```
   */
  uniform(out: Float32Array | Float64Array, low: number = 0, high: number = 1): void {
    checkArray(out, [Float32Array, Float64Array], "Generator.uniform");
    const is32 = out instanceof Float32Array;
    const max = is32 ? FLT_MAX : Number.MAX_VALUE;
    if (typeof low !== "number" || !(Math.abs(low) <= max)) {
      throw new RangeError(`Generator.uniform: low=${describe(low)} is not a finite ${is32 ? "float32" : "float64"}`);
    }
    if (typeof high !== "number" || !(Math.abs(high) <= max)) {
      throw new RangeError(
        `Generator.uniform: high=${describe(high)} is not a finite ${is32 ? "float32" : "float64"}`,
      );
    }
    if (low > high) {
      throw new RangeError(`Generator.uniform: expects a [low, high) range, but found low=${low} > high=${high}`);
    }
    if (!(high - low <= max)) {
      throw new RangeError(`Generator.uniform: high - low = ${high - low} overflows the dtype`);
    }
    const n = out.length;
    if (n === 0) return;
    if (is32) {
      const from = Math.fround(low);
      const range = Math.fround(Math.fround(high) - from);
      this.#fill24(out, 0, n);
      if (from === 0 && range === 1) return;
      for (let i = 0; i < n; i++) out[i] = fmaf(out[i], range, from);
    } else {
      const range = high - low;
      this.#fill53(out as Float64Array, 0, n);
      if (low === 0 && range === 1) return;
      for (let i = 0; i < n; i++) out[i] = fma64(out[i], range, low);
    }
  }

  /**
   * Fills `out` like `tensor.normal_(mean, std)` on a contiguous tensor of `out.length` elements, and
   * `torch.randn` with the defaults. Follows ATen's three paths (see the module documentation): the
   * vectorised float32 fill for 16 or more float32 elements, the double fill for 16 or more float64
   * elements, and per-element Box-Muller with the generator's cached second sample below 16 elements.
   *
   * The float32 fill is bit-exact (it emulates torch's AVX2 code; checked over all 2^24 possible
   * uniforms); the double paths agree with torch to the last bit except on about 0.16% of values, which
   * differ by one ulp (torch's glibc `log`/`sincos` and JavaScript's `Math` round differently).
   *
   * @param out the tensor data to overwrite
   * @param mean the mean (default 0)
   * @param std the standard deviation (default 1), `>= 0`
   * @throws {RangeError} when `std` is negative or NaN, or `mean` is NaN
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Generator } from "./generator.ts";
   *
   * const g = new Generator(0);
   * const x = new Float32Array(17);
   * g.normal(x); // torch.manual_seed(0); torch.randn(17)
   * assert.deepEqual(Array.from(x.subarray(0, 3)), [-1.1258398294448853, -1.6959311962127686, 0.5666506290435791]);
   * ```
   */
  normal(out: Float32Array | Float64Array, mean: number = 0, std: number = 1): void {
    checkArray(out, [Float32Array, Float64Array], "Generator.normal");
    if (typeof std !== "number" || !(std >= 0)) {
      throw new RangeError(`Generator.normal: expects std >= 0.0, but found std=${describe(std)}`);
    }
    if (typeof mean !== "number" || Number.isNaN(mean)) {
      throw new RangeError(`Generator.normal: mean must be a number, got ${describe(mean)}`);
    }
    const n = out.length;
    if (n >= 16) {
      if (out instanceof Float32Array) {
        const m = Math.fround(mean);
        const s = Math.fround(std);
        this.#fill24(out, 0, n);
        normalFillAvx2(out, 0, n - (n % 16), m, s);
        if (n % 16 !== 0) {
          // torch then redraws the last 16 slots and transforms them as one more group
          this.#fill24(out, n - 16, n);
          normalFillAvx2(out, n - 16, n, m, s);
        }
      } else {
        const plain = mean === 0 && std === 1;
        this.#fill53(out, 0, n);
        for (let i = 0; i < n - 15; i += 16) normalFill16Double(out, i, mean, std, plain);
        if (n % 16 !== 0) {
          this.#fill53(out, n - 16, n);
          normalFill16Double(out, n - 16, mean, std, plain);
        }
      }
      return;
    }
    for (let i = 0; i < n; i++) {
      let v: number;
      if (this.#hasNormal) {
        v = this.#nextNormal;
        this.#hasNormal = false;
        this.#nextNormal = 0;
      } else {
        const u1 = this.#uniform53();
        const u2 = this.#uniform53();
        const r = Math.sqrt(-2 * Math.log(1 - u2));
        const theta = TWO_PI * u1;
        this.#nextNormal = r * Math.sin(theta);
        this.#hasNormal = true;
        v = r * Math.cos(theta);
      }
      out[i] = fma64(v, std, mean);
    }
  }

  /**
   * Fills `out` like `torch.randint(low, high, size)` / `tensor.random_(low, high)`: per element
   * `low + random() % (high - low)`, or `low + random64() % (high - low)` when `high - low >= 2^32` (torch
   * does that for int64 and floating dtypes; an int32 range is always below 2^32). Float results are
   * the integers rounded once, like torch's `static_cast`.
   *
   * @param out the tensor data to overwrite (int32, or float32/float64)
   * @param low inclusive lower bound, an integer in `[-2^53, 2^53]`
   * @param high exclusive upper bound, an integer in `[-2^53, 2^53]`
   * @throws {RangeError} when a bound is not such an integer, `low >= high`, or (Int32Array) the values do
   *   not fit int32
   *
   * @example
   * ```ts
   * import { Generator } from "./generator.ts";
   *
   * const x = new Int32Array(5);
   * new Generator(0).randint(x, 0, 10); // torch.manual_seed(0); torch.randint(0, 10, (5,))
   * console.log(x); // Int32Array(5) [ 4, 9, 3, 0, 3 ]
   * ```
   */
  randint(out: Int32Array | Float32Array | Float64Array, low: number, high: number): void {
    checkArray(out, [Int32Array, Float32Array, Float64Array], "Generator.randint");
    if (typeof low !== "number" || !Number.isInteger(low) || Math.abs(low) > 2 ** 53) {
      throw new RangeError(`Generator.randint: low=${describe(low)} must be an integer in [-2^53, 2^53]`);
    }
    if (typeof high !== "number" || !Number.isInteger(high) || Math.abs(high) > 2 ** 53) {
      throw new RangeError(`Generator.randint: high=${describe(high)} must be an integer in [-2^53, 2^53]`);
    }
    if (low >= high) {
      throw new RangeError(`Generator.randint: expects low < high, but got low=${low} >= high=${high}`);
    }
    if (out instanceof Int32Array && (low < -2147483648 || high - 1 > 2147483647)) {
      throw new RangeError(`Generator.randint: [${low}, ${high}) does not fit an Int32Array`);
    }
    const n = out.length;
    const buf = this.#out;
    let pos = this.#pos;
    const range = high - low; // exact when <= 2^53; larger ranges go through BigInt below
    if (range < TWO_POW_32) {
      for (let i = 0; i < n; i++) {
        if (pos === N) {
          twist(this.#mt, buf);
          pos = 0;
        }
        out[i] = low + (buf[pos++] >>> 0) % range;
      }
    } else {
      const bigRange = range > 2 ** 53 ? BigInt(high) - BigInt(low) : 0n;
      for (let i = 0; i < n; i++) {
        if (pos === N) {
          twist(this.#mt, buf);
          pos = 0;
        }
        const hi = buf[pos++] >>> 0;
        if (pos === N) {
          twist(this.#mt, buf);
          pos = 0;
        }
        const lo = buf[pos++] >>> 0;
        out[i] = bigRange === 0n
          ? low + mod64(hi, lo, range)
          : Number(BigInt(low) + ((BigInt(hi) << 32n) | BigInt(lo)) % bigRange);
      }
    }
    this.#pos = pos;
  }

  /**
   * A random permutation of `0 .. n-1`, like `torch.randperm(n)` (torch 1.13's `randperm_cpu`): start from the
   * identity and swap `i` with `i + random() % (n - i)` for `i = 0 .. n-2` (`n - 1` draws; none for `n <= 1`),
   * for every `n` (torch 2.x switches to a `random64()` shuffle for `n >= 214748364`; 1.13 does not).
   *
   * @param n the length, an integer in `[0, 2^31 - 1]`
   * @returns the permutation
   * @throws {RangeError} when `n` is not such an integer
   *
   * @example
   * ```ts
   * import { Generator } from "./generator.ts";
   *
   * console.log(new Generator(0).randperm(10)); // Int32Array(10) [ 4, 1, 7, 5, 3, 9, 0, 8, 6, 2 ]
   * ```
   */
  randperm(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0 || n > 2147483647) {
      throw new RangeError(`Generator.randperm: n=${describe(n)} must be an integer in [0, 2^31 - 1]`);
    }
    const r = new Int32Array(n);
    for (let i = 0; i < n; i++) r[i] = i;
    const buf = this.#out;
    let pos = this.#pos;
    for (let i = 0; i < n - 1; i++) {
      if (pos === N) {
        twist(this.#mt, buf);
        pos = 0;
      }
      const z = i + (buf[pos++] >>> 0) % (n - i);
      const t = r[i];
      r[i] = r[z];
      r[z] = t;
    }
    this.#pos = pos;
    return r;
  }

  /**
   * Fills `out` with 0/1 like `tensor.bernoulli_(p)` with a float `p` (CPU default kernel): per element
   * one `random64()`, 1 when its 53-bit uniform is `< p`. For `F.dropout(x, p)` call it with `1 - p`
   * (see the module documentation).
   *
   * @param out the tensor data to overwrite (float32, float64, or uint8 for bool/uint8 tensors)
   * @param p the probability of a 1, in `[0, 1]`
   * @throws {RangeError} when `p` is outside `[0, 1]` or NaN
   *
   * @example
   * ```ts
   * import { Generator } from "./generator.ts";
   *
   * const mask = new Uint8Array(8);
   * new Generator(0).bernoulli(mask, 0.5); // torch.manual_seed(0); torch.empty(8).bernoulli_(0.5)
   * console.log(mask); // Uint8Array(8) [ 0, 0, 1, 0, 0, 0, 1, 1 ]
   * ```
   */
  bernoulli(out: Float32Array | Float64Array | Uint8Array, p: number): void {
    checkArray(out, [Float32Array, Float64Array, Uint8Array], "Generator.bernoulli");
    if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
      throw new RangeError(`Generator.bernoulli: expects p to be in [0, 1], but got p=${describe(p)}`);
    }
    const n = out.length;
    const buf = this.#out;
    let pos = this.#pos;
    for (let i = 0; i < n; i++) {
      if (pos === N) {
        twist(this.#mt, buf);
        pos = 0;
      }
      const hi = buf[pos++];
      if (pos === N) {
        twist(this.#mt, buf);
        pos = 0;
      }
      out[i] = ((hi & 0x1fffff) * TWO_POW_32 + (buf[pos++] >>> 0)) * TWO_POW_M53 < p ? 1 : 0;
    }
    this.#pos = pos;
  }
}
