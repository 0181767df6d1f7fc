// Winograd F(2×2, 3×3) for 3×3 convolutions with stride 1 and padding 1:
// each 2×2 block of outputs comes from a 4×4 tile of input, and the 36
// multiply-adds per block and channel pair become 16, done as 16 matrix
// products (one per tile position ξ) of transformed weights U[ξ] [O × C] by
// transformed tiles V[ξ] [C × T]. The transforms are a few additions per
// element; SIMD runs them over 4 neighbouring tiles at once.
//
//   V = Bᵀ d B,  U = G g Gᵀ,  Y = Aᵀ M A, with
//   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1],
//   Aᵀ = [1 1 1 0; 0 1 -1 -1].
//
// Layouts: x [channels, h, w] per image; V and M are [16][rows][T] with T
// the tiles of every image (image-major), so each ξ is a row-major matrix.

/** One image's 4×4 input tile at (ty, tx) (top-left input row 2ty−1, column 2tx−1), zero outside the image. */
// @ts-ignore: decorator
@inline function at(plane: usize, h: i32, w: i32, y: i32, x: i32): f32 {
  return y >= 0 && y < h && x >= 0 && x < w ? load<f32>(plane + (<usize>(y * w + x) << 2)) : 0;
}

/**
 * Transforms the tiles of channels [c0, c1) of one image at `x` ([channels,
 * h, w]) into V: V[ξ][c][t0 + ty·tw + tx]. `rowStride` is T, the tiles in V's
 * rows.
 */
export function winogradInput(x: usize, h: i32, w: i32, c0: i32, c1: i32, v: usize, t0: i32, rowStride: i32, channels: i32): void {
  const th = (h + 1) >> 1, tw = (w + 1) >> 1;
  const xi = <usize>channels * <usize>rowStride << 2; // bytes between ξ planes of V
  for (let c = c0; c < c1; c++) {
    const plane = x + (<usize>(c * h * w) << 2);
    const row0 = v + (<usize>(c * rowStride + t0) << 2);
    for (let ty = 0; ty < th; ty++) {
      const y0 = 2 * ty - 1;
      const o = row0 + (<usize>(ty * tw) << 2);
      if (y0 < 0 || y0 + 3 >= h) {
        for (let tx = 0; tx < tw; tx++) inputTile(plane, h, w, y0, tx, o, xi);
        continue;
      }
      // Tile 0 reads column −1 (padding); from tile 1 on, four tiles at once while their 10 input
      // columns 2tx−1 … 2tx+8 (read as three vectors, so through 2tx+10) lie inside the row.
      inputTile(plane, h, w, y0, 0, o, xi);
      let tx = 1;
      for (; tx + 4 <= tw && 2 * tx + 10 < w; tx += 4) {
        let t00 = f32x4.splat(0), t01 = t00, t02 = t00, t03 = t00, t10 = t00, t11 = t00, t12 = t00, t13 = t00;
        let t20 = t00, t21 = t00, t22 = t00, t23 = t00, t30 = t00, t31 = t00, t32 = t00, t33 = t00;
        for (let r = 0; r < 4; r++) {
          const s = plane + (<usize>((y0 + r) * w + 2 * tx - 1) << 2);
          const a = v128.load(s), b = v128.load(s, 16), e = v128.load(s, 32);
          const d0 = v128.shuffle<f32>(a, b, 0, 2, 4, 6), d1 = v128.shuffle<f32>(a, b, 1, 3, 5, 7);
          const f0 = v128.shuffle<f32>(b, e, 0, 2, 4, 6), f1 = v128.shuffle<f32>(b, e, 1, 3, 5, 7);
          const d2 = v128.shuffle<f32>(d0, f0, 1, 2, 3, 6), d3 = v128.shuffle<f32>(d1, f1, 1, 2, 3, 6);
          // (d B) for this row
          const q0 = f32x4.sub(d0, d2), q1 = f32x4.add(d1, d2), q2 = f32x4.sub(d2, d1), q3 = f32x4.sub(d1, d3);
          if (r == 0) {
            t00 = q0; t01 = q1; t02 = q2; t03 = q3;
          } else if (r == 1) {
            t10 = q0; t11 = q1; t12 = q2; t13 = q3;
          } else if (r == 2) {
            t20 = q0; t21 = q1; t22 = q2; t23 = q3;
          } else {
            t30 = q0; t31 = q1; t32 = q2; t33 = q3;
          }
        }
        const p = o + (<usize>tx << 2);
        // Bᵀ (d B): rows 0 − 2, 1 + 2, 2 − 1, 1 − 3.
        v128.store(p, f32x4.sub(t00, t20));
        v128.store(p + xi, f32x4.sub(t01, t21));
        v128.store(p + 2 * xi, f32x4.sub(t02, t22));
        v128.store(p + 3 * xi, f32x4.sub(t03, t23));
        v128.store(p + 4 * xi, f32x4.add(t10, t20));
        v128.store(p + 5 * xi, f32x4.add(t11, t21));
        v128.store(p + 6 * xi, f32x4.add(t12, t22));
        v128.store(p + 7 * xi, f32x4.add(t13, t23));
        v128.store(p + 8 * xi, f32x4.sub(t20, t10));
        v128.store(p + 9 * xi, f32x4.sub(t21, t11));
        v128.store(p + 10 * xi, f32x4.sub(t22, t12));
        v128.store(p + 11 * xi, f32x4.sub(t23, t13));
        v128.store(p + 12 * xi, f32x4.sub(t10, t30));
        v128.store(p + 13 * xi, f32x4.sub(t11, t31));
        v128.store(p + 14 * xi, f32x4.sub(t12, t32));
        v128.store(p + 15 * xi, f32x4.sub(t13, t33));
      }
      for (; tx < tw; tx++) inputTile(plane, h, w, y0, tx, o, xi);
    }
  }
}

/** One tile of winogradInput, bounds-checked: the image's border and the tiles the SIMD loop leaves. */
function inputTile(plane: usize, h: i32, w: i32, y0: i32, tx: i32, o: usize, xi: usize): void {
  const x0 = 2 * tx - 1;
  let t00: f32 = 0, t01: f32 = 0, t02: f32 = 0, t03: f32 = 0, t10: f32 = 0, t11: f32 = 0, t12: f32 = 0;
  let t13: f32 = 0, t20: f32 = 0, t21: f32 = 0, t22: f32 = 0, t23: f32 = 0, t30: f32 = 0, t31: f32 = 0;
  let t32: f32 = 0, t33: f32 = 0;
  for (let r = 0; r < 4; r++) {
    const y = y0 + r;
    const d0 = at(plane, h, w, y, x0), d1 = at(plane, h, w, y, x0 + 1);
    const d2 = at(plane, h, w, y, x0 + 2), d3 = at(plane, h, w, y, x0 + 3);
    const q0 = d0 - d2, q1 = d1 + d2, q2 = d2 - d1, q3 = d1 - d3;
    if (r == 0) {
      t00 = q0; t01 = q1; t02 = q2; t03 = q3;
    } else if (r == 1) {
      t10 = q0; t11 = q1; t12 = q2; t13 = q3;
    } else if (r == 2) {
      t20 = q0; t21 = q1; t22 = q2; t23 = q3;
    } else {
      t30 = q0; t31 = q1; t32 = q2; t33 = q3;
    }
  }
  const p = o + (<usize>tx << 2);
  store<f32>(p, t00 - t20);
  store<f32>(p + xi, t01 - t21);
  store<f32>(p + 2 * xi, t02 - t22);
  store<f32>(p + 3 * xi, t03 - t23);
  store<f32>(p + 4 * xi, t10 + t20);
  store<f32>(p + 5 * xi, t11 + t21);
  store<f32>(p + 6 * xi, t12 + t22);
  store<f32>(p + 7 * xi, t13 + t23);
  store<f32>(p + 8 * xi, t20 - t10);
  store<f32>(p + 9 * xi, t21 - t11);
  store<f32>(p + 10 * xi, t22 - t12);
  store<f32>(p + 11 * xi, t23 - t13);
  store<f32>(p + 12 * xi, t10 - t30);
  store<f32>(p + 13 * xi, t11 - t31);
  store<f32>(p + 14 * xi, t12 - t32);
  store<f32>(p + 15 * xi, t13 - t33);
}

/**
 * Transforms the 3×3 kernels of rows [o0, o1) of w ([rows, cols, 3, 3]) into
 * U[ξ][o][c] (U is [16][rows][cols]). Four input channels at a time: their 36
 * weights are 9 vector loads, transposed by shuffles into one vector per tap,
 * and each of the 16 outputs is one vector store (U is contiguous in c), where
 * one channel at a time took 25 bounds-checked scalar accesses per kernel.
 */
export function winogradWeights(w: usize, o0: i32, o1: i32, cols: i32, rows: i32, u: usize): void {
  const xi = <usize>rows * <usize>cols << 2;
  const half = f32x4.splat(0.5);
  for (let o = o0; o < o1; o++) {
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const g = w + (<usize>((o * cols + c) * 9) << 2);
      const v0 = v128.load(g, 0);
      const v1 = v128.load(g, 16);
      const v2 = v128.load(g, 32);
      const v3 = v128.load(g, 48);
      const v4 = v128.load(g, 64);
      const v5 = v128.load(g, 80);
      const v6 = v128.load(g, 96);
      const v7 = v128.load(g, 112);
      const v8 = v128.load(g, 128);
      const a0 = v128.shuffle<f32>(v128.shuffle<f32>(v0, v2, 0, 5, 0, 5), v128.shuffle<f32>(v4, v6, 2, 7, 2, 7), 0, 1, 4, 5);
      const a1 = v128.shuffle<f32>(v128.shuffle<f32>(v0, v2, 1, 6, 1, 6), v128.shuffle<f32>(v4, v7, 3, 4, 3, 4), 0, 1, 4, 5);
      const a2 = v128.shuffle<f32>(v128.shuffle<f32>(v0, v2, 2, 7, 2, 7), v128.shuffle<f32>(v5, v7, 0, 5, 0, 5), 0, 1, 4, 5);
      const b0 = v128.shuffle<f32>(v128.shuffle<f32>(v0, v3, 3, 4, 3, 4), v128.shuffle<f32>(v5, v7, 1, 6, 1, 6), 0, 1, 4, 5);
      const b1 = v128.shuffle<f32>(v128.shuffle<f32>(v1, v3, 0, 5, 0, 5), v128.shuffle<f32>(v5, v7, 2, 7, 2, 7), 0, 1, 4, 5);
      const b2 = v128.shuffle<f32>(v128.shuffle<f32>(v1, v3, 1, 6, 1, 6), v128.shuffle<f32>(v5, v8, 3, 4, 3, 4), 0, 1, 4, 5);
      const e0 = v128.shuffle<f32>(v128.shuffle<f32>(v1, v3, 2, 7, 2, 7), v128.shuffle<f32>(v6, v8, 0, 5, 0, 5), 0, 1, 4, 5);
      const e1 = v128.shuffle<f32>(v128.shuffle<f32>(v1, v4, 3, 4, 3, 4), v128.shuffle<f32>(v6, v8, 1, 6, 1, 6), 0, 1, 4, 5);
      const e2 = v128.shuffle<f32>(v128.shuffle<f32>(v2, v4, 0, 5, 0, 5), v128.shuffle<f32>(v6, v8, 2, 7, 2, 7), 0, 1, 4, 5);
      // G g: 4 rows × 3 columns from the kernel's rows a, b, e
      const m10 = f32x4.mul(f32x4.add(f32x4.add(a0, b0), e0), half);
      const m11 = f32x4.mul(f32x4.add(f32x4.add(a1, b1), e1), half);
      const m12 = f32x4.mul(f32x4.add(f32x4.add(a2, b2), e2), half);
      const m20 = f32x4.mul(f32x4.add(f32x4.sub(a0, b0), e0), half);
      const m21 = f32x4.mul(f32x4.add(f32x4.sub(a1, b1), e1), half);
      const m22 = f32x4.mul(f32x4.add(f32x4.sub(a2, b2), e2), half);
      const out = u + (<usize>(o * cols + c) << 2);
      // (G g) Gᵀ: each row [p, q, s] → [p, (p+q+s)/2, (p−q+s)/2, s]
      v128.store(out, a0);
      v128.store(out + xi, f32x4.mul(f32x4.add(f32x4.add(a0, a1), a2), half));
      v128.store(out + 2 * xi, f32x4.mul(f32x4.add(f32x4.sub(a0, a1), a2), half));
      v128.store(out + 3 * xi, a2);
      v128.store(out + 4 * xi, m10);
      v128.store(out + 5 * xi, f32x4.mul(f32x4.add(f32x4.add(m10, m11), m12), half));
      v128.store(out + 6 * xi, f32x4.mul(f32x4.add(f32x4.sub(m10, m11), m12), half));
      v128.store(out + 7 * xi, m12);
      v128.store(out + 8 * xi, m20);
      v128.store(out + 9 * xi, f32x4.mul(f32x4.add(f32x4.add(m20, m21), m22), half));
      v128.store(out + 10 * xi, f32x4.mul(f32x4.add(f32x4.sub(m20, m21), m22), half));
      v128.store(out + 11 * xi, m22);
      v128.store(out + 12 * xi, e0);
      v128.store(out + 13 * xi, f32x4.mul(f32x4.add(f32x4.add(e0, e1), e2), half));
      v128.store(out + 14 * xi, f32x4.mul(f32x4.add(f32x4.sub(e0, e1), e2), half));
      v128.store(out + 15 * xi, e2);
    }
    for (; c < cols; c++) {
      const g = w + (<usize>((o * cols + c) * 9) << 2);
      const a0 = load<f32>(g), a1 = load<f32>(g, 4), a2 = load<f32>(g, 8);
      const b0 = load<f32>(g, 12), b1 = load<f32>(g, 16), b2 = load<f32>(g, 20);
      const e0 = load<f32>(g, 24), e1 = load<f32>(g, 28), e2 = load<f32>(g, 32);
      const m10 = (a0 + b0 + e0) * 0.5, m11 = (a1 + b1 + e1) * 0.5, m12 = (a2 + b2 + e2) * 0.5;
      const m20 = (a0 - b0 + e0) * 0.5, m21 = (a1 - b1 + e1) * 0.5, m22 = (a2 - b2 + e2) * 0.5;
      const out = u + (<usize>(o * cols + c) << 2);
      store<f32>(out, a0);
      store<f32>(out + xi, (a0 + a1 + a2) * 0.5);
      store<f32>(out + 2 * xi, (a0 - a1 + a2) * 0.5);
      store<f32>(out + 3 * xi, a2);
      store<f32>(out + 4 * xi, m10);
      store<f32>(out + 5 * xi, (m10 + m11 + m12) * 0.5);
      store<f32>(out + 6 * xi, (m10 - m11 + m12) * 0.5);
      store<f32>(out + 7 * xi, m12);
      store<f32>(out + 8 * xi, m20);
      store<f32>(out + 9 * xi, (m20 + m21 + m22) * 0.5);
      store<f32>(out + 10 * xi, (m20 - m21 + m22) * 0.5);
      store<f32>(out + 11 * xi, m22);
      store<f32>(out + 12 * xi, e0);
      store<f32>(out + 13 * xi, (e0 + e1 + e2) * 0.5);
      store<f32>(out + 14 * xi, (e0 - e1 + e2) * 0.5);
      store<f32>(out + 15 * xi, e2);
    }
  }
}

/**
 * Transforms M[ξ][o][t0 + tile] of rows [o0, o1) back to one image's outputs
 * y [rows, h, w]: each tile gives its 2×2 block (clipped at the edges).
 */
export function winogradOutput(m: usize, rows: i32, rowStride: i32, t0: i32, o0: i32, o1: i32, y: usize, h: i32, w: i32): void {
  const th = (h + 1) >> 1, tw = (w + 1) >> 1;
  const xi = <usize>rows * <usize>rowStride << 2;
  for (let o = o0; o < o1; o++) {
    const src = m + (<usize>(o * rowStride + t0) << 2);
    const plane = y + (<usize>(o * h * w) << 2);
    for (let ty = 0; ty < th; ty++) {
      const full = 2 * ty + 1 < h;
      let tx = 0;
      if (full) {
        for (; tx + 4 <= tw && 2 * tx + 8 <= w; tx += 4) {
          const p = src + (<usize>(ty * tw + tx) << 2);
          const m0 = v128.load(p), m1 = v128.load(p + xi), m2 = v128.load(p + 2 * xi), m3 = v128.load(p + 3 * xi);
          const m4 = v128.load(p + 4 * xi), m5 = v128.load(p + 5 * xi), m6 = v128.load(p + 6 * xi);
          const m7 = v128.load(p + 7 * xi), m8 = v128.load(p + 8 * xi), m9 = v128.load(p + 9 * xi);
          const m10 = v128.load(p + 10 * xi), m11 = v128.load(p + 11 * xi), m12 = v128.load(p + 12 * xi);
          const m13 = v128.load(p + 13 * xi), m14 = v128.load(p + 14 * xi), m15 = v128.load(p + 15 * xi);
          // A row of M: [p, q, r, s] → [p + q + r, q − r − s]
          const s00 = f32x4.add(f32x4.add(m0, m1), m2), s01 = f32x4.sub(f32x4.sub(m1, m2), m3);
          const s10 = f32x4.add(f32x4.add(m4, m5), m6), s11 = f32x4.sub(f32x4.sub(m5, m6), m7);
          const s20 = f32x4.add(f32x4.add(m8, m9), m10), s21 = f32x4.sub(f32x4.sub(m9, m10), m11);
          const s30 = f32x4.add(f32x4.add(m12, m13), m14), s31 = f32x4.sub(f32x4.sub(m13, m14), m15);
          const y00 = f32x4.add(f32x4.add(s00, s10), s20), y01 = f32x4.add(f32x4.add(s01, s11), s21);
          const y10 = f32x4.sub(f32x4.sub(s10, s20), s30), y11 = f32x4.sub(f32x4.sub(s11, s21), s31);
          const q = plane + (<usize>(2 * ty * w + 2 * tx) << 2);
          v128.store(q, v128.shuffle<f32>(y00, y01, 0, 4, 1, 5));
          v128.store(q, v128.shuffle<f32>(y00, y01, 2, 6, 3, 7), 16);
          const q2 = q + (<usize>w << 2);
          v128.store(q2, v128.shuffle<f32>(y10, y11, 0, 4, 1, 5));
          v128.store(q2, v128.shuffle<f32>(y10, y11, 2, 6, 3, 7), 16);
        }
      }
      for (; tx < tw; tx++) {
        const p = src + (<usize>(ty * tw + tx) << 2);
        const m0 = load<f32>(p), m1 = load<f32>(p + xi), m2 = load<f32>(p + 2 * xi), m3 = load<f32>(p + 3 * xi);
        const m4 = load<f32>(p + 4 * xi), m5 = load<f32>(p + 5 * xi), m6 = load<f32>(p + 6 * xi);
        const m7 = load<f32>(p + 7 * xi), m8 = load<f32>(p + 8 * xi), m9 = load<f32>(p + 9 * xi);
        const m10 = load<f32>(p + 10 * xi), m11 = load<f32>(p + 11 * xi), m12 = load<f32>(p + 12 * xi);
        const m13 = load<f32>(p + 13 * xi), m14 = load<f32>(p + 14 * xi), m15 = load<f32>(p + 15 * xi);
        const s00 = m0 + m1 + m2, s01 = m1 - m2 - m3;
        const s10 = m4 + m5 + m6, s11 = m5 - m6 - m7;
        const s20 = m8 + m9 + m10, s21 = m9 - m10 - m11;
        const s30 = m12 + m13 + m14, s31 = m13 - m14 - m15;
        const yy = 2 * ty, xx = 2 * tx;
        const q = plane + (<usize>(yy * w + xx) << 2);
        store<f32>(q, s00 + s10 + s20);
        if (xx + 1 < w) store<f32>(q, s01 + s11 + s21, 4);
        if (yy + 1 < h) {
          store<f32>(q + (<usize>w << 2), s10 - s20 - s30);
          if (xx + 1 < w) store<f32>(q + (<usize>w << 2), s11 - s21 - s31, 4);
        }
      }
    }
  }
}

/** One tile of winogradGradOutput, bounds-checked. */
function gradTile(plane: usize, h: i32, w: i32, ty: i32, tx: i32, o: usize, xi: usize): void {
  const y = 2 * ty, x = 2 * tx;
  const p = at(plane, h, w, y, x), q = at(plane, h, w, y, x + 1);
  const r = at(plane, h, w, y + 1, x), s = at(plane, h, w, y + 1, x + 1);
  // A dY: rows [p q], [p+r q+s], [p−r q−s], [−r −s]; then each row [u v] → [u, u+v, u−v, −v].
  const u0 = p, v0 = q, u1 = p + r, v1 = q + s, u2 = p - r, v2 = q - s, u3 = -r, v3 = -s;
  const at0 = o + (<usize>tx << 2);
  store<f32>(at0, u0);
  store<f32>(at0 + xi, u0 + v0);
  store<f32>(at0 + 2 * xi, u0 - v0);
  store<f32>(at0 + 3 * xi, -v0);
  store<f32>(at0 + 4 * xi, u1);
  store<f32>(at0 + 5 * xi, u1 + v1);
  store<f32>(at0 + 6 * xi, u1 - v1);
  store<f32>(at0 + 7 * xi, -v1);
  store<f32>(at0 + 8 * xi, u2);
  store<f32>(at0 + 9 * xi, u2 + v2);
  store<f32>(at0 + 10 * xi, u2 - v2);
  store<f32>(at0 + 11 * xi, -v2);
  store<f32>(at0 + 12 * xi, u3);
  store<f32>(at0 + 13 * xi, u3 + v3);
  store<f32>(at0 + 14 * xi, u3 - v3);
  store<f32>(at0 + 15 * xi, -v3);
}

/**
 * For the weight gradient: transforms the 2×2 output-gradient tiles of rows
 * [o0, o1) of one image's dy ([rows, h, w]) into Z[ξ][o][t0 + tile] = (A dY
 * Aᵀ)[ξ] (Z is [16][rows][rowStride]), with A = Aᵀᵀ.
 */
export function winogradGradOutput(dy: usize, h: i32, w: i32, o0: i32, o1: i32, z: usize, t0: i32, rowStride: i32, rows: i32): void {
  const th = (h + 1) >> 1, tw = (w + 1) >> 1;
  const xi = <usize>rows * <usize>rowStride << 2;
  for (let o = o0; o < o1; o++) {
    const plane = dy + (<usize>(o * h * w) << 2);
    const row0 = z + (<usize>(o * rowStride + t0) << 2);
    for (let ty = 0; ty < th; ty++) {
      const dst = row0 + (<usize>(ty * tw) << 2);
      let tx = 0;
      if (2 * ty + 1 < h) {
        for (; tx + 4 <= tw && 2 * tx + 8 <= w; tx += 4) {
          const a = plane + (<usize>(2 * ty * w + 2 * tx) << 2), b = a + (<usize>w << 2);
          const e0 = v128.load(a), e1 = v128.load(a, 16), g0 = v128.load(b), g1 = v128.load(b, 16);
          const p = v128.shuffle<f32>(e0, e1, 0, 2, 4, 6), q = v128.shuffle<f32>(e0, e1, 1, 3, 5, 7);
          const r = v128.shuffle<f32>(g0, g1, 0, 2, 4, 6), s = v128.shuffle<f32>(g0, g1, 1, 3, 5, 7);
          const u1 = f32x4.add(p, r), v1 = f32x4.add(q, s), u2 = f32x4.sub(p, r), v2 = f32x4.sub(q, s);
          const u3 = f32x4.neg(r), v3 = f32x4.neg(s);
          const at0 = dst + (<usize>tx << 2);
          v128.store(at0, p);
          v128.store(at0 + xi, f32x4.add(p, q));
          v128.store(at0 + 2 * xi, f32x4.sub(p, q));
          v128.store(at0 + 3 * xi, f32x4.neg(q));
          v128.store(at0 + 4 * xi, u1);
          v128.store(at0 + 5 * xi, f32x4.add(u1, v1));
          v128.store(at0 + 6 * xi, f32x4.sub(u1, v1));
          v128.store(at0 + 7 * xi, f32x4.neg(v1));
          v128.store(at0 + 8 * xi, u2);
          v128.store(at0 + 9 * xi, f32x4.add(u2, v2));
          v128.store(at0 + 10 * xi, f32x4.sub(u2, v2));
          v128.store(at0 + 11 * xi, f32x4.neg(v2));
          v128.store(at0 + 12 * xi, u3);
          v128.store(at0 + 13 * xi, f32x4.add(u3, v3));
          v128.store(at0 + 14 * xi, f32x4.sub(u3, v3));
          v128.store(at0 + 15 * xi, f32x4.neg(v3));
        }
      }
      for (; tx < tw; tx++) gradTile(plane, h, w, ty, tx, dst, xi);
    }
  }
}

/**
 * The weight gradient back from Winograd's domain: dg = Gᵀ dU G for rows
 * [o0, o1) of dU ([16][rows][cols]), into gw [rows, cols, 3, 3].
 */
export function winogradWeightGrad(du: usize, o0: i32, o1: i32, cols: i32, rows: i32, gw: usize): void {
  const xi = <usize>rows * <usize>cols << 2;
  for (let o = o0; o < o1; o++) {
    for (let c = 0; c < cols; c++) {
      const s = du + (<usize>(o * cols + c) << 2);
      const out = gw + (<usize>((o * cols + c) * 9) << 2);
      // Gᵀ = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1]: a row [m0 m1 m2 m3] of dU becomes
      // [m0 + ½(m1+m2), ½(m1−m2), ½(m1+m2) + m3] (dU G), then the same down the columns.
      const a0 = load<f32>(s), a1 = load<f32>(s + xi), a2 = load<f32>(s + 2 * xi), a3 = load<f32>(s + 3 * xi);
      const b0 = load<f32>(s + 4 * xi), b1 = load<f32>(s + 5 * xi), b2 = load<f32>(s + 6 * xi);
      const b3 = load<f32>(s + 7 * xi), e0 = load<f32>(s + 8 * xi), e1 = load<f32>(s + 9 * xi);
      const e2 = load<f32>(s + 10 * xi), e3 = load<f32>(s + 11 * xi), f0 = load<f32>(s + 12 * xi);
      const f1 = load<f32>(s + 13 * xi), f2 = load<f32>(s + 14 * xi), f3 = load<f32>(s + 15 * xi);
      const r00 = a0 + (a1 + a2) * 0.5, r01 = (a1 - a2) * 0.5, r02 = (a1 + a2) * 0.5 + a3;
      const r10 = b0 + (b1 + b2) * 0.5, r11 = (b1 - b2) * 0.5, r12 = (b1 + b2) * 0.5 + b3;
      const r20 = e0 + (e1 + e2) * 0.5, r21 = (e1 - e2) * 0.5, r22 = (e1 + e2) * 0.5 + e3;
      const r30 = f0 + (f1 + f2) * 0.5, r31 = (f1 - f2) * 0.5, r32 = (f1 + f2) * 0.5 + f3;
      store<f32>(out, r00 + (r10 + r20) * 0.5);
      store<f32>(out, r01 + (r11 + r21) * 0.5, 4);
      store<f32>(out, r02 + (r12 + r22) * 0.5, 8);
      store<f32>(out, (r10 - r20) * 0.5, 12);
      store<f32>(out, (r11 - r21) * 0.5, 16);
      store<f32>(out, (r12 - r22) * 0.5, 20);
      store<f32>(out, (r10 + r20) * 0.5 + r30, 24);
      store<f32>(out, (r11 + r21) * 0.5 + r31, 28);
      store<f32>(out, (r12 + r22) * 0.5 + r32, 32);
    }
  }
}
