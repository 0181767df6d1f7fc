// The multiply-add peak this runtime reaches: 12 independent chains of
// f32x4 multiply-adds with nothing else in the loop. Benchmarks report gemm
// against it (bench/cpu_kernels_bench.ts); no kernel calls it.

// @ts-ignore: decorator
@inline function fma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Runs `iters` rounds of 12 multiply-adds of 4 lanes (96 flops per round); `p` holds two f32x4 operands. */
export function fmaPeak(iters: i32, p: usize): f32 {
  const x = v128.load(p), y = v128.load(p, 16);
  let a0 = x, a1 = y, a2 = x, a3 = y, a4 = x, a5 = y, a6 = x, a7 = y, a8 = x, a9 = y, a10 = x, a11 = y;
  for (let i = 0; i < iters; i++) {
    a0 = fma(a0, x, y);
    a1 = fma(a1, x, y);
    a2 = fma(a2, x, y);
    a3 = fma(a3, x, y);
    a4 = fma(a4, x, y);
    a5 = fma(a5, x, y);
    a6 = fma(a6, x, y);
    a7 = fma(a7, x, y);
    a8 = fma(a8, x, y);
    a9 = fma(a9, x, y);
    a10 = fma(a10, x, y);
    a11 = fma(a11, x, y);
  }
  const s = f32x4.add(
    f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7))),
    f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11)),
  );
  return f32x4.extract_lane(s, 0);
}
