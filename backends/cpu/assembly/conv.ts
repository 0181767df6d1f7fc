// The im2col unfolding written out (conv2d's weight gradient multiplies by its
// transpose) and its reverse, col2im, which adds columns back onto an image
// (conv2d's input gradient when the stride is not 1). Both walk whole runs of
// an output row at a time, so unit-stride convolutions copy with memory.copy
// and add with SIMD.

import { CONV_DH, CONV_DW, CONV_H, CONV_KH, CONV_KW, CONV_OH, CONV_OW, CONV_PH, CONV_PW, CONV_SH, CONV_SW, CONV_W, CONV_X } from "./layout";

/** First and one-past-last output position whose tap at `offset` (= k·dilation − pad) lands inside [0, size). */
// @ts-ignore: decorator
@inline function lo(offset: i32, stride: i32, outSize: i32): i32 {
  const v = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  return v < outSize ? v : outSize;
}

// @ts-ignore: decorator
@inline function hi(offset: i32, stride: i32, size: i32, outSize: i32, low: i32): i32 {
  const v = size - 1 - offset < 0 ? 0 : (size - 1 - offset) / stride + 1;
  const clipped = v < outSize ? v : outSize;
  return clipped > low ? clipped : low;
}

/**
 * Unfolds channels [c0, c0 + channels) of the image named by `conv` into
 * `cols` [channels·kh·kw, oh·ow] (row-major): row (c, i, j) holds the input
 * under tap (i, j) at every output position, zero in the padding.
 */
export function im2col(conv: usize, c0: i32, channels: i32, cols: usize): void {
  const x = load<u32>(conv, CONV_X);
  const h = load<i32>(conv, CONV_H), w = load<i32>(conv, CONV_W);
  const kh = load<i32>(conv, CONV_KH), kw = load<i32>(conv, CONV_KW);
  const oh = load<i32>(conv, CONV_OH), ow = load<i32>(conv, CONV_OW);
  const sh = load<i32>(conv, CONV_SH), sw = load<i32>(conv, CONV_SW);
  const ph = load<i32>(conv, CONV_PH), pw = load<i32>(conv, CONV_PW);
  const dh = load<i32>(conv, CONV_DH), dw = load<i32>(conv, CONV_DW);
  const L = oh * ow;
  let row = cols;
  for (let ci = 0; ci < channels; ci++) {
    const plane = x + (<usize>((c0 + ci) * h * w) << 2);
    for (let i = 0; i < kh; i++) {
      const offH = i * dh - ph;
      const yLo = lo(offH, sh, oh), yHi = hi(offH, sh, h, oh, yLo);
      for (let j = 0; j < kw; j++) {
        const offW = j * dw - pw;
        const xLo = lo(offW, sw, ow), xHi = hi(offW, sw, w, ow, xLo);
        memory.fill(row, 0, <usize>(yLo * ow) << 2);
        for (let y = yLo; y < yHi; y++) {
          const dst = row + (<usize>(y * ow) << 2);
          memory.fill(dst, 0, <usize>xLo << 2);
          const src = plane + (<usize>((y * sh + offH) * w + xLo * sw + offW) << 2);
          const run = xHi - xLo;
          if (sw == 1) {
            memory.copy(dst + (<usize>xLo << 2), src, <usize>run << 2);
          } else {
            const step = <usize>sw << 2;
            let s = src, d = dst + (<usize>xLo << 2);
            let q = 0;
            if (sw == 2) {
              // Every other input: two loads and one shuffle per 4 outputs, while the loads stay inside the row.
              const rowEnd = plane + (<usize>((y * sh + offH) * w + w) << 2);
              for (; q + 4 <= run && s + 32 <= rowEnd; q += 4) {
                v128.store(d, v128.shuffle<f32>(v128.load(s), v128.load(s, 16), 0, 2, 4, 6));
                s += 32;
                d += 16;
              }
            }
            for (; q < run; q++) {
              store<f32>(d, load<f32>(s));
              s += step;
              d += 4;
            }
          }
          memory.fill(dst + (<usize>xHi << 2), 0, <usize>(ow - xHi) << 2);
        }
        memory.fill(row + (<usize>(yHi * ow) << 2), 0, <usize>((oh - yHi) * ow) << 2);
        row += <usize>L << 2;
      }
    }
  }
}

/**
 * The reverse of im2col for channels [c0, c0 + channels): adds each entry of
 * `cols` onto the image element it came from (the image named by `conv`,
 * which the caller has zeroed or holds a partial sum).
 */
export function col2im(cols: usize, conv: usize, c0: i32, channels: i32): void {
  const x = load<u32>(conv, CONV_X);
  const h = load<i32>(conv, CONV_H), w = load<i32>(conv, CONV_W);
  const kh = load<i32>(conv, CONV_KH), kw = load<i32>(conv, CONV_KW);
  const oh = load<i32>(conv, CONV_OH), ow = load<i32>(conv, CONV_OW);
  const sh = load<i32>(conv, CONV_SH), sw = load<i32>(conv, CONV_SW);
  const ph = load<i32>(conv, CONV_PH), pw = load<i32>(conv, CONV_PW);
  const dh = load<i32>(conv, CONV_DH), dw = load<i32>(conv, CONV_DW);
  const L = oh * ow;
  let row = cols;
  for (let ci = 0; ci < channels; ci++) {
    const plane = x + (<usize>((c0 + ci) * h * w) << 2);
    for (let i = 0; i < kh; i++) {
      const offH = i * dh - ph;
      const yLo = lo(offH, sh, oh), yHi = hi(offH, sh, h, oh, yLo);
      for (let j = 0; j < kw; j++) {
        const offW = j * dw - pw;
        const xLo = lo(offW, sw, ow), xHi = hi(offW, sw, w, ow, xLo);
        for (let y = yLo; y < yHi; y++) {
          let s = row + (<usize>(y * ow + xLo) << 2);
          let d = plane + (<usize>((y * sh + offH) * w + xLo * sw + offW) << 2);
          let q = xHi - xLo;
          if (sw == 1) {
            for (; q >= 4; q -= 4) {
              v128.store(d, f32x4.add(v128.load(d), v128.load(s)));
              s += 16;
              d += 16;
            }
          }
          const step = <usize>sw << 2;
          for (; q > 0; q--) {
            store<f32>(d, load<f32>(d) + load<f32>(s));
            s += 4;
            d += step;
          }
        }
        row += <usize>L << 2;
      }
    }
  }
}
