// 2-d max and average pooling over planes [p0, p1) of contiguous NCHW data,
// with PyTorch's window rules and loop order (the TypeScript kernels in
// ../pool.ts are the reference): max keeps the first largest element, and a
// NaN wins (the last one); average divides by the clipped window, the padded
// window (countIncludePad) or a fixed divisor.

/** The scalar window scan of one max-pooling output; returns the winner's index, stores its value. */
// @ts-ignore: decorator
@inline function maxWindow(base: usize, w: i32, y0: i32, y1: i32, dh: i32, xs: i32, xe: i32, dw: i32, out: usize): i32 {
  let best = y0 * w + xs;
  let max = -Infinity as f32;
  for (let iy = y0; iy < y1; iy += dh) {
    const row = iy * w;
    for (let ix = xs; ix < xe; ix += dw) {
      const v = load<f32>(base + (<usize>(row + ix) << 2));
      if (v > max || v != v) {
        max = v;
        best = row + ix;
      }
    }
  }
  store<f32>(out, max);
  return best;
}

/**
 * Max pooling over planes [p0, p1). `values` and `indices` (i32, flat
 * position within the plane) are [planes, oh, ow]. Windows inside the row
 * with unit dilation and stride 1 or 2 run 4 outputs at a time in SIMD: each
 * lane scans its window in the same order as the scalar loop, so ties and
 * NaNs resolve the same.
 */
export function maxPool2d(
  x: usize,
  values: usize,
  indices: usize,
  p0: i32,
  p1: i32,
  h: i32,
  w: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  ph: i32,
  pw: i32,
  dh: i32,
  dw: i32,
  oh: i32,
  ow: i32,
): void {
  const plane = h * w, outPlane = oh * ow;
  const simd = dw == 1 && (sw == 1 || sw == 2);
  const lanes = i32x4(0, sw, 2 * sw, 3 * sw);
  // The loads of a 4-output group reach one element past the last window when the stride is 2.
  const reach = 3 * sw + kw + (sw == 2 ? 1 : 0);
  for (let c = p0; c < p1; c++) {
    const base = x + (<usize>(c * plane) << 2);
    let o = <usize>(c * outPlane) << 2;
    for (let y = 0; y < oh; y++) {
      let y0 = y * sh - ph;
      const yEnd = y0 + (kh - 1) * dh + 1;
      const y1 = yEnd < h ? yEnd : h;
      while (y0 < 0) y0 += dh;
      let xo = 0;
      while (xo < ow) {
        const xs0 = xo * sw - pw;
        if (simd && xs0 >= 0 && xo + 4 <= ow && xs0 + reach <= w) {
          let max = f32x4.splat(-Infinity);
          let best = i32x4.add(i32x4.splat(y0 * w + xs0), lanes);
          for (let iy = y0; iy < y1; iy++) {
            const row = base + (<usize>(iy * w + xs0) << 2);
            for (let kx = 0; kx < kw; kx++) {
              const at = row + (<usize>kx << 2);
              const v = sw == 1 ? v128.load(at) : v128.shuffle<f32>(v128.load(at), v128.load(at, 16), 0, 2, 4, 6);
              const wins = v128.or(f32x4.gt(v, max), f32x4.ne(v, v));
              max = v128.bitselect(v, max, wins);
              best = v128.bitselect(i32x4.add(i32x4.splat(iy * w + xs0 + kx), lanes), best, wins);
            }
          }
          v128.store(values + o, max);
          v128.store(indices + o, best);
          o += 16;
          xo += 4;
          continue;
        }
        let xs = xs0;
        const xEnd = xs + (kw - 1) * dw + 1;
        const xe = xEnd < w ? xEnd : w;
        while (xs < 0) xs += dw;
        store<i32>(indices + o, maxWindow(base, w, y0, y1, dh, xs, xe, dw, values + o));
        o += 4;
        xo++;
      }
    }
  }
}

/** Adds each output gradient onto the input position its window's max came from; gradIn starts at zero. */
export function maxPool2dBackward(
  gradOut: usize,
  indices: usize,
  gradIn: usize,
  p0: i32,
  p1: i32,
  plane: i32,
  outPlane: i32,
): void {
  memory.fill(gradIn + (<usize>(p0 * plane) << 2), 0, <usize>((p1 - p0) * plane) << 2);
  for (let c = p0; c < p1; c++) {
    const base = gradIn + (<usize>(c * plane) << 2);
    const o = <usize>(c * outPlane) << 2;
    for (let i = 0; i < outPlane; i++) {
      const at = base + (<usize>load<i32>(indices + o + (<usize>i << 2)) << 2);
      store<f32>(at, load<f32>(at) + load<f32>(gradOut + o + (<usize>i << 2)));
    }
  }
}

/**
 * The window of output (y, x) clipped to the input, packed as four i32 in
 * `win`, and its divisor (0 when the window is empty).
 */
// @ts-ignore: decorator
@inline function avgWindow(
  y: i32,
  xo: i32,
  h: i32,
  w: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  ph: i32,
  pw: i32,
  countIncludePad: bool,
  divisorOverride: f64,
  win: usize,
): f64 {
  let y0 = y * sh - ph, x0 = xo * sw - pw;
  let y1 = y0 + kh, x1 = x0 + kw;
  if (y1 > h + ph) y1 = h + ph;
  if (x1 > w + pw) x1 = w + pw;
  // The window before clipping to the input is what count_include_pad divides by.
  const poolSize = (y1 - y0) * (x1 - x0);
  if (y0 < 0) y0 = 0;
  if (x0 < 0) x0 = 0;
  if (y1 > h) y1 = h;
  if (x1 > w) x1 = w;
  store<i32>(win, y0);
  store<i32>(win, y1, 4);
  store<i32>(win, x0, 8);
  store<i32>(win, x1, 12);
  if (y0 >= y1 || x0 >= x1) return 0;
  if (divisorOverride != 0) return divisorOverride;
  return <f64>(countIncludePad ? poolSize : (y1 - y0) * (x1 - x0));
}

/** Average pooling; `divisorOverride` 0 means none. `win` is 16 bytes of scratch. */
export function avgPool2d(
  x: usize,
  out: usize,
  p0: i32,
  p1: i32,
  h: i32,
  w: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  ph: i32,
  pw: i32,
  oh: i32,
  ow: i32,
  countIncludePad: bool,
  divisorOverride: f64,
  win: usize,
): void {
  const plane = h * w, outPlane = oh * ow;
  for (let c = p0; c < p1; c++) {
    const base = x + (<usize>(c * plane) << 2);
    let o = out + (<usize>(c * outPlane) << 2);
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        const divisor = avgWindow(y, xo, h, w, kh, kw, sh, sw, ph, pw, countIncludePad, divisorOverride, win);
        // Sums in f64, as the TypeScript reference does.
        let sum: f64 = 0;
        if (divisor != 0) {
          const y0 = load<i32>(win), y1 = load<i32>(win, 4), x0 = load<i32>(win, 8), x1 = load<i32>(win, 12);
          for (let iy = y0; iy < y1; iy++) {
            const row = base + (<usize>(iy * w) << 2);
            for (let ix = x0; ix < x1; ix++) sum += <f64>load<f32>(row + (<usize>ix << 2));
          }
          sum /= divisor;
        }
        store<f32>(o, <f32>sum);
        o += 4;
      }
    }
  }
}

/** Gradient of average pooling: each output gradient over its divisor, spread over its window; gradIn starts at zero. */
export function avgPool2dBackward(
  gradOut: usize,
  gradIn: usize,
  p0: i32,
  p1: i32,
  h: i32,
  w: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  ph: i32,
  pw: i32,
  oh: i32,
  ow: i32,
  countIncludePad: bool,
  divisorOverride: f64,
  win: usize,
): void {
  const plane = h * w, outPlane = oh * ow;
  memory.fill(gradIn + (<usize>(p0 * plane) << 2), 0, <usize>((p1 - p0) * plane) << 2);
  for (let c = p0; c < p1; c++) {
    const base = gradIn + (<usize>(c * plane) << 2);
    let g = gradOut + (<usize>(c * outPlane) << 2);
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        const divisor = avgWindow(y, xo, h, w, kh, kw, sh, sw, ph, pw, countIncludePad, divisorOverride, win);
        if (divisor != 0) {
          const share = <f64>load<f32>(g) / divisor;
          const y0 = load<i32>(win), y1 = load<i32>(win, 4), x0 = load<i32>(win, 8), x1 = load<i32>(win, 12);
          for (let iy = y0; iy < y1; iy++) {
            const row = base + (<usize>(iy * w) << 2);
            for (let ix = x0; ix < x1; ix++) {
              const at = row + (<usize>ix << 2);
              store<f32>(at, <f32>(<f64>load<f32>(at) + share));
            }
          }
        }
        g += 4;
      }
    }
  }
}
