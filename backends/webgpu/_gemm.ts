// One tiled matrix-product template (shared-memory tiles, a block of outputs
// per thread) and the loaders that turn it into batched matmul and the three
// convolution products (implicit GEMM: im2col is never stored).
//
// Convolution loaders would divide a lot (a row is a pixel (n, y, x), a depth
// index a tap (c, kh, kw)); instead each workgroup decodes its rows and
// columns once, and each K step decodes its depth indices once, into small
// shared arrays, so the tile loads only add offsets.

import type { Kernel } from "./_engine.ts";
import { computeOf, declare, type Elem, load, store, zeroOf } from "./_wgsl.ts";

/** The shape of the tiling: threads per workgroup (x, y), outputs per thread (rows, cols), depth of a K step. */
export interface GemmTiling {
  readonly threadsX: number;
  readonly threadsY: number;
  readonly rows: number;
  readonly cols: number;
  readonly depth: number;
  /** threads own contiguous rows and columns and read shared memory four elements at a time */
  readonly vector?: boolean;
}

/**
 * The tilings, measured on llvmpipe (where threads run as SIMD lanes and
 * every shared-memory read is a per-lane load, so what matters is
 * multiply-adds per vec4 read): 8×16 outputs per thread for wide products,
 * 16×8 for tall ones (a convolution's pixels × 64 channels), 8×8 and 4×4
 * below, where big tiles would mostly compute padding.
 */
export const TILINGS: Readonly<Record<"wide" | "tall" | "medium" | "small", GemmTiling>> = {
  wide: { threadsX: 8, threadsY: 8, rows: 8, cols: 16, depth: 16, vector: true },
  tall: { threadsX: 8, threadsY: 8, rows: 16, cols: 8, depth: 16, vector: true },
  medium: { threadsX: 8, threadsY: 8, rows: 8, cols: 8, depth: 16, vector: true },
  small: { threadsX: 8, threadsY: 8, rows: 4, cols: 4, depth: 16, vector: true },
};

/** The tiling every GEMM kernel factory defaults to. */
export const TILING: GemmTiling = TILINGS.medium;

/** The tiling for an M × N product. */
export function tilingFor(m: number, n: number): GemmTiling {
  if (m >= 64 && n >= 128) return TILINGS.wide;
  if (m >= 128 && n >= 64) return TILINGS.tall;
  return m >= 64 && n >= 64 ? TILINGS.medium : TILINGS.small;
}

/** First params word of a GEMM's own fields (after M, N, K and the three tile starts). */
export const GEMM_FIELDS = 8;

/**
 * What defines one GEMM. Loaders see the global indices (g the batch or
 * group, m, n, k) and the tile-local ones (mm, nn, kk) to index the shared
 * arrays their set-up code filled.
 */
interface GemmParts {
  /** shared i32 arrays: one entry per tile row, per tile column, or per depth step */
  readonly arrays?: { readonly rows?: string[]; readonly cols?: string[]; readonly depth?: string[] };
  /** fills the row arrays at entry `i` for row `m` (in bounds), once per workgroup */
  readonly setupRows?: string;
  /** fills the column arrays at entry `j` for column `n` (in bounds), once per workgroup */
  readonly setupCols?: string;
  /** fills the depth arrays at entry `i` for depth `k` (in bounds), once per K step */
  readonly step?: string;
  /** body of `fn load_a(g, m, k, mm, kk) -> C`, called only in bounds */
  readonly loadA: string;
  /** body of `fn load_b(g, k, n, kk, nn) -> C`, called only in bounds */
  readonly loadB: string;
  /** body of `fn store_c(g, m, n, mm, nn, v)` */
  readonly storeC: string;
}

/**
 * The tiled GEMM: each workgroup stages a (rows·threadsY) × depth tile of A
 * and a depth × (cols·threadsX) tile of B in shared memory, and each thread
 * accumulates a rows × cols block of C in registers. Thread (tx, ty) owns
 * rows ty + threadsY·r and columns tx + threadsX·c, so neighbouring threads
 * touch neighbouring columns: a GPU coalesces those accesses, and a software
 * rasterizer that runs threads as SIMD lanes loads and stores whole vectors.
 */
export function gemmKernel(key: string, elem: Elem, parts: GemmParts, t: GemmTiling = TILING): Kernel {
  const c = computeOf(elem);
  const tm = t.threadsY * t.rows, tn = t.threadsX * t.cols, threads = t.threadsX * t.threadsY;
  const arrays = [
    ...(parts.arrays?.rows ?? []).map((name) => `var<workgroup> ${name}: array<i32, ${tm}>;`),
    ...(parts.arrays?.cols ?? []).map((name) => `var<workgroup> ${name}: array<i32, ${tn}>;`),
    ...(parts.arrays?.depth ?? []).map((name) => `var<workgroup> ${name}: array<i32, ${t.depth}>;`),
  ];
  const setup = parts.setupRows || parts.setupCols
    ? `for (var i = i32(li); i < ${tm}; i += ${threads}) {
    let m = row0 + i;
    if (m < M) { ${parts.setupRows ?? ""} }
  }
  for (var j = i32(li); j < ${tn}; j += ${threads}) {
    let n = col0 + j;
    if (n < N) { ${parts.setupCols ?? ""} }
  }
  workgroupBarrier();`
    : "";
  const step = parts.step
    ? `for (var i = i32(li); i < ${t.depth}; i += ${threads}) {
      let k = k0 + i;
      if (k < K) { ${parts.step} }
    }
    workgroupBarrier();`
    : "";
  return {
    key: `${key}:${t.threadsX}x${t.threadsY}:${t.rows}x${t.cols}:${t.depth}${t.vector ? ":v" : ""}`,
    bindings: ["read", "read", "write"],
    code: () =>
      `${declare(0, "P", "i32", false)}
${declare(1, "a", elem, false)}
${declare(2, "b", elem, false)}
${declare(3, "out", elem, true)}
${arrays.join("\n")}
fn load_a(g: i32, m: i32, k: i32, mm: i32, kk: i32) -> ${c} {
  ${parts.loadA}
}
fn load_b(g: i32, k: i32, n: i32, kk: i32, nn: i32) -> ${c} {
  ${parts.loadB}
}
fn store_c(g: i32, m: i32, n: i32, mm: i32, nn: i32, v: ${c}) {
  ${parts.storeC}
}
${(t.vector ? vectorBody : scalarBody)(t, c, setup, step)}`,
  };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The entry point's opening lines: sizes, the tile corner, the thread. */
function mainHead(t: GemmTiling, tm: number, tn: number): string {
  return `@compute @workgroup_size(${t.threadsX}, ${t.threadsY}, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let M = P[0];
  let N = P[1];
  let K = P[2];
  let g = i32(wid.z) + P[5];
  let row0 = (i32(wid.y) + P[4]) * ${tm};
  let col0 = (i32(wid.x) + P[3]) * ${tn};
  let tx = i32(lid.x);
  let ty = i32(lid.y);`;
}

/** Thread (tx, ty) owns rows ty + threadsY·r and columns tx + threadsX·c; shared tiles of scalars. */
function scalarBody(t: GemmTiling, c: string, setup: string, step: string): string {
  const tm = t.threadsY * t.rows, tn = t.threadsX * t.cols, threads = t.threadsX * t.threadsY;
  const zero = c === "f32" ? "0.0" : c === "i32" ? "0" : "0u";
  return `var<workgroup> tile_a: array<${c}, ${tm * t.depth}>;
var<workgroup> tile_b: array<${c}, ${t.depth * tn}>;
${mainHead(t, tm, tn)}
  ${setup}
  ${range(t.rows * t.cols).map((i) => `var c${i} = ${zero};`).join(" ")}
  for (var k0 = 0; k0 < K; k0 += ${t.depth}) {
    ${step}
    for (var e = i32(li); e < ${tm * t.depth}; e += ${threads}) {
      let mm = e / ${t.depth};
      let kk = e - mm * ${t.depth};
      var v = ${zero};
      if (row0 + mm < M && k0 + kk < K) { v = load_a(g, row0 + mm, k0 + kk, mm, kk); }
      tile_a[kk * ${tm} + mm] = v;
    }
    for (var e = i32(li); e < ${t.depth * tn}; e += ${threads}) {
      let kk = e / ${tn};
      let nn = e - kk * ${tn};
      var v = ${zero};
      if (k0 + kk < K && col0 + nn < N) { v = load_b(g, k0 + kk, col0 + nn, kk, nn); }
      tile_b[kk * ${tn} + nn] = v;
    }
    workgroupBarrier();
    for (var kk = 0; kk < ${t.depth}; kk++) {
      let ar = kk * ${tm} + ty;
      let bc = kk * ${tn} + tx;
      ${range(t.cols).map((q) => `let b${q} = tile_b[bc + ${q * t.threadsX}];`).join(" ")}
      ${
    range(t.rows).map((r) =>
      `let a${r} = tile_a[ar + ${r * t.threadsY}]; ` +
      range(t.cols).map((q) => `c${r * t.cols + q} += a${r} * b${q};`).join(" ")
    ).join("\n      ")
  }
    }
    workgroupBarrier();
  }
  ${
    range(t.rows).map((r) => {
      const mm = `ty + ${r * t.threadsY}`;
      return `if (row0 + ${mm} < M) {\n    ` +
        range(t.cols).map((q) => {
          const nn = `tx + ${q * t.threadsX}`;
          return `if (col0 + ${nn} < N) { store_c(g, row0 + ${mm}, col0 + ${nn}, ${mm}, ${nn}, c${r * t.cols + q}); }`;
        }).join("\n    ") + "\n  }";
    }).join("\n  ")
  }
}`;
}

/**
 * Thread (tx, ty) owns rows ty·rows.. and columns tx·cols..; shared tiles of
 * vec4 (four rows of A, four columns of B), so each step of the product
 * reads rows/4 + cols/4 vectors instead of rows + cols scalars.
 */
function vectorBody(t: GemmTiling, c: string, setup: string, step: string): string {
  const tm = t.threadsY * t.rows, tn = t.threadsX * t.cols, threads = t.threadsX * t.threadsY;
  const r4 = t.rows / 4, c4 = t.cols / 4;
  return `var<workgroup> tile_a: array<vec4<${c}>, ${(tm * t.depth) / 4}>;
var<workgroup> tile_b: array<vec4<${c}>, ${(t.depth * tn) / 4}>;
${mainHead(t, tm, tn)}
  ${setup}
  ${range(t.rows * c4).map((i) => `var c${i} = vec4<${c}>();`).join(" ")}
  for (var k0 = 0; k0 < K; k0 += ${t.depth}) {
    ${step}
    for (var e = i32(li); e < ${(tm / 4) * t.depth}; e += ${threads}) {
      let kk = e / ${tm / 4};
      let m4 = (e - kk * ${tm / 4}) * 4;
      var v = vec4<${c}>();
      if (k0 + kk < K) {
        ${
    range(4).map((q) => `if (row0 + m4 + ${q} < M) { v[${q}] = load_a(g, row0 + m4 + ${q}, k0 + kk, m4 + ${q}, kk); }`)
      .join("\n        ")
  }
      }
      tile_a[e] = v;
    }
    for (var e = i32(li); e < ${(tn / 4) * t.depth}; e += ${threads}) {
      let kk = e / ${tn / 4};
      let n4 = (e - kk * ${tn / 4}) * 4;
      var v = vec4<${c}>();
      if (k0 + kk < K) {
        ${
    range(4).map((q) => `if (col0 + n4 + ${q} < N) { v[${q}] = load_b(g, k0 + kk, col0 + n4 + ${q}, kk, n4 + ${q}); }`)
      .join("\n        ")
  }
      }
      tile_b[e] = v;
    }
    workgroupBarrier();
    for (var kk = 0; kk < ${t.depth}; kk++) {
      ${range(r4).map((r) => `let a${r} = tile_a[kk * ${tm / 4} + ty * ${r4} + ${r}];`).join(" ")}
      ${range(c4).map((q) => `let b${q} = tile_b[kk * ${tn / 4} + tx * ${c4} + ${q}];`).join(" ")}
      ${
    range(t.rows).map((r) =>
      range(c4).map((q) => `c${r * c4 + q} += a${Math.floor(r / 4)}[${r % 4}] * b${q};`).join(" ")
    ).join("\n      ")
  }
    }
    workgroupBarrier();
  }
  ${
    range(t.rows).map((r) => {
      const mm = `ty * ${t.rows} + ${r}`;
      return `if (row0 + ${mm} < M) {\n    ` +
        range(t.cols).map((q) => {
          const nn = `tx * ${t.cols} + ${q}`;
          return `if (col0 + ${nn} < N) { store_c(g, row0 + ${mm}, col0 + ${nn}, ${mm}, ${nn}, c${
            r * c4 + Math.floor(q / 4)
          }[${q % 4}]); }`;
        }).join("\n    ") + "\n  }";
    }).join("\n  ")
  }
}`;
}

/** Params layout shared by the GEMMs: named fields after the header. */
export function gemmParams(m: number, n: number, k: number, fields: readonly number[]): Int32Array {
  const words = new Int32Array(GEMM_FIELDS + fields.length);
  words.set([m, n, k]);
  words.set(fields, GEMM_FIELDS);
  return words;
}

/** The dispatches of a GEMM over `batches` × M × N, chunked to the per-dimension limit. */
export function gemmDispatches(
  m: number,
  n: number,
  batches: number,
  maxDim: number,
  t: GemmTiling = TILING,
): { start: [number, number, number]; groups: [number, number, number] }[] {
  const out: { start: [number, number, number]; groups: [number, number, number] }[] = [];
  const tilesX = Math.ceil(n / (t.threadsX * t.cols)), tilesY = Math.ceil(m / (t.threadsY * t.rows));
  for (let z = 0; z < batches; z += maxDim) {
    for (let y = 0; y < tilesY; y += maxDim) {
      for (let x = 0; x < tilesX; x += maxDim) {
        out.push({
          start: [x, y, z],
          groups: [Math.min(maxDim, tilesX - x), Math.min(maxDim, tilesY - y), Math.min(maxDim, batches - z)],
        });
      }
    }
  }
  return out;
}

const F = (i: number) => `P[${GEMM_FIELDS + i}]`;

/**
 * Batched matmul over strided views. Fields: a offset, a batch/row/col
 * strides, b offset, b batch/row/col strides.
 */
export function matmulKernel(elem: Elem, tiling: GemmTiling = TILING): Kernel {
  return gemmKernel(`matmul:${elem}`, elem, {
    loadA: `return ${load("a", elem, `${F(0)} + g * ${F(1)} + m * ${F(2)} + k * ${F(3)}`)};`,
    loadB: `return ${load("b", elem, `${F(4)} + g * ${F(5)} + k * ${F(6)} + n * ${F(7)}`)};`,
    storeC: store("out", elem, "(g * P[0] + m) * P[1] + n", "v"),
  }, tiling);
}

/** The fields of a convolution's params, in order. */
export const CONV_FIELDS = [
  "N",
  "C",
  "H",
  "W",
  "O",
  "kH",
  "kW",
  "sH",
  "sW",
  "pH",
  "pW",
  "dH",
  "dW",
  "Cg",
  "Og",
  "oH",
  "oW",
  // the first operand view: offset, 4 strides
  "ao",
  "a0",
  "a1",
  "a2",
  "a3",
  // the second operand view
  "bo",
  "b0",
  "b1",
  "b2",
  "b3",
] as const;

type ConvField = typeof CONV_FIELDS[number];
const conv = (s: string) => s.replace(/\$(\w+)/g, (_, name: ConvField) => F(CONV_FIELDS.indexOf(name)));

// Splits an index over (channel, kh, kw) or over (batch, y, x).
const SPLIT_TAPS = (k: string, ch: string) =>
  conv(`let khw = $kH * $kW;
  let ${ch} = udiv(${k}, khw);
  let tap = ${k} - ${ch} * khw;
  let kh = udiv(tap, $kW);
  let kw = tap - kh * $kW;`);
const SPLIT_PIXEL = (m: string, h: string, w: string, y: string, x: string) =>
  conv(`let plane = ${h} * ${w};
  let nb = udiv(${m}, plane);
  let pix = ${m} - nb * plane;
  let ${y} = udiv(pix, ${w});
  let ${x} = pix - ${y} * ${w};`);

const inImage = (h: string, w: string) => conv(`${h} >= 0 && ${h} < $H && ${w} >= 0 && ${w} < $W`);

/**
 * conv2d forward as a GEMM per group: rows are output pixels (n, oh, ow),
 * columns output channels, depth (c, kh, kw). Operand a is x, b is w.
 * x's index splits into a row part (the window's corner) and a depth part
 * (the tap), each decoded once.
 */
export function conv2dKernel(elem: Elem, tiling: GemmTiling = TILING): Kernel {
  const c = computeOf(elem);
  return gemmKernel(`conv2d:${elem}`, elem, {
    arrays: {
      rows: ["row_at", "row_h", "row_w", "row_out"],
      cols: ["col_at"],
      depth: ["ka_at", "ka_h", "ka_w", "kb_at"],
    },
    setupRows: `${SPLIT_PIXEL("m", "$oH", "$oW", "oh", "ow")}
    ${
      conv(`let h0 = oh * $sH - $pH;
    let w0 = ow * $sW - $pW;
    row_h[i] = h0;
    row_w[i] = w0;
    row_at[i] = $ao + nb * $a0 + g * $Cg * $a1 + h0 * $a2 + w0 * $a3;
    row_out[i] = nb * $O * plane + pix;`)
    }`,
    setupCols: conv(`col_at[j] = $bo + (g * $Og + n) * $b0;`),
    step: `${SPLIT_TAPS("k", "ch")}
      ${
      conv(`ka_h[i] = kh * $dH;
      ka_w[i] = kw * $dW;
      ka_at[i] = ch * $a1 + kh * $dH * $a2 + kw * $dW * $a3;
      kb_at[i] = ch * $b1 + kh * $b2 + kw * $b3;`)
    }`,
    loadA: `let ih = row_h[mm] + ka_h[kk];
  let iw = row_w[mm] + ka_w[kk];
  if (!(${inImage("ih", "iw")})) { return ${zeroOf(c)}; }
  return ${load("a", elem, "row_at[mm] + ka_at[kk]")};`,
    loadB: `return ${load("b", elem, "col_at[nn] + kb_at[kk]")};`,
    storeC: store("out", elem, conv("row_out[mm] + (g * $Og + n) * $oH * $oW"), "v"),
  }, tiling);
}

/**
 * The gradient of conv2d with respect to its input as a GEMM per group:
 * rows are input pixels (n, h, w), columns input channels, depth
 * (o, kh, kw); taps that land between strided outputs read 0. Operand a is
 * gradOut, b is w.
 */
export function conv2dBackwardInputKernel(elem: Elem, tiling: GemmTiling = TILING): Kernel {
  const c = computeOf(elem);
  return gemmKernel(`conv2d-bwd-input:${elem}`, elem, {
    arrays: {
      rows: ["row_at", "row_h", "row_w", "row_out"],
      cols: ["col_at"],
      depth: ["ka_at", "ka_h", "ka_w", "kb_at"],
    },
    setupRows: `${SPLIT_PIXEL("m", "$H", "$W", "h", "w")}
    ${
      conv(`row_h[i] = h + $pH;
    row_w[i] = w + $pW;
    row_at[i] = $ao + nb * $a0 + g * $Og * $a1;
    row_out[i] = nb * $C * plane + pix;`)
    }`,
    setupCols: conv(`col_at[j] = $bo + g * $Og * $b0 + n * $b1;`),
    step: `${SPLIT_TAPS("k", "o")}
      ${
      conv(`ka_h[i] = kh * $dH;
      ka_w[i] = kw * $dW;
      ka_at[i] = o * $a1;
      kb_at[i] = o * $b0 + kh * $b2 + kw * $b3;`)
    }`,
    loadA: conv(`let th = row_h[mm] - ka_h[kk];
  let tw = row_w[mm] - ka_w[kk];
  if (th < 0 || tw < 0) { return ${zeroOf(c)}; }
  var oh = th;
  var ow = tw;
  if ($sH != 1) { oh = udiv(th, $sH); if (oh * $sH != th) { return ${zeroOf(c)}; } }
  if ($sW != 1) { ow = udiv(tw, $sW); if (ow * $sW != tw) { return ${zeroOf(c)}; } }
  if (oh >= $oH || ow >= $oW) { return ${zeroOf(c)}; }
  return ${load("a", elem, conv("row_at[mm] + ka_at[kk] + oh * $a2 + ow * $a3"))};`),
    loadB: `return ${load("b", elem, "col_at[nn] + kb_at[kk]")};`,
    storeC: store("out", elem, conv("row_out[mm] + (g * $Cg + n) * $H * $W"), "v"),
  }, tiling);
}

/**
 * The gradient of conv2d with respect to its weight as a GEMM per group:
 * rows are output channels, columns (c, kh, kw), depth the output pixels
 * (n, oh, ow). Operand a is gradOut, b is x.
 */
export function conv2dBackwardWeightKernel(elem: Elem, tiling: GemmTiling = TILING): Kernel {
  const c = computeOf(elem);
  return gemmKernel(`conv2d-bwd-weight:${elem}`, elem, {
    arrays: { rows: ["row_at"], cols: ["col_at", "col_h", "col_w"], depth: ["ka_at", "kb_at", "kb_h", "kb_w"] },
    setupRows: conv(`row_at[i] = $ao + (g * $Og + m) * $a1;`),
    setupCols: `${SPLIT_TAPS("n", "ch")}
    ${
      conv(`col_h[j] = kh * $dH;
    col_w[j] = kw * $dW;
    col_at[j] = $bo + (g * $Cg + ch) * $b1 + kh * $dH * $b2 + kw * $dW * $b3;`)
    }`,
    step: `${SPLIT_PIXEL("k", "$oH", "$oW", "oh", "ow")}
      ${
      conv(`let h0 = oh * $sH - $pH;
      let w0 = ow * $sW - $pW;
      ka_at[i] = nb * $a0 + oh * $a2 + ow * $a3;
      kb_h[i] = h0;
      kb_w[i] = w0;
      kb_at[i] = nb * $b0 + h0 * $b2 + w0 * $b3;`)
    }`,
    loadA: `return ${load("a", elem, "row_at[mm] + ka_at[kk]")};`,
    loadB: `let ih = kb_h[kk] + col_h[nn];
  let iw = kb_w[kk] + col_w[nn];
  if (!(${inImage("ih", "iw")})) { return ${zeroOf(c)}; }
  return ${load("b", elem, "col_at[nn] + kb_at[kk]")};`,
    storeC: store("out", elem, conv("(g * $Og + m) * ($Cg * $kH * $kW) + n"), "v"),
  }, tiling);
}
