// Sum, max and min of f32 rows into f64 accumulators, as the TypeScript
// reference (../reduce.ts) folds them: a row either folds into one slot
// (reducing along the row) or combines element-wise into a row of slots.
// Sums run in f64 (two f64x2 lanes per f32x4), so they lose less than f32.
// Op codes match ../_wasm_kernels.ts.

// @ts-ignore: decorator
@inline const SUM = 0;
// @ts-ignore: decorator
@inline const MAX = 1;
// @ts-ignore: decorator
@inline const MIN = 2;

/** acc[0] = acc[0] op x[0], x[xs], ... (n elements); acc is one f64. */
export function foldRow(op: i32, x: usize, xs: i32, n: i32, acc: usize): void {
  let i = 0;
  const s = <usize>xs << 2;
  if (op == SUM) {
    let total = load<f64>(acc);
    if (xs == 1) {
      let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
      for (; i + 4 <= n; i += 4) {
        const v = v128.load(x + (<usize>i << 2));
        s0 = f64x2.add(s0, f64x2.promote_low_f32x4(v));
        s1 = f64x2.add(s1, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3)));
      }
      const t = f64x2.add(s0, s1);
      total += f64x2.extract_lane(t, 0) + f64x2.extract_lane(t, 1);
    }
    let p = x + <usize>i * s;
    for (; i < n; i++) {
      total += <f64>load<f32>(p);
      p += s;
    }
    store<f64>(acc, total);
    return;
  }
  // max / min: NaN propagates (f32x4.max and f32.max both let it win).
  let best = <f32>load<f64>(acc);
  if (xs == 1 && n >= 4) {
    let v = f32x4.splat(best);
    for (; i + 4 <= n; i += 4) {
      const e = v128.load(x + (<usize>i << 2));
      v = op == MAX ? f32x4.max(v, e) : f32x4.min(v, e);
    }
    const a = f32x4.extract_lane(v, 0), b = f32x4.extract_lane(v, 1);
    const c = f32x4.extract_lane(v, 2), d = f32x4.extract_lane(v, 3);
    best = op == MAX ? max<f32>(max<f32>(a, b), max<f32>(c, d)) : min<f32>(min<f32>(a, b), min<f32>(c, d));
  }
  let p = x + <usize>i * s;
  for (; i < n; i++) {
    const e = load<f32>(p);
    best = op == MAX ? max<f32>(best, e) : min<f32>(best, e);
    p += s;
  }
  store<f64>(acc, <f64>best);
}

/** acc[i·as] = acc[i·as] op x[i·xs] for i < n; acc holds f64. */
export function combineRow(op: i32, x: usize, xs: i32, n: i32, acc: usize, as: i32): void {
  let i = 0;
  if (op == SUM && xs == 1 && as == 1) {
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(x + (<usize>i << 2));
      const q = acc + (<usize>i << 3);
      v128.store(q, f64x2.add(v128.load(q), f64x2.promote_low_f32x4(v)));
      v128.store(q, f64x2.add(v128.load(q, 16), f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3))), 16);
    }
  }
  const sx = <usize>xs << 2, sa = <usize>as << 3;
  let px = x + <usize>i * sx, pa = acc + <usize>i * sa;
  for (; i < n; i++) {
    const e = <f64>load<f32>(px);
    const a = load<f64>(pa);
    store<f64>(pa, op == SUM ? a + e : op == MAX ? max<f64>(a, e) : min<f64>(a, e));
    px += sx;
    pa += sa;
  }
}

/** out[i] = f32(acc[i]) for i < n: the accumulators rounded to the output. */
export function demoteRow(acc: usize, o: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const lo = f32x4.demote_f64x2_zero(v128.load(acc + (<usize>i << 3)));
    const hi = f32x4.demote_f64x2_zero(v128.load(acc + (<usize>i << 3), 16));
    v128.store(o + (<usize>i << 2), v128.shuffle<f32>(lo, hi, 0, 1, 4, 5));
  }
  for (; i < n; i++) store<f32>(o + (<usize>i << 2), <f32>load<f64>(acc + (<usize>i << 3)));
}

/** n f64 set to `value`. */
export function fillF64(acc: usize, n: i32, value: f64): void {
  const v = f64x2.splat(value);
  let i = 0;
  for (; i + 2 <= n; i += 2) v128.store(acc + (<usize>i << 3), v);
  for (; i < n; i++) store<f64>(acc + (<usize>i << 3), value);
}
