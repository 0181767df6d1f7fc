// The WebAssembly kernels behind the backend contract: views in, storages
// out, float32 only. Each method returns undefined when the kernels do not
// cover a case (another dtype, a layout they skip, no room), and the backend
// then runs its TypeScript kernel. Operands are used where they live in the
// arena; an operand elsewhere is copied in (an adopted array is copied to
// scratch, anything else moves in). Big kernels split across threads.

import {
  type AvgPoolOptions,
  type BinaryOp,
  coalesceDims,
  contiguousStrides,
  type Conv2dGeometry,
  type DataArray,
  type DType,
  isContiguous,
  numel,
  type Pool2dGeometry,
  type ReduceOp,
  type Shape,
  type UnaryOp,
  type View,
} from "@flint/backend";
import type { Arena } from "./_arena.ts";
import type { Call, Chunk } from "./_pool.ts";
import type { KernelExports, WasmRuntime } from "./_wasm_runtime.ts";
import { type Conv2dSizes, conv2dSizes } from "./conv.ts";
import { poolPlanes } from "./pool.ts";
import type { MemoryLedger } from "@flint/backend";
import { CpuStorage } from "./storage.ts";
import { batchOfOne } from "./matmul.ts";
import { planRows, walkRows } from "./walk.ts";

const BYTES: Readonly<Record<DType, number>> = { float32: 4, float64: 8, int32: 4, bool: 1 };
/** The micro-kernel's tile: column splits between threads keep to multiples of NR, row splits of MR. */
const MR = 4, NR = 8;
/**
 * Work below which a kernel stays on the calling thread. Workers spin for a
 * while between jobs (_pool.ts), so a job costs a few µs to post and collect
 * (bench/cpu_kernels_bench.ts --only=crossover, 1 thread vs 2, medians: a
 * 64³ product 17 vs 19 µs, 96³ 51 vs 46 µs, 128³ 124 vs 80 µs; adding 64K
 * floats 22 vs 18 µs, 256K floats 55 vs 41 µs, 1M floats 225 vs 146 µs).
 */
const PARALLEL_FLOPS = 2e6;
const PARALLEL_ELEMENTS = 1 << 17;
/** Elements of B past which the threads that share it pack it together (a 1000×100 weight: ~40 µs alone). */
const PARALLEL_PACK = 1 << 15;
/**
 * Rows shorter than this cost more in calls than the kernels save, so
 * kernels: "auto" leaves them to the TypeScript loops.
 */
const MIN_ROW = 16;
/**
 * Products of fewer multiply-adds than this (a 32×32×32 matmul) are as fast
 * in TypeScript, which sums in float64: kernels: "auto" leaves them there, so
 * the small products of tests and tutorials keep the reference's rounding.
 */
const MIN_MACS = 32 * 32 * 32;

/** Op codes of elementwise.ts. */
const BINARY_CODES: Partial<Record<BinaryOp, number>> = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  maximum: 4,
  minimum: 5,
  eq: 6,
  ne: 7,
  lt: 8,
  le: 9,
  gt: 10,
  ge: 11,
};
const UNARY_CODES: Partial<Record<UnaryOp, number>> = {
  neg: 0,
  abs: 1,
  relu: 2,
  sqrt: 3,
  rsqrt: 4,
  reciprocal: 5,
};
const SQUARE = 6;
/** BINARY_CODES.add, for the bias of addmm. */
const ADD = 0;
/** Op codes of reduce.ts. */
const REDUCE_CODES: Partial<Record<ReduceOp, number>> = { sum: 0, max: 1, min: 2 };
const REDUCE_INIT: Readonly<Record<number, number>> = { 0: 0, 1: -Infinity, 2: Infinity };
/** Flags of optim.ts. */
const MAXIMIZE = 1, DECOUPLED = 2, AMSGRAD = 4, NESTEROV = 2, FIRST_STEP = 4, MOMENTUM = 8;

function typed(buffer: ArrayBufferLike, dtype: DType, ptr: number, length: number): DataArray {
  if (dtype === "float32") return new Float32Array(buffer, ptr, length);
  if (dtype === "float64") return new Float64Array(buffer, ptr, length);
  if (dtype === "int32") return new Int32Array(buffer, ptr, length);
  return new Uint8Array(buffer, ptr, length);
}

/** Elements from the view's first to its last reachable one (strides are never negative). */
function spanOf(view: View): number {
  let span = 1;
  for (let d = 0; d < view.shape.length; d++) {
    if (view.shape[d] === 0) return 0;
    span += (view.shape[d] - 1) * view.strides[d];
  }
  return span;
}

/** Splits [0, total) into `parts` ranges whose bounds are multiples of `align`, dropping empty ones. */
function ranges(total: number, parts: number, align: number): [number, number][] {
  const out: [number, number][] = [];
  const chunk = Math.ceil(total / parts / align) * align;
  for (let start = 0; start < total; start += chunk) out.push([start, Math.min(total, start + chunk)]);
  return out;
}

/** One chunk's share of an m×n product: rows [i0, i1) × columns [j0, j1). */
type Tile = readonly [i0: number, i1: number, j0: number, j1: number];

/**
 * A row split shares one packed B, which costs a dispatch of its own (every
 * thread packs, then every thread multiplies); columns win unless they pad
 * more than this much extra work.
 */
const COLUMN_BIAS = 1.1;

/**
 * How an m×n product splits into `parts` chunks: column ranges (multiples of
 * NR) or row ranges (multiples of MR), whichever leaves the biggest chunk the
 * least padded work (see COLUMN_BIAS). Columns suit wide products (a conv's
 * early layers), rows tall ones (its late layers, 7×7 images with 512
 * channels).
 */
function tiles(m: number, n: number, parts: number): Tile[] {
  const pad = (x: number, to: number) => Math.ceil(x / to) * to;
  const byCols = ranges(n, parts, NR), byRows = ranges(m, parts, MR);
  const colCost = pad(m, MR) * Math.max(...byCols.map(([a, b]) => pad(b - a, NR)));
  const rowCost = pad(n, NR) * Math.max(...byRows.map(([a, b]) => pad(b - a, MR)));
  return colCost <= rowCost * COLUMN_BIAS
    ? byCols.map(([j0, j1]) => [0, m, j0, j1] as const)
    : byRows.map(([i0, i1]) => [i0, i1, 0, n] as const);
}

/**
 * True when Winograd F(2×2, 3×3) computes this convolution, and faster: 3×3,
 * stride 1, padding 1, no dilation (so the output is the input's size), enough
 * channels that the transforms cost little beside the products, and enough
 * 2×2 tiles over the batch for 16 products of decent width. Measured on
 * ResNet's shapes at batch 1 with the 4×8 gemm kernel and the SIMD weight
 * transform (2 threads, median ms, Winograd vs im2col + gemm): 256 channels
 * on 14² (49 tiles) 2.9 vs 4.7; 512 on 7² (16 tiles) 9.0 vs 5.4.
 */
function winogradFits(s: Conv2dSizes): boolean {
  const tiles = s.n * ((s.h + 1) >> 1) * ((s.w + 1) >> 1);
  return s.kh === 3 && s.kw === 3 && s.strideH === 1 && s.strideW === 1 && s.padH === 1 && s.padW === 1 &&
    s.dilationH === 1 && s.dilationW === 1 && s.c / s.groups >= 16 && s.o / s.groups >= 16 && tiles >= 48;
}

/** Chunks per thread: enough that a thread slowed by a busy core takes fewer, few enough to keep calls cheap. */
const CHUNKS_PER_THREAD = 3;
/**
 * A product smaller than this many flops per thread runs one chunk per
 * thread: more chunks re-read the shared operand and, split by rows, need a
 * second dispatch to pack B first. Measured on tutorial 001's 64×1000·1000×100
 * (12.8 MFLOP, 2 threads): one chunk each, split by columns, 169 µs; three
 * each, by rows, 197 µs.
 */
const CHUNK_FLOPS = 16e6;

/** A gemm call whose scratch (its last argument) is the running thread's slot 0. */
function gemmCall(fn: "sgemm" | "sgemmConv" | "sgemmPacked", args: readonly number[]): Call {
  return { fn, args: [...args, 0], local: [args.length] };
}

/** Options of one fused Adam step, as the contract's adamStep passes them. */
export interface AdamScalars {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly decoupledWeightDecay: boolean;
  readonly amsgrad: boolean;
  readonly maximize: boolean;
  readonly step: number;
}

/** Options of one fused SGD step. */
export interface SgdScalars {
  readonly lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  readonly maximize: boolean;
  readonly firstStep: boolean;
}

/** An output being written: its storage, and where the kernel writes it. */
interface Output {
  readonly storage: CpuStorage;
  readonly ptr: number;
  /** copies scratch to the storage when it could not live in the arena */
  finish(): void;
}

/** The float32 WebAssembly kernels of one CpuBackend. */
export class WasmKernels {
  readonly runtime: WasmRuntime;
  readonly arena: Arena;
  readonly #x: KernelExports;
  readonly #ledger: MemoryLedger;
  readonly #minRow: number;
  readonly #minMacs: number;
  #depth = 0;

  /** `everywhere` runs every case the kernels cover, however small (what the conformance suite tests). */
  constructor(runtime: WasmRuntime, ledger: MemoryLedger, everywhere = false) {
    this.runtime = runtime;
    this.arena = runtime.arena;
    this.#x = runtime.exports;
    this.#ledger = ledger;
    this.#minRow = everywhere ? 1 : MIN_ROW;
    this.#minMacs = everywhere ? 0 : MIN_MACS;
  }

  /** A new storage, in the arena when it has room; zeroed only on request. */
  alloc(dtype: DType, length: number, zero = false): CpuStorage {
    return CpuStorage.allocate(this.arena, dtype, length, this.#ledger, zero);
  }

  /**
   * Runs `fn` as one op: earlier pins lapse before, its scratch is freed
   * after, and the outputs it made are disposed if it throws (the backend
   * then runs the TypeScript kernel).
   */
  run<T>(fn: () => T): T {
    const outer = this.#depth++ === 0;
    if (outer) this.arena.beginOp();
    const mark = this.#made.length;
    try {
      return fn();
    } catch (error) {
      for (const s of this.#made.splice(mark)) s.dispose();
      throw error;
    } finally {
      this.#depth--;
      if (outer) {
        this.arena.endOp();
        this.#made.length = 0;
      }
    }
  }

  /** Outputs made by the current op. */
  readonly #made: CpuStorage[] = [];

  // ---- operands ----

  /** Byte address of the view's first element, with every element its strides reach. */
  #addr(view: View): number {
    const s = view.storage as CpuStorage;
    const bytes = BYTES[view.dtype];
    const at = s.addressIn(this.arena);
    if (at >= 0) return at + view.offset * bytes;
    const span = spanOf(view);
    const ptr = this.arena.scratch(span * bytes);
    typed(this.arena.buffer, view.dtype, ptr, span).set(s.data.subarray(view.offset, view.offset + span));
    return ptr;
  }

  /**
   * When the view is a transpose (its elements in column order, possibly in
   * a batch of such matrices), a row-major copy of it made with the SIMD
   * transpose, at `into` or else in scratch, and its address; else -1.
   * Element-wise ops run such operands contiguously instead of striding
   * through them one by one (a Linear layer's weight gradient arrives
   * transposed).
   */
  #untransposed(view: View, into?: number): number {
    const { shape, strides } = coalesceDims(view.shape, [view.strides]);
    const s = strides[0], nd = shape.length;
    if (nd < 2 || nd > 3 || s[nd - 2] !== 1 || s[nd - 1] === 0 || s[nd - 1] === 1) return -1;
    if (nd === 3 && s[0] === 0) return -1;
    const base = this.#addr(view);
    const rows = shape[nd - 1], cols = shape[nd - 2], ld = s[nd - 1];
    // The view walks rows × cols row-major as dims (…, cols, rows) with strides (…, 1, ld): its rows are the
    // matrix's columns. Transposing the [cols × rows] matrix stored column by column gives them in order.
    const batches = nd === 3 ? shape[0] : 1;
    const ptr = into ?? this.arena.scratch(batches * rows * cols * 4);
    for (let b = 0; b < batches; b++) {
      this.#x.transpose(base + (nd === 3 ? b * s[0] * 4 : 0), cols, rows, ld, ptr + b * rows * cols * 4);
    }
    return ptr;
  }

  /** Byte address of the view's elements in row-major order (a scratch copy when it is strided). */
  #dense(view: View): number {
    if (isContiguous(view.shape, view.strides)) return this.#addr(view);
    const t = view.dtype === "float32" ? this.#untransposed(view) : -1;
    if (t >= 0) return t;
    const base = this.#addr(view);
    const n = numel(view.shape);
    const ptr = this.arena.scratch(n * 4);
    const plan = planRows(view.shape, [view.strides, contiguousStrides(view.shape)]);
    const [xs, os] = plan.rowStrides;
    walkRows(plan, [0, 0], (o) => this.#x.copyRow(base + o[0] * 4, xs, ptr + o[1] * 4, os, plan.rowLength));
    return ptr;
  }

  #out(dtype: DType, length: number, zero = false): Output {
    const storage = this.alloc(dtype, length, zero);
    this.#made.push(storage);
    const at = length === 0 ? -1 : storage.addressIn(this.arena);
    if (at >= 0 || length === 0) return { storage, ptr: at, finish() {} };
    const bytes = length * BYTES[dtype];
    const ptr = this.arena.scratch(bytes);
    const scratch = typed(this.arena.buffer, dtype, ptr, length);
    if (zero) scratch.fill(0);
    return { storage, ptr, finish: () => storage.data.set(scratch) };
  }

  /** Threads worth using for `work` units when `grain` units pay for a thread. */
  #threads(work: number, grain: number): number {
    if (work < grain) return 1;
    // Past the grain a second thread pays; further ones as the work grows.
    return Math.max(1, Math.min(this.runtime.parallelism(), Math.max(2, Math.floor(work / grain))));
  }

  // ---- matmul and convolution ----

  /**
   * The chunks of one product C (+)= A·B (strided A and B, row-major C) split
   * `parts` ways. Split by rows, the chunks share B, so it is packed once
   * here (on this thread) rather than by every chunk.
   */
  #product(
    m: number,
    n: number,
    k: number,
    a: number,
    ars: number,
    acs: number,
    b: number,
    brs: number,
    bcs: number,
    c: number,
    ldc: number,
    parts: number,
  ): Chunk[] {
    const shares = parts > 1 ? tiles(m, n, parts) : [[0, m, 0, n] as const];
    if (shares.length > 1 && shares[0][3] === n) {
      const packed = this.arena.scratch(this.#x.packedBBytes(k, n));
      // Packed before any chunk multiplies: by this thread alone, or by every thread, disjoint panels each.
      const threads = this.#threads(k * n, PARALLEL_PACK);
      this.runtime.run(
        ranges(Math.ceil(n / NR), threads, 1).map(([q0, q1]) => [{
          fn: "packBPanels",
          args: [b, brs, bcs, k, n, q0, q1, packed],
        }]),
        threads,
      );
      return shares.map(([i0, i1]) => [
        gemmCall("sgemmPacked", [i1 - i0, n, k, a + i0 * ars * 4, ars, acs, packed, c + i0 * ldc * 4, ldc, 0]),
      ]);
    }
    return shares.map(([i0, i1, j0, j1]) => [gemmCall("sgemm", [
      i1 - i0,
      j1 - j0,
      k,
      a + i0 * ars * 4,
      ars,
      acs,
      b + j0 * bcs * 4,
      brs,
      bcs,
      c + (i0 * ldc + j0) * 4,
      ldc,
      0,
    ])]);
  }

  /** a [B, M, K] · b [B, K, N] → [B, M, N]. */
  matmul(a: View, b: View): CpuStorage | undefined {
    if (a.dtype !== "float32" || numel(a.shape) * b.shape[2] < this.#minMacs) return undefined;
    return this.run(() => {
      const out = this.#out("float32", a.shape[0] * a.shape[1] * b.shape[2]);
      this.#matmulInto(a, b, out.ptr);
      out.finish();
      return out.storage;
    });
  }

  /** Writes a [B, M, K] · b [B, K, N] at `c`, row-major, split over the threads. */
  #matmulInto(a: View, b: View, c: number): void {
    const [batches, m, k] = a.shape;
    const n = b.shape[2];
    if (batches * m * n === 0) return;
    const ap = this.#addr(a), bp = this.#addr(b);
    const [sa0, sa1, sa2] = a.strides, [sb0, sb1, sb2] = b.strides;
    const flops = 2 * batches * m * n * k;
    const threads = this.#threads(flops, PARALLEL_FLOPS);
    const perThread = Math.min(CHUNKS_PER_THREAD, Math.max(1, Math.floor(flops / (threads * CHUNK_FLOPS))));
    const perBatch = threads === 1 || batches >= perThread * threads;
    const parts = perBatch ? 1 : Math.ceil(perThread * threads / batches);
    const chunks: Chunk[] = [];
    for (let bt = 0; bt < batches; bt++) {
      const ab = ap + bt * sa0 * 4, bb = bp + bt * sb0 * 4, cb = c + bt * m * n * 4;
      chunks.push(...this.#product(m, n, k, ab, sa1, sa2, bb, sb1, sb2, cb, n, parts));
    }
    this.runtime.run(chunks, threads);
  }

  /**
   * bias [M, N] (a broadcast view) + a [M, K] · b [K, N]: the product as
   * matmul makes it, then the bias added in place, so the sums round as the
   * composition's add does.
   */
  addmm(bias: View, a: View, b: View): CpuStorage | undefined {
    const [m, k] = a.shape, n = b.shape[1];
    if (a.dtype !== "float32" || bias.dtype !== "float32" || m * k * n < this.#minMacs) return undefined;
    return this.run(() => {
      const out = this.#out("float32", m * n);
      if (m * n === 0) return out.storage;
      this.#matmulInto(batchOfOne(a), batchOfOne(b), out.ptr);
      const rb = this.#operand(bias, 2);
      const plan = planRows([m, n], [contiguousStrides([m, n]), rb.strides]);
      const [cs, bs] = plan.rowStrides;
      if (plan.outerShape.length === 1) {
        // One row of bias over every row of the product (a Linear layer's): one call.
        const [cRow, bRow] = plan.outerStrides.map((s) => s[0] * 4);
        this.#x.binaryRows(ADD, out.ptr, cs, cRow, rb.ptr, bs, bRow, out.ptr, cRow, plan.rowLength, plan.rows);
      } else {
        walkRows(plan, [0, 0], (o) => {
          this.#x.binaryRow(ADD, out.ptr + o[0] * 4, cs, rb.ptr + o[1] * 4, bs, out.ptr + o[0] * 4, plan.rowLength);
        });
      }
      out.finish();
      return out.storage;
    });
  }

  /** A conv record (assembly/layout.ts) in scratch: the image at `x` with channels `c`. */
  #record(x: number, c: number, s: Conv2dSizes): number {
    const ptr = this.arena.scratch(64);
    new Int32Array(this.arena.buffer, ptr, 14).set([
      x,
      c,
      s.h,
      s.w,
      s.kh,
      s.kw,
      s.oh,
      s.ow,
      s.strideH,
      s.strideW,
      s.padH,
      s.padW,
      s.dilationH,
      s.dilationW,
    ]);
    return ptr;
  }

  /**
   * conv2d forward on dense addresses: x [n, c, h, w], w [o, c/g, kh, kw] →
   * out [n, o, oh, ow]. A 1×1 stride-1 convolution is a plain product; a
   * unit-stride one whose output rows hold whole 8-column panels packs its
   * columns straight from the image; any other unfolds the image (im2col)
   * into scratch first.
   */
  #convForward(xp: number, wp: number, s: Conv2dSizes, outp: number): void {
    if (winogradFits(s)) return this.#winograd(xp, wp, s, outp);
    const cg = s.c / s.groups, og = s.o / s.groups, taps = s.kh * s.kw;
    const K = cg * taps, L = s.oh * s.ow, plane = s.h * s.w;
    const pointwise = s.kh === 1 && s.kw === 1 && s.strideH === 1 && s.strideW === 1 && s.padH === 0 &&
      s.padW === 0;
    const implicit = !pointwise && s.strideW === 1 && s.ow % NR === 0;
    const images = s.n * s.groups;
    const threads = this.#threads(2 * images * og * L * K, PARALLEL_FLOPS);
    // Whole images per chunk when there are enough of them; else each image splits by rows or columns.
    const perImage = threads === 1 || images >= CHUNKS_PER_THREAD * threads;
    const parts = CHUNKS_PER_THREAD * threads;
    const cols = pointwise || implicit ? 0 : perImage ? -1 : this.arena.scratch(K * L * 4);
    const chunks: Chunk[] = [];
    for (let b = 0; b < s.n; b++) {
      for (let g = 0; g < s.groups; g++) {
        const x = xp + (b * s.c + g * cg) * plane * 4;
        const a = wp + g * og * K * 4;
        const c = outp + (b * s.o + g * og) * L * 4;
        const record = pointwise ? 0 : this.#record(x, cg, s);
        if (!pointwise && !implicit && !perImage) {
          // The image is unfolded once, by channel ranges, before any chunk multiplies.
          this.runtime.run(
            ranges(cg, CHUNKS_PER_THREAD * threads, 1).map(([c0, c1]) => [{
              fn: "im2col",
              args: [record, c0, c1 - c0, cols + c0 * taps * L * 4],
            }]),
            threads,
          );
        }
        if (!perImage && pointwise) chunks.push(...this.#product(og, L, K, a, K, 1, x, L, 1, c, L, parts));
        else if (!perImage && !implicit) chunks.push(...this.#product(og, L, K, a, K, 1, cols, L, 1, c, L, parts));
        else if (!perImage) {
          for (const [i0, i1, l0, l1] of tiles(og, L, parts)) {
            const ai = a + i0 * K * 4, ci = c + (i0 * L + l0) * 4;
            chunks.push([gemmCall("sgemmConv", [i1 - i0, l1 - l0, K, ai, K, 1, record, l0, ci, L, 0])]);
          }
        } else if (pointwise) chunks.push([gemmCall("sgemm", [og, L, K, a, K, 1, x, L, 1, c, L, 0])]);
        else if (implicit) chunks.push([gemmCall("sgemmConv", [og, L, K, a, K, 1, record, 0, c, L, 0])]);
        else {
          // Unfold into the running thread's columns (slot 1), then multiply them.
          chunks.push([
            { fn: "im2col", args: [record, 0, cg, 1], local: [3] },
            { fn: "sgemm", args: [og, L, K, a, K, 1, 1, L, 1, c, L, 0, 0], local: [6, 12] },
          ]);
        }
        if (!perImage && !pointwise && !implicit) this.runtime.run(chunks.splice(0), threads);
      }
    }
    this.runtime.run(chunks, threads, cols === -1 ? [K * L * 4] : []);
  }

  /**
   * A 3×3 stride-1 padding-1 convolution by Winograd F(2×2, 3×3)
   * (assembly/winograd.ts): transform the weights and the input tiles, 16
   * products, transform back. 2.25 times fewer multiply-adds.
   */
  #winograd(xp: number, wp: number, s: Conv2dSizes, outp: number): void {
    const cg = s.c / s.groups, og = s.o / s.groups, plane = s.h * s.w;
    const tiles = ((s.h + 1) >> 1) * ((s.w + 1) >> 1), T = s.n * tiles;
    const threads = this.#threads(2 * 16 * s.groups * og * cg * T, PARALLEL_FLOPS);
    const parts = threads === 1 ? 1 : CHUNKS_PER_THREAD * threads;
    const u = this.arena.scratch(16 * og * cg * 4);
    const v = this.arena.scratch(16 * cg * T * 4);
    const m = this.arena.scratch(16 * og * T * 4);
    for (let g = 0; g < s.groups; g++) {
      const transforms: Chunk[] = ranges(og, parts, 1).map(([o0, o1]) => [{
        fn: "winogradWeights",
        args: [wp + g * og * cg * 9 * 4, o0, o1, cg, og, u],
      }]);
      const perImage = ranges(cg, Math.ceil(parts / s.n), 1);
      for (let b = 0; b < s.n; b++) {
        const x = xp + (b * s.c + g * cg) * plane * 4;
        for (const [c0, c1] of perImage) {
          transforms.push([{ fn: "winogradInput", args: [x, s.h, s.w, c0, c1, v, b * tiles, T, cg] }]);
        }
      }
      this.runtime.run(transforms, threads);
      const products: Chunk[] = [];
      const each = Math.max(1, Math.ceil(parts / 16));
      for (let xi = 0; xi < 16; xi++) {
        const a = u + xi * og * cg * 4, bm = v + xi * cg * T * 4, c = m + xi * og * T * 4;
        products.push(...this.#product(og, T, cg, a, cg, 1, bm, T, 1, c, T, each));
      }
      this.runtime.run(products, threads);
      const outputs: Chunk[] = [];
      const perOut = ranges(og, Math.ceil(parts / s.n), 1);
      for (let b = 0; b < s.n; b++) {
        const y = outp + (b * s.o + g * og) * plane * 4;
        for (const [o0, o1] of perOut) {
          outputs.push([{ fn: "winogradOutput", args: [m, og, T, b * tiles, o0, o1, y, s.h, s.w] }]);
        }
      }
      this.runtime.run(outputs, threads);
    }
  }

  /**
   * The weight gradient of a 3×3 stride-1 padding-1 convolution in
   * Winograd's domain: with V the input tiles (as forward) and Z = A dY Aᵀ
   * the output-gradient tiles, dU[ξ] = Z[ξ] · V[ξ]ᵀ summed over every tile of
   * the batch, and dW = Gᵀ dU G. 2.25 times fewer multiply-adds, and long
   * products (the tiles are the sum's length).
   */
  #winogradWeightGrad(xp: number, gp: number, s: Conv2dSizes, outp: number): void {
    const cg = s.c / s.groups, og = s.o / s.groups, plane = s.h * s.w;
    const tiles = ((s.h + 1) >> 1) * ((s.w + 1) >> 1), T = s.n * tiles;
    const threads = this.#threads(2 * 16 * s.groups * og * cg * T, PARALLEL_FLOPS);
    const parts = threads === 1 ? 1 : CHUNKS_PER_THREAD * threads;
    const v = this.arena.scratch(16 * cg * T * 4);
    const z = this.arena.scratch(16 * og * T * 4);
    const du = this.arena.scratch(16 * og * cg * 4);
    for (let g = 0; g < s.groups; g++) {
      const transforms: Chunk[] = [];
      for (let b = 0; b < s.n; b++) {
        const x = xp + (b * s.c + g * cg) * plane * 4, dy = gp + (b * s.o + g * og) * plane * 4;
        for (const [c0, c1] of ranges(cg, Math.ceil(parts / s.n), 1)) {
          transforms.push([{ fn: "winogradInput", args: [x, s.h, s.w, c0, c1, v, b * tiles, T, cg] }]);
        }
        for (const [o0, o1] of ranges(og, Math.ceil(parts / s.n), 1)) {
          transforms.push([{ fn: "winogradGradOutput", args: [dy, s.h, s.w, o0, o1, z, b * tiles, T, og] }]);
        }
      }
      this.runtime.run(transforms, threads);
      // dU[ξ] (og × cg) = Z[ξ] (og × T) · V[ξ]ᵀ (T × cg): V read through swapped strides.
      const products: Chunk[] = [];
      for (let xi = 0; xi < 16; xi++) {
        const a = z + xi * og * T * 4, bm = v + xi * cg * T * 4, c = du + xi * og * cg * 4;
        products.push(...this.#product(og, cg, T, a, T, 1, bm, 1, T, c, cg, Math.max(1, Math.ceil(parts / 16))));
      }
      this.runtime.run(products, threads);
      this.runtime.run(
        ranges(og, parts, 1).map(([o0, o1]) => [{
          fn: "winogradWeightGrad",
          args: [du, o0, o1, cg, og, outp + g * og * cg * 9 * 4],
        }]),
        threads,
      );
    }
  }

  /** Multiply-adds of a convolution with weights `w` and output `out`. */
  #convMacs(w: Shape, out: Shape): number {
    return numel(w) * out[0] * out[2] * out[3];
  }

  /** conv2d without bias. */
  conv2d(x: View, w: View, geometry: Conv2dGeometry, outShape: Shape): CpuStorage | undefined {
    if (x.dtype !== "float32" || this.#convMacs(w.shape, outShape) < this.#minMacs) return undefined;
    return this.run(() => {
      const s = conv2dSizes(x.shape, w.shape, outShape, geometry);
      const out = this.#out("float32", numel(outShape));
      if (numel(outShape) === 0) return out.storage;
      this.#convForward(this.#dense(x), this.#dense(w), s, out.ptr);
      out.finish();
      return out.storage;
    });
  }

  /** Gradient of conv2d with respect to its input. */
  conv2dBackwardInput(gradOut: View, w: View, geometry: Conv2dGeometry, inputShape: Shape): CpuStorage | undefined {
    if (gradOut.dtype !== "float32" || this.#convMacs(w.shape, gradOut.shape) < this.#minMacs) return undefined;
    return this.run(() => {
      const s = conv2dSizes(inputShape, w.shape, gradOut.shape, geometry);
      const out = this.#out("float32", numel(inputShape), true);
      if (numel(inputShape) === 0 || numel(gradOut.shape) === 0) return out.storage;
      const gp = this.#dense(gradOut), wp = this.#dense(w);
      const cg = s.c / s.groups, og = s.o / s.groups, taps = s.kh * s.kw;
      const flipPadH = s.dilationH * (s.kh - 1) - s.padH, flipPadW = s.dilationW * (s.kw - 1) - s.padW;
      if (s.strideH === 1 && s.strideW === 1 && flipPadH >= 0 && flipPadW >= 0) {
        // With stride 1 the input gradient is a forward convolution of gradOut with the weights
        // flipped and transposed per group: W'[g·cg + c, o, i, j] = W[g·og + o, c, kh−1−i, kw−1−j].
        const flipped = this.arena.scratch(s.o * cg * taps * 4);
        const src = new Float32Array(this.arena.buffer, wp, s.o * cg * taps);
        const dst = new Float32Array(this.arena.buffer, flipped, s.o * cg * taps);
        for (let g = 0; g < s.groups; g++) {
          for (let o = 0; o < og; o++) {
            for (let c = 0; c < cg; c++) {
              const from = ((g * og + o) * cg + c) * taps, to = ((g * cg + c) * og + o) * taps;
              for (let t = 0; t < taps; t++) dst[to + taps - 1 - t] = src[from + t];
            }
          }
        }
        const t: Conv2dSizes = {
          ...s,
          c: s.o,
          h: s.oh,
          w: s.ow,
          o: s.c,
          oh: s.h,
          ow: s.w,
          padH: flipPadH,
          padW: flipPadW,
        };
        this.#convForward(gp, flipped, t, out.ptr);
      } else {
        // cols = W_gᵀ · gradOut_g, then col2im adds the columns back onto the image. A chunk takes a channel
        // range of one image, so chunks write disjoint channels, and unfolds into its thread's slot 1.
        const K = cg * taps, L = s.oh * s.ow, plane = s.h * s.w;
        const images = s.n * s.groups;
        const threads = this.#threads(2 * images * og * L * K, PARALLEL_FLOPS);
        const parts = threads === 1 || images >= CHUNKS_PER_THREAD * threads
          ? [[0, cg] as [number, number]]
          : ranges(cg, Math.ceil(CHUNKS_PER_THREAD * threads / images), 1);
        const widest = Math.max(...parts.map(([c0, c1]) => c1 - c0));
        const chunks: Chunk[] = [];
        for (let b = 0; b < s.n; b++) {
          for (let g = 0; g < s.groups; g++) {
            const record = this.#record(out.ptr + (b * s.c + g * cg) * plane * 4, cg, s);
            for (const [c0, c1] of parts) {
              const a = wp + (g * og * K + c0 * taps) * 4;
              const bm = gp + (b * s.o + g * og) * L * 4;
              chunks.push([
                { fn: "sgemm", args: [(c1 - c0) * taps, L, og, a, 1, K, bm, L, 1, 1, L, 0, 0], local: [9, 12] },
                { fn: "col2im", args: [1, record, c0, c1 - c0], local: [0] },
              ]);
            }
          }
        }
        this.runtime.run(chunks, threads, [widest * taps * L * 4]);
      }
      out.finish();
      return out.storage;
    });
  }

  /** Gradient of conv2d with respect to its weight, summed over the batch. */
  conv2dBackwardWeight(x: View, gradOut: View, geometry: Conv2dGeometry, weightShape: Shape): CpuStorage | undefined {
    if (x.dtype !== "float32" || this.#convMacs(weightShape, gradOut.shape) < this.#minMacs) return undefined;
    return this.run(() => {
      const s = conv2dSizes(x.shape, weightShape, gradOut.shape, geometry);
      const out = this.#out("float32", numel(weightShape), true);
      if (numel(weightShape) === 0 || numel(x.shape) === 0 || numel(gradOut.shape) === 0) return out.storage;
      const xp = this.#dense(x), gp = this.#dense(gradOut);
      const cg = s.c / s.groups, og = s.o / s.groups, taps = s.kh * s.kw;
      const K = cg * taps, L = s.oh * s.ow, plane = s.h * s.w;
      const pointwise = s.kh === 1 && s.kw === 1 && s.strideH === 1 && s.strideW === 1 && s.padH === 0 &&
        s.padW === 0;
      if (winogradFits(s)) {
        this.#winogradWeightGrad(xp, gp, s, out.ptr);
        out.finish();
        return out.storage;
      }
      // A chunk takes a range of input channels over the whole batch: it unfolds them image by image into
      // its thread's slot 1 and owns those columns of gW, so chunks never write the same element.
      const threads = this.#threads(2 * s.n * s.groups * og * L * K, PARALLEL_FLOPS);
      const parts = ranges(cg, threads === 1 ? 1 : Math.min(cg, CHUNKS_PER_THREAD * threads), 1);
      const widest = Math.max(...parts.map(([c0, c1]) => c1 - c0));
      const chunks: Chunk[] = [];
      for (let g = 0; g < s.groups; g++) {
        const records = Array.from(
          { length: s.n },
          (_, b) => pointwise ? 0 : this.#record(xp + (b * s.c + g * cg) * plane * 4, cg, s),
        );
        for (const [c0, c1] of parts) {
          const chunk: Call[] = [];
          const width = (c1 - c0) * taps;
          const c = out.ptr + (g * og * K + c0 * taps) * 4;
          for (let b = 0; b < s.n; b++) {
            const a = gp + (b * s.o + g * og) * L * 4;
            const accumulate = b > 0 ? 1 : 0;
            if (pointwise) {
              const bm = xp + (b * s.c + g * cg + c0) * plane * 4;
              chunk.push(gemmCall("sgemm", [og, width, L, a, L, 1, bm, 1, L, c, K, accumulate]));
            } else {
              chunk.push({ fn: "im2col", args: [records[b], c0, c1 - c0, 1], local: [3] });
              chunk.push({ fn: "sgemm", args: [og, width, L, a, L, 1, 1, 1, L, c, K, accumulate, 0], local: [6, 12] });
            }
          }
          chunks.push(chunk);
        }
      }
      this.runtime.run(chunks, threads, pointwise ? [] : [widest * taps * L * 4]);
      out.finish();
      return out.storage;
    });
  }

  // ---- pooling ----

  /** Max pooling with PyTorch's indices. */
  maxPool2d(x: View, geometry: Pool2dGeometry): { values: CpuStorage; indices: CpuStorage } | undefined {
    if (x.dtype !== "float32") return undefined;
    return this.run(() => {
      const p = poolPlanes(x.shape);
      const [oh, ow] = geometry.outSize;
      const count = p.planes * oh * ow;
      const values = this.#out("float32", count), indices = this.#out("int32", count);
      if (count === 0) return { values: values.storage, indices: indices.storage };
      const xp = this.#dense(x);
      const [kh, kw] = geometry.kernel, [sh, sw] = geometry.stride, [ph, pw] = geometry.padding;
      const [dh, dw] = geometry.dilation;
      const threads = this.#threads(count * kh * kw, PARALLEL_ELEMENTS);
      this.runtime.run(
        this.#planeChunks(p.planes, threads).map(([p0, p1]) => [{
          fn: "maxPool2d",
          args: [xp, values.ptr, indices.ptr, p0, p1, p.h, p.w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow],
        }]),
        threads,
      );
      values.finish();
      indices.finish();
      return { values: values.storage, indices: indices.storage };
    });
  }

  /** x [N, C, *] · scale[c] + shift[c] in one pass (evaluation-mode batch norm). */
  channelAffine(x: View, scale: View, shift: View): CpuStorage | undefined {
    if (x.dtype !== "float32" || scale.dtype !== "float32" || shift.dtype !== "float32") return undefined;
    const count = numel(x.shape), channels = x.shape[1];
    const planes = x.shape[0] * channels, inner = planes === 0 ? 0 : count / planes;
    if (inner < this.#minRow) return undefined;
    return this.run(() => {
      const out = this.#out("float32", count);
      const xp = this.#dense(x), sp = this.#dense(scale), bp = this.#dense(shift);
      const threads = this.#threads(count, PARALLEL_ELEMENTS);
      this.runtime.run(
        this.#planeChunks(planes, threads).map(([p0, p1]) => [{
          fn: "channelAffine",
          args: [xp, sp, bp, out.ptr, channels, inner, p0, p1],
        }]),
        threads,
      );
      out.finish();
      return out.storage;
    });
  }

  /** Routes gradOut to the positions indices name. */
  maxPool2dBackward(gradOut: View, indices: View, inputShape: Shape): CpuStorage | undefined {
    if (gradOut.dtype !== "float32") return undefined;
    return this.run(() => {
      const p = poolPlanes(inputShape);
      const nd = gradOut.shape.length;
      const outPlane = gradOut.shape[nd - 2] * gradOut.shape[nd - 1];
      const out = this.#out("float32", numel(inputShape), true);
      if (numel(inputShape) === 0 || outPlane === 0) return out.storage;
      const gp = this.#dense(gradOut), ip = this.#dense(indices);
      const threads = this.#threads(p.planes * outPlane, PARALLEL_ELEMENTS);
      this.runtime.run(
        this.#planeChunks(p.planes, threads).map(([p0, p1]) => [{
          fn: "maxPool2dBackward",
          args: [gp, ip, out.ptr, p0, p1, p.h * p.w, outPlane],
        }]),
        threads,
      );
      out.finish();
      return out.storage;
    });
  }

  /** Average pooling. */
  avgPool2d(x: View, geometry: Pool2dGeometry, options: AvgPoolOptions): CpuStorage | undefined {
    if (x.dtype !== "float32") return undefined;
    return this.run(() => {
      const p = poolPlanes(x.shape);
      const [oh, ow] = geometry.outSize;
      const out = this.#out("float32", p.planes * oh * ow);
      if (p.planes * oh * ow === 0) return out.storage;
      const xp = p.h * p.w === 0 ? 0 : this.#dense(x);
      const threads = this.#threads(p.planes * oh * ow * geometry.kernel[0] * geometry.kernel[1], PARALLEL_ELEMENTS);
      const args = this.#avgArgs(p.h, p.w, geometry, options);
      // The window scratch (the last argument) is the running thread's slot 1.
      this.runtime.run(
        this.#planeChunks(p.planes, threads).map(([p0, p1]) => [{
          fn: "avgPool2d",
          args: [xp, out.ptr, p0, p1, ...args, 1],
          local: [16],
        }]),
        threads,
        [16],
      );
      out.finish();
      return out.storage;
    });
  }

  /** Gradient of average pooling. */
  avgPool2dBackward(
    gradOut: View,
    geometry: Pool2dGeometry,
    options: AvgPoolOptions,
    inputShape: Shape,
  ): CpuStorage | undefined {
    if (gradOut.dtype !== "float32") return undefined;
    return this.run(() => {
      const p = poolPlanes(inputShape);
      const out = this.#out("float32", numel(inputShape), true);
      if (numel(inputShape) === 0 || numel(gradOut.shape) === 0) return out.storage;
      const gp = this.#dense(gradOut);
      const [oh, ow] = geometry.outSize;
      const threads = this.#threads(p.planes * oh * ow * geometry.kernel[0] * geometry.kernel[1], PARALLEL_ELEMENTS);
      const args = this.#avgArgs(p.h, p.w, geometry, options);
      this.runtime.run(
        this.#planeChunks(p.planes, threads).map(([p0, p1]) => [{
          fn: "avgPool2dBackward",
          args: [gp, out.ptr, p0, p1, ...args, 1],
          local: [16],
        }]),
        threads,
        [16],
      );
      out.finish();
      return out.storage;
    });
  }

  /** Plane ranges, a few per thread. */
  #planeChunks(planes: number, threads: number): [number, number][] {
    return ranges(planes, threads === 1 ? 1 : CHUNKS_PER_THREAD * threads, 1);
  }

  /** The window arguments of avgPool2d(Backward), before each thread's 16 bytes of window scratch. */
  #avgArgs(h: number, w: number, geometry: Pool2dGeometry, options: AvgPoolOptions): number[] {
    const [kh, kw] = geometry.kernel, [sh, sw] = geometry.stride, [ph, pw] = geometry.padding;
    const [oh, ow] = geometry.outSize;
    return [h, w, kh, kw, sh, sw, ph, pw, oh, ow, options.countIncludePad ? 1 : 0, options.divisorOverride ?? 0];
  }

  // ---- element-wise ops and reductions, row by row ----

  /**
   * A float32 operand: a view's first element and strides (a transposed view
   * copied to row-major order first), or a scalar in scratch with zero strides.
   */
  #operand(x: View | number, rank: number): { ptr: number; strides: readonly number[] } {
    if (typeof x !== "number") {
      const t = numel(x.shape) >= 256 ? this.#untransposed(x) : -1;
      return t >= 0 ? { ptr: t, strides: contiguousStrides(x.shape) } : { ptr: this.#addr(x), strides: x.strides };
    }
    const ptr = this.arena.scratch(4);
    new Float32Array(this.arena.buffer, ptr, 1)[0] = x;
    return { ptr, strides: new Array(rank).fill(0) };
  }

  /**
   * Makes `call(offsets, start, count)` for every row of the plan, directly
   * when one thread will do, else as chunks for the threads: runs of whole
   * rows when there are many, slices of rows when there are few.
   */
  #rows(
    plan: ReturnType<typeof planRows>,
    starts: readonly number[],
    total: number,
    call: (offsets: readonly number[], start: number, count: number) => Call,
  ): void {
    const threads = this.#threads(total, PARALLEL_ELEMENTS);
    if (threads === 1) {
      const x = this.#x;
      walkRows(plan, starts, (o) => {
        const c = call(o, 0, plan.rowLength);
        x[c.fn as keyof KernelExports](...c.args);
      });
      return;
    }
    const parts = CHUNKS_PER_THREAD * threads;
    const chunks: Call[][] = [];
    if (plan.rows >= parts) {
      const perChunk = Math.ceil(plan.rows / parts);
      let r = 0;
      walkRows(plan, starts, (o) => {
        if (r++ % perChunk === 0) chunks.push([]);
        chunks[chunks.length - 1].push(call(o, 0, plan.rowLength));
      });
    } else {
      const slices = ranges(plan.rowLength, Math.ceil(parts / plan.rows), 16);
      walkRows(plan, starts, (o) => {
        for (const [s0, s1] of slices) chunks.push([call(o, s0, s1 - s0)]);
      });
    }
    this.runtime.run(chunks, threads);
  }

  /** `op` over float32 a and b broadcast to `shape`. */
  binary(op: BinaryOp, a: View | number, b: View | number, shape: Shape): CpuStorage | undefined {
    let code = BINARY_CODES[op];
    // x ** 2, the squares of every loss, is x * x exactly.
    const square = op === "pow" && b === 2 && typeof a !== "number";
    if (square) code = SQUARE;
    if (code === undefined || (typeof a === "number" && typeof b === "number")) return undefined;
    const n = numel(shape);
    const aStrides = typeof a === "number" ? new Array(shape.length).fill(0) : a.strides;
    const bStrides = typeof b === "number" ? new Array(shape.length).fill(0) : b.strides;
    const plan = planRows(shape, [aStrides, bStrides, contiguousStrides(shape)]);
    if (n === 0 || plan.rowLength < this.#minRow) return undefined;
    return this.run(() => {
      const bool = !square && code >= 6;
      const out = this.#out(bool ? "bool" : "float32", n);
      const ob = bool ? 1 : 4;
      const ra = this.#operand(a, shape.length), rb = this.#operand(b, shape.length);
      // An operand copied out of its transpose has new strides: plan again.
      const plan = planRows(shape, [ra.strides, rb.strides, contiguousStrides(shape)]);
      const [as, bs] = plan.rowStrides;
      if (square) {
        this.#rows(plan, [0, 0, 0], n, (o, s0, count) => ({
          fn: "unaryRow",
          args: [SQUARE, ra.ptr + (o[0] + s0 * as) * 4, as, out.ptr + (o[2] + s0) * 4, count],
        }));
      } else if (typeof a === "number" || typeof b === "number") {
        // A scalar stays a double, as in the TypeScript kernels.
        const first = typeof a === "number";
        const s = first ? a : b as number, xp = first ? rb.ptr : ra.ptr, xs = first ? bs : as, k = first ? 1 : 0;
        this.#rows(plan, [0, 0, 0], n, (o, s0, count) => ({
          fn: "scalarBinaryRow",
          args: [code, xp + (o[k] + s0 * xs) * 4, xs, s, first ? 1 : 0, out.ptr + (o[2] + s0) * ob, count],
        }));
      } else if (plan.outerShape.length === 1 && this.#threads(n, PARALLEL_ELEMENTS) === 1) {
        // One outer dim (a bias over a batch): every row in one call.
        const [aRow, bRow] = plan.outerStrides.map((s) => s[0] * 4);
        this.#x.binaryRows(
          code,
          ra.ptr,
          as,
          aRow,
          rb.ptr,
          bs,
          bRow,
          out.ptr,
          plan.rowLength * ob,
          plan.rowLength,
          plan.rows,
        );
      } else {
        this.#rows(plan, [0, 0, 0], n, (o, s0, count) => ({
          fn: "binaryRow",
          args: [
            code,
            ra.ptr + (o[0] + s0 * as) * 4,
            as,
            rb.ptr + (o[1] + s0 * bs) * 4,
            bs,
            out.ptr + (o[2] + s0) * ob,
            count,
          ],
        }));
      }
      out.finish();
      return out.storage;
    });
  }

  /** `op` over a float32 view. */
  unary(op: UnaryOp, x: View): CpuStorage | undefined {
    const code = UNARY_CODES[op];
    if (code === undefined || x.dtype !== "float32") return undefined;
    const n = numel(x.shape);
    const plan = planRows(x.shape, [x.strides, contiguousStrides(x.shape)]);
    if (n === 0 || plan.rowLength < this.#minRow) return undefined;
    return this.run(() => {
      const out = this.#out("float32", n);
      const rx = this.#operand(x, x.shape.length);
      const plan = planRows(x.shape, [rx.strides, contiguousStrides(x.shape)]);
      const xp = rx.ptr, xs = plan.rowStrides[0];
      this.#rows(plan, [0, 0], n, (o, s0, count) => ({
        fn: "unaryRow",
        args: [code, xp + (o[0] + s0 * xs) * 4, xs, out.ptr + (o[1] + s0) * 4, count],
      }));
      out.finish();
      return out.storage;
    });
  }

  /** `out <= threshold ? 0 : gradOut` over float32 views of one shape. */
  thresholdBackward(gradOut: View, out: View, threshold: number): CpuStorage | undefined {
    if (gradOut.dtype !== "float32" || out.dtype !== "float32") return undefined;
    const shape = gradOut.shape, n = numel(shape);
    const plan = planRows(shape, [gradOut.strides, out.strides, contiguousStrides(shape)]);
    if (n === 0 || plan.rowLength < this.#minRow) return undefined;
    return this.run(() => {
      const result = this.#out("float32", n);
      const rg = this.#operand(gradOut, shape.length), rx = this.#operand(out, shape.length);
      const plan = planRows(shape, [rg.strides, rx.strides, contiguousStrides(shape)]);
      const [gs, xs] = plan.rowStrides;
      this.#rows(plan, [0, 0, 0], n, (o, s0, count) => ({
        fn: "thresholdBackwardRow",
        args: [
          rg.ptr + (o[0] + s0 * gs) * 4,
          gs,
          rx.ptr + (o[1] + s0 * xs) * 4,
          xs,
          result.ptr + (o[2] + s0) * 4,
          count,
          threshold,
        ],
      }));
      result.finish();
      return result.storage;
    });
  }

  /** `cond ? a : b` with float32 a and b. */
  where(cond: View, a: View | number, b: View | number, shape: Shape): CpuStorage | undefined {
    if (cond.dtype !== "bool") return undefined;
    const n = numel(shape);
    const aStrides = typeof a === "number" ? new Array(shape.length).fill(0) : a.strides;
    const bStrides = typeof b === "number" ? new Array(shape.length).fill(0) : b.strides;
    const plan = planRows(shape, [cond.strides, aStrides, bStrides, contiguousStrides(shape)]);
    if (n === 0 || plan.rowLength < this.#minRow) return undefined;
    return this.run(() => {
      const out = this.#out("float32", n);
      const cp = this.#addr(cond), ra = this.#operand(a, shape.length), rb = this.#operand(b, shape.length);
      const plan = planRows(shape, [cond.strides, ra.strides, rb.strides, contiguousStrides(shape)]);
      const [cs, as, bs] = plan.rowStrides;
      this.#rows(plan, [0, 0, 0, 0], n, (o, s0, count) => ({
        fn: "whereRow",
        args: [
          cp + o[0] + s0 * cs,
          cs,
          ra.ptr + (o[1] + s0 * as) * 4,
          as,
          rb.ptr + (o[2] + s0 * bs) * 4,
          bs,
          out.ptr + (o[3] + s0) * 4,
          count,
        ],
      }));
      out.finish();
      return out.storage;
    });
  }

  /** Sum, max or min of a float32 view over `axes`, accumulated in f64. */
  reduce(op: ReduceOp, x: View, axes: readonly number[]): CpuStorage | undefined {
    const code = REDUCE_CODES[op];
    if (code === undefined || x.dtype !== "float32") return undefined;
    const kept = x.shape.filter((_, d) => !axes.includes(d));
    const size = numel(kept);
    const keptStrides = contiguousStrides(kept);
    const accStrides: number[] = [];
    let k = 0;
    for (let d = 0; d < x.shape.length; d++) accStrides.push(axes.includes(d) ? 0 : keptStrides[k++]);
    const plan = planRows(x.shape, [x.strides, accStrides]);
    if (numel(x.shape) === 0 || size === 0 || plan.rowLength < this.#minRow) return undefined;
    return this.run(() => {
      const out = this.#out("float32", size);
      const acc = this.arena.scratch(size * 8);
      const x0 = this.#addr(x);
      const e = this.#x;
      e.fillF64(acc, size, REDUCE_INIT[code]);
      const [xs, as] = plan.rowStrides;
      const n = plan.rowLength;
      walkRows(plan, [0, 0], (o) => {
        if (as === 0) e.foldRow(code, x0 + o[0] * 4, xs, n, acc + o[1] * 8);
        else e.combineRow(code, x0 + o[0] * 4, xs, n, acc + o[1] * 8, as);
      });
      e.demoteRow(acc, out.ptr, size);
      out.finish();
      return out.storage;
    });
  }

  /** Writes float32 `src` (a view or a scalar, broadcast) into the elements of `dst`; false when it cannot. */
  copy(dst: View, src: View | number): boolean {
    const storage = dst.storage as CpuStorage;
    if (dst.dtype !== "float32" || (typeof src !== "number" && src.dtype !== "float32")) return false;
    const n = numel(dst.shape);
    const srcStrides = typeof src === "number" ? new Array(dst.shape.length).fill(0) : src.strides;
    const plan = planRows(dst.shape, [srcStrides, dst.strides]);
    if (n === 0 || plan.rowLength < this.#minRow) return false;
    return this.run(() => {
      const at = storage.addressIn(this.arena);
      if (at < 0) return false;
      const dp = at + dst.offset * 4;
      const rs = this.#operand(src, dst.shape.length);
      const [ss, ds] = plan.rowStrides;
      this.#rows(plan, [0, 0], n, (o, s0, count) => ({
        fn: "copyRow",
        args: [rs.ptr + (o[0] + s0 * ss) * 4, ss, dp + (o[1] + s0 * ds) * 4, ds, count],
      }));
      return true;
    });
  }

  /** A contiguous float32 copy of `x`. */
  contiguous(x: View): CpuStorage | undefined {
    if (x.dtype !== "float32") return undefined;
    const n = numel(x.shape);
    const plan = planRows(x.shape, [x.strides, contiguousStrides(x.shape)]);
    if (n === 0 || plan.rowLength < this.#minRow) return undefined;
    return this.run(() => {
      const out = this.#out("float32", n);
      // A transposed view goes straight into the output (not through scratch and a second copy).
      if (this.#untransposed(x, out.ptr) < 0) {
        const xp = this.#addr(x);
        const [xs, os] = plan.rowStrides;
        this.#rows(plan, [0, 0], n, (o, s0, count) => ({
          fn: "copyRow",
          args: [xp + (o[0] + s0 * xs) * 4, xs, out.ptr + (o[1] + s0 * os) * 4, os, count],
        }));
      }
      out.finish();
      return out.storage;
    });
  }

  /** n copies of a float32 or int32 value, in a new storage. */
  fill(n: number, value: number, dtype: DType): CpuStorage | undefined {
    if ((dtype !== "float32" && dtype !== "int32") || n < this.#minRow) return undefined;
    return this.run(() => {
      const out = this.#out(dtype, n);
      const bits = dtype === "int32" ? value | 0 : new Int32Array(Float32Array.of(value).buffer)[0];
      this.#x.fill32(out.ptr, n, bits);
      out.finish();
      return out.storage;
    });
  }

  // ---- optimizer steps ----

  /** Where a contiguous view's elements live in the arena, or -1 (not contiguous, or not movable in). */
  #inPlace(view: View): number {
    if (view.dtype !== "float32" || !isContiguous(view.shape, view.strides)) return -1;
    const at = (view.storage as CpuStorage).addressIn(this.arena);
    return at < 0 ? -1 : at + view.offset * 4;
  }

  /** One Adam / AdamW step in place; false when a view is not a contiguous float32 one the arena holds. */
  adamStep(param: View, grad: View, expAvg: View, expAvgSq: View, maxExpAvgSq: View | null, o: AdamScalars): boolean {
    return this.run(() => {
      const n = numel(param.shape);
      const p = this.#inPlace(param), m = this.#inPlace(expAvg), v = this.#inPlace(expAvgSq);
      const vmax = maxExpAvgSq ? this.#inPlace(maxExpAvgSq) : 0;
      if (p < 0 || m < 0 || v < 0 || vmax < 0 || grad.dtype !== "float32") return false;
      const g = this.#dense(grad);
      const f = Math.fround;
      const flags = (o.maximize ? MAXIMIZE : 0) | (o.decoupledWeightDecay ? DECOUPLED : 0) | (o.amsgrad ? AMSGRAD : 0);
      const bc1 = 1 - o.beta1 ** o.step, bc2 = 1 - o.beta2 ** o.step;
      const scalars = [
        f(o.beta1),
        f(1 - o.beta1),
        f(o.beta2),
        f(1 - o.beta2),
        f(o.weightDecay),
        f(1 - o.lr * o.weightDecay),
        f(-(o.lr / bc1)),
        f(Math.sqrt(bc2)),
        f(o.eps),
      ];
      this.#slices(n, (s0, count) => ({
        fn: "adamStep",
        args: [p + s0 * 4, g + s0 * 4, m + s0 * 4, v + s0 * 4, vmax + s0 * 4, count, flags, ...scalars],
      }));
      return true;
    });
  }

  /** One SGD step in place; false when a view is not a contiguous float32 one the arena holds. */
  sgdStep(param: View, grad: View, momentumBuffer: View | null, o: SgdScalars): boolean {
    return this.run(() => {
      const n = numel(param.shape);
      const p = this.#inPlace(param);
      const buf = momentumBuffer && o.momentum !== 0 ? this.#inPlace(momentumBuffer) : 0;
      if (p < 0 || buf < 0 || grad.dtype !== "float32") return false;
      const g = this.#dense(grad);
      const f = Math.fround;
      const flags = (o.maximize ? MAXIMIZE : 0) | (o.nesterov ? NESTEROV : 0) | (o.firstStep ? FIRST_STEP : 0) |
        (momentumBuffer && o.momentum !== 0 ? MOMENTUM : 0);
      const scalars = [f(-o.lr), f(o.momentum), f(1 - o.dampening), f(o.weightDecay)];
      this.#slices(n, (s0, count) => ({
        fn: "sgdStep",
        args: [p + s0 * 4, g + s0 * 4, buf + s0 * 4, count, flags, ...scalars],
      }));
      return true;
    });
  }

  /**
   * Runs an optimizer step's call(start, count) over [0, n), split across
   * threads when n is large. A step costs about ten element-wise ops per
   * element (Adam's square root and two divisions), so it splits sooner.
   */
  #slices(n: number, call: (start: number, count: number) => Call): void {
    const threads = this.#threads(n, PARALLEL_ELEMENTS / 8);
    const parts = threads === 1 ? 1 : CHUNKS_PER_THREAD * threads;
    this.runtime.run(ranges(n, parts, 16).map(([s0, s1]) => [call(s0, s1 - s0)]), threads);
  }
}
