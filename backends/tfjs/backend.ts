// The tfjs backend: Flint's required ops as TensorFlow.js ops. tfjs only
// computes; Flint's autograd records the tape and calls these kernels, each
// inside one `tf.tidy` so that only its result outlives the call.

import {
  type ArgReduceOp,
  type Backend,
  BackendError,
  BINARY_OP_KIND,
  type BinaryOp,
  type DataArray,
  type DType,
  type FusedKernels,
  isContiguous,
  type MemoryInfo,
  MemoryLedger,
  numel,
  type Operand,
  type ReduceOp,
  type Shape,
  type Storage,
  UNARY_OP_INFO,
  type UnaryOp,
  type View,
} from "@flint/backend";
import * as tf from "@tensorflow/tfjs-core";
import {
  binaryKernels,
  castTensor,
  clampInt,
  type KernelContext,
  select,
  toBool,
  unaryKernels,
} from "./elementwise.ts";
import { fusedKernels } from "./fused.ts";
import { storageOf, storageTensors, TF_DTYPE, TfjsStorage } from "./storage.ts";
import { flatTensor, isDense, OffsetCache, viewTensor } from "./views.ts";

/** Options for {@linkcode TfjsBackend.create}. */
export interface TfjsBackendOptions {
  /**
   * The tfjs backend to run on, as registered with tfjs: "cpu", "wasm",
   * "webgl", "webgpu" or "tensorflow" (tfjs-node). Its package must be
   * imported first; the default is the backend tfjs has active.
   */
  readonly backend?: string;
  /** the device name tensors report; "tfjs" unless you run two tfjs devices side by side */
  readonly name?: string;
}

/** Live tensors and bytes as tfjs itself counts them (`tf.memory()`). */
export interface TfjsMemoryInfo {
  /** tfjs tensors alive in the whole tfjs engine */
  readonly numTensors: number;
  /** distinct data buffers behind them (reshapes share one) */
  readonly numDataBuffers: number;
  /** bytes those buffers hold */
  readonly numBytes: number;
}

// tfjs backends whose `dataSync` answers without waiting on a GPU queue it cannot wait on.
const SYNC_READERS = new Set(["cpu", "wasm", "tensorflow", "webgl"]);
// tfjs backends whose max and min reductions are checked (here) to propagate NaN; others get it made explicit.
const NAN_PROPAGATING_REDUCTIONS = new Set(["cpu", "wasm"]);

const REDUCE_INIT: Readonly<Record<ReduceOp, number>> = {
  sum: 0,
  prod: 1,
  max: -Infinity,
  min: Infinity,
  any: 0,
  all: 1,
};

type Reducer = (x: tf.Tensor, axes: number[]) => tf.Tensor;
const reducers = {
  sum: (x, axes) => tf.sum(x.dtype === "bool" ? tf.cast(x, "int32") : x, axes),
  prod: (x, axes) => tf.prod(x.dtype === "bool" ? tf.cast(x, "int32") : x, axes),
  max: (x, axes) => tf.max(x.dtype === "bool" ? tf.cast(x, "int32") : x, axes),
  min: (x, axes) => tf.min(x.dtype === "bool" ? tf.cast(x, "int32") : x, axes),
  any: (x, axes) => tf.any(toBool(x), axes),
  all: (x, axes) => tf.all(toBool(x), axes),
} satisfies Record<ReduceOp, Reducer>;

/**
 * Flint's backend contract on TensorFlow.js kernels. Construct it with
 * {@linkcode TfjsBackend.create} after importing the tfjs backend package
 * you want, then register it with Flint.
 *
 * @example On tfjs's CPU backend
 * ```ts
 * import "@tensorflow/tfjs-backend-cpu";
 * import { TfjsBackend } from "@flint/tfjs";
 *
 * const tfjs = await TfjsBackend.create({ backend: "cpu" });
 * const a = tfjs.upload(Float32Array.of(1, 2, 3), "float32");
 * const view = { storage: a, dtype: "float32" as const, shape: [3], strides: [1], offset: 0 };
 * const doubled = tfjs.binary("mul", view, 2, [3], "float32");
 * console.log(tfjs.readSync({ ...view, storage: doubled })); // Float32Array(3) [ 2, 4, 6 ]
 * ```
 */
export class TfjsBackend implements Backend {
  readonly name: string;
  readonly canReadSync: boolean;
  readonly float64Precision = "float32" as const;
  readonly fused: Partial<FusedKernels>;
  /** the tfjs backend the kernels run on ("cpu", "wasm", ...) */
  readonly tfBackend: string;
  readonly #ledger = new MemoryLedger();
  readonly #offsets = new OffsetCache();
  readonly #ctx: KernelContext;
  readonly #wasmPackings = new WeakMap<object, string>();

  private constructor(tfBackend: string, name: string) {
    this.tfBackend = tfBackend;
    this.name = name;
    this.canReadSync = SYNC_READERS.has(tfBackend);
    const readFlag = this.canReadSync ? (flag: tf.Tensor) => flag.dataSync()[0] !== 0 : undefined;
    this.#ctx = { bitwiseAnd: tf.getKernel("BitwiseAnd", tfBackend) !== undefined, readFlag };
    this.fused = fusedKernels({
      tfBackend,
      readFlag,
      run: (dtypes, fn) => this.#runAll(dtypes, fn),
      view: (v) => viewTensor(v, this.#offsets),
    });
  }

  /**
   * Makes `options.backend` tfjs's active backend (initialising it if need
   * be) and returns a Flint backend running on it. tfjs has one active
   * backend per JavaScript realm: a device checks on every op that its tfjs
   * backend is still the active one and throws if something switched it.
   *
   * @example
   * ```ts
   * import "@tensorflow/tfjs-backend-cpu";
   * import { TfjsBackend } from "@flint/tfjs";
   *
   * const tfjs = await TfjsBackend.create({ backend: "cpu" });
   * console.log(tfjs.name, tfjs.tfBackend, tfjs.canReadSync); // tfjs cpu true
   * ```
   */
  static async create(options: TfjsBackendOptions = {}): Promise<TfjsBackend> {
    const wanted = options.backend ?? (await tf.ready(), tf.getBackend());
    const registered = tf.engine().backendNames();
    if (!registered.includes(wanted)) {
      throw new BackendError(
        "tfjs",
        `tfjs backend "${wanted}" is not registered (registered: ${registered.join(", ") || "none"}): ` +
          `import its package first, e.g. import "@tensorflow/tfjs-backend-${wanted}"`,
      );
    }
    if (!(await tf.setBackend(wanted))) {
      throw new BackendError("tfjs", `tfjs backend "${wanted}" failed to initialise`);
    }
    await tf.ready();
    return new TfjsBackend(wanted, options.name ?? "tfjs");
  }

  /**
   * Live tensors and bytes in the whole tfjs engine, as `tf.memory()` says:
   * with nothing else using tfjs, `numTensors` equals `memory().storages`.
   *
   * @example
   * ```ts
   * import "@tensorflow/tfjs-backend-cpu";
   * import { TfjsBackend } from "@flint/tfjs";
   *
   * const tfjs = await TfjsBackend.create({ backend: "cpu" });
   * const s = tfjs.fill(4, 1, "float32");
   * console.log(tfjs.tfMemory().numTensors === tfjs.memory().storages); // true
   * tfjs.dispose(s);
   * ```
   */
  tfMemory(): TfjsMemoryInfo {
    const { numTensors, numDataBuffers, numBytes } = tf.memory();
    return { numTensors, numDataBuffers, numBytes };
  }

  #checkActive(): void {
    const active = tf.getBackend();
    if (active !== this.tfBackend) {
      throw new BackendError(
        this.name,
        `device "${this.name}" runs on tfjs's "${this.tfBackend}" backend but tfjs's active backend is ` +
          `"${active}": switch back with await tf.setBackend("${this.tfBackend}")`,
      );
    }
  }

  /** Runs `fn` in a tidy and keeps its result, flattened and converted to `dtype`, as a new storage. */
  #run(dtype: DType, fn: () => tf.Tensor): TfjsStorage {
    this.#checkActive();
    const tensor = tf.tidy(() => asStorageTensor(fn(), dtype));
    return new TfjsStorage(tensor, dtype, this.#ledger);
  }

  /** `#run` for kernels with several results (max pooling's values and indices). */
  #runAll(dtypes: readonly DType[], fn: () => tf.Tensor[]): TfjsStorage[] {
    this.#checkActive();
    const tensors = tf.tidy(() => fn().map((t, i) => asStorageTensor(t, dtypes[i])));
    return tensors.map((t, i) => new TfjsStorage(t, dtypes[i], this.#ledger));
  }

  /** The view as a tensor of its shape (or compact, for tfjs's broadcasting); inside a tidy. */
  #view(x: View, expand = true): tf.Tensor {
    return viewTensor(x, this.#offsets, expand);
  }

  /**
   * An operand as a tensor of tfjs dtype `dtype`: a scalar, a view flattened
   * (when every operand is dense, the element-wise kernel runs on flat
   * tensors), or a view with its broadcast dims cut to 1 for tfjs to stretch.
   */
  #operand(x: Operand, dtype: DType, flat: boolean): tf.Tensor {
    const tfDtype = TF_DTYPE[dtype];
    if (typeof x === "number") return tf.scalar(storedValue(x, dtype), tfDtype);
    return castTensor(flat ? flatTensor(x, this.#offsets) : this.#view(x, false), tfDtype);
  }

  upload(data: DataArray, dtype: DType): Storage {
    this.#checkActive();
    // tfjs-cpu keeps the array it is given, so it gets a copy the caller cannot touch.
    const values = dtype === "float64" || dtype === "float32"
      ? Float32Array.from(data)
      : dtype === "int32"
      ? Int32Array.from(data)
      : Uint8Array.from(data, (v) => (v !== 0 ? 1 : 0));
    return new TfjsStorage(tf.tensor1d(values, TF_DTYPE[dtype]), dtype, this.#ledger);
  }

  async read(x: View): Promise<DataArray> {
    this.#checkActive();
    const t = tf.tidy(() => this.#view(x));
    try {
      return toDataArray(await t.data(), x.dtype);
    } finally {
      // A whole flat storage is read as its own tensor, which stays.
      if (!storageTensors.has(t)) t.dispose();
    }
  }

  readSync(x: View): DataArray {
    if (!this.canReadSync) {
      throw new BackendError(
        this.name,
        `tfjs's "${this.tfBackend}" backend cannot read synchronously: use the async read (await t.data())`,
      );
    }
    this.#checkActive();
    const t = tf.tidy(() => this.#view(x));
    try {
      return toDataArray(t.dataSync(), x.dtype);
    } finally {
      if (!storageTensors.has(t)) t.dispose();
    }
  }

  dispose(storage: Storage): void {
    if (storage instanceof TfjsStorage) storage.dispose();
  }

  memory(): MemoryInfo {
    return this.#ledger.info();
  }

  fill(size: number, value: number, dtype: DType): Storage {
    return this.#run(dtype, () => tf.fill([size], storedValue(value, dtype), TF_DTYPE[dtype]));
  }

  cast(x: View, dtype: DType): Storage {
    return this.#run(dtype, () => this.#view(x));
  }

  copy(dst: View, src: Operand): void {
    this.#checkActive();
    const size = numel(dst.shape);
    if (size === 0) return;
    const storage = storageOf(dst);
    const tfDtype = TF_DTYPE[dst.dtype];
    const next = tf.tidy(() => {
      const values = typeof src === "number"
        ? tf.fill([size], storedValue(src, dst.dtype), tfDtype)
        : tf.reshape(castTensor(this.#view({ ...src, shape: dst.shape }), tfDtype), [-1]);
      const old = storage.tensor;
      if (isContiguous(dst.shape, dst.strides)) {
        if (dst.offset === 0 && size === storage.size) return tf.reshape(values, [-1]);
        const parts = [
          dst.offset > 0 ? tf.slice(old, 0, dst.offset) : undefined,
          values,
          dst.offset + size < storage.size ? tf.slice(old, dst.offset + size) : undefined,
        ];
        return tf.concat(parts.filter((p) => p !== undefined));
      }
      const at = this.#offsets.offsets(dst.shape, dst.strides, dst.offset);
      return tf.tensorScatterUpdate(this.#scatterTarget(old), tf.tensor2d(at, [at.length, 1], "int32"), values);
    });
    storage.replace(next);
  }

  /**
   * The tensor tensorScatterUpdate may write into. tfjs-cpu's kernel writes
   * the updates into its input's buffer in place, and that buffer is shared
   * by every reshape of it (other storages included), so it gets a copy.
   */
  #scatterTarget(t: tf.Tensor): tf.Tensor {
    if (this.tfBackend !== "cpu") return t;
    return t.dtype === "bool" ? tf.logicalAnd(t, tf.scalar(true, "bool")) : tf.mul(t, tf.scalar(1, t.dtype));
  }

  unary(op: UnaryOp, x: View): Storage {
    const outDtype = UNARY_OP_INFO[op].out === "bool" ? "bool" : x.dtype;
    return this.#run(outDtype, () => unaryKernels[op](flatTensor(x, this.#offsets)));
  }

  binary(op: BinaryOp, a: Operand, b: Operand, shape: Shape, dtype: DType): Storage {
    const outDtype = BINARY_OP_KIND[op] === "arith" ? dtype : "bool";
    if (numel(shape) === 0) return this.fill(0, 0, outDtype);
    const flat = allDense(shape, a, b);
    return this.#run(outDtype, () => {
      const out = binaryKernels[op](this.#operand(a, dtype, flat), this.#operand(b, dtype, flat), this.#ctx);
      return flat ? out : broadcastTo(out, shape);
    });
  }

  where(cond: View, a: Operand, b: Operand, shape: Shape, dtype: DType): Storage {
    if (numel(shape) === 0) return this.fill(0, 0, dtype);
    const flat = allDense(shape, cond, a, b);
    return this.#run(dtype, () => {
      const c = toBool(flat ? flatTensor(cond, this.#offsets) : this.#view(cond, false));
      const out = select(c, this.#operand(a, dtype, flat), this.#operand(b, dtype, flat));
      return flat ? out : broadcastTo(out, shape);
    });
  }

  reduce(op: ReduceOp, x: View, axes: readonly number[]): Storage {
    const outDtype = op === "any" || op === "all" ? "bool" : x.dtype;
    const keptSize = numel(x.shape.filter((_, d) => !axes.includes(d)));
    if (numel(x.shape) === 0) return this.fill(keptSize, REDUCE_INIT[op], outDtype);
    if (axes.length === 0) return this.cast(x, outDtype);
    return this.#run(outDtype, () => {
      const t = this.#view(x);
      const out = reducers[op](t, [...axes]);
      if ((op !== "max" && op !== "min") || t.dtype !== "float32" || NAN_PROPAGATING_REDUCTIONS.has(this.tfBackend)) {
        return out;
      }
      return tf.where(tf.any(tf.isNaN(t), [...axes]), tf.scalar(NaN), out);
    });
  }

  argReduce(op: ArgReduceOp, x: View, axis: number): Storage {
    const keptSize = numel(x.shape.filter((_, d) => d !== axis));
    if (keptSize === 0 || x.shape[axis] === 0) return this.fill(keptSize, 0, "int32");
    return this.#run("int32", () => {
      let t = this.#view(x);
      if (t.dtype === "bool") t = tf.cast(t, "int32");
      const best = op === "argmax" ? tf.argMax(t, axis) : tf.argMin(t, axis);
      if (t.dtype !== "float32") return best;
      // NaN wins, and the first NaN along the axis is the one reported, as in PyTorch.
      const nan = tf.isNaN(t);
      return tf.where(tf.any(nan, axis), tf.argMax(tf.cast(nan, "int32"), axis), best);
    });
  }

  matmul(a: View, b: View): Storage {
    const [batch, m, k] = a.shape;
    const n = b.shape[2];
    if (k === 0) return this.fill(batch * m * n, 0, a.dtype);
    if (batch * m * n === 0) return this.fill(0, 0, a.dtype);
    return this.#run(a.dtype, () => {
      const [ta, transposeA] = this.#matrix(a);
      const [tb, transposeB] = this.#matrix(b);
      // tfjs-wasm multiplies float32 only; int32 goes through float32 there (exact below 2^24).
      if (ta.dtype === "int32" && this.tfBackend !== "cpu") {
        const product = tf.matMul(tf.cast(ta, "float32"), tf.cast(tb, "float32"), transposeA, transposeB);
        return tf.cast(tf.round(product), "int32");
      }
      return tf.matMul(ta, this.#matmulWeights(tb, transposeB), transposeA, transposeB);
    });
  }

  /**
   * `b` as tfjs-wasm's matMul may take it. tfjs-wasm caches its packed copy
   * of `b` under the data's id, whatever the shape: a storage multiplied as
   * [1, 4, 1] and later as [1, 1, 4] (a vector in forward and backward) would
   * reuse the stale packing. Each data id keeps its first geometry; another
   * geometry gets a copy with an id of its own.
   */
  #matmulWeights(b: tf.Tensor, transposed: boolean): tf.Tensor {
    if (this.tfBackend !== "wasm") return b;
    const geometry = `${b.shape.join(",")}|${transposed}`;
    const first = this.#wasmPackings.get(b.dataId);
    if (first === undefined) this.#wasmPackings.set(b.dataId, geometry);
    return first === undefined || first === geometry ? b : tf.mul(b, tf.scalar(1, b.dtype));
  }

  /**
   * A [B, R, C] operand for tf.matMul: a view whose last two dims are a
   * transposed contiguous matrix is read as that matrix, with the transpose
   * left to matMul, instead of being copied into row-major order.
   */
  #matrix(x: View): [tf.Tensor, boolean] {
    const r = x.shape.length;
    if (!isContiguous(x.shape, x.strides)) {
      const swapped = {
        ...x,
        shape: [...x.shape.slice(0, r - 2), x.shape[r - 1], x.shape[r - 2]],
        strides: [...x.strides.slice(0, r - 2), x.strides[r - 1], x.strides[r - 2]],
      };
      const inner = { shape: swapped.shape.slice(r - 2), strides: swapped.strides.slice(r - 2) };
      if (isContiguous(inner.shape, inner.strides)) return [this.#view(swapped), true];
    }
    return [this.#view(x), false];
  }

  gather(x: View, index: View): Storage {
    const size = numel(x.shape);
    if (numel(index.shape) === 0) return this.fill(0, 0, x.dtype);
    return this.#run(x.dtype, () => {
      const flat = tf.reshape(this.#view(x), [-1]);
      return tf.gather(flat, this.#positions(index, size));
    });
  }

  /** The index view as flat int32 positions, clamped into [0, size) so no read or write leaves the storage. */
  #positions(index: View, size: number): tf.Tensor {
    const p = tf.reshape(castTensor(this.#view(index), "int32"), [-1]);
    return clampInt(p, 0, Math.max(size - 1, 0));
  }

  scatter(dst: View, index: View, src: Operand, accumulate: boolean): void {
    this.#checkActive();
    const count = numel(index.shape);
    const size = numel(dst.shape);
    if (count === 0 || size === 0) return;
    const storage = storageOf(dst);
    const tfDtype = TF_DTYPE[dst.dtype];
    const next = tf.tidy(() => {
      const positions = this.#positions(index, size);
      const offsets = isContiguous(dst.shape, dst.strides)
        ? tf.add(positions, tf.scalar(dst.offset, "int32"))
        : tf.gather(tf.tensor1d(this.#offsets.offsets(dst.shape, dst.strides, dst.offset), "int32"), positions);
      const at = tf.reshape(offsets, [count, 1]);
      const values = typeof src === "number"
        ? tf.fill([count], storedValue(src, dst.dtype), tfDtype)
        : tf.reshape(castTensor(this.#view(src), tfDtype), [-1]);
      const old = storage.tensor;
      if (!accumulate) return tf.tensorScatterUpdate(this.#scatterTarget(old), at, values);
      // scatterND sums repeated positions, which is what accumulate means.
      if (tfDtype !== "bool") return tf.add(old, tf.scatterND(at, values, [storage.size]));
      const sums = tf.add(tf.cast(old, "int32"), tf.scatterND(at, tf.cast(values, "int32"), [storage.size]));
      return toBool(sums);
    });
    storage.replace(next);
  }
}

/**
 * A kernel's result as a new storage's tensor: flat, of `dtype`'s tfjs type,
 * and never another storage's own tensor (an identity kernel returns its
 * input; a reshape is a new tensor sharing the data, which tfjs counts).
 */
function asStorageTensor(t: tf.Tensor, dtype: DType): tf.Tensor {
  const c = castTensor(t, TF_DTYPE[dtype]);
  return c.rank === 1 && !storageTensors.has(c) ? c : tf.reshape(c, [-1]);
}

/** A number as a typed array of `dtype` stores it: int32 wraps as C's cast does, bool is nonzero. */
function storedValue(value: number, dtype: DType): number {
  return dtype === "bool" ? (value !== 0 ? 1 : 0) : dtype === "int32" ? value | 0 : value;
}

/** True when every view operand is dense over `shape` (scalars broadcast in any case), and some is a view. */
function allDense(shape: Shape, ...operands: Operand[]): boolean {
  let views = 0;
  for (const x of operands) {
    if (typeof x === "number") continue;
    if (!isDense(x, shape)) return false;
    views++;
  }
  return views > 0;
}

/** `t` stretched to `shape` when tfjs's broadcasting left it smaller. */
function broadcastTo(t: tf.Tensor, shape: Shape): tf.Tensor {
  if (t.shape.length === shape.length && t.shape.every((s, i) => s === shape[i])) return t;
  return tf.broadcastTo(t, shape as number[]);
}

/** tfjs's read-back as the typed array of a Flint dtype, in a new array the caller owns. */
function toDataArray(values: tf.TypedArray | string[], dtype: DType): DataArray {
  if (dtype === "float64") return Float64Array.from(values as Float32Array);
  if (dtype === "float32") return Float32Array.from(values as Float32Array);
  if (dtype === "int32") return Int32Array.from(values as Int32Array);
  return Uint8Array.from(values as Uint8Array);
}
