// Matrix products in plain TypeScript. A is packed into panels of 4 rows and
// B into panels of 4 columns, each laid out k-major, so the inner loop reads
// both sequentially; a 4×4 block of C lives in 16 local variables (register
// blocking: 8 loads feed 16 multiply-adds). K and N are cut into blocks so a
// packed B block stays in cache while the A panels stream past it. `gemm` is
// the routine on strided buffers that convolution also uses.

import { allocArray, type DataArray, type DType, type View } from "@flint/backend";

const K_BLOCK = 256;
const M_BLOCK = 64;
const N_BLOCK = 512;
/** Scratch for the partial tiles at the right and bottom edges. */
const edge = new Float64Array(16);
/** Packing buffers, grown on demand and reused: kernels run one at a time. */
let aPack = new Float64Array(M_BLOCK * K_BLOCK);
let bPack = new Float64Array(N_BLOCK * K_BLOCK);

/** A matrix in a buffer: element (i, j) sits at `data[offset + i * rowStride + j * colStride]`. */
export interface StridedMatrix {
  /** the buffer holding the elements */
  readonly data: DataArray;
  /** position of element (0, 0) */
  readonly offset: number;
  /** step between rows */
  readonly rowStride: number;
  /** step between columns */
  readonly colStride: number;
}

/**
 * Packs rows [r0, r0+rows) and cols [k0, k0+kc) of a strided matrix into
 * panels of 4 rows: element (r, kk) lands at panel (r / 4), offset kk*4 + r%4.
 * Missing rows (past the edge) are zero.
 */
function packRows(
  src: DataArray,
  base: number,
  rowStride: number,
  colStride: number,
  r0: number,
  rows: number,
  k0: number,
  kc: number,
  into: Float64Array,
): void {
  const panels = Math.ceil(rows / 4);
  for (let p = 0; p < panels; p++) {
    const out = p * kc * 4;
    for (let rr = 0; rr < 4; rr++) {
      const r = p * 4 + rr;
      if (r >= rows) {
        for (let kk = 0; kk < kc; kk++) into[out + kk * 4 + rr] = 0;
        continue;
      }
      let q = base + (r0 + r) * rowStride + k0 * colStride;
      for (let kk = 0; kk < kc; kk++, q += colStride) into[out + kk * 4 + rr] = src[q];
    }
  }
}

/** c (row stride ldc) += A panels · B panels for one block: rows [m0, m0+mRows), cols [n0, n0+nCols). */
function kernelBlock(
  ap: Float64Array,
  bp: Float64Array,
  c: Float64Array,
  cOffset: number,
  ldc: number,
  m0: number,
  mRows: number,
  n0: number,
  nCols: number,
  kc: number,
): void {
  const rowPanels = Math.ceil(mRows / 4);
  const colPanels = Math.ceil(nCols / 4);
  for (let jp = 0; jp < colPanels; jp++) {
    const bOff = jp * kc * 4;
    const j = n0 + jp * 4;
    const cols = Math.min(4, n0 + nCols - j);
    for (let ip = 0; ip < rowPanels; ip++) {
      const aOff = ip * kc * 4;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let kk = 0, pa = aOff, pb = bOff; kk < kc; kk++, pa += 4, pb += 4) {
        const a0 = ap[pa], a1 = ap[pa + 1], a2 = ap[pa + 2], a3 = ap[pa + 3];
        const b0 = bp[pb], b1 = bp[pb + 1], b2 = bp[pb + 2], b3 = bp[pb + 3];
        c00 += a0 * b0, c01 += a0 * b1, c02 += a0 * b2, c03 += a0 * b3;
        c10 += a1 * b0, c11 += a1 * b1, c12 += a1 * b2, c13 += a1 * b3;
        c20 += a2 * b0, c21 += a2 * b1, c22 += a2 * b2, c23 += a2 * b3;
        c30 += a3 * b0, c31 += a3 * b1, c32 += a3 * b2, c33 += a3 * b3;
      }
      const i = m0 + ip * 4;
      const rows = Math.min(4, m0 + mRows - i);
      if (rows === 4 && cols === 4) {
        let p = cOffset + i * ldc + j;
        c[p] += c00, c[p + 1] += c01, c[p + 2] += c02, c[p + 3] += c03, p += ldc;
        c[p] += c10, c[p + 1] += c11, c[p + 2] += c12, c[p + 3] += c13, p += ldc;
        c[p] += c20, c[p + 1] += c21, c[p + 2] += c22, c[p + 3] += c23, p += ldc;
        c[p] += c30, c[p + 1] += c31, c[p + 2] += c32, c[p + 3] += c33;
      } else {
        edge[0] = c00, edge[1] = c01, edge[2] = c02, edge[3] = c03;
        edge[4] = c10, edge[5] = c11, edge[6] = c12, edge[7] = c13;
        edge[8] = c20, edge[9] = c21, edge[10] = c22, edge[11] = c23;
        edge[12] = c30, edge[13] = c31, edge[14] = c32, edge[15] = c33;
        for (let r = 0; r < rows; r++) {
          const row = cOffset + (i + r) * ldc + j;
          for (let q = 0; q < cols; q++) c[row + q] += edge[r * 4 + q];
        }
      }
    }
  }
}

/**
 * General matrix product on strided buffers: `c += a · b`, where a is m×k,
 * b is k×n and c is a row-major m×n block of float64 starting at `cOffset`
 * (row stride n). Any strides work, so transposes cost nothing; sums run in
 * float64 whatever the operands' type.
 */
export function gemm(
  m: number,
  n: number,
  k: number,
  a: StridedMatrix,
  b: StridedMatrix,
  c: Float64Array,
  cOffset = 0,
): void {
  if (m === 0 || n === 0 || k === 0) return;
  const kMax = Math.min(k, K_BLOCK);
  const aNeed = Math.ceil(Math.min(m, M_BLOCK) / 4) * 4 * kMax;
  const bNeed = Math.ceil(Math.min(n, N_BLOCK) / 4) * 4 * kMax;
  if (aPack.length < aNeed) aPack = new Float64Array(aNeed);
  if (bPack.length < bNeed) bPack = new Float64Array(bNeed);
  const ap = aPack, bp = bPack;
  for (let n0 = 0; n0 < n; n0 += N_BLOCK) {
    const nCols = Math.min(N_BLOCK, n - n0);
    for (let k0 = 0; k0 < k; k0 += K_BLOCK) {
      const kc = Math.min(K_BLOCK, k - k0);
      // B's columns become A-style row panels of Bᵀ: rows are n, stepping b's column stride.
      packRows(b.data, b.offset, b.colStride, b.rowStride, n0, nCols, k0, kc, bp);
      for (let m0 = 0; m0 < m; m0 += M_BLOCK) {
        const mRows = Math.min(M_BLOCK, m - m0);
        packRows(a.data, a.offset, a.rowStride, a.colStride, m0, mRows, k0, kc, ap);
        kernelBlock(ap, bp, c, cOffset, n, m0, mRows, n0, nCols, kc);
      }
    }
  }
}

/** A matrix [M, K] as the batch of one [1, M, K] that `matmul` and the wasm kernels take (addmm's operands). */
export function batchOfOne(v: View): View {
  return { ...v, shape: [1, ...v.shape], strides: [0, ...v.strides] };
}

/** a [B, M, K] · b [B, K, N] → new [B, M, N] of `dtype`, accumulating in float64. */
export function matmul(a: View, aData: DataArray, b: View, bData: DataArray, dtype: DType): DataArray {
  const [batches, m, k] = a.shape;
  const n = b.shape[2];
  const out = allocArray(dtype, batches * m * n);
  const acc = new Float64Array(m * n);
  for (let bt = 0; bt < batches; bt++) {
    acc.fill(0);
    gemm(
      m,
      n,
      k,
      { data: aData, offset: a.offset + bt * a.strides[0], rowStride: a.strides[1], colStride: a.strides[2] },
      { data: bData, offset: b.offset + bt * b.strides[0], rowStride: b.strides[1], colStride: b.strides[2] },
      acc,
    );
    out.set(acc, bt * m * n);
  }
  return out;
}
