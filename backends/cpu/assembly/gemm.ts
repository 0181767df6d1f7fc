// Single-precision matrix product C (+)= A · B with 128-bit SIMD, in the
// classic BLIS shape: B is packed into KC×NC blocks of 8-column panels, A into
// MC×KC blocks of 4-row panels (both k-major, so the micro-kernel reads them
// front to back), and a 4×8 micro-kernel keeps its 8 accumulators in
// registers. A and B are any strided matrices; packing has SIMD paths for the
// row-major and the transposed layouts, so `x @ w.T` costs no copy. B may
// also be the im2col unfolding of an image (conv2d), read in place.
//
// Why 4×8 and not the 6×8 of x86 BLAS kernels: V8 checks the bounds of every
// WebAssembly memory access in Deno (three instructions each: no guard-page
// trap handler), so the kernel is bound by how many loads it issues, not by
// its multiply-adds. 4×8 reads the 4 values of A as one vector and splats
// them by shuffles from a register: 3 checked loads per 8 multiply-adds,
// where 6×8 with per-value splat loads issued 8 per 12. Measured on the
// 2-core EPYC, L1-resident panels, one thread: 52 GFLOP/s against 41 (the
// FMA peak is 58); unrolling the k loop spills and drops to 27.
//
// All pointers are byte addresses in linear memory; strides and sizes count
// f32 elements. Scratch is the caller's: gemmScratchBytes() per thread.

import { CONV_DH, CONV_DW, CONV_H, CONV_KH, CONV_KW, CONV_OW, CONV_PH, CONV_PW, CONV_SH, CONV_W, CONV_X } from "./layout";

// @ts-ignore: decorator
@inline export const MR: i32 = 4;
// @ts-ignore: decorator
@inline export const NR: i32 = 8;
// Cache blocking, tuned on a 2-core EPYC (32 KiB L1d, 1 MiB L2 per core):
// an A micro-panel (4×KC) and a B micro-panel (8×KC) stay in L1, the packed
// A block (MC×KC, 240 KiB) in L2, the packed B block (KC×NC, 2 MiB) in L3.
// @ts-ignore: decorator
@inline const MC: i32 = 240;
// @ts-ignore: decorator
@inline const KC: i32 = 256;
// @ts-ignore: decorator
@inline const NC: i32 = 512;

/** B is a strided matrix. */
// @ts-ignore: decorator
@inline const B_STRIDED: i32 = 0;
/** B is the im2col unfolding of an image described by a conv record. */
// @ts-ignore: decorator
@inline const B_CONV: i32 = 1;
/** B is already packed, every block, by packBPanels. */
// @ts-ignore: decorator
@inline const B_PACKED: i32 = 2;

/** Bytes of scratch one thread needs for gemm: the packed A and B blocks and an edge tile. */
export function gemmScratchBytes(): i32 {
  return (MC * KC + KC * NC + MR * NR + 64) * 4;
}

// @ts-ignore: decorator
@inline function fma(a: v128, b: v128, c: v128): v128 {
  // relaxed_madd is one fused instruction where the CPU has FMA; the plain
  // SIMD build multiplies and adds.
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// @ts-ignore: decorator
@inline function min(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

/**
 * C[4×8] (+)= Apanel · Bpanel over kc steps. `c` is the tile's first element,
 * `ldc` the row step in bytes; `add` adds to what C holds, else C is set.
 */
function kernel4x8(a: usize, b: usize, kc: i32, c: usize, ldc: usize, add: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  // Bounded by A's end rather than a counter: one less register and add per step.
  const end = a + <usize>kc * 16;
  while (a < end) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    const column = v128.load(a);
    let x = v128.shuffle<f32>(column, column, 0, 0, 0, 0);
    c00 = fma(x, b0, c00);
    c01 = fma(x, b1, c01);
    x = v128.shuffle<f32>(column, column, 1, 1, 1, 1);
    c10 = fma(x, b0, c10);
    c11 = fma(x, b1, c11);
    x = v128.shuffle<f32>(column, column, 2, 2, 2, 2);
    c20 = fma(x, b0, c20);
    c21 = fma(x, b1, c21);
    x = v128.shuffle<f32>(column, column, 3, 3, 3, 3);
    c30 = fma(x, b0, c30);
    c31 = fma(x, b1, c31);
    a += 16;
    b += 32;
  }
  if (add) {
    c00 = f32x4.add(c00, v128.load(c));
    c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c + ldc));
    c11 = f32x4.add(c11, v128.load(c + ldc, 16));
    c20 = f32x4.add(c20, v128.load(c + 2 * ldc));
    c21 = f32x4.add(c21, v128.load(c + 2 * ldc, 16));
    c30 = f32x4.add(c30, v128.load(c + 3 * ldc));
    c31 = f32x4.add(c31, v128.load(c + 3 * ldc, 16));
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c + ldc, c10);
  v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20);
  v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30);
  v128.store(c + 3 * ldc, c31, 16);
}

/**
 * Packs rows [i0, i0+mc) × cols [p0, p0+kc) of A into 4-row panels, k-major:
 * element (r, kk) of panel q lands at dst[(q·kc + kk)·4 + r]; rows past the
 * edge are zero.
 */
function packA(a: usize, ars: i32, acs: i32, i0: i32, mc: i32, p0: i32, kc: i32, dst: usize): void {
  for (let ip = 0; ip < mc; ip += MR) {
    const rows = min(MR, mc - ip);
    let d = dst + (<usize>(ip * kc) << 2);
    const src = a + (<usize>((i0 + ip) * ars + p0 * acs) << 2);
    if (rows == MR && acs == 1) {
      // Row-major A: read 4 k-steps of each row, transpose 4×4 in registers.
      const rs = <usize>ars << 2;
      let kk = 0;
      for (; kk + 4 <= kc; kk += 4) {
        const s = src + (<usize>kk << 2);
        const v0 = v128.load(s), v1 = v128.load(s + rs), v2 = v128.load(s + 2 * rs), v3 = v128.load(s + 3 * rs);
        const t0 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7);
        const t2 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
        v128.store(d, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
        v128.store(d, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 16);
        v128.store(d, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 32);
        v128.store(d, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 48);
        d += 64;
      }
      for (; kk < kc; kk++) {
        const s = src + (<usize>kk << 2);
        for (let r = 0; r < MR; r++) store<f32>(d + (<usize>r << 2), load<f32>(s + <usize>r * rs));
        d += 16;
      }
    } else if (rows == MR && ars == 1) {
      // Transposed A: the 4 rows of one k-step are adjacent.
      const cs = <usize>acs << 2;
      let s = src;
      for (let kk = 0; kk < kc; kk++) {
        v128.store(d, v128.load(s));
        s += cs;
        d += 16;
      }
    } else {
      for (let kk = 0; kk < kc; kk++) {
        for (let r = 0; r < MR; r++) {
          const v: f32 = r < rows ? load<f32>(src + (<usize>(r * ars + kk * acs) << 2)) : 0;
          store<f32>(d + (<usize>r << 2), v);
        }
        d += 16;
      }
    }
  }
}

/**
 * Packs rows [p0, p0+kc) × cols [j0, j0+nc) of a strided B into 8-column
 * panels, k-major: element (kk, j) of panel q lands at dst[(q·kc + kk)·8 + j].
 */
function packB(b: usize, brs: i32, bcs: i32, p0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  for (let jp = 0; jp < nc; jp += NR) {
    const cols = min(NR, nc - jp);
    let d = dst + (<usize>(jp * kc) << 2);
    const src = b + (<usize>(p0 * brs + (j0 + jp) * bcs) << 2);
    if (cols == NR && bcs == 1) {
      const rs = <usize>brs << 2;
      let s = src;
      for (let kk = 0; kk < kc; kk++) {
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
        s += rs;
        d += 32;
      }
    } else if (cols == NR && brs == 1) {
      // Transposed B (x @ w.T): read 4 k-steps down each of the 8 columns, transpose in registers.
      const cs = <usize>bcs << 2;
      let kk = 0;
      for (; kk + 4 <= kc; kk += 4) {
        const s = src + (<usize>kk << 2);
        const w0 = v128.load(s), w1 = v128.load(s + cs), w2 = v128.load(s + 2 * cs), w3 = v128.load(s + 3 * cs);
        const w4 = v128.load(s + 4 * cs), w5 = v128.load(s + 5 * cs), w6 = v128.load(s + 6 * cs);
        const w7 = v128.load(s + 7 * cs);
        const t0 = v128.shuffle<f32>(w0, w1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(w0, w1, 2, 6, 3, 7);
        const t2 = v128.shuffle<f32>(w2, w3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(w2, w3, 2, 6, 3, 7);
        const t4 = v128.shuffle<f32>(w4, w5, 0, 4, 1, 5), t5 = v128.shuffle<f32>(w4, w5, 2, 6, 3, 7);
        const t6 = v128.shuffle<f32>(w6, w7, 0, 4, 1, 5), t7 = v128.shuffle<f32>(w6, w7, 2, 6, 3, 7);
        v128.store(d, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
        v128.store(d, v128.shuffle<f32>(t4, t6, 0, 1, 4, 5), 16);
        v128.store(d, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 32);
        v128.store(d, v128.shuffle<f32>(t4, t6, 2, 3, 6, 7), 48);
        v128.store(d, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 64);
        v128.store(d, v128.shuffle<f32>(t5, t7, 0, 1, 4, 5), 80);
        v128.store(d, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 96);
        v128.store(d, v128.shuffle<f32>(t5, t7, 2, 3, 6, 7), 112);
        d += 128;
      }
      for (; kk < kc; kk++) {
        const s = src + (<usize>kk << 2);
        for (let j = 0; j < NR; j++) store<f32>(d + (<usize>j << 2), load<f32>(s + <usize>j * cs));
        d += 32;
      }
    } else {
      for (let kk = 0; kk < kc; kk++) {
        for (let j = 0; j < NR; j++) {
          const v: f32 = j < cols ? load<f32>(src + (<usize>(kk * brs + j * bcs) << 2)) : 0;
          store<f32>(d + (<usize>j << 2), v);
        }
        d += 32;
      }
    }
  }
}

/**
 * Packs the im2col unfolding of an image without building it: B row k is
 * tap (c, i, j) = (k / (kh·kw), k / kw % kh, k % kw) and column l is output
 * position (l / ow, l % ow); the element is the input under that tap, zero in
 * the padding. Rows [p0, p0+kc), columns [j0, j0+nc). `conv` is a conv record
 * (layout.ts). Needs unit column stride and ow a multiple of 8 (the caller
 * unfolds other convolutions itself), so a panel's 8 columns are 8 adjacent
 * outputs of one row and, away from the borders, 8 adjacent inputs: each tap
 * row is copied panel by panel with two vector loads.
 */
function packBConv(conv: usize, p0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  const x = load<u32>(conv, CONV_X);
  const h = load<i32>(conv, CONV_H), w = load<i32>(conv, CONV_W);
  const kh = load<i32>(conv, CONV_KH), kw = load<i32>(conv, CONV_KW), ow = load<i32>(conv, CONV_OW);
  const sh = load<i32>(conv, CONV_SH);
  const ph = load<i32>(conv, CONV_PH), pw = load<i32>(conv, CONV_PW);
  const dh = load<i32>(conv, CONV_DH), dw = load<i32>(conv, CONV_DW);
  const taps = kh * kw;
  const zero = v128.splat<i32>(0);
  const c0 = p0 / taps, i0 = (p0 / kw) % kh, jj0 = p0 % kw;
  // Walk the panels' output positions without dividing: 8 columns on, wrapping at the row's end.
  let oy = j0 / ow, ox = j0 - (j0 / ow) * ow;
  let d = dst;
  for (let jp = 0; jp < nc; jp += NR) {
    const rowBase = oy * sh - ph, colBase = ox - pw;
    let c = c0, i = i0, jj = jj0;
    let plane = x + (<usize>(c * h * w) << 2);
    for (let kk = 0; kk < kc; kk++) {
      const iy = rowBase + i * dh, ix = colBase + jj * dw;
      if (iy < 0 || iy >= h) {
        v128.store(d, zero);
        v128.store(d, zero, 16);
      } else if (ix >= 0 && ix + NR <= w) {
        const s = plane + (<usize>(iy * w + ix) << 2);
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
      } else {
        const row = plane + (<usize>(iy * w) << 2);
        for (let j = 0; j < NR; j++) {
          const xx = ix + j;
          store<f32>(d + (<usize>j << 2), xx >= 0 && xx < w ? load<f32>(row + (<usize>xx << 2)) : 0);
        }
      }
      d += 32;
      if (++jj == kw) {
        jj = 0;
        if (++i == kh) {
          i = 0;
          c++;
          plane += <usize>(h * w) << 2;
        }
      }
    }
    ox += NR;
    if (ox == ow) {
      ox = 0;
      oy++;
    }
  }
}

/** The block size splitting `total` into equal blocks of at most `most`, rounded up to a multiple of `align`. */
// @ts-ignore: decorator
@inline function balanced(total: i32, most: i32, align: i32): i32 {
  const blocks = (total + most - 1) / most;
  const size = (total + blocks - 1) / blocks;
  return (size + align - 1) / align * align;
}

/** Adds (or, when `!add`, stores) the rows × cols corner of a 4×8 tile held at `tile` (row step 32 bytes) into C. */
function storeEdge(tile: usize, rows: i32, cols: i32, c: usize, ldc: usize, add: bool): void {
  for (let r = 0; r < rows; r++) {
    const src = tile + (<usize>r << 5), dst = c + <usize>r * ldc;
    for (let j = 0; j < cols; j++) {
      const o = <usize>j << 2;
      const v = load<f32>(src + o);
      store<f32>(dst + o, add ? load<f32>(dst + o) + v : v);
    }
  }
}

/** The blocked product over either kind of B; see sgemm and sgemmConv. */
function driver(
  m: i32,
  n: i32,
  k: i32,
  a: usize,
  ars: i32,
  acs: i32,
  bKind: i32,
  b: usize,
  brs: i32,
  bcs: i32,
  bCol0: i32,
  c: usize,
  ldc: i32,
  accumulate: bool,
  scratch: usize,
): void {
  if (m <= 0 || n <= 0) return;
  const ldcBytes = <usize>ldc << 2;
  if (k <= 0) {
    if (!accumulate) for (let i = 0; i < m; i++) memory.fill(c + <usize>i * ldcBytes, 0, <usize>n << 2);
    return;
  }
  const ap = (scratch + 63) & ~(<usize>63);
  const bp = ap + (<usize>(MC * KC) << 2);
  const tile = bp + (<usize>(KC * NC) << 2);
  // Equal blocks no bigger than the cache sizes, so no block is a short tail (K = 576 runs as 3 × 192, not
  // 256 + 256 + 64): a short block pays the per-call costs for little work.
  const ncBlock = balanced(n, NC, NR), kcBlock = balanced(k, KC, 4), mcBlock = balanced(m, MC, MR);
  for (let jc = 0; jc < n; jc += ncBlock) {
    const nc = min(ncBlock, n - jc);
    for (let pc = 0; pc < k; pc += kcBlock) {
      const kc = min(kcBlock, k - pc);
      const add = accumulate || pc > 0;
      let bBlock = bp;
      if (bKind == B_CONV) packBConv(b, pc, kc, bCol0 + jc, nc, bp);
      else if (bKind == B_PACKED) bBlock = b + packedOffset(k, jc, pc, nc);
      else packB(b, brs, bcs, pc, kc, jc, nc, bp);
      for (let ic = 0; ic < m; ic += mcBlock) {
        const mc = min(mcBlock, m - ic);
        packA(a, ars, acs, ic, mc, pc, kc, ap);
        for (let jr = 0; jr < nc; jr += NR) {
          const cols = min(NR, nc - jr);
          const bPanel = bBlock + (<usize>(jr * kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const rows = min(MR, mc - ir);
            const aPanel = ap + (<usize>(ir * kc) << 2);
            const cTile = c + <usize>(ic + ir) * ldcBytes + (<usize>(jc + jr) << 2);
            if (rows == MR && cols == NR) {
              kernel4x8(aPanel, bPanel, kc, cTile, ldcBytes, add);
            } else {
              kernel4x8(aPanel, bPanel, kc, tile, 32, false);
              storeEdge(tile, rows, cols, cTile, ldcBytes, add);
            }
          }
        }
      }
    }
  }
}

/**
 * C (+)= A · B: A is m×k with element (i, p) at a[i·ars + p·acs], B is k×n
 * with (p, j) at b[p·brs + j·bcs], C is row-major with row step ldc. With
 * `accumulate` false C is overwritten.
 */
export function sgemm(
  m: i32,
  n: i32,
  k: i32,
  a: usize,
  ars: i32,
  acs: i32,
  b: usize,
  brs: i32,
  bcs: i32,
  c: usize,
  ldc: i32,
  accumulate: bool,
  scratch: usize,
): void {
  driver(m, n, k, a, ars, acs, B_STRIDED, b, brs, bcs, 0, c, ldc, accumulate, scratch);
}

/** Where block (jc, pc) of a packed k-row B starts: blocks of columns, each all its k rows. */
// @ts-ignore: decorator
@inline function packedOffset(k: i32, jc: i32, pc: i32, nc: i32): usize {
  return <usize>(jc * k + pc * ((nc + NR - 1) / NR * NR)) << 2;
}

/** Bytes packBPanels writes for all of a k×n B. */
export function packedBBytes(k: i32, n: i32): i32 {
  return ((n + NR - 1) / NR * NR) * k * 4;
}

/**
 * Packs 8-column panels [q0, q1) of a strided k×n B, block by block as the
 * driver reads it (packedOffset's layout), at `dst`: threads that share B
 * (each taking rows of A) pack disjoint panels of it side by side, once
 * between them; [0, ⌈n/8⌉) packs all of it.
 */
export function packBPanels(b: usize, brs: i32, bcs: i32, k: i32, n: i32, q0: i32, q1: i32, dst: usize): void {
  const ncBlock = balanced(n, NC, NR), kcBlock = balanced(k, KC, 4);
  for (let q = q0; q < q1; q++) {
    const j = q * NR, jc = j / ncBlock * ncBlock;
    const nc = min(ncBlock, n - jc), cols = min(NR, n - j);
    for (let pc = 0; pc < k; pc += kcBlock) {
      const kc = min(kcBlock, k - pc);
      packB(b, brs, bcs, pc, kc, j, cols, dst + packedOffset(k, jc, pc, nc) + (<usize>((j - jc) * kc) << 2));
    }
  }
}

/** C (+)= A · B with B packed by packBPanels (same k and n). */
export function sgemmPacked(
  m: i32,
  n: i32,
  k: i32,
  a: usize,
  ars: i32,
  acs: i32,
  packed: usize,
  c: usize,
  ldc: i32,
  accumulate: bool,
  scratch: usize,
): void {
  driver(m, n, k, a, ars, acs, B_PACKED, packed, 0, 0, 0, c, ldc, accumulate, scratch);
}

/**
 * C (+)= A · im2col(image) for columns [col0, col0 + n) of the unfolding:
 * A is m×k (k = channels·kh·kw), `conv` a conv record naming the image.
 */
export function sgemmConv(
  m: i32,
  n: i32,
  k: i32,
  a: usize,
  ars: i32,
  acs: i32,
  conv: usize,
  col0: i32,
  c: usize,
  ldc: i32,
  accumulate: bool,
  scratch: usize,
): void {
  driver(m, n, k, a, ars, acs, B_CONV, conv, 0, 0, col0, c, ldc, accumulate, scratch);
}
