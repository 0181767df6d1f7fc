// Element-wise f32 kernels over one row: the host walks a strided tensor row
// by row (../walk.ts) and calls these with each row's start and steps. A step
// of 1 or 0 (a broadcast) takes the SIMD path; any other step runs a scalar
// loop. Results equal the TypeScript kernels' bit for bit: f32 + - * / and
// sqrt round the same as the f64 ones rounded to f32, and rsqrt, and every op
// with a scalar operand (kept in f64, as the reference keeps it), run in f64
// here too. Op codes match ../_wasm_kernels.ts.

// @ts-ignore: decorator
@inline const ADD = 0;
// @ts-ignore: decorator
@inline const SUB = 1;
// @ts-ignore: decorator
@inline const MUL = 2;
// @ts-ignore: decorator
@inline const DIV = 3;
// @ts-ignore: decorator
@inline const MAX = 4;
// @ts-ignore: decorator
@inline const MIN = 5;
// @ts-ignore: decorator
@inline const EQ = 6;
// @ts-ignore: decorator
@inline const NE = 7;
// @ts-ignore: decorator
@inline const LT = 8;
// @ts-ignore: decorator
@inline const LE = 9;
// @ts-ignore: decorator
@inline const GT = 10;
// @ts-ignore: decorator
@inline const GE = 11;

// @ts-ignore: decorator
@inline const NEG = 0;
// @ts-ignore: decorator
@inline const ABS = 1;
// @ts-ignore: decorator
@inline const RELU = 2;
// @ts-ignore: decorator
@inline const SQRT = 3;
// @ts-ignore: decorator
@inline const RSQRT = 4;
// @ts-ignore: decorator
@inline const RECIPROCAL = 5;
// @ts-ignore: decorator
@inline const SQUARE = 6;

// @ts-ignore: decorator
@inline function arith(op: i32, a: v128, b: v128): v128 {
  if (op == ADD) return f32x4.add(a, b);
  if (op == SUB) return f32x4.sub(a, b);
  if (op == MUL) return f32x4.mul(a, b);
  if (op == DIV) return f32x4.div(a, b);
  if (op == MAX) return f32x4.max(a, b);
  return f32x4.min(a, b);
}

// @ts-ignore: decorator
@inline function arith1(op: i32, a: f32, b: f32): f32 {
  if (op == ADD) return a + b;
  if (op == SUB) return a - b;
  if (op == MUL) return a * b;
  if (op == DIV) return a / b;
  // f32.max / f32.min are Math.max / Math.min: NaN wins, and +0 beats -0.
  if (op == MAX) return max<f32>(a, b);
  return min<f32>(a, b);
}

// @ts-ignore: decorator
@inline function compare(op: i32, a: v128, b: v128): v128 {
  if (op == EQ) return f32x4.eq(a, b);
  if (op == NE) return f32x4.ne(a, b);
  if (op == LT) return f32x4.lt(a, b);
  if (op == LE) return f32x4.le(a, b);
  if (op == GT) return f32x4.gt(a, b);
  return f32x4.ge(a, b);
}

// @ts-ignore: decorator
@inline function compare1(op: i32, a: f32, b: f32): bool {
  if (op == EQ) return a == b;
  if (op == NE) return a != b;
  if (op == LT) return a < b;
  if (op == LE) return a <= b;
  if (op == GT) return a > b;
  return a >= b;
}

// One loop per op and layout, so the op test sits outside the loops.
// @ts-ignore: decorator
@inline function arithRow(op: i32, a: usize, as: i32, b: usize, bs: i32, o: usize, n: i32): void {
  let i = 0;
  if (as == 1 && bs == 1) {
    for (; i + 4 <= n; i += 4) {
      const q = <usize>i << 2;
      v128.store(o + q, arith(op, v128.load(a + q), v128.load(b + q)));
    }
  } else if (as == 1 && bs == 0) {
    const vb = v128.load32_splat(b);
    for (; i + 4 <= n; i += 4) {
      const q = <usize>i << 2;
      v128.store(o + q, arith(op, v128.load(a + q), vb));
    }
  } else if (as == 0 && bs == 1) {
    const va = v128.load32_splat(a);
    for (; i + 4 <= n; i += 4) {
      const q = <usize>i << 2;
      v128.store(o + q, arith(op, va, v128.load(b + q)));
    }
  }
  const sa = <usize>as << 2, sb = <usize>bs << 2;
  let pa = a + <usize>i * sa, pb = b + <usize>i * sb;
  for (; i < n; i++) {
    store<f32>(o + (<usize>i << 2), arith1(op, load<f32>(pa), load<f32>(pb)));
    pa += sa;
    pb += sb;
  }
}

// @ts-ignore: decorator
@inline function compareRow(op: i32, a: usize, as: i32, b: usize, bs: i32, o: usize, n: i32): void {
  let i = 0;
  if ((as == 1 || as == 0) && (bs == 1 || bs == 0)) {
    // 16 results per step: four f32 masks narrowed to 16 bytes of 0 / 1.
    const one = i8x16.splat(1);
    const sa = <usize>as << 4, sb = <usize>bs << 4;
    for (; i + 16 <= n; i += 16) {
      const pa = a + <usize>(i * as) * 4, pb = b + <usize>(i * bs) * 4;
      const m0 = compare(op, as ? v128.load(pa) : v128.load32_splat(pa), bs ? v128.load(pb) : v128.load32_splat(pb));
      const m1 = compare(op, as ? v128.load(pa + sa) : v128.load32_splat(pa), bs ? v128.load(pb + sb) : v128.load32_splat(pb));
      const m2 = compare(op, as ? v128.load(pa + 2 * sa) : v128.load32_splat(pa), bs ? v128.load(pb + 2 * sb) : v128.load32_splat(pb));
      const m3 = compare(op, as ? v128.load(pa + 3 * sa) : v128.load32_splat(pa), bs ? v128.load(pb + 3 * sb) : v128.load32_splat(pb));
      const lo = i16x8.narrow_i32x4_s(m0, m1), hi = i16x8.narrow_i32x4_s(m2, m3);
      v128.store(o + <usize>i, v128.and(i8x16.narrow_i16x8_s(lo, hi), one));
    }
  }
  const sa = <usize>as << 2, sb = <usize>bs << 2;
  let pa = a + <usize>i * sa, pb = b + <usize>i * sb;
  for (; i < n; i++) {
    store<u8>(o + <usize>i, compare1(op, load<f32>(pa), load<f32>(pb)) ? 1 : 0);
    pa += sa;
    pb += sb;
  }
}

/**
 * out[i] = a[i·as] op b[i·bs] for i < n: arithmetic ops (0–5) write f32,
 * comparisons (6–11) write one byte (0 or 1) per element.
 */
export function binaryRow(op: i32, a: usize, as: i32, b: usize, bs: i32, o: usize, n: i32): void {
  if (op == ADD) arithRow(ADD, a, as, b, bs, o, n);
  else if (op == SUB) arithRow(SUB, a, as, b, bs, o, n);
  else if (op == MUL) arithRow(MUL, a, as, b, bs, o, n);
  else if (op == DIV) arithRow(DIV, a, as, b, bs, o, n);
  else if (op == MAX) arithRow(MAX, a, as, b, bs, o, n);
  else if (op == MIN) arithRow(MIN, a, as, b, bs, o, n);
  else if (op == EQ) compareRow(EQ, a, as, b, bs, o, n);
  else if (op == NE) compareRow(NE, a, as, b, bs, o, n);
  else if (op == LT) compareRow(LT, a, as, b, bs, o, n);
  else if (op == LE) compareRow(LE, a, as, b, bs, o, n);
  else if (op == GT) compareRow(GT, a, as, b, bs, o, n);
  else compareRow(GE, a, as, b, bs, o, n);
}

/**
 * binaryRow over `rows` rows in one call, row r starting at a + r·aRow,
 * b + r·bRow and o + r·oRow (byte steps): a broadcast op such as a bias add
 * over a batch is one call instead of one per row.
 */
export function binaryRows(
  op: i32,
  a: usize,
  as: i32,
  aRow: i32,
  b: usize,
  bs: i32,
  bRow: i32,
  o: usize,
  oRow: i32,
  n: i32,
  rows: i32,
): void {
  for (let r = 0; r < rows; r++) {
    binaryRow(op, a, as, b, bs, o, n);
    a += <usize>aRow;
    b += <usize>bRow;
    o += <usize>oRow;
  }
}

// @ts-ignore: decorator
@inline function unary(op: i32, x: v128): v128 {
  if (op == NEG) return f32x4.neg(x);
  if (op == ABS) return f32x4.abs(x);
  // `x < 0 ? 0 : x` keeps NaN and -0, as the reference does.
  if (op == RELU) return v128.bitselect(f32x4.splat(0), x, f32x4.lt(x, f32x4.splat(0)));
  if (op == SQRT) return f32x4.sqrt(x);
  if (op == RSQRT) {
    const one = f64x2.splat(1);
    const lo = f64x2.div(one, f64x2.sqrt(f64x2.promote_low_f32x4(x)));
    const hi = f64x2.div(one, f64x2.sqrt(f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 2, 3))));
    return v128.shuffle<f32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
  }
  if (op == RECIPROCAL) return f32x4.div(f32x4.splat(1), x);
  return f32x4.mul(x, x);
}

// @ts-ignore: decorator
@inline function unary1(op: i32, x: f32): f32 {
  if (op == NEG) return -x;
  if (op == ABS) return abs<f32>(x);
  if (op == RELU) return x < 0 ? 0 : x;
  if (op == SQRT) return sqrt<f32>(x);
  if (op == RSQRT) return <f32>(1.0 / sqrt<f64>(<f64>x));
  if (op == RECIPROCAL) return 1 / x;
  return x * x;
}

// @ts-ignore: decorator
@inline function unaryRowOf(op: i32, x: usize, xs: i32, o: usize, n: i32): void {
  let i = 0;
  if (xs == 1) {
    for (; i + 4 <= n; i += 4) {
      const q = <usize>i << 2;
      v128.store(o + q, unary(op, v128.load(x + q)));
    }
  }
  const s = <usize>xs << 2;
  let p = x + <usize>i * s;
  for (; i < n; i++) {
    store<f32>(o + (<usize>i << 2), unary1(op, load<f32>(p)));
    p += s;
  }
}

/** out[i] = op(x[i·xs]) for i < n: neg, abs, relu, sqrt, rsqrt, reciprocal, square (0–6). */
export function unaryRow(op: i32, x: usize, xs: i32, o: usize, n: i32): void {
  if (op == NEG) unaryRowOf(NEG, x, xs, o, n);
  else if (op == ABS) unaryRowOf(ABS, x, xs, o, n);
  else if (op == RELU) unaryRowOf(RELU, x, xs, o, n);
  else if (op == SQRT) unaryRowOf(SQRT, x, xs, o, n);
  else if (op == RSQRT) unaryRowOf(RSQRT, x, xs, o, n);
  else if (op == RECIPROCAL) unaryRowOf(RECIPROCAL, x, xs, o, n);
  else unaryRowOf(SQUARE, x, xs, o, n);
}

/** out[i] = cond[i·cs] ? a[i·as] : b[i·bs]; cond holds one byte per element. */
export function whereRow(c: usize, cs: i32, a: usize, as: i32, b: usize, bs: i32, o: usize, n: i32): void {
  let i = 0;
  if (cs == 1 && (as == 1 || as == 0) && (bs == 1 || bs == 0)) {
    const zero = i32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const bytes = v128.load32_zero(c + <usize>i);
      const mask = i32x4.ne(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(bytes)), zero);
      const va = as ? v128.load(a + (<usize>i << 2)) : v128.load32_splat(a);
      const vb = bs ? v128.load(b + (<usize>i << 2)) : v128.load32_splat(b);
      v128.store(o + (<usize>i << 2), v128.bitselect(va, vb, mask));
    }
  }
  const sa = <usize>as << 2, sb = <usize>bs << 2;
  let pc = c + <usize>(i * cs), pa = a + <usize>i * sa, pb = b + <usize>i * sb;
  for (; i < n; i++) {
    store<f32>(o + (<usize>i << 2), load<u8>(pc) != 0 ? load<f32>(pa) : load<f32>(pb));
    pc += <usize>cs;
    pa += sa;
    pb += sb;
  }
}

/**
 * out[i] = x[i·xs] <= threshold ? 0 : g[i·gs], PyTorch's threshold_backward:
 * ReLU's gradient from its output (threshold 0) in one pass. A NaN in x
 * passes the gradient, as `NaN <= t` is false.
 */
export function thresholdBackwardRow(g: usize, gs: i32, x: usize, xs: i32, o: usize, n: i32, threshold: f32): void {
  let i = 0;
  if (gs == 1 && xs == 1) {
    const t = f32x4.splat(threshold), zero = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const q = <usize>i << 2;
      v128.store(o + q, v128.bitselect(zero, v128.load(g + q), f32x4.le(v128.load(x + q), t)));
    }
  }
  const sg = <usize>gs << 2, sx = <usize>xs << 2;
  let pg = g + <usize>i * sg, px = x + <usize>i * sx;
  for (; i < n; i++) {
    store<f32>(o + (<usize>i << 2), load<f32>(px) <= threshold ? 0 : load<f32>(pg));
    pg += sg;
    px += sx;
  }
}

/** Copies n f32 with steps: out[i·os] = x[i·xs]. */
export function copyRow(x: usize, xs: i32, o: usize, os: i32, n: i32): void {
  if (xs == 1 && os == 1) {
    memory.copy(o, x, <usize>n << 2);
    return;
  }
  let i = 0;
  if (xs == 0 && os == 1) {
    const v = v128.load32_splat(x);
    for (; i + 4 <= n; i += 4) v128.store(o + (<usize>i << 2), v);
  }
  const sx = <usize>xs << 2, so = <usize>os << 2;
  let px = x + <usize>i * sx, po = o + <usize>i * so;
  for (; i < n; i++) {
    store<f32>(po, load<f32>(px));
    px += sx;
    po += so;
  }
}

/**
 * A transpose into row-major order: dst[r][c] = src[c·ld + r] for a rows×cols
 * matrix stored column by column (column step ld). 4×4 blocks go through
 * registers (four loads, eight shuffles, four stores); the edges go one by one.
 */
export function transpose(src: usize, rows: i32, cols: i32, ld: i32, dst: usize): void {
  const ldb = <usize>ld << 2, row = <usize>cols << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const s = src + <usize>c * ldb + (<usize>r << 2);
      const c0 = v128.load(s), c1 = v128.load(s + ldb), c2 = v128.load(s + 2 * ldb), c3 = v128.load(s + 3 * ldb);
      const t0 = v128.shuffle<f32>(c0, c1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(c0, c1, 2, 6, 3, 7);
      const t2 = v128.shuffle<f32>(c2, c3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(c2, c3, 2, 6, 3, 7);
      const d = dst + <usize>r * row + (<usize>c << 2);
      v128.store(d, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
      v128.store(d + row, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
      v128.store(d + 2 * row, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
      v128.store(d + 3 * row, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
    }
    for (; c < cols; c++) {
      for (let q = 0; q < 4; q++) {
        store<f32>(dst + <usize>(r + q) * row + (<usize>c << 2), load<f32>(src + <usize>c * ldb + (<usize>(r + q) << 2)));
      }
    }
  }
  for (; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      store<f32>(dst + <usize>r * row + (<usize>c << 2), load<f32>(src + <usize>c * ldb + (<usize>r << 2)));
    }
  }
}

/** n 32-bit words of `bits` (a float32's or an int32's) from o. */
export function fill32(o: usize, n: i32, bits: i32): void {
  const v = i32x4.splat(bits);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(o + (<usize>i << 2), v);
  for (; i < n; i++) store<i32>(o + (<usize>i << 2), bits);
}

// @ts-ignore: decorator
@inline function arith64(op: i32, a: v128, b: v128): v128 {
  if (op == ADD) return f64x2.add(a, b);
  if (op == SUB) return f64x2.sub(a, b);
  if (op == MUL) return f64x2.mul(a, b);
  if (op == DIV) return f64x2.div(a, b);
  if (op == MAX) return f64x2.max(a, b);
  return f64x2.min(a, b);
}

// @ts-ignore: decorator
@inline function compare64(op: i32, a: v128, b: v128): v128 {
  if (op == EQ) return f64x2.eq(a, b);
  if (op == NE) return f64x2.ne(a, b);
  if (op == LT) return f64x2.lt(a, b);
  if (op == LE) return f64x2.le(a, b);
  if (op == GT) return f64x2.gt(a, b);
  return f64x2.ge(a, b);
}

// @ts-ignore: decorator
@inline function scalarRow(op: i32, x: usize, xs: i32, s: f64, first: bool, o: usize, n: i32): void {
  const vs = f64x2.splat(s);
  let i = 0;
  if (xs == 1) {
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(x + (<usize>i << 2));
      const lo = f64x2.promote_low_f32x4(v), hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
      if (op < EQ) {
        const rl = first ? arith64(op, vs, lo) : arith64(op, lo, vs);
        const rh = first ? arith64(op, vs, hi) : arith64(op, hi, vs);
        v128.store(o + (<usize>i << 2), v128.shuffle<f32>(f32x4.demote_f64x2_zero(rl), f32x4.demote_f64x2_zero(rh), 0, 1, 4, 5));
      } else {
        const ml = first ? compare64(op, vs, lo) : compare64(op, lo, vs);
        const mh = first ? compare64(op, vs, hi) : compare64(op, hi, vs);
        // two i64 masks of each half → four bytes of 0 / 1
        store<u8>(o + <usize>i, <u8>(i64x2.extract_lane(ml, 0) & 1));
        store<u8>(o + <usize>i + 1, <u8>(i64x2.extract_lane(ml, 1) & 1));
        store<u8>(o + <usize>i + 2, <u8>(i64x2.extract_lane(mh, 0) & 1));
        store<u8>(o + <usize>i + 3, <u8>(i64x2.extract_lane(mh, 1) & 1));
      }
    }
  }
  const step = <usize>xs << 2;
  let p = x + <usize>i * step;
  for (; i < n; i++) {
    const v = <f64>load<f32>(p);
    const a = first ? s : v, b = first ? v : s;
    if (op < EQ) {
      let r: f64;
      if (op == ADD) r = a + b;
      else if (op == SUB) r = a - b;
      else if (op == MUL) r = a * b;
      else if (op == DIV) r = a / b;
      else if (op == MAX) r = max<f64>(a, b);
      else r = min<f64>(a, b);
      store<f32>(o + (<usize>i << 2), <f32>r);
    } else {
      let r: bool;
      if (op == EQ) r = a == b;
      else if (op == NE) r = a != b;
      else if (op == LT) r = a < b;
      else if (op == LE) r = a <= b;
      else if (op == GT) r = a > b;
      else r = a >= b;
      store<u8>(o + <usize>i, r ? 1 : 0);
    }
    p += step;
  }
}

/**
 * out[i] = x[i·xs] op s (or s op x[i·xs] when `first`) for a scalar s kept
 * in f64, as the TypeScript kernels keep it: the element is widened, the op
 * runs in f64 and the result is rounded once (so x · 0.1 rounds like the
 * reference's, not like x · f32(0.1)). Comparisons too run in f64.
 */
export function scalarBinaryRow(op: i32, x: usize, xs: i32, s: f64, first: bool, o: usize, n: i32): void {
  if (op == ADD) scalarRow(ADD, x, xs, s, first, o, n);
  else if (op == SUB) scalarRow(SUB, x, xs, s, first, o, n);
  else if (op == MUL) scalarRow(MUL, x, xs, s, first, o, n);
  else if (op == DIV) scalarRow(DIV, x, xs, s, first, o, n);
  else if (op == MAX) scalarRow(MAX, x, xs, s, first, o, n);
  else if (op == MIN) scalarRow(MIN, x, xs, s, first, o, n);
  else if (op == EQ) scalarRow(EQ, x, xs, s, first, o, n);
  else if (op == NE) scalarRow(NE, x, xs, s, first, o, n);
  else if (op == LT) scalarRow(LT, x, xs, s, first, o, n);
  else if (op == LE) scalarRow(LE, x, xs, s, first, o, n);
  else if (op == GT) scalarRow(GT, x, xs, s, first, o, n);
  else scalarRow(GE, x, xs, s, first, o, n);
}

/**
 * out[p, i] = x[p, i] · scale[p % channels] + shift[p % channels] for planes
 * p in [p0, p1) of `inner` elements each (x and out contiguous [N, C, inner]):
 * evaluation-mode batch norm in one pass. Multiplied, then added, as the
 * composition rounds.
 */
export function channelAffine(
  x: usize,
  scale: usize,
  shift: usize,
  o: usize,
  channels: i32,
  inner: i32,
  p0: i32,
  p1: i32,
): void {
  for (let p = p0; p < p1; p++) {
    const ch = <usize>(p % channels) << 2;
    const a = load<f32>(scale + ch), b = load<f32>(shift + ch);
    const va = f32x4.splat(a), vb = f32x4.splat(b);
    const base = <usize>p * <usize>inner << 2;
    const s = x + base, d = o + base;
    let i = 0;
    for (; i + 4 <= inner; i += 4) {
      const q = <usize>i << 2;
      v128.store(d + q, f32x4.add(f32x4.mul(v128.load(s + q), va), vb));
    }
    for (; i < inner; i++) {
      const q = <usize>i << 2;
      store<f32>(d + q, load<f32>(s + q) * a + b);
    }
  }
}
