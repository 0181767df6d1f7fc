// The WebGPU backend: storages are GPU buffers (pooled), ops record compute
// passes into one command encoder that is submitted in batches, and reads
// are asynchronous. Kernels are generated WGSL (see _kernels.ts, _gemm.ts,
// _nn.ts) compiled once per (kernel, dtypes, flags).

import {
  type AdamStepOptions,
  type ArgReduceOp,
  type AvgPoolOptions,
  type Backend,
  BackendError,
  BINARY_OP_KIND,
  type BinaryOp,
  coalesceDims,
  contiguousStrides,
  type Conv2dGeometry,
  type DataArray,
  type DType,
  type FusedKernels,
  isContiguous,
  isFloatingPoint,
  type MemoryInfo,
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
import { binaryFunction, elementwiseSource, mapWithFunction, unaryFunction } from "./_elementwise.ts";
import { Engine, type Kernel } from "./_engine.ts";
import {
  conv2dBackwardInputKernel,
  conv2dBackwardWeightKernel,
  conv2dKernel,
  CONV_FIELDS,
  gemmDispatches,
  gemmParams,
  type GemmTiling,
  matmulKernel,
  tilingFor,
} from "./_gemm.ts";
import { packHalf } from "./_half.ts";
import {
  type Access,
  argReduceKernel,
  argReduceParams,
  type Block,
  gatherKernel,
  type MapInput,
  mapParams,
  positionBlock,
  reduceKernel,
  reduceParams,
  scalarBits,
  scatterKernel,
  scatterWinnerKernel,
  WG,
} from "./_kernels.ts";
import {
  avgPool2dBackwardKernel,
  avgPool2dKernel,
  maxPool2dBackwardKernel,
  maxPool2dKernel,
  poolParams,
  softmaxKernel,
  softmaxParams,
} from "./_nn.ts";
import { ADAM_EXTRA, adamKernel, SGD_EXTRA, sgdKernel } from "./_optim.ts";
import type { GpuBuffer } from "./_pool.ts";
import { computeOf, computeOfDType, convert, type Elem, elemBytes, elemOf } from "./_wgsl.ts";

/**
 * Options for {@linkcode WebGpuBackend.create}.
 *
 * @example
 * ```ts
 * import { WebGpuBackend, type WebGpuBackendOptions } from "@flint/webgpu";
 *
 * const options: WebGpuBackendOptions = { name: "gpu", maxBatch: 256, poolLimitBytes: 64 * 2 ** 20 };
 * const gpu = await WebGpuBackend.create(options);
 * console.log(gpu.name); // gpu
 * gpu.destroy();
 * ```
 */
export interface WebGpuBackendOptions {
  /** the adapter to use; by default `navigator.gpu.requestAdapter({ powerPreference })` */
  readonly adapter?: GPUAdapter;
  /** which adapter to ask for when none is given */
  readonly powerPreference?: GPUPowerPreference;
  /** the device name tensors report; "webgpu" unless you run two side by side */
  readonly name?: string;
  /**
   * store float32 and float64 tensors as IEEE half on the device (half the
   * memory and bandwidth; arithmetic still runs in float32, values keep ~3
   * significant digits). Needs the adapter's "shader-f16" feature.
   */
  readonly float16Storage?: boolean;
  /** ops recorded before a submission is forced (default 64) */
  readonly maxBatch?: number;
  /** bytes of freed buffers kept for reuse (default 256 MiB); `trimPool()` frees them */
  readonly poolLimitBytes?: number;
  /** how long a read or `sync()` may wait for the device before failing (default 60 s) */
  readonly timeoutMs?: number;
  /**
   * lower limits than the device's, for headroom or tests: the largest
   * storage in bytes, and workgroups per dispatch dimension
   */
  readonly limits?: {
    readonly maxStorageBufferBindingSize?: number;
    readonly maxComputeWorkgroupsPerDimension?: number;
  };
}

/**
 * Buffers, batches and pipelines of a backend, for tests and tuning.
 *
 * @example
 * ```ts
 * import { WebGpuBackend, type WebGpuStats } from "@flint/webgpu";
 *
 * const gpu = await WebGpuBackend.create();
 * const stats: WebGpuStats = gpu.stats();
 * console.log(stats.submissions, stats.pooledBytes); // 0 0
 * gpu.destroy();
 * ```
 */
export interface WebGpuStats {
  /** command batches submitted so far */
  readonly submissions: number;
  /** commands recorded and not yet submitted */
  readonly queued: number;
  /** compute pipelines compiled so far */
  readonly pipelines: number;
  /** freed buffers kept for reuse */
  readonly pooledBuffers: number;
  /** bytes of those buffers */
  readonly pooledBytes: number;
}

/** A tensor storage on the GPU: a pooled buffer and the dtype it holds. */
class WebGpuStorage implements Storage {
  #buffer: GpuBuffer | null;
  readonly owner: WebGpuBackend;
  readonly dtype: DType;
  readonly elem: Elem;
  readonly length: number;
  readonly byteLength: number;

  constructor(owner: WebGpuBackend, buffer: GpuBuffer, dtype: DType, elem: Elem, length: number) {
    this.owner = owner;
    this.#buffer = buffer;
    this.dtype = dtype;
    this.elem = elem;
    this.length = length;
    this.byteLength = length * elemBytes(elem);
  }

  get buffer(): GpuBuffer {
    if (!this.#buffer) {
      throw new ReferenceError("webgpu storage was disposed: the tensor that owned it can no longer be used");
    }
    return this.#buffer;
  }

  get disposed(): boolean {
    return this.#buffer === null;
  }

  /** Takes the buffer away (to the pool); later uses throw. */
  detach(): GpuBuffer | null {
    const b = this.#buffer;
    this.#buffer = null;
    return b;
  }
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** A map operand after planning: how it is addressed and its params block. */
interface PlannedMap {
  readonly n: number;
  readonly shape: number[];
  readonly access: Access[];
  readonly blocks: Block[];
}

/**
 * The WebGPU backend. Create one with {@linkcode WebGpuBackend.create} and
 * register it with Flint; reads are asynchronous (`await t.data()`).
 *
 * @example Running kernels directly
 * ```ts
 * import { WebGpuBackend } from "@flint/webgpu";
 *
 * const gpu = await WebGpuBackend.create();
 * const a = gpu.upload(Float32Array.of(1, 2, 3), "float32");
 * const view = { storage: a, dtype: "float32" as const, shape: [3], strides: [1], offset: 0 };
 * const doubled = gpu.binary("mul", view, 2, [3], "float32");
 * console.log(await gpu.read({ ...view, storage: doubled })); // Float32Array(3) [ 2, 4, 6 ]
 * gpu.destroy();
 * ```
 */
export class WebGpuBackend implements Backend {
  readonly name: string;
  readonly canReadSync = false;
  readonly float64Precision = "float32" as const;
  readonly fused: Partial<FusedKernels>;
  /** true when float tensors are stored as half on the device */
  readonly float16Storage: boolean;
  /** the adapter's description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)" */
  readonly adapterInfo: string;
  readonly #engine: Engine;
  #storages = 0;
  #bytes = 0;

  private constructor(engine: Engine, half: boolean, adapterInfo: string) {
    this.name = engine.options.name;
    this.#engine = engine;
    this.float16Storage = half;
    this.adapterInfo = adapterInfo;
    this.fused = {
      softmax: (x, axis, log) => this.#softmax(x, axis, log),
      softmaxBackward: (g, out, axis, log) => this.#softmaxBackward(g, out, axis, log),
      conv2d: (x, w, geometry, outShape) => this.#conv2d(x, w, geometry, outShape),
      conv2dBackwardInput: (g, w, geometry, inputShape) => this.#conv2dBackwardInput(g, w, geometry, inputShape),
      conv2dBackwardWeight: (x, g, geometry, weightShape) => this.#conv2dBackwardWeight(x, g, geometry, weightShape),
      maxPool2d: (x, geometry) => this.#maxPool2d(x, geometry),
      maxPool2dBackward: (g, indices, inputShape) => this.#maxPool2dBackward(g, indices, inputShape),
      avgPool2d: (x, geometry, options) => this.#avgPool2d(x, geometry, options),
      avgPool2dBackward: (g, geometry, options, inputShape) =>
        this.#avgPool2dBackward(g, geometry, options, inputShape),
      adamStep: (param, grad, expAvg, expAvgSq, maxExpAvgSq, options) =>
        this.#adamStep(param, grad, expAvg, expAvgSq, maxExpAvgSq, options),
      sgdStep: (param, grad, momentumBuffer, options) => this.#sgdStep(param, grad, momentumBuffer, options),
    };
  }

  /**
   * Opens a WebGPU device and returns a backend on it. Throws a
   * {@linkcode BackendError} naming the reason when there is no adapter or a
   * requested feature is missing.
   *
   * @example Registering the GPU as a Flint device
   * ```ts
   * import * as torch from "@flint/torch";
   * import { WebGpuBackend } from "@flint/webgpu";
   *
   * const gpu = await WebGpuBackend.create({ maxBatch: 128 });
   * torch.registerBackend(gpu);
   * const x = torch.ones(2, 2, { device: "webgpu" });
   * console.log(await x.add(1).sum().item(), gpu.float64Precision); // 8 float32
   * gpu.destroy();
   * ```
   */
  static async create(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
    const name = options.name ?? "webgpu";
    if (typeof navigator === "undefined" || !("gpu" in navigator) || !navigator.gpu) {
      throw new BackendError(name, "WebGPU is not available in this runtime (navigator.gpu is missing)");
    }
    const adapter = options.adapter ??
      await navigator.gpu.requestAdapter({ powerPreference: options.powerPreference });
    if (!adapter) {
      throw new BackendError(name, "no WebGPU adapter was found: the system has no usable GPU or software renderer");
    }
    const half = options.float16Storage ?? false;
    if (half && !adapter.features.has("shader-f16")) {
      throw new BackendError(
        name,
        'float16Storage needs the adapter feature "shader-f16", which this adapter lacks; create the backend ' +
          "without float16Storage",
      );
    }
    const limits = adapter.limits;
    const device = await adapter.requestDevice({
      requiredFeatures: half ? ["shader-f16"] : [],
      requiredLimits: {
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
      },
    });
    const own = options.limits ?? {};
    const engine = new Engine(device, {
      name,
      maxBatch: options.maxBatch ?? 64,
      poolLimitBytes: options.poolLimitBytes ?? 256 * 2 ** 20,
      timeoutMs: options.timeoutMs ?? 60_000,
      maxStorageBytes: Math.min(
        device.limits.maxStorageBufferBindingSize,
        device.limits.maxBufferSize,
        own.maxStorageBufferBindingSize ?? Infinity,
      ),
      maxWorkgroupsPerDimension: Math.min(
        device.limits.maxComputeWorkgroupsPerDimension,
        own.maxComputeWorkgroupsPerDimension ?? Infinity,
      ),
    });
    const info = adapter.info;
    return new WebGpuBackend(engine, half, info?.description || info?.vendor || "unknown adapter");
  }

  /** The GPU device this backend runs on. */
  get device(): GPUDevice {
    return this.#engine.device;
  }

  /**
   * Submission, queue, pipeline and pool counters.
   *
   * @example Ops wait in the queue until a read needs them
   * ```ts
   * import { WebGpuBackend } from "@flint/webgpu";
   *
   * const gpu = await WebGpuBackend.create();
   * const a = gpu.fill(4, 1, "float32");
   * const view = { storage: a, dtype: "float32" as const, shape: [4], strides: [1], offset: 0 };
   * gpu.unary("exp", view);
   * console.log(gpu.stats().queued); // 2
   * await gpu.sync();
   * console.log(gpu.stats().queued); // 0
   * gpu.destroy();
   * ```
   */
  stats(): WebGpuStats {
    const pool = this.#engine.poolInfo;
    return {
      submissions: this.#engine.submissions,
      queued: this.#engine.queued,
      pipelines: this.#engine.pipelineCount,
      pooledBuffers: pool.buffers,
      pooledBytes: pool.bytes,
    };
  }

  /**
   * Frees pooled (unused) buffers until at most `keepBytes` stay pooled;
   * returns the bytes freed. Disposed storages go to the pool for reuse, so
   * `memory()` drops at once but the device keeps the buffers until trimmed.
   *
   * @example
   * ```ts
   * import { WebGpuBackend } from "@flint/webgpu";
   *
   * const gpu = await WebGpuBackend.create();
   * gpu.dispose(gpu.fill(1024, 0, "float32"));
   * console.log(gpu.memory().storages, gpu.trimPool() >= 4096); // 0 true
   * gpu.destroy();
   * ```
   */
  trimPool(keepBytes = 0): number {
    return this.#engine.trim(keepBytes);
  }

  /** Destroys the device: every storage becomes unusable and later ops throw a device-lost error. */
  destroy(): void {
    this.#engine.destroy();
  }

  // ---- storage ----

  #elem(dtype: DType): Elem {
    return elemOf(dtype, this.float16Storage);
  }

  #alloc(length: number, dtype: DType): WebGpuStorage {
    this.#engine.check();
    const elem = this.#elem(dtype);
    const buffer = this.#engine.alloc(
      Math.max(length * elemBytes(elem), 4),
      `a ${dtype} storage of ${length} elements`,
    );
    const storage = new WebGpuStorage(this, buffer, dtype, elem, length);
    this.#storages++;
    this.#bytes += storage.byteLength;
    return storage;
  }

  #storageOf(view: View | Storage): WebGpuStorage {
    const s = "storage" in view ? view.storage : view;
    if (!(s instanceof WebGpuStorage) || s.owner !== this) {
      throw new TypeError(`${this.name} backend was given a storage from another device`);
    }
    return s;
  }

  #bufferOf(view: View): GpuBuffer {
    return this.#storageOf(view).buffer;
  }

  upload(data: DataArray, dtype: DType): Storage {
    const storage = this.#alloc(data.length, dtype);
    let bytes: ArrayBufferView;
    if (storage.elem === "f16") bytes = packHalf(data);
    else if (dtype === "float32" || dtype === "float64") {
      bytes = data instanceof Float32Array ? data : Float32Array.from(data);
    } else if (dtype === "int32") bytes = data instanceof Int32Array ? data : Int32Array.from(data);
    else bytes = Uint32Array.from(data, (v) => (v !== 0 ? 1 : 0));
    this.#engine.write(storage.buffer, bytes);
    return storage;
  }

  adopt(data: DataArray, dtype: DType): Storage {
    return this.upload(data, dtype);
  }

  async read(x: View): Promise<DataArray> {
    const n = numel(x.shape);
    const storage = this.#storageOf(x);
    if (n === 0) return emptyArray(x.dtype);
    let source = storage.buffer;
    let offset = x.offset;
    let temp: WebGpuStorage | null = null;
    if (storage.elem === "f16" || !isContiguous(x.shape, x.strides)) {
      const elem: Elem = storage.elem === "f16" ? "f32" : storage.elem;
      temp = this.#materialize(x, elem);
      source = temp.buffer;
      offset = 0;
    }
    try {
      const raw = await this.#engine.read(source, offset * 4, n * 4);
      if (x.dtype === "float32") return new Float32Array(raw);
      if (x.dtype === "float64") return Float64Array.from(new Float32Array(raw));
      if (x.dtype === "int32") return new Int32Array(raw);
      return Uint8Array.from(new Uint32Array(raw));
    } finally {
      if (temp) this.dispose(temp);
    }
  }

  dispose(storage: Storage): void {
    if (!(storage instanceof WebGpuStorage) || storage.owner !== this || storage.disposed) return;
    const buffer = storage.detach()!;
    this.#storages--;
    this.#bytes -= storage.byteLength;
    this.#engine.release(buffer);
  }

  memory(): MemoryInfo {
    return { storages: this.#storages, bytes: this.#bytes };
  }

  sync(): Promise<void> {
    return this.#engine.sync();
  }

  // ---- element-wise ----

  /**
   * Plans a map over `shape`: coalesces the dims of every non-scalar input
   * and the output, and marks which are row-major (offset + i).
   */
  #plan(shape: Shape, inputs: readonly Operand[], out: { strides: readonly number[]; offset: number }): PlannedMap {
    const rank = shape.length;
    const lists: (readonly number[])[] = [];
    const offsets: number[] = [];
    for (const x of inputs) {
      if (typeof x === "number") continue;
      lists.push(broadcastStrides(x, shape));
      offsets.push(x.offset);
    }
    lists.push(out.strides.length === rank ? out.strides : contiguousStrides(shape));
    offsets.push(out.offset);
    const merged = coalesceDims(shape, lists);
    const contiguous = contiguousStrides(merged.shape);
    const access: Access[] = [];
    const blocks: Block[] = [];
    merged.strides.forEach((strides, k) => {
      const contig = same(strides, contiguous);
      access.push(contig ? "contig" : "strided");
      blocks.push({ offset: offsets[k], strides: contig ? null : strides });
    });
    return { n: numel(shape), shape: merged.shape, access, blocks };
  }

  /**
   * Runs an element-wise kernel writing `out` (a new storage, or the view
   * `dst`). `fn` is a WGSL function of the inputs' compute values returning
   * the output's compute value; `call` applies it to v0, v1, ...
   */
  #map(
    name: string,
    shape: Shape,
    inputs: readonly { operand: Operand; elem: Elem }[],
    out: WebGpuStorage | View,
    fn: string,
    call: string,
  ): void {
    const outView: View = out instanceof WebGpuStorage
      ? { storage: out, dtype: out.dtype, shape, strides: contiguousStrides(shape), offset: 0 }
      : out;
    const outElem = this.#storageOf(outView).elem;
    const plan = this.#plan(shape, inputs.map((x) => x.operand), outView);
    if (plan.n === 0) return;
    let k = 0;
    const mapInputs: MapInput[] = inputs.map((x) => ({
      access: typeof x.operand === "number" ? "scalar" : plan.access[k++],
      elem: x.elem,
    }));
    const scalars = inputs.filter((x) => typeof x.operand === "number")
      .map((x) => scalarBits(x.operand as number, computeOf(x.elem)));
    const withFn = mapWithFunction(name, mapInputs, outElem, fn, call, plan.access[k]);
    const buffers = inputs.filter((x) => typeof x.operand !== "number").map((x) => this.#bufferOf(x.operand as View));
    buffers.push(this.#bufferOf(outView));
    this.#engine.run(withFn, buffers, mapParams(plan.n, plan.shape, plan.blocks, scalars), {
      linear: Math.ceil(plan.n / WG),
    });
  }

  /** A contiguous copy of `x` with elements of `elem` (same compute type), outside the dtype rules. */
  #materialize(x: View, elem: Elem): WebGpuStorage {
    const src = this.#storageOf(x);
    const n = numel(x.shape);
    const buffer = this.#engine.alloc(Math.max(n * elemBytes(elem), 4), "a temporary copy");
    const out = new WebGpuStorage(this, buffer, x.dtype, elem, n);
    this.#storages++;
    this.#bytes += out.byteLength;
    const c = computeOf(elem);
    this.#map("copy", x.shape, [{ operand: x, elem: src.elem }], out, `fn f(v: ${c}) -> ${c} { return v; }`, "f(v0)");
    return out;
  }

  fill(size: number, value: number, dtype: DType): Storage {
    const out = this.#alloc(size, dtype);
    const elem = this.#elem(dtype);
    const c = computeOf(elem);
    const v = dtype === "bool" ? (value !== 0 ? 1 : 0) : value;
    this.#map("fill", [size], [{ operand: v, elem }], out, `fn f(v: ${c}) -> ${c} { return v; }`, "f(v0)");
    return out;
  }

  cast(x: View, dtype: DType): Storage {
    const src = this.#storageOf(x);
    const out = this.#alloc(numel(x.shape), dtype);
    const from = computeOf(src.elem), to = computeOfDType(dtype);
    const fn = `fn f(v: ${from}) -> ${to} { return ${convert("v", from, to)}; }`;
    this.#map("cast", x.shape, [{ operand: x, elem: src.elem }], out, fn, "f(v0)");
    return out;
  }

  copy(dst: View, src: Operand): void {
    const target = this.#storageOf(dst);
    let source: Operand = src;
    let temp: WebGpuStorage | null = null;
    // A buffer cannot be read and written by one dispatch: copy overlapping sources out first.
    if (typeof src !== "number" && this.#storageOf(src) === target) {
      temp = this.#materialize(src, target.elem);
      source = { ...src, storage: temp, strides: contiguousStrides(src.shape), offset: 0 };
    }
    const c = computeOf(target.elem);
    const srcElem = typeof source === "number" ? target.elem : this.#storageOf(source).elem;
    const fn = `fn f(v: ${computeOf(srcElem)}) -> ${c} { return ${convert("v", computeOf(srcElem), c)}; }`;
    this.#map("copy", dst.shape, [{ operand: source, elem: srcElem }], dst, fn, "f(v0)");
    if (temp) this.dispose(temp);
  }

  unary(op: UnaryOp, x: View): Storage {
    const src = this.#storageOf(x);
    const outDtype: DType = UNARY_OP_INFO[op].out === "bool" ? "bool" : x.dtype;
    const out = this.#alloc(numel(x.shape), outDtype);
    const { fn, call } = unaryFunction(op, src.elem, x.dtype);
    this.#map(`unary-${op}`, x.shape, [{ operand: x, elem: src.elem }], out, fn, call);
    return out;
  }

  binary(op: BinaryOp, a: Operand, b: Operand, shape: Shape, dtype: DType): Storage {
    const out = this.#alloc(numel(shape), BINARY_OP_KIND[op] === "arith" ? dtype : "bool");
    const elem = this.#elem(dtype);
    const { fn, call } = binaryFunction(op, elem);
    const inputs = [a, b].map((x) => ({ operand: x, elem: typeof x === "number" ? elem : this.#storageOf(x).elem }));
    this.#map(`binary-${op}`, shape, inputs, out, fn, call);
    return out;
  }

  where(cond: View, a: Operand, b: Operand, shape: Shape, dtype: DType): Storage {
    const out = this.#alloc(numel(shape), dtype);
    const elem = this.#elem(dtype);
    const c = computeOf(elem);
    const condElem = this.#storageOf(cond).elem;
    const cc = computeOf(condElem);
    const test = cc === "f32" ? "f_nonzero(k)" : cc === "i32" ? "k != 0" : "k != 0u";
    const fn = `fn f(k: ${cc}, a: ${c}, b: ${c}) -> ${c} { return select(b, a, ${test}); }`;
    const inputs = [
      { operand: cond, elem: condElem },
      ...[a, b].map((x) => ({ operand: x, elem: typeof x === "number" ? elem : this.#storageOf(x).elem })),
    ];
    this.#map("where", shape, inputs, out, fn, "f(v0, v1, v2)");
    return out;
  }

  // ---- reductions ----

  reduce(op: ReduceOp, x: View, axes: readonly number[]): Storage {
    const src = this.#storageOf(x);
    const outDtype: DType = op === "any" || op === "all" ? "bool" : x.dtype;
    const keptDims = x.shape.map((_, d) => d).filter((d) => !axes.includes(d));
    const nOut = numel(keptDims.map((d) => x.shape[d]));
    const out = this.#alloc(nOut, outDtype);
    if (nOut === 0) return out;
    const kept = coalesceDims(keptDims.map((d) => x.shape[d]), [keptDims.map((d) => x.strides[d])]);
    const reducedShape = axes.map((d) => x.shape[d]);
    const inner = numel(reducedShape);
    const reduced = coalesceDims(reducedShape, [axes.map((d) => x.strides[d])]);
    const redShape = reduced.shape.length > 0 ? reduced.shape : [1];
    const redStrides = reduced.shape.length > 0 ? reduced.strides[0] : [0];
    if (inner === 0) {
      // What the CPU's accumulator holds, stored as its dtype: ±inf become 0 in integers.
      const start = { sum: 0, prod: 1, max: -Infinity, min: Infinity, any: 0, all: 1 }[op];
      this.dispose(out);
      return this.fill(nOut, isFloatingPoint(outDtype) || Number.isFinite(start) ? start : 0, outDtype);
    }
    const tree = inner >= 256 || (inner >= 32 && nOut <= 2048);
    const kernel = reduceKernel(op, src.elem, out.elem, tree, redShape.length === 1);
    const params = reduceParams(
      nOut,
      { shape: kept.shape, strides: kept.strides[0] },
      { shape: redShape, strides: redStrides },
      inner,
      x.offset,
    );
    this.#engine.run(kernel, [src.buffer, out.buffer], params, { linear: tree ? nOut : Math.ceil(nOut / WG) });
    return out;
  }

  argReduce(op: ArgReduceOp, x: View, axis: number): Storage {
    const src = this.#storageOf(x);
    const keptDims = x.shape.map((_, d) => d).filter((d) => d !== axis);
    const nOut = numel(keptDims.map((d) => x.shape[d]));
    const out = this.#alloc(nOut, "int32");
    const n = x.shape[axis];
    if (nOut === 0 || n === 0) return out;
    const kept = coalesceDims(keptDims.map((d) => x.shape[d]), [keptDims.map((d) => x.strides[d])]);
    const tree = n >= 256 || (n >= 32 && nOut <= 2048);
    const params = argReduceParams(nOut, { shape: kept.shape, strides: kept.strides[0] }, n, x.strides[axis], x.offset);
    this.#engine.run(argReduceKernel(op, src.elem, tree), [src.buffer, out.buffer], params, {
      linear: tree ? nOut : Math.ceil(nOut / WG),
    });
    return out;
  }

  // ---- matmul ----

  matmul(a: View, b: View): Storage {
    const sa = this.#storageOf(a), sb = this.#storageOf(b);
    const [batches, m, k] = a.shape;
    const n = b.shape[2];
    const out = this.#alloc(batches * m * n, a.dtype);
    const fields = [a.offset, ...a.strides, b.offset, ...b.strides];
    this.#gemm((t) => matmulKernel(sa.elem, t), [sa.buffer, sb.buffer, out.buffer], m, n, k, batches, fields);
    return out;
  }

  #gemm(
    kernel: (tiling: GemmTiling) => Kernel,
    buffers: GpuBuffer[],
    m: number,
    n: number,
    k: number,
    batches: number,
    fields: readonly number[],
  ): void {
    if (m === 0 || n === 0 || batches === 0) return;
    const maxDim = this.#engine.options.maxWorkgroupsPerDimension;
    const tiling = tilingFor(m, n);
    const compiled = kernel(tiling);
    for (const d of gemmDispatches(m, n, batches, maxDim, tiling)) {
      const params = gemmParams(m, n, k, fields);
      params.set(d.start, 3);
      this.#engine.run(compiled, buffers, params, { groups: d.groups });
    }
  }

  // ---- indexing ----

  /** An int32 view of the positions `index` holds (cast when it is another dtype). */
  #positions(index: View): { view: View; temp: WebGpuStorage | null } {
    if (index.dtype === "int32") return { view: index, temp: null };
    const temp = this.cast(index, "int32") as WebGpuStorage;
    return {
      view: { storage: temp, dtype: "int32", shape: index.shape, strides: contiguousStrides(index.shape), offset: 0 },
      temp,
    };
  }

  gather(x: View, index: View): Storage {
    const src = this.#storageOf(x);
    const { view: idx, temp } = this.#positions(index);
    const n = numel(idx.shape);
    const out = this.#alloc(n, x.dtype);
    if (n > 0) {
      const plan = this.#plan(idx.shape, [idx], { strides: contiguousStrides(idx.shape), offset: 0 });
      const xContig = isContiguous(x.shape, x.strides);
      const kernel = gatherKernel(plan.access[0] as "contig" | "strided", src.elem, xContig);
      const params = mapParams(plan.n, plan.shape, plan.blocks, [], positionBlock(x.shape, x.strides, x.offset));
      this.#engine.run(kernel, [this.#bufferOf(idx), src.buffer, out.buffer], params, {
        linear: Math.ceil(n / WG),
      });
    }
    if (temp) this.dispose(temp);
    return out;
  }

  scatter(dst: View, index: View, src: Operand, accumulate: boolean): void {
    const target = this.#storageOf(dst);
    const temps: WebGpuStorage[] = [];
    const positions = this.#positions(index);
    let idx = positions.view;
    if (positions.temp) temps.push(positions.temp);
    if (this.#storageOf(idx) === target) {
      const copy = this.#materialize(idx, "i32");
      temps.push(copy);
      idx = { ...idx, storage: copy, strides: contiguousStrides(idx.shape), offset: 0 };
    }
    let source = src;
    if (typeof src !== "number" && this.#storageOf(src) === target) {
      const copy = this.#materialize(src, target.elem);
      temps.push(copy);
      source = { ...src, storage: copy, strides: contiguousStrides(src.shape), offset: 0 };
    }
    const n = numel(idx.shape);
    if (n > 0) {
      const plan = this.#plan(idx.shape, typeof source === "number" ? [idx] : [idx, source], {
        strides: contiguousStrides(idx.shape),
        offset: 0,
      });
      const indexAccess = plan.access[0] as "contig" | "strided";
      const srcInput: MapInput = typeof source === "number"
        ? { access: "scalar", elem: target.elem }
        : { access: plan.access[1], elem: this.#storageOf(source).elem };
      const blocks = plan.blocks.slice(0, typeof source === "number" ? 1 : 2);
      const extra = positionBlock(dst.shape, dst.strides, dst.offset);
      const scalars = typeof source === "number" ? [scalarBits(source, computeOf(target.elem))] : [];
      const params = mapParams(plan.n, plan.shape, blocks, scalars, extra);
      const srcBuffers = typeof source === "number" ? [] : [this.#bufferOf(source)];
      const grid = { linear: Math.ceil(n / WG) };
      if (accumulate) {
        this.#engine.run(
          scatterKernel(indexAccess, srcInput, target.elem, true),
          [this.#bufferOf(idx), ...srcBuffers, target.buffer],
          params,
          grid,
        );
      } else {
        // Repeated positions keep the last write, as the CPU's sequential loop does.
        const winner = this.fill(numel(dst.shape), -1, "int32") as WebGpuStorage;
        temps.push(winner);
        this.#engine.run(scatterWinnerKernel(indexAccess), [this.#bufferOf(idx), winner.buffer], params, grid);
        this.#engine.run(
          scatterKernel(indexAccess, srcInput, target.elem, false),
          [this.#bufferOf(idx), ...srcBuffers, winner.buffer, target.buffer],
          params,
          grid,
        );
      }
    }
    for (const t of temps) this.dispose(t);
  }

  // ---- fused kernels ----

  #softmaxLayout(views: readonly View[], axis: number, shape: Shape) {
    const other = shape.map((_, d) => d).filter((d) => d !== axis);
    const otherShape = other.map((d) => shape[d]);
    const rows = numel(otherShape);
    const n = shape[axis];
    const outStrides = contiguousStrides(shape);
    const operands = [...views, null].map((v) => {
      const strides = v ? v.strides : outStrides;
      return { offset: v ? v.offset : 0, axisStride: strides[axis], strides: other.map((d) => strides[d]) };
    });
    return { rows, n, params: softmaxParams(rows, n, otherShape, operands) };
  }

  #softmax(x: View, axis: number, log: boolean): Storage {
    const src = this.#storageOf(x);
    const out = this.#alloc(numel(x.shape), x.dtype);
    const { rows, n, params } = this.#softmaxLayout([x], axis, x.shape);
    if (rows > 0 && n > 0) {
      const tree = n >= 128 || (n >= 32 && rows <= 1024);
      this.#engine.run(softmaxKernel(src.elem, log, false, tree), [src.buffer, out.buffer], params, {
        linear: tree ? rows : Math.ceil(rows / WG),
      });
    }
    return out;
  }

  #softmaxBackward(g: View, y: View, axis: number, log: boolean): Storage {
    const sg = this.#storageOf(g), sy = this.#storageOf(y);
    const out = this.#alloc(numel(g.shape), g.dtype);
    const { rows, n, params } = this.#softmaxLayout([g, y], axis, g.shape);
    if (rows > 0 && n > 0) {
      const tree = n >= 128 || (n >= 32 && rows <= 1024);
      this.#engine.run(softmaxKernel(sg.elem, log, true, tree), [sg.buffer, sy.buffer, out.buffer], params, {
        linear: tree ? rows : Math.ceil(rows / WG),
      });
    }
    return out;
  }

  #convFields(
    dims: { N: number; C: number; H: number; W: number; O: number; kH: number; kW: number; oH: number; oW: number },
    geometry: Conv2dGeometry,
    a: View,
    b: View,
  ): number[] {
    const values: Record<string, number> = {
      ...dims,
      sH: geometry.stride[0],
      sW: geometry.stride[1],
      pH: geometry.padding[0],
      pW: geometry.padding[1],
      dH: geometry.dilation[0],
      dW: geometry.dilation[1],
      Cg: dims.C / geometry.groups,
      Og: dims.O / geometry.groups,
      ao: a.offset,
      a0: a.strides[0],
      a1: a.strides[1],
      a2: a.strides[2],
      a3: a.strides[3],
      bo: b.offset,
      b0: b.strides[0],
      b1: b.strides[1],
      b2: b.strides[2],
      b3: b.strides[3],
    };
    return CONV_FIELDS.map((f) => values[f]);
  }

  #conv2d(x: View, w: View, geometry: Conv2dGeometry, outShape: Shape): Storage {
    const sx = this.#storageOf(x), sw = this.#storageOf(w);
    const [N, C, H, W] = x.shape;
    const [O, , kH, kW] = w.shape;
    const [, , oH, oW] = outShape;
    const out = this.#alloc(numel(outShape), x.dtype);
    const g = geometry.groups;
    const fields = this.#convFields({ N, C, H, W, O, kH, kW, oH, oW }, geometry, x, w);
    this.#gemm(
      (t) => conv2dKernel(sx.elem, t),
      [sx.buffer, sw.buffer, out.buffer],
      N * oH * oW,
      O / g,
      (C / g) * kH * kW,
      g,
      fields,
    );
    return out;
  }

  #conv2dBackwardInput(gradOut: View, w: View, geometry: Conv2dGeometry, inputShape: Shape): Storage {
    const sg = this.#storageOf(gradOut), sw = this.#storageOf(w);
    const [N, C, H, W] = inputShape;
    const [O, , kH, kW] = w.shape;
    const [, , oH, oW] = gradOut.shape;
    const out = this.#alloc(numel(inputShape), gradOut.dtype);
    const g = geometry.groups;
    const fields = this.#convFields({ N, C, H, W, O, kH, kW, oH, oW }, geometry, gradOut, w);
    const kernel = (t: GemmTiling) => conv2dBackwardInputKernel(sg.elem, t);
    this.#gemm(kernel, [sg.buffer, sw.buffer, out.buffer], N * H * W, C / g, (O / g) * kH * kW, g, fields);
    return out;
  }

  #conv2dBackwardWeight(x: View, gradOut: View, geometry: Conv2dGeometry, weightShape: Shape): Storage {
    const sx = this.#storageOf(x), sg = this.#storageOf(gradOut);
    const [N, C, H, W] = x.shape;
    const [O, , kH, kW] = weightShape;
    const [, , oH, oW] = gradOut.shape;
    const out = this.#alloc(numel(weightShape), x.dtype);
    const g = geometry.groups;
    const fields = this.#convFields({ N, C, H, W, O, kH, kW, oH, oW }, geometry, gradOut, x);
    const kernel = (t: GemmTiling) => conv2dBackwardWeightKernel(sx.elem, t);
    this.#gemm(kernel, [sg.buffer, sx.buffer, out.buffer], O / g, (C / g) * kH * kW, N * oH * oW, g, fields);
    return out;
  }

  #poolFields(x: View, geometry: Pool2dGeometry) {
    return {
      C: x.shape[1],
      H: x.shape[2],
      W: x.shape[3],
      oH: geometry.outSize[0],
      oW: geometry.outSize[1],
      kH: geometry.kernel[0],
      kW: geometry.kernel[1],
      sH: geometry.stride[0],
      sW: geometry.stride[1],
      pH: geometry.padding[0],
      pW: geometry.padding[1],
      dH: geometry.dilation[0],
      dW: geometry.dilation[1],
      ao: x.offset,
      a0: x.strides[0],
      a1: x.strides[1],
      a2: x.strides[2],
      a3: x.strides[3],
    };
  }

  #maxPool2d(x: View, geometry: Pool2dGeometry): { values: Storage; indices: Storage } {
    const sx = this.#storageOf(x);
    const [N, C] = x.shape;
    const total = N * C * geometry.outSize[0] * geometry.outSize[1];
    const values = this.#alloc(total, x.dtype);
    const indices = this.#alloc(total, "int32");
    const params = poolParams({ total, ...this.#poolFields(x, geometry) });
    this.#engine.run(maxPool2dKernel(sx.elem), [sx.buffer, values.buffer, indices.buffer], params, {
      linear: Math.ceil(total / WG),
    });
    return { values, indices };
  }

  #maxPool2dBackward(gradOut: View, indices: View, inputShape: Shape): Storage {
    const sg = this.#storageOf(gradOut);
    const out = this.fill(numel(inputShape), 0, gradOut.dtype) as WebGpuStorage;
    const [N, C, oH, oW] = gradOut.shape;
    const total = N * C * oH * oW;
    const params = poolParams({
      total,
      C,
      H: inputShape[2],
      W: inputShape[3],
      oH,
      oW,
      ao: gradOut.offset,
      a0: gradOut.strides[0],
      a1: gradOut.strides[1],
      a2: gradOut.strides[2],
      a3: gradOut.strides[3],
      bo: indices.offset,
      b0: indices.strides[0],
      b1: indices.strides[1],
      b2: indices.strides[2],
      b3: indices.strides[3],
    });
    this.#engine.run(maxPool2dBackwardKernel(sg.elem), [sg.buffer, this.#bufferOf(indices), out.buffer], params, {
      linear: Math.ceil(total / WG),
    });
    return out;
  }

  #avgFields(options: AvgPoolOptions) {
    return { countIncludePad: options.countIncludePad ? 1 : 0, divisor: options.divisorOverride ?? 0 };
  }

  #avgPool2d(x: View, geometry: Pool2dGeometry, options: AvgPoolOptions): Storage {
    const sx = this.#storageOf(x);
    const [N, C] = x.shape;
    const total = N * C * geometry.outSize[0] * geometry.outSize[1];
    const out = this.#alloc(total, x.dtype);
    const params = poolParams({ total, ...this.#poolFields(x, geometry), ...this.#avgFields(options) });
    this.#engine.run(avgPool2dKernel(sx.elem), [sx.buffer, out.buffer], params, { linear: Math.ceil(total / WG) });
    return out;
  }

  #avgPool2dBackward(gradOut: View, geometry: Pool2dGeometry, options: AvgPoolOptions, inputShape: Shape): Storage {
    const sg = this.#storageOf(gradOut);
    const total = numel(inputShape);
    const out = this.#alloc(total, gradOut.dtype);
    const like: View = { ...gradOut, shape: inputShape };
    const params = poolParams({
      total,
      ...this.#poolFields(like, geometry),
      ao: gradOut.offset,
      a0: gradOut.strides[0],
      a1: gradOut.strides[1],
      a2: gradOut.strides[2],
      a3: gradOut.strides[3],
      ...this.#avgFields(options),
    });
    this.#engine.run(avgPool2dBackwardKernel(sg.elem), [sg.buffer, out.buffer], params, {
      linear: Math.ceil(total / WG),
    });
    return out;
  }

  /**
   * Runs an in-place optimizer kernel over views of the parameter's shape:
   * `written` views are updated, `grad` only read (copied first when it
   * shares a storage with one of them: a dispatch cannot both read and write
   * a buffer through two bindings).
   */
  #optimizerStep(
    kernel: (access: Access[]) => Kernel,
    written: View[],
    grad: View,
    extra: readonly number[],
  ): void {
    const shape = written[0].shape;
    let g = grad;
    let temp: WebGpuStorage | null = null;
    if (written.some((w) => w.storage === grad.storage)) {
      temp = this.#materialize(grad, this.#storageOf(grad).elem);
      g = { ...grad, storage: temp, strides: contiguousStrides(grad.shape), offset: 0 };
    }
    const views = [written[0], g, ...written.slice(1)];
    const plan = this.#plan(shape, views, { strides: written[0].strides, offset: written[0].offset });
    if (plan.n > 0) {
      const params = mapParams(plan.n, plan.shape, plan.blocks.slice(0, views.length), [], extra);
      this.#engine.run(kernel(plan.access.slice(0, views.length)), views.map((v) => this.#bufferOf(v)), params, {
        linear: Math.ceil(plan.n / WG),
      });
    }
    if (temp) this.dispose(temp);
  }

  #adamStep(
    param: View,
    grad: View,
    expAvg: View,
    expAvgSq: View,
    maxExpAvgSq: View | null,
    o: AdamStepOptions,
  ): void {
    const elem = this.#storageOf(param).elem;
    const withMax = o.amsgrad && maxExpAvgSq !== null;
    const values: Record<typeof ADAM_EXTRA[number], number> = {
      maximize: o.maximize ? 1 : 0,
      l2: !o.decoupledWeightDecay && o.weightDecay !== 0 ? 1 : 0,
      decoupled: o.decoupledWeightDecay ? 1 : 0,
      amsgrad: withMax ? 1 : 0,
      beta1: scalarBits(o.beta1, "f32"),
      oneMinusBeta1: scalarBits(1 - o.beta1, "f32"),
      beta2: scalarBits(o.beta2, "f32"),
      oneMinusBeta2: scalarBits(1 - o.beta2, "f32"),
      weightDecay: scalarBits(o.weightDecay, "f32"),
      decay: scalarBits(1 - o.lr * o.weightDecay, "f32"),
      eps: scalarBits(o.eps, "f32"),
      negStep: scalarBits(-(o.lr / (1 - o.beta1 ** o.step)), "f32"),
      bias2Sqrt: scalarBits(Math.sqrt(1 - o.beta2 ** o.step), "f32"),
    };
    const written = [param, expAvg, expAvgSq, ...(withMax ? [maxExpAvgSq!] : [])];
    this.#optimizerStep(
      (access) => adamKernel(access, elem, withMax),
      written,
      grad,
      ADAM_EXTRA.map((k) => values[k]),
    );
  }

  #sgdStep(param: View, grad: View, momentumBuffer: View | null, o: SgdStepOptions): void {
    const elem = this.#storageOf(param).elem;
    const withBuffer = momentumBuffer !== null && o.momentum !== 0;
    const values: Record<typeof SGD_EXTRA[number], number> = {
      maximize: o.maximize ? 1 : 0,
      useBuffer: withBuffer ? 1 : 0,
      firstStep: o.firstStep ? 1 : 0,
      nesterov: o.nesterov ? 1 : 0,
      negLr: scalarBits(-o.lr, "f32"),
      momentum: scalarBits(o.momentum, "f32"),
      keep: scalarBits(1 - o.dampening, "f32"),
      weightDecay: scalarBits(o.weightDecay, "f32"),
    };
    this.#optimizerStep(
      (access) => sgdKernel(access, elem, withBuffer),
      withBuffer ? [param, momentumBuffer!] : [param],
      grad,
      SGD_EXTRA.map((k) => values[k]),
    );
  }

  /**
   * The WGSL of the kernel a unary or binary op runs on contiguous inputs of
   * `dtype`, helpers included: for tests and for reading what the GPU runs.
   */
  kernelSource(kind: "unary" | "binary", op: UnaryOp | BinaryOp, dtype: DType): string {
    return elementwiseSource(kind, op, dtype, this.float16Storage);
  }
}

/** The strides of `x` broadcast to `shape` (leading dims and size-1 dims get stride 0). */
function broadcastStrides(x: View, shape: Shape): number[] {
  const lead = shape.length - x.shape.length;
  return shape.map((size, d) => {
    const i = d - lead;
    if (i < 0) return 0;
    return x.shape[i] === 1 && size !== 1 ? 0 : x.strides[i];
  });
}

function emptyArray(dtype: DType): DataArray {
  return dtype === "float32"
    ? new Float32Array(0)
    : dtype === "float64"
    ? new Float64Array(0)
    : dtype === "int32"
    ? new Int32Array(0)
    : new Uint8Array(0);
}
