// The CPU backend: storages are typed arrays, kernels are TypeScript loops.
// It is the living definition of every op's semantics that the other
// backends are tested against.

import {
  allocArray,
  type ArgReduceOp,
  type Backend,
  BINARY_OP_KIND,
  type BinaryOp,
  contiguousStrides,
  type DataArray,
  type DType,
  type FusedKernels,
  isContiguous,
  type MemoryInfo,
  numel,
  type Operand,
  type ReduceOp,
  type Shape,
  type Storage,
  UNARY_OP_INFO,
  type UnaryOp,
  type View,
} from "@flint/backend";
import { convKernels } from "./conv.ts";
import { binaryKernels, copyRow, copyRowToBool, int32BinaryKernels, unaryKernels, whereRow } from "./elementwise.ts";
import { matmul } from "./matmul.ts";
import { poolKernels } from "./pool.ts";
import { argReduceInto, reduceInto } from "./reduce.ts";
import { CpuStorage, dataOf, MemoryLedger } from "./storage.ts";
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

/** Options for {@linkcode CpuBackend}. */
export interface CpuBackendOptions {
  /** the device name tensors report; "cpu" unless you run two CPU backends side by side */
  readonly name?: string;
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
 * console.log(cpu.readSync({ ...view, storage: doubled })); // Float32Array [2, 4, 6]
 * ```
 */
export class CpuBackend implements Backend {
  readonly name: string;
  readonly canReadSync = true;
  readonly fused: Partial<FusedKernels> = {
    ...convKernels((data, dtype) => this.#wrap(data, dtype)),
    ...poolKernels((data, dtype) => this.#wrap(data, dtype)),
  };
  readonly #ledger = new MemoryLedger();

  /** Creates a CPU backend. */
  constructor(options: CpuBackendOptions = {}) {
    this.name = options.name ?? "cpu";
  }

  #wrap(data: DataArray, dtype: DType): CpuStorage {
    return new CpuStorage(data, dtype, this.#ledger);
  }

  upload(data: DataArray, dtype: DType): Storage {
    const copy = allocArray(dtype, data.length);
    copy.set(data);
    return this.#wrap(copy, dtype);
  }

  adopt(data: DataArray, dtype: DType): Storage {
    return this.#wrap(data, dtype);
  }

  read(x: View): Promise<DataArray> {
    return Promise.resolve(this.readSync(x));
  }

  readSync(x: View): DataArray {
    return this.#materialize(x, x.dtype);
  }

  dispose(storage: Storage): void {
    if (storage instanceof CpuStorage) storage.dispose();
  }

  memory(): MemoryInfo {
    return this.#ledger.info();
  }

  fill(size: number, value: number, dtype: DType): Storage {
    const out = allocArray(dtype, size);
    if (value !== 0) out.fill(dtype === "bool" ? (value !== 0 ? 1 : 0) : value);
    return this.#wrap(out, dtype);
  }

  cast(x: View, dtype: DType): Storage {
    return this.#wrap(this.#materialize(x, dtype), dtype);
  }

  /** The view's elements in a new row-major array of `dtype`, outside the ledger. */
  #materialize(x: View, dtype: DType): DataArray {
    const src = dataOf(x);
    const n = numel(x.shape);
    if (x.dtype === dtype && isContiguous(x.shape, x.strides)) return src.slice(x.offset, x.offset + n);
    const out = allocArray(dtype, n);
    this.#copyStrided(x.shape, src, x.strides, x.offset, out, contiguousStrides(x.shape), 0, dtype);
    return out;
  }

  copy(dst: View, src: Operand): void {
    const out = dataOf(dst);
    const s = resolve(src, dst.shape.length);
    this.#copyStrided(dst.shape, s.data, s.strides, s.offset, out, dst.strides, dst.offset, dst.dtype);
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
    const outDtype = UNARY_OP_INFO[op].out === "bool" ? "bool" : x.dtype;
    const out = allocArray(outDtype, numel(x.shape));
    const kernel = unaryKernels[op];
    const src = dataOf(x);
    const plan = planRows(x.shape, [x.strides, contiguousStrides(x.shape)]);
    const xs = plan.rowStrides[0];
    const n = plan.rowLength;
    walkRows(plan, [x.offset, 0], (o) => kernel(src, o[0], xs, out, o[1], n));
    return this.#wrap(out, outDtype);
  }

  binary(op: BinaryOp, a: Operand, b: Operand, shape: Shape, dtype: DType): Storage {
    const outDtype = BINARY_OP_KIND[op] === "arith" ? dtype : "bool";
    const out = allocArray(outDtype, numel(shape));
    const kernel = (dtype === "int32" ? int32BinaryKernels[op] : undefined) ?? binaryKernels[op];
    const ra = resolve(a, shape.length);
    const rb = resolve(b, shape.length);
    const plan = planRows(shape, [ra.strides, rb.strides, contiguousStrides(shape)]);
    const [as, bs] = plan.rowStrides;
    const n = plan.rowLength;
    walkRows(plan, [ra.offset, rb.offset, 0], (o) => kernel(ra.data, o[0], as, rb.data, o[1], bs, out, o[2], n));
    return this.#wrap(out, outDtype);
  }

  where(cond: View, a: Operand, b: Operand, shape: Shape, dtype: DType): Storage {
    const out = allocArray(dtype, numel(shape));
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
    return this.#wrap(out, dtype);
  }

  reduce(op: ReduceOp, x: View, axes: readonly number[]): Storage {
    const outDtype = op === "any" || op === "all" ? "bool" : x.dtype;
    const kept = x.shape.filter((_, d) => !axes.includes(d));
    const out = allocArray(outDtype, numel(kept));
    reduceInto(op, x, dataOf(x), axes, out);
    return this.#wrap(out, outDtype);
  }

  argReduce(op: ArgReduceOp, x: View, axis: number): Storage {
    const kept = x.shape.filter((_, d) => d !== axis);
    const out = new Int32Array(numel(kept));
    argReduceInto(op, x, dataOf(x), axis, out);
    return this.#wrap(out, "int32");
  }

  matmul(a: View, b: View): Storage {
    return this.#wrap(matmul(a, dataOf(a), b, dataOf(b), a.dtype), a.dtype);
  }

  gather(x: View, index: View): Storage {
    const src = dataOf(x);
    const positions = this.#materialize(index, "int32") as Int32Array;
    const size = numel(x.shape);
    checkPositions(positions, size);
    const out = allocArray(x.dtype, positions.length);
    if (isContiguous(x.shape, x.strides)) {
      for (let i = 0; i < positions.length; i++) out[i] = src[x.offset + positions[i]];
    } else {
      const offsets = storageOffsets(x.shape, x.strides, x.offset, positions);
      for (let i = 0; i < offsets.length; i++) out[i] = src[offsets[i]];
    }
    return this.#wrap(out, x.dtype);
  }

  scatter(dst: View, index: View, src: Operand, accumulate: boolean): void {
    const out = dataOf(dst);
    const positions = this.#materialize(index, "int32") as Int32Array;
    checkPositions(positions, numel(dst.shape));
    const offsets = isContiguous(dst.shape, dst.strides)
      ? Float64Array.from(positions, (p) => dst.offset + p)
      : storageOffsets(dst.shape, dst.strides, dst.offset, positions);
    const values = typeof src === "number" ? undefined : this.#materialize(src, dst.dtype);
    const toBool = dst.dtype === "bool";
    for (let i = 0; i < offsets.length; i++) {
      const v = values === undefined ? (src as number) : values[i];
      const next = accumulate ? out[offsets[i]] + v : v;
      out[offsets[i]] = toBool ? (next !== 0 ? 1 : 0) : next;
    }
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
