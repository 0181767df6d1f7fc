// The CPU backend: storages are typed arrays, and float32 work runs in
// WebAssembly SIMD kernels (./assembly, on worker threads when the runtime
// has them) with the TypeScript loops as the fallback and the reference: the
// living definition of every op's semantics that the other backends are
// tested against.

import {
  type AdamStepOptions,
  allocArray,
  type ArgReduceOp,
  type AvgPoolOptions,
  type Backend,
  BINARY_OP_KIND,
  type BinaryOp,
  contiguousStrides,
  type Conv2dGeometry,
  type DataArray,
  type DType,
  type FusedKernels,
  isContiguous,
  type MemoryInfo,
  MemoryLedger,
  numel,
  type Operand,
  type Pool2dGeometry,
  type ReduceOp,
  type SgdStepOptions,
  type Shape,
  type Storage,
  UNARY_OP_INFO,
  type UnaryOp,
  type View,
} from "@flint/backend";
import { ArenaFullError } from "./_arena.ts";
import { WasmKernels } from "./_wasm_kernels.ts";
import { simdLevel, WasmRuntime } from "./_wasm_runtime.ts";
import { convKernels } from "./conv.ts";
import { binaryKernels, copyRow, copyRowToBool, int32BinaryKernels, unaryKernels, whereRow } from "./elementwise.ts";
import { batchOfOne, matmul } from "./matmul.ts";
import { adamStepKernel, sgdStepKernel } from "./optim.ts";
import { poolKernels } from "./pool.ts";
import { argReduceInto, reduceInto } from "./reduce.ts";
import { softmaxBackwardKernel, softmaxKernel } from "./softmax.ts";
import { CpuStorage, dataOf } from "./storage.ts";
import { planRows, storageOffsets, walkRows } from "./walk.ts";

/** A scalar operand seen as a one-element array read with stride 0. */
interface Resolved {
  readonly data: DataArray;
  readonly strides: readonly number[];
  readonly offset: number;
}

function resolve(x: Operand, rank: number): Resolved {
  if (typeof x === "number") return { data: Float64Array.of(x), strides: new Array(rank).fill(0), offset: 0 };
  return { data: dataOf(x), strides: x.strides, offset: x.offset };
}

/** Which kernels a CpuBackend runs. */
export type CpuKernels = "typescript" | "wasm" | "auto";

/** Options for {@linkcode CpuBackend}. */
export interface CpuBackendOptions {
  /** the device name tensors report; "cpu" unless you run two CPU backends side by side */
  readonly name?: string;
  /**
   * "auto" (the default) runs float32 work in WebAssembly SIMD kernels where
   * the runtime has them, leaving to the TypeScript loops the rows too short
   * to pay for a call and the products under 32³ multiply-adds (which those
   * sum in float64); "wasm" runs every case the WebAssembly kernels cover,
   * however small (and throws where the runtime has no SIMD); "typescript"
   * runs only the plain TypeScript loops, the reference
   */
  readonly kernels?: CpuKernels;
  /**
   * threads the WebAssembly kernels may use, the calling one included
   * (default: `navigator.hardwareConcurrency`); 1 keeps everything on the
   * calling thread. Where the runtime has no workers or no SharedArrayBuffer
   * the kernels run on one thread whatever this says.
   */
  readonly threads?: number;
  /**
   * bytes of WebAssembly memory that storages may occupy before the least
   * recently used move out to ordinary memory (default 2 GiB where memory is
   * shared, taken only as needed; 64 MiB where it is not and must be reserved
   * up front)
   */
  readonly arenaBytes?: number;
}

/** What a CpuBackend runs on, from {@linkcode CpuBackend.info}. */
export interface CpuBackendInfo {
  /** the kernels in use */
  readonly kernels: "typescript" | "wasm";
  /** the SIMD the runtime validates: relaxed SIMD (fused multiply-add), plain SIMD, or none */
  readonly simd: "relaxed" | "simd" | "none";
  /** threads asked for, the calling one included */
  readonly threads: number;
  /** threads running now (worker threads start in the background) */
  readonly activeThreads: number;
  /** the kernels' memory is a SharedArrayBuffer */
  readonly sharedMemory: boolean;
  /** bytes of storages in WebAssembly memory, bytes the arena spans, storages moved out to make room */
  readonly arena: { readonly resident: number; readonly span: number; readonly evictions: number };
}

function defaultThreads(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof n === "number" && n > 0 ? n : 1;
}

/**
 * The CPU backend. Construct one and hand it to Flint; the umbrella package
 * `@flint/torch` does so for you.
 *
 * @example Running a kernel directly
 * ```ts
 * import { CpuBackend } from "@flint/cpu";
 *
 * const cpu = new CpuBackend();
 * const a = cpu.upload(Float32Array.of(1, 2, 3), "float32");
 * const view = { storage: a, dtype: "float32" as const, shape: [3], strides: [1], offset: 0 };
 * const doubled = cpu.binary("mul", view, 2, [3], "float32");
 * console.log(cpu.readSync({ ...view, storage: doubled })); // Float32Array(3) [ 2, 4, 6 ]
 * ```
 *
 * @example Choosing the kernels and the threads
 * ```ts
 * import { CpuBackend } from "@flint/cpu";
 *
 * const reference = new CpuBackend({ name: "cpu-ts", kernels: "typescript" });
 * const oneThread = new CpuBackend({ name: "cpu-1", threads: 1 });
 * console.log(reference.info().kernels, oneThread.info().threads); // typescript 1
 * ```
 */
export class CpuBackend implements Backend {
  readonly name: string;
  readonly canReadSync = true;
  readonly fused: Partial<FusedKernels>;
  readonly #ledger = new MemoryLedger();
  readonly #wasm: WasmKernels | undefined;

  /**
   * Creates a CPU backend.
   *
   * @throws {Error} with `kernels: "wasm"` where the runtime has no WebAssembly SIMD
   */
  constructor(options: CpuBackendOptions = {}) {
    this.name = options.name ?? "cpu";
    const kernels = options.kernels ?? "auto";
    if (kernels !== "typescript") {
      const runtime = WasmRuntime.for({ threads: options.threads ?? defaultThreads(), arenaBytes: options.arenaBytes });
      if (runtime === undefined && kernels === "wasm") {
        throw new Error('cpu backend: this runtime has no WebAssembly SIMD; use kernels: "typescript" or "auto"');
      }
      if (runtime !== undefined) this.#wasm = new WasmKernels(runtime, this.#ledger, kernels === "wasm");
    }
    this.fused = this.#fusedKernels();
  }

  /** The kernels, SIMD level, threads and arena use of this backend. */
  info(): CpuBackendInfo {
    const runtime = this.#wasm?.runtime;
    return {
      kernels: runtime ? "wasm" : "typescript",
      simd: simdLevel(),
      threads: runtime?.threads ?? 1,
      activeThreads: runtime?.activeThreads ?? 1,
      sharedMemory: runtime?.shared ?? false,
      arena: runtime?.arena.stats() ?? { resident: 0, span: 0, evictions: 0 },
    };
  }

  /**
   * Starts the worker threads now and resolves when they run (or after
   * `timeoutMs`), with the number of threads kernels may use. Kernels never
   * wait for workers; benchmarks do, to time the steady state.
   */
  async threadsReady(timeoutMs = 5000): Promise<number> {
    const runtime = this.#wasm?.runtime;
    if (runtime === undefined) return 1;
    const until = performance.now() + timeoutMs;
    while (runtime.parallelism() < runtime.threads && performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return runtime.parallelism();
  }

  /**
   * Stops the worker threads of this backend's kernels (shared with other
   * CpuBackends that asked for as many threads; they start again if a big
   * kernel runs later). Scripts exit without it: the workers never keep a
   * process alive.
   */
  close(): void {
    this.#wasm?.runtime.close();
  }

  /** `close()`, for `using cpu = new CpuBackend()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** A new storage: in the kernels' memory when they are WebAssembly, zeroed only on request. */
  #alloc(dtype: DType, length: number, zero = false): CpuStorage {
    if (this.#wasm) return this.#wasm.alloc(dtype, length, zero);
    return new CpuStorage(allocArray(dtype, length), dtype, this.#ledger);
  }

  #wrap(data: DataArray, dtype: DType): CpuStorage {
    return new CpuStorage(data, dtype, this.#ledger);
  }

  /** Runs `fn` as one op of the WebAssembly kernels (pins and scratch), or just runs it. */
  #op<T>(fn: () => T): T {
    return this.#wasm ? this.#wasm.run(fn) : fn();
  }

  /** The WebAssembly kernel's result, or undefined when it does not cover the case or has no room. */
  #try<T>(attempt: (wasm: WasmKernels) => T | undefined): T | undefined {
    if (this.#wasm === undefined) return undefined;
    try {
      return attempt(this.#wasm);
    } catch (error) {
      if (error instanceof ArenaFullError) return undefined;
      throw error;
    }
  }

  #fusedKernels(): Partial<FusedKernels> {
    const wrap = (data: DataArray, dtype: DType) => this.#wrap(data, dtype);
    const conv = convKernels(wrap);
    const pool = poolKernels(wrap);
    const op = <T>(fn: () => T) => this.#op(fn);
    return {
      addmm: (bias: View, a: View, b: View) =>
        op(() => this.#try((k) => k.addmm(bias, a, b)) ?? this.#addmm(bias, a, b)),
      conv2d: (x: View, w: View, geometry: Conv2dGeometry, outShape: Shape) =>
        op(() => this.#try((k) => k.conv2d(x, w, geometry, outShape)) ?? conv.conv2d(x, w, geometry, outShape)),
      conv2dBackwardInput: (gradOut: View, w: View, geometry: Conv2dGeometry, inputShape: Shape) =>
        op(() =>
          this.#try((k) => k.conv2dBackwardInput(gradOut, w, geometry, inputShape)) ??
            conv.conv2dBackwardInput(gradOut, w, geometry, inputShape)
        ),
      conv2dBackwardWeight: (x: View, gradOut: View, geometry: Conv2dGeometry, weightShape: Shape) =>
        op(() =>
          this.#try((k) => k.conv2dBackwardWeight(x, gradOut, geometry, weightShape)) ??
            conv.conv2dBackwardWeight(x, gradOut, geometry, weightShape)
        ),
      maxPool2d: (x: View, geometry: Pool2dGeometry) =>
        op(() => this.#try((k) => k.maxPool2d(x, geometry)) ?? pool.maxPool2d(x, geometry)),
      maxPool2dBackward: (gradOut: View, indices: View, inputShape: Shape) =>
        op(() =>
          this.#try((k) => k.maxPool2dBackward(gradOut, indices, inputShape)) ??
            pool.maxPool2dBackward(gradOut, indices, inputShape)
        ),
      avgPool2d: (x: View, geometry: Pool2dGeometry, options: AvgPoolOptions) =>
        op(() => this.#try((k) => k.avgPool2d(x, geometry, options)) ?? pool.avgPool2d(x, geometry, options)),
      avgPool2dBackward: (gradOut: View, geometry: Pool2dGeometry, options: AvgPoolOptions, inputShape: Shape) =>
        op(() =>
          this.#try((k) => k.avgPool2dBackward(gradOut, geometry, options, inputShape)) ??
            pool.avgPool2dBackward(gradOut, geometry, options, inputShape)
        ),
      thresholdBackward: (gradOut: View, out: View, threshold: number) =>
        op(() =>
          this.#try((k) => k.thresholdBackward(gradOut, out, threshold)) ??
            this.#thresholdBackward(gradOut, out, threshold)
        ),
      channelAffine: (x: View, scale: View, shift: View) =>
        op(() => this.#try((k) => k.channelAffine(x, scale, shift)) ?? this.#channelAffine(x, scale, shift)),
      softmax: (x: View, axis: number, log: boolean) =>
        op(() => {
          const out = this.#alloc(x.dtype, numel(x.shape));
          softmaxKernel(x, axis, log, out.data);
          return out;
        }),
      softmaxBackward: (gradOut: View, out: View, axis: number, log: boolean) =>
        op(() => {
          const result = this.#alloc(gradOut.dtype, numel(gradOut.shape));
          softmaxBackwardKernel(gradOut, out, axis, log, result.data);
          return result;
        }),
      adamStep: (
        param: View,
        grad: View,
        expAvg: View,
        expAvgSq: View,
        maxExpAvgSq: View | null,
        options: AdamStepOptions,
      ) =>
        op(() => {
          if (this.#try((k) => k.adamStep(param, grad, expAvg, expAvgSq, maxExpAvgSq, options) || undefined)) return;
          adamStepKernel(param, grad, expAvg, expAvgSq, maxExpAvgSq, options);
        }),
      sgdStep: (param: View, grad: View, momentumBuffer: View | null, options: SgdStepOptions) =>
        op(() => {
          if (this.#try((k) => k.sgdStep(param, grad, momentumBuffer, options) || undefined)) return;
          sgdStepKernel(param, grad, momentumBuffer, options);
        }),
    };
  }

  upload(data: DataArray, dtype: DType): Storage {
    return this.#op(() => {
      const out = this.#alloc(dtype, data.length);
      out.data.set(data);
      return out;
    });
  }

  adopt(data: DataArray, dtype: DType): Storage {
    return new CpuStorage(data, dtype, this.#ledger, true);
  }

  read(x: View): Promise<DataArray> {
    return Promise.resolve(this.readSync(x));
  }

  readSync(x: View): DataArray {
    return this.#op(() => this.#materialize(x, x.dtype));
  }

  dispose(storage: Storage): void {
    if (storage instanceof CpuStorage) storage.dispose();
  }

  memory(): MemoryInfo {
    return this.#ledger.info();
  }

  fill(size: number, value: number, dtype: DType): Storage {
    return this.#op(() => {
      const fast = this.#try((k) => k.fill(size, value, dtype));
      if (fast) return fast;
      const out = this.#alloc(dtype, size);
      out.data.fill(dtype === "bool" ? (value !== 0 ? 1 : 0) : value);
      return out;
    });
  }

  cast(x: View, dtype: DType): Storage {
    return this.#op(() => {
      if (x.dtype === "float32" && dtype === "float32") {
        const fast = this.#try((k) => k.contiguous(x));
        if (fast) return fast;
      }
      const out = this.#alloc(dtype, numel(x.shape));
      this.#copyStrided(x.shape, dataOf(x), x.strides, x.offset, out.data, contiguousStrides(x.shape), 0, dtype);
      return out;
    });
  }

  /** addmm in TypeScript: the product as matmul makes it (rounded to the dtype), then the bias added. */
  #addmm(bias: View, a: View, b: View): CpuStorage {
    const product = matmul(batchOfOne(a), dataOf(a), batchOfOne(b), dataOf(b), a.dtype);
    const add = this.#materialize(bias, a.dtype);
    // Each sum is rounded to the dtype as the array stores it: the composition's add, element for element.
    for (let i = 0; i < product.length; i++) product[i] += add[i];
    return this.#wrap(product, a.dtype);
  }

  /** thresholdBackward in TypeScript. */
  #thresholdBackward(gradOut: View, out: View, threshold: number): CpuStorage {
    const g = this.#materialize(gradOut, gradOut.dtype), x = this.#materialize(out, gradOut.dtype);
    const result = this.#alloc(gradOut.dtype, g.length), r = result.data;
    // The threshold in the dtype, as PyTorch's scalar is.
    const t = gradOut.dtype === "float32" ? Math.fround(threshold) : threshold;
    for (let i = 0; i < g.length; i++) r[i] = x[i] <= t ? 0 : g[i];
    return result;
  }

  /** channelAffine in TypeScript: multiply, round, add, round, as the composition does. */
  #channelAffine(x: View, scale: View, shift: View): CpuStorage {
    const src = this.#materialize(x, x.dtype), a = this.#materialize(scale, x.dtype);
    const b = this.#materialize(shift, x.dtype);
    const out = this.#alloc(x.dtype, src.length);
    const o = out.data, channels = x.shape[1], planes = x.shape[0] * channels;
    const inner = planes === 0 ? 0 : src.length / planes;
    // float32: the product rounds to float32 before the sum, as the composition's two ops round.
    const round = x.dtype === "float32" ? Math.fround : (v: number) => v;
    for (let p = 0, i = 0; p < planes; p++) {
      const c = p % channels, k = a[c], m = b[c];
      for (const end = i + inner; i < end; i++) o[i] = round(src[i] * k) + m;
    }
    return out;
  }

  /** The view's elements in a new row-major array of `dtype`, outside the ledger. */
  #materialize(x: View, dtype: DType): DataArray {
    const src = dataOf(x);
    const n = numel(x.shape);
    // slice() copies into ordinary memory even when the storage lives in the kernels' memory.
    if (x.dtype === dtype && isContiguous(x.shape, x.strides)) return src.slice(x.offset, x.offset + n);
    const out = allocArray(dtype, n);
    this.#copyStrided(x.shape, src, x.strides, x.offset, out, contiguousStrides(x.shape), 0, dtype);
    return out;
  }

  copy(dst: View, src: Operand): void {
    this.#op(() => {
      if (this.#try((k) => k.copy(dst, src) || undefined)) return;
      const n = numel(dst.shape);
      if (
        typeof src !== "number" && src.dtype === dst.dtype && isContiguous(dst.shape, dst.strides) &&
        isContiguous(src.shape, src.strides) && numel(src.shape) === n
      ) {
        // Both dense: a block copy (memmove semantics, so overlapping storages are safe too).
        dataOf(dst).set(dataOf(src).subarray(src.offset, src.offset + n), dst.offset);
        return;
      }
      const out = dataOf(dst);
      const s = resolve(src, dst.shape.length);
      this.#copyStrided(dst.shape, s.data, s.strides, s.offset, out, dst.strides, dst.offset, dst.dtype);
    });
  }

  #copyStrided(
    shape: Shape,
    src: DataArray,
    srcStrides: readonly number[],
    srcOffset: number,
    out: DataArray,
    outStrides: readonly number[],
    outOffset: number,
    outDtype: DType,
  ): void {
    const plan = planRows(shape, [srcStrides, outStrides]);
    const [ss, os] = plan.rowStrides;
    const n = plan.rowLength;
    const row = outDtype === "bool" ? copyRowToBool : copyRow;
    walkRows(plan, [srcOffset, outOffset], (o) => row(src, o[0], ss, out, o[1], os, n));
  }

  unary(op: UnaryOp, x: View): Storage {
    return this.#op(() => {
      const fast = this.#try((k) => k.unary(op, x));
      if (fast) return fast;
      const outDtype = UNARY_OP_INFO[op].out === "bool" ? "bool" : x.dtype;
      const storage = this.#alloc(outDtype, numel(x.shape));
      const out = storage.data;
      const kernel = unaryKernels[op];
      const src = dataOf(x);
      const plan = planRows(x.shape, [x.strides, contiguousStrides(x.shape)]);
      const xs = plan.rowStrides[0];
      const n = plan.rowLength;
      walkRows(plan, [x.offset, 0], (o) => kernel(src, o[0], xs, out, o[1], n));
      return storage;
    });
  }

  binary(op: BinaryOp, a: Operand, b: Operand, shape: Shape, dtype: DType): Storage {
    return this.#op(() => {
      if (dtype === "float32") {
        const fast = this.#try((k) => k.binary(op, a, b, shape));
        if (fast) return fast;
      }
      const outDtype = BINARY_OP_KIND[op] === "arith" ? dtype : "bool";
      const storage = this.#alloc(outDtype, numel(shape));
      const out = storage.data;
      const kernel = (dtype === "int32" ? int32BinaryKernels[op] : undefined) ?? binaryKernels[op];
      const ra = resolve(a, shape.length);
      const rb = resolve(b, shape.length);
      const plan = planRows(shape, [ra.strides, rb.strides, contiguousStrides(shape)]);
      const [as, bs] = plan.rowStrides;
      const n = plan.rowLength;
      walkRows(plan, [ra.offset, rb.offset, 0], (o) => kernel(ra.data, o[0], as, rb.data, o[1], bs, out, o[2], n));
      return storage;
    });
  }

  where(cond: View, a: Operand, b: Operand, shape: Shape, dtype: DType): Storage {
    return this.#op(() => {
      if (dtype === "float32") {
        const fast = this.#try((k) => k.where(cond, a, b, shape));
        if (fast) return fast;
      }
      const storage = this.#alloc(dtype, numel(shape));
      const out = storage.data;
      const c = dataOf(cond);
      const ra = resolve(a, shape.length);
      const rb = resolve(b, shape.length);
      const plan = planRows(shape, [cond.strides, ra.strides, rb.strides, contiguousStrides(shape)]);
      const [cs, as, bs] = plan.rowStrides;
      const n = plan.rowLength;
      walkRows(
        plan,
        [cond.offset, ra.offset, rb.offset, 0],
        (o) => whereRow(c, o[0], cs, ra.data, o[1], as, rb.data, o[2], bs, out, o[3], n),
      );
      return storage;
    });
  }

  reduce(op: ReduceOp, x: View, axes: readonly number[]): Storage {
    return this.#op(() => {
      const fast = this.#try((k) => k.reduce(op, x, axes));
      if (fast) return fast;
      const outDtype = op === "any" || op === "all" ? "bool" : x.dtype;
      const kept = x.shape.filter((_, d) => !axes.includes(d));
      const storage = this.#alloc(outDtype, numel(kept));
      reduceInto(op, x, dataOf(x), axes, storage.data);
      return storage;
    });
  }

  argReduce(op: ArgReduceOp, x: View, axis: number): Storage {
    return this.#op(() => {
      const kept = x.shape.filter((_, d) => d !== axis);
      const storage = this.#alloc("int32", numel(kept));
      argReduceInto(op, x, dataOf(x), axis, storage.data as Int32Array);
      return storage;
    });
  }

  matmul(a: View, b: View): Storage {
    return this.#op(() => {
      const fast = this.#try((k) => k.matmul(a, b));
      if (fast) return fast;
      return this.#wrap(matmul(a, dataOf(a), b, dataOf(b), a.dtype), a.dtype);
    });
  }

  gather(x: View, index: View): Storage {
    return this.#op(() => {
      const positions = this.#materialize(index, "int32") as Int32Array;
      const size = numel(x.shape);
      checkPositions(positions, size);
      const storage = this.#alloc(x.dtype, positions.length);
      const out = storage.data;
      const src = dataOf(x);
      if (isContiguous(x.shape, x.strides)) {
        for (let i = 0; i < positions.length; i++) out[i] = src[x.offset + positions[i]];
      } else {
        const offsets = storageOffsets(x.shape, x.strides, x.offset, positions);
        for (let i = 0; i < offsets.length; i++) out[i] = src[offsets[i]];
      }
      return storage;
    });
  }

  scatter(dst: View, index: View, src: Operand, accumulate: boolean): void {
    this.#op(() => {
      const positions = this.#materialize(index, "int32") as Int32Array;
      checkPositions(positions, numel(dst.shape));
      const offsets = isContiguous(dst.shape, dst.strides)
        ? Float64Array.from(positions, (p) => dst.offset + p)
        : storageOffsets(dst.shape, dst.strides, dst.offset, positions);
      const values = typeof src === "number" ? undefined : this.#materialize(src, dst.dtype);
      const out = dataOf(dst);
      const toBool = dst.dtype === "bool";
      for (let i = 0; i < offsets.length; i++) {
        const v = values === undefined ? (src as number) : values[i];
        const next = accumulate ? out[offsets[i]] + v : v;
        out[offsets[i]] = toBool ? (next !== 0 ? 1 : 0) : next;
      }
    });
  }
}

function checkPositions(positions: Int32Array, size: number): void {
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i];
    if (p < 0 || p >= size) {
      throw new RangeError(`index ${p} is out of bounds for a tensor of ${size} elements`);
    }
  }
}
