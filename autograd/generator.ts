/**
 * A random number generator that reproduces PyTorch's CPU generator (`torch.Generator()`, the
 * default generator behind `torch.manual_seed`) bit for bit, verified against torch 1.13 on x86-64
 * with AVX2 (the dispatch PyTorch picks on every current x86-64 desktop and server CPU).
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
 *   result `fma(x, b - a, a)`. torch's AVX2 build fuses the multiply-add (single rounding); this class
 *   does the same with an exact emulation.
 * - `normal_(mean, std)` has three paths, all reproduced: (1) float32 with at least 16 elements: first
 *   one 24-bit uniform per element, then Box-Muller on groups of 16 (`u[j]`, `u[j + 8]`) with the AVX2
 *   `log256_ps` / `sincos256_ps` polynomials of `avx_mathfun.h` in float arithmetic, FMA-contracted as
 *   GCC compiled them (emulated operation by operation, hence bit-exact); when the size is not a
 *   multiple of 16 the last 16 slots are refilled with 16 fresh uniforms and transformed again;
 *   (2) float64 with at least 16 elements: same layout, 53-bit uniforms and double `log`, `sin`, `cos`;
 *   (3) fewer than 16 elements (any dtype): per element `at::normal_distribution<double>`, which draws
 *   two 53-bit uniforms `u1`, `u2`, returns `r cos(2 pi u1)` with `r = sqrt(-2 log(1 - u2))` and caches
 *   `r sin(2 pi u1)` in the generator; the next per-element draw (even in a later call) consumes the
 *   cache. Paths (1) and (2) neither use nor reset the cache. `manualSeed` clears it.
 * - `torch.randint(low, high, size)` (any dtype) is `random_(low, high)`: per element
 *   `low + random() % (high - low)`, or `random64() % (high - low)` when `high - low >= 2^32` (64-bit and
 *   floating dtypes).
 * - `torch.randperm(n)`: identity, then for `i` in `0 .. n-2` swap `i` with `i + random() % (n - i)`, for every
 *   `n` (checked up to n = 214748364, where later PyTorch versions switch to a 64-bit shuffle).
 * - `t.bernoulli_(p)` with a float `p` (no MKL in the reference build, which is the default kernel):
 *   per element one `random64()` 53-bit uniform `u`, result `u < p`.
 * - `F.dropout(x, p, training=True)` on CPU (also `nn.Dropout`, `inplace=True` and every rank): if
 *   `p == 0` or not training, returns `x` with no draw; if `p == 1`, `x * 0` with no draw; else
 *   `noise = empty_like(x).bernoulli_(1 - p)` (contiguous, row-major order of `x`'s shape, the
 *   probability `1 - p` computed in double), `noise.div_(1 - p)` and `x * noise`. For float32 the kept
 *   scale is `Math.fround(1 / Math.fround(1 - p))`, for float64 `1 / (1 - p)`; the output is `x * scale`
 *   where kept and `x * 0` (a signed zero) where dropped.
 * - `nn.Linear(in, out)` draws the weight then the bias, both with `uniform_(-bound, bound)` on float32:
 *   weight `bound = Math.sqrt(3) * (Math.sqrt(2 / (1 + Math.sqrt(5) ** 2)) / Math.sqrt(in))`
 *   (`kaiming_uniform_(a=sqrt(5))`, evaluated in double exactly in this order), bias
 *   `bound = 1 / Math.sqrt(in)`.
 *
 * @example
 * ```ts
 * import { Generator } from "./generator.ts";
 *
 * const g = new Generator(0); // torch.manual_seed(0)
 * const x = new Float32Array(3);
 * g.uniform(x); // torch.rand(3)
 * console.log(x); // Float32Array(3) [ 0.4962565898895264, 0.7682217955589294, 0.08847743272781372 ]
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
// glibc's double log and sincos, as compiled in glibc 2.36 for x86-64 with FMA (`__log_fma`,
// `__sincos_fma`, the variants the dynamic loader picks on AVX2 CPUs), operation by operation. torch's
// double Box-Muller calls these; JavaScript's Math.log/sin/cos differ from them in ~0.1% of the results.

const LN2HI = 0.6931471805598903;
const LN2LO = 5.497923018708371e-14;
const LOG_A0 = -0.5000000000000001;
const LOG_A1 = 0.33333333331825593;
const LOG_A2 = -0.2499999999622955;
const LOG_A3 = 0.20000304511814496;
const LOG_A4 = -0.16667054827627667;
const LOG_B0 = -0.5;
const LOG_B1 = 0.3333333333333352;
const LOG_B2 = -0.24999999999998432;
const LOG_B3 = 0.19999999999320328;
const LOG_B4 = -0.16666666669929706;
const LOG_B5 = 0.14285715076560868;
const LOG_B6 = -0.12499997863982555;
const LOG_B7 = 0.11110712032936046;
const LOG_B8 = -0.10000486757818193;
const LOG_B9 = 0.09181994006195467;
const LOG_B10 = -0.08328363062289341;

/** glibc `log(x)` for `0 < x <= 1` (the only inputs Box-Muller produces here: `1 - u`, `u` in [0, 1)). */
function glibcLog(x: number): number {
  F64[0] = x;
  const hi = U32[HI_WORD];
  if (hi >= 0x3fee0000 && hi < 0x3ff10900) {
    // |x - 1| < ~1/16
    if (x === 1) return 0;
    const r = x - 1;
    const r2 = r * r;
    const r3 = r * r2;
    const p1 = fma64(r2, LOG_B3, fma64(r, LOG_B2, LOG_B1));
    const p2 = fma64(r2, LOG_B6, fma64(r, LOG_B5, LOG_B4));
    const p3 = fma64(r3, LOG_B10, fma64(r2, LOG_B9, fma64(r, LOG_B8, LOG_B7)));
    let y = fma64(fma64(p3, r3, p2), r3, p1);
    const w = r * 134217728;
    const rhi = (r + w) - w;
    const rlo = r - rhi;
    const ww = rhi * rhi * LOG_B0;
    const h = r + ww;
    const l = fma64(LOG_B0 * rlo, rhi + r, (r - h) + ww);
    y = fma64(y, r3, l);
    return h + y;
  }
  // x = 2^k z, z in [0x1.6p-1, 0x1.6p0); tmp = bits(x) - 0x3fe6000000000000 only touches the high word.
  const tmpHi = (hi - 0x3fe60000) | 0;
  const k = tmpHi >> 20;
  const i = (tmpHi >>> 13) & 127;
  U32[HI_WORD] = hi - (tmpHi & 0xfff00000);
  const z = F64[0];
  const r = fma64(z, LOG_TAB[2 * i], -1);
  const w = k * LN2HI + LOG_TAB[2 * i + 1]; // k * LN2HI is exact
  const h = w + r;
  const l = fma64(k, LN2LO, (w - h) + r);
  const r2 = r * r;
  const q = fma64(fma64(r, LOG_A4, LOG_A3), r2, fma64(r, LOG_A2, LOG_A1));
  return fma64(r * r2, q, fma64(r2, LOG_A0, l)) + h;
}

const SC_BIG = 52776558133248.0; // 1.5 * 2^45
const HP0 = 1.5707963267948966;
const HP1 = 6.123233995736766e-17;
const HPINV = 0.6366197723675814;
const TOINT = 6755399441055744.0;
const MP1 = 1.5707963407039642;
const MP2 = -1.3909067564377153e-8;
const PP3 = -4.97899623147991e-17;
const PP4 = -1.9034889620193266e-25;
const SN3 = -0.16666666666666488;
const SN5 = 0.008333332142857223;
const CS2 = 0.5;
const CS4 = -0.04166666666666644;
const CS6 = 0.001388888740079376;
const TS1 = -0.16666666666666666;
const TS2 = 0.008333333333332329;
const TS3 = -0.00019841269834414642;
const TS4 = 2.755729806860771e-6;
const TS5 = -2.5022014848318398e-8;

/** glibc `do_sin(x, dx)`: sin(x + dx) for |x| < 0.855469. */
function doSin(x: number, dx: number): number {
  const ax = Math.abs(x);
  if (ax < 0.126) {
    const xx = x * x;
    const p = fma64(xx, fma64(xx, fma64(xx, fma64(xx, TS5, TS4), TS3), TS2), TS1);
    return x + fma64(xx, fma64(p, x, -(0.5 * dx)), dx);
  }
  if (x <= 0) dx = -dx;
  const u = SC_BIG + ax;
  const xr = ax - (u - SC_BIG);
  const k = ((u - SC_BIG) * 128) << 2;
  const sn = SINCOS_TAB[k];
  const xx = xr * xr;
  const s = fma64(xx * xr, fma64(xx, SN5, SN3), dx) + xr;
  const c = fma64(dx, xr, xx * fma64(fma64(xx, CS6, CS4), xx, CS2));
  const r = fma64(s, SINCOS_TAB[k + 2], fma64(-c, sn, fma64(s, SINCOS_TAB[k + 3], SINCOS_TAB[k + 1]))) + sn;
  return x < 0 || Object.is(x, -0) ? -Math.abs(r) : Math.abs(r);
}

/** glibc `do_cos(x, dx)`: cos(x + dx) for |x| < 0.855469. */
function doCos(x: number, dx: number): number {
  if (x < 0) dx = -dx;
  const ax = Math.abs(x);
  const u = SC_BIG + ax;
  const xc = (ax - (u - SC_BIG)) + dx;
  const k = ((u - SC_BIG) * 128) << 2;
  const cs = SINCOS_TAB[k + 2];
  const xx = xc * xc;
  const s = fma64(xc * xx, fma64(xx, SN5, SN3), xc);
  const c = xx * fma64(fma64(xx, CS6, CS4), xx, CS2);
  return fma64(-s, SINCOS_TAB[k], fma64(-c, cs, fma64(-SINCOS_TAB[k + 1], s, SINCOS_TAB[k + 3]))) + cs;
}

/** Results of {@linkcode glibcSincos}: `[sin, cos]` (a typed array, so that storing them does not allocate). */
const SINCOS = new Float64Array(2);

/** glibc `sincos(x)` for `0 <= x < 105414350`; writes {@linkcode SINCOS}. */
function glibcSincos(x: number): void {
  if (x < 0.85546875) {
    if (x < 7.450580596923828e-9) {
      SINCOS[0] = x;
      SINCOS[1] = 1;
    } else {
      SINCOS[0] = doSin(x, 0);
      SINCOS[1] = doCos(x, 0);
    }
    return;
  }
  if (x < 2.4262638092041016) {
    const y = HP0 - x;
    const a = y + HP1;
    const da = (y - a) + HP1;
    SINCOS[0] = Math.abs(doCos(a, da));
    SINCOS[1] = doSin(a, da);
    return;
  }
  // reduce_sincos: x = n * pi/2 + (a + da); the products with MP1, MP2, PP3 are exact.
  const xn = fma64(x, HPINV, TOINT) - TOINT;
  const n = xn & 3;
  const y = (x - xn * MP1) - xn * MP2;
  const t2 = y - xn * PP3;
  const b = fma64(-xn, PP4, t2);
  let a = b;
  let da = ((y - t2) - xn * PP3) + fma64(-xn, PP4, t2 - b);
  if (n === 1 || n === 2) {
    a = -a;
    da = -da;
  }
  const s = doSin(a, da);
  let c = doCos(a, da);
  if (n & 2) c = -c;
  if (n & 1) {
    SINCOS[0] = c;
    SINCOS[1] = s;
  } else {
    SINCOS[0] = s;
    SINCOS[1] = c;
  }
}

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
    const radius = Math.sqrt(-2 * glibcLog(1 - data[j]));
    glibcSincos(TWO_PI * data[j + 8]);
    const n1 = radius * SINCOS[1];
    const n2 = radius * SINCOS[0];
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
   * {@linkcode Generator.setState}.
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
   * The float32 fill and the per-element path are bit-exact. The float64 fill and the per-element path
   * evaluate double `log`, `sin`, `cos` with the JavaScript engine's functions where torch uses glibc's;
   * both are faithfully rounded, so a float64 result can in rare cases differ in the last bit.
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
        const r = Math.sqrt(-2 * glibcLog(1 - u2));
        glibcSincos(TWO_PI * u1);
        this.#nextNormal = r * SINCOS[0];
        this.#hasNormal = true;
        v = r * SINCOS[1];
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
   * console.log(mask.length); // 8
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

// ---------------------------------------------------------------------------------------------------
// Tables (read from glibc 2.36's libm.so.6, x86-64)

/** glibc `__log_data.tab`: 128 pairs (invc, logc). */
const LOG_TAB: readonly number[] = [
  1.4504249240398293,
  -0.3718565645633589,
  1.442253508327276,
  -0.36620682668944937,
  1.4341736174350004,
  -0.3605888069791945,
  1.426183816329995,
  -0.3550022171419869,
  1.4182825527052965,
  -0.34944666968829097,
  1.4104682921759335,
  -0.3439217713603284,
  1.4027396147468003,
  -0.3384271921261188,
  1.3950954438932313,
  -0.332962831494342,
  1.3875338232485754,
  -0.32752794345742586,
  1.3800539211058593,
  -0.32212257167088865,
  1.3726542695419708,
  -0.3167462884799761,
  1.3653332798446802,
  -0.3113985598928366,
  1.358090204587874,
  -0.3060794515165526,
  1.3509234892132138,
  -0.300788424667644,
  1.3438320840699889,
  -0.2955252968476998,
  1.3368146974742003,
  -0.29028969275850613,
  1.329870114677736,
  -0.2850812793277555,
  1.322997339161106,
  -0.27989987391470095,
  1.316195352741367,
  -0.27474526621870154,
  1.3094628125672239,
  -0.2696169863701243,
  1.3027990455471041,
  -0.26451506180308115,
  1.2962024229438942,
  -0.2594387762767383,
  1.2896726275815547,
  -0.2543884090981692,
  1.2832080305745537,
  -0.24936321635129843,
  1.276807885983376,
  -0.24436312405975968,
  1.2704714060687552,
  -0.23938801747897287,
  1.2641976054949482,
  -0.23443761696705678,
  1.257985357514882,
  -0.22951151871518505,
  1.2518337750655457,
  -0.2246094963439873,
  1.2457421919097305,
  -0.21973149037705753,
  1.2397094966625508,
  -0.2148770752847895,
  1.2337348463589233,
  -0.210046029103637,
  1.2278176973028803,
  -0.20523836373934046,
  1.2219570190618474,
  -0.20045368751368642,
  1.2161519732977757,
  -0.1956917537758045,
  1.2104018095009725,
  -0.19095237845203883,
  1.204705805718973,
  -0.18623539250290833,
  1.1990631185441964,
  -0.18154051731551135,
  1.1934733004462308,
  -0.1768677957431919,
  1.1879350812847385,
  -0.17221657406412305,
  1.1824481322833125,
  -0.16758697765942543,
  1.1770114976921955,
  -0.16297859687290384,
  1.1716248121809465,
  -0.15839151377804228,
  1.1662869231674715,
  -0.15382513241456763,
  1.1609977486762766,
  -0.14927976358922024,
  1.1557563220795803,
  -0.14475495398119165,
  1.1505619105480347,
  -0.14025044090817573,
  1.1454138888505974,
  -0.1357660466685502,
  1.140311877374656,
  -0.1313018016355727,
  1.1352550225747513,
  -0.12685731518763532,
  1.1302429094831266,
  -0.1224325737671279,
  1.1252747693068048,
  -0.11802724521862729,
  1.1203501571039876,
  -0.11364127671663482,
  1.1154683327680124,
  -0.10927434611278386,
  1.1106291463292157,
  -0.10492665324943573,
  1.1058315813301596,
  -0.10059761422644442,
  1.1010752177696026,
  -0.09628717309055901,
  1.0963597137952512,
  -0.09199534069557558,
  1.0916844827550398,
  -0.08772190036688698,
  1.0870487291277784,
  -0.08346643613867855,
  1.082452357388312,
  -0.07922916827544668,
  1.0778948225025884,
  -0.0750099004750382,
  1.0733751731601076,
  -0.07080805133352897,
  1.068893585073351,
  -0.06662408085151128,
  1.0644491706655506,
  -0.06245745471915143,
  1.0600414846328305,
  -0.0583080438042316,
  1.0556701316181605,
  -0.05417576112313327,
  1.051334750556926,
  -0.050060547896805474,
  1.0470347288442157,
  -0.045962101199052086,
  1.0427699229652954,
  -0.04188056008865715,
  1.0385395013738175,
  -0.03781540056183985,
  1.034343418940345,
  -0.03376684757915882,
  1.0301811073173315,
  -0.029734619131772888,
  1.026052043621297,
  -0.025718470239212365,
  1.0219561082336197,
  -0.021718543925430822,
  1.0178926505784922,
  -0.01773446126981071,
  1.0138614436244586,
  -0.013766252464051831,
  1.0098620186501341,
  -0.009813706322574944,
  1.0058938559734134,
  -0.005876555150052809,
  1.00195696235014,
  -0.0019550499938532084,
  0.9961089923088509,
  0.0038985973556009412,
  0.9884170338185201,
  0.011650571286395461,
  0.9808429191005297,
  0.019342955478919066,
  0.9733840169987446,
  0.0269766014846482,
  0.9660377568876556,
  0.034552359728422744,
  0.9588014945307369,
  0.04207121767183253,
  0.9516728569073111,
  0.049533940950141186,
  0.9446494635965822,
  0.056941358295944156,
  0.9377288993026223,
  0.06429439168346107,
  0.9309091073790681,
  0.0715936354946507,
  0.924187681612722,
  0.07884010933776153,
  0.9175626765599192,
  0.08603438905970506,
  0.9110320403624034,
  0.09317721180013905,
  0.9045935839762024,
  0.10026951462748457,
  0.8982456375922825,
  0.10731170956330516,
  0.8919860966782501,
  0.11430473320717738,
  0.8858131121185129,
  0.12124928503033061,
  0.879725075760676,
  0.12814583422959913,
  0.8737201372634685,
  0.1349951636851756,
  0.8677966405782273,
  0.1417978768189414,
  0.8619528050060739,
  0.14855476039031146,
  0.8561872354420692,
  0.1552661937658968,
  0.8504983927816893,
  0.16193275688146969,
  0.8448844572790304,
  0.16855539792220497,
  0.8393442741575965,
  0.1751343179947753,
  0.8338762249349438,
  0.1816702989864325,
  0.8284789320557778,
  0.18816387146023317,
  0.8231510800065832,
  0.1946155228479256,
  0.8178913903778707,
  0.20102572579389744,
  0.8126984007245374,
  0.2073952090795501,
  0.8075710029460227,
  0.21372429840596396,
  0.8025078881160415,
  0.2200135945981856,
  0.7975077379364331,
  0.22626374162859975,
  0.792569604966373,
  0.23247494747693054,
  0.7876923641254114,
  0.23864766620658884,
  0.7828746724940998,
  0.24478265647405806,
  0.7781155388790811,
  0.25088025827324145,
  0.7734139557869777,
  0.2569408552510595,
  0.7687687179914933,
  0.26296511155101143,
  0.7641790698041854,
  0.2689531327189343,
  0.7596438763692399,
  0.27490553924610595,
  0.7551621951078668,
  0.2808227248478943,
  0.7507331780216866,
  0.286704979267256,
  0.7463557196361751,
  0.29255295645509705,
  0.7420289364869653,
  0.2983670386142876,
  0.7377521537065876,
  0.30414734587282055,
  0.7335242966002608,
  0.30989455774829366,
  0.729344777457841,
  0.31560871301871884,
];
/** glibc `__sincostab`: 110 entries (sn, ssn, cs, ccs) of sin and cos at i/128 as double-doubles. */
const SINCOS_TAB: readonly number[] = [
  0.0,
  0.0,
  1.0,
  0.0,
  0.0078124205273828315,
  -4.102755709382617e-19,
  0.9999694825770951,
  5.427791428371788e-17,
  0.015624364224883372,
  -1.265093755275982e-19,
  0.9998779321710066,
  3.216122229972341e-17,
  0.02343535429172257,
  1.0500785515068913e-19,
  0.9997253543694995,
  4.666714544113391e-17,
  0.03124491398532608,
  -1.562781562225433e-18,
  0.9995117584851364,
  -3.418806487972947e-17,
  0.03905256665042215,
  1.1342467037138512e-18,
  0.999237157554709,
  1.1089280858439994e-17,
  0.04685783574813424,
  -2.3419368365610254e-18,
  0.9989015683384429,
  -2.1425557800399754e-17,
  0.05466024488506646,
  3.373831935351774e-19,
  0.9985050113189741,
  1.779930870620664e-17,
  0.0624593178423802,
  -2.040259504585711e-18,
  0.9980475107000991,
  3.3232291674141346e-17,
  0.07025457860486005,
  -6.773890900301373e-18,
  0.9975290944052978,
  5.112086057887235e-18,
  0.07804555138996731,
  -5.4494437820057936e-18,
  0.9969497940760287,
  -1.2467075728553626e-17,
  0.08583176067687935,
  -3.490037167231825e-18,
  0.996309645069798,
  -1.1743657041590172e-18,
  0.09361273123551289,
  1.4628632005878733e-18,
  0.9956086864580017,
  3.312922430932991e-17,
  0.10138798815552964,
  3.99242856835807e-18,
  0.9948469610235406,
  -8.198278333258706e-18,
  0.10915705687532236,
  6.6284699502736666e-18,
  0.9940245152582091,
  1.3287985046260087e-17,
  0.11691946321097965,
  -2.283412536970096e-18,
  0.9931413993598577,
  2.8553964189785565e-17,
  0.12467473338522769,
  -2.925947496057858e-18,
  0.992197667229329,
  4.754870575189364e-17,
  0.13242239405634718,
  1.2801053067990684e-17,
  0.9911933764671682,
  3.1426138811726996e-17,
  0.1401619723470637,
  -9.946847113883478e-18,
  0.9901285883701071,
  -4.589906353553811e-18,
  0.14789299587340962,
  -1.3140968557128452e-17,
  0.9890033679273229,
  1.7676104005868335e-18,
  0.15561499277355603,
  8.886053372342288e-18,
  0.9878177838164719,
  4.91917302237681e-17,
  0.16332749173661285,
  5.483569430347159e-18,
  0.9865719083994976,
  -1.0327444588275446e-17,
  0.17103002203139503,
  -9.954774726452923e-18,
  0.9852658177182139,
  -4.925721262944555e-17,
  0.17872211353515366,
  -1.6240405901074e-20,
  0.983899591489664,
  -2.1647988531644275e-17,
  0.18640329676226988,
  2.3493796901281573e-18,
  0.9824733131012553,
  -3.919920375420088e-17,
  0.1940731028929098,
  -7.832741210198615e-18,
  0.9809870696056692,
  1.967841180870303e-17,
  0.2017310638016388,
  5.587232815460113e-18,
  0.9794409517155483,
  1.310876952152676e-17,
  0.20937671208599365,
  -5.536403693172164e-18,
  0.9778350537979598,
  2.9910028492769484e-17,
  0.21700958109501015,
  1.1170071073364376e-17,
  0.9761694738686353,
  -7.850690609285027e-18,
  0.2246292049577053,
  -1.058590416432903e-17,
  0.9744443135859889,
  4.990128834921396e-17,
  0.23223511861151147,
  -8.318080852687206e-18,
  0.9726596782449127,
  2.3920264546490165e-17,
  0.23982685783066157,
  -7.260810660979712e-18,
  0.9708156767703494,
  5.1285792532153653e-17,
  0.24740395925452294,
  -7.53102495590706e-18,
  0.9689124217106447,
  5.071436662403936e-17,
  0.2549659604158785,
  -2.2310035435425957e-17,
  0.9669500292306779,
  -3.237770297707692e-17,
  0.2625123997691533,
  -2.2534597527902128e-17,
  0.964928619104771,
  -3.0345542681018625e-18,
  0.27004281671858504,
  -1.2103265097887777e-17,
  0.9628483147093797,
  -4.646009771724241e-18,
  0.2775567516463363,
  1.7674070262791825e-17,
  0.9607092430155619,
  -2.807827063516729e-17,
  0.28505374594054744,
  -1.8162083107618118e-17,
  0.9585115345812286,
  8.134621492946255e-18,
  0.29253334202332754,
  7.516944930327352e-18,
  0.9562553235431753,
  -3.148450868841629e-17,
  0.299995083378683,
  2.606392777930734e-17,
  0.9539407476088947,
  4.3757589471734985e-17,
  0.30743851458038085,
  1.1004366442765292e-19,
  0.9515679480481722,
  -3.8614834675674123e-17,
  0.3148631813197453,
  -2.6921345305772252e-17,
  0.949137069684463,
  4.149148046099445e-17,
  0.3222686304333866,
  2.093773358126606e-17,
  0.9466482608860534,
  -3.911683334934152e-17,
  0.32965440993086015,
  2.35998378957031e-17,
  0.9441016735570044,
  -1.6017653284545848e-17,
  0.33702006902225307,
  1.0312279860787216e-17,
  0.9414974631278811,
  -4.85238302367971e-18,
  0.3443651581456984,
  5.881664587517989e-18,
  0.9388357885462655,
  6.919329459921788e-18,
  0.3516892289948141,
  -2.5616208736069942e-17,
  0.9361168122670553,
  -5.2350302039683216e-17,
  0.35899183454606504,
  1.7495482840158848e-17,
  0.9333407002425484,
  -1.322859547778088e-17,
  0.36627252908604757,
  -9.938814562106524e-18,
  0.9305076219123143,
  4.488760003328074e-18,
  0.37353086823869297,
  -2.375669144106189e-17,
  0.9276177501928519,
  4.5350942573591974e-17,
  0.38076640899239017,
  2.1372528646211374e-17,
  0.924671261467036,
  5.5444125388034563e-17,
  0.38797870972702503,
  1.759799510335953e-17,
  0.9216683355733519,
  -8.550693097867243e-18,
  0.39516733024093426,
  -1.9613487871414228e-17,
  0.9186091557949183,
  -4.0564150104514996e-17,
  0.4023318317777731,
  1.4413875452702007e-17,
  0.9154939088483012,
  5.413375566838042e-17,
  0.40947177705329507,
  -5.679403000091266e-18,
  0.9123227848721178,
  2.6349040211413332e-17,
  0.41658673028204113,
  -9.610850682533715e-18,
  0.909095977415431,
  2.920006113841211e-17,
  0.42367625720393803,
  -2.331800700068871e-17,
  0.9058136834259364,
  4.2864666490805214e-17,
  0.4307399251108032,
  -2.6212879607476533e-17,
  0.9024761032379415,
  3.112490674651326e-17,
  0.4377773028727551,
  7.64345629962023e-18,
  0.8990834405601384,
  9.076951775075616e-18,
  0.4447879609645272,
  -6.655392977344925e-18,
  0.8956359024631707,
  -8.854043885762716e-18,
  0.4517714714916838,
  -8.234073942098903e-18,
  0.8921336993669944,
  2.3160655211380166e-17,
  0.4587274082167366,
  1.6080982096218356e-17,
  0.8885770450280356,
  -4.034491998357167e-17,
  0.46565534658516017,
  1.459870391051426e-17,
  0.8849661565261433,
  -7.690557775987357e-18,
  0.47255486375130445,
  -3.608790703790546e-18,
  0.8813012542513406,
  -4.973073189306066e-17,
  0.479425538604203,
  -5.103969860556013e-18,
  0.8775825618903728,
  -4.2623149864279997e-17,
  0.48626695179327556,
  1.5131647652857083e-17,
  0.8738103064130545,
  4.767670756525657e-17,
  0.49307868575392305,
  5.605083973871755e-18,
  0.8699847180584174,
  1.657385110740923e-17,
  0.49986032473301345,
  1.3570481487732128e-17,
  0.8661060303206567,
  2.0097792543831333e-17,
  0.5066114548142574,
  -3.269413423618168e-17,
  0.8621744799348805,
  4.4132427578105805e-18,
  0.5133316639434712,
  3.462454351928195e-17,
  0.8581903068626604,
  -5.4374664844403745e-17,
  0.520020541953727,
  -3.983266745698455e-17,
  0.8541537542773854,
  5.420565102675287e-18,
  0.5266776805903868,
  -4.570502275386202e-17,
  0.8500650685494202,
  5.317093455811416e-17,
  0.5333026735360201,
  5.129318115032044e-17,
  0.8459244992310679,
  1.549506647350329e-17,
  0.5398951164352044,
  2.4263515104613218e-17,
  0.8417322990413384,
  -2.7333362440269662e-17,
  0.5464546069192036,
  8.399754840929507e-18,
  0.8374887238505236,
  4.3337026043948396e-17,
  0.5529807446305274,
  -6.743270455611733e-18,
  0.8331940326645814,
  -1.8644878796734315e-19,
  0.5594731312473669,
  1.575565514488728e-17,
  0.8288484876093257,
  1.1163935406617444e-17,
  0.565931370507906,
  6.582459440388572e-18,
  0.8244523539144292,
  3.731817754380378e-17,
  0.5723550682345072,
  2.6575872357215316e-17,
  0.820005899897234,
  -3.912431748209128e-17,
  0.5787438323577704,
  -2.7958488978746924e-17,
  0.8155093969463755,
  1.3751889684983784e-18,
  0.5850972729404622,
  -5.4883972461161805e-17,
  0.8109631195052179,
  -3.091333486122179e-17,
  0.5914150022013163,
  5.0668448898504805e-17,
  0.8063673450551039,
  3.4650875715584734e-17,
  0.5976966345387015,
  5.450323593054385e-17,
  0.8017223540984184,
  4.0134533311087014e-17,
  0.6039417865541566,
  1.1794923733511837e-17,
  0.7970284301414683,
  5.0523609948487484e-17,
  0.6101500770757914,
  -1.479826990758988e-17,
  0.7922858596771786,
  -2.9049779312834576e-17,
  0.616321127181551,
  -2.20849501729641e-17,
  0.7874949321676061,
  -4.8080555050456574e-17,
  0.6224545602223437,
  -6.049035765709707e-18,
  0.7826559400262728,
  -1.474071641211487e-17,
  0.6285500018450296,
  3.5348797769901485e-17,
  0.7777691786003179,
  -8.842419849333787e-18,
  0.6346070800152693,
  -3.4568582392624965e-17,
  0.7728349461524715,
  4.231014921891023e-17,
  0.6406254250402305,
  -4.700891123899386e-17,
  0.7678535438428503,
  4.9065912521116424e-17,
  0.6466046695911524,
  4.567647714393287e-19,
  0.7628252757105762,
  1.6672995021546628e-17,
  0.652544448725766,
  -4.5598735935930497e-17,
  0.7577504486552193,
  -1.878215121154204e-18,
  0.6584443999105676,
  -3.7736386700306717e-17,
  0.7526293724180665,
  -1.2970993013150526e-17,
  0.6643041630429463,
  1.5784492324431575e-17,
  0.7474623595632162,
  5.6627515613726676e-18,
  0.6701233804731629,
  6.18353672557496e-18,
  0.7422497254585013,
  -1.2339303604869521e-17,
  0.6759016970261789,
  -5.119389624609889e-17,
  0.7369917882562408,
  -4.631213290368497e-17,
  0.6816387600233341,
  4.410467313197903e-17,
  0.7316888688738209,
  -1.0475824306512768e-17,
  0.6873342193038735,
  2.8994333996809586e-17,
  0.7263412909741086,
  -9.465899179857832e-18,
  0.692987727246318,
  -5.3543290798909455e-17,
  0.7209493809456964,
  3.494986701478816e-17,
  0.6985989387896817,
  2.975439919188114e-17,
  0.7155134678829815,
  3.8181038992157035e-17,
  0.7041675114545337,
  -3.94095700584825e-17,
  0.7100338835660797,
  1.505272211891291e-17,
  0.7096931053638997,
  -9.468276958542117e-18,
  0.7045109624405747,
  -4.451398614976226e-17,
  0.7151753832640076,
  -1.466099578328228e-17,
  0.6989450415971057,
  -5.5261332036460915e-18,
  0.7206140105448711,
  1.105694456137362e-17,
  0.6933364607507934,
  1.2822831674529969e-17,
  0.7260086552607126,
  -1.573621815339587e-17,
  0.6876855622205048,
  3.5430696752823923e-17,
  0.7313589881502236,
  2.6553630314845697e-17,
  0.6819926909079606,
  2.8089333561212785e-17,
  0.7366646826566614,
  -4.639723374875429e-17,
  0.6762581942766833,
  3.497002399394248e-17,
  0.7419254149477796,
  2.907482756987512e-18,
  0.6704824223307908,
  5.425808997571648e-17,
  0.7471408639355942,
  2.937498788028212e-17,
  0.6646657275936333,
  -5.2874573286772266e-17,
  0.7523107112959804,
  -4.07866182575664e-17,
  0.6588084650862769,
  1.7760805237087262e-17,
];
