// Making tensors: from data, filled, ranges, and random from a seeded
// generator that reproduces PyTorch's CPU generator (so `manualSeed(0)`
// followed by `randn(3)` gives PyTorch's numbers on every device).

import {
  allocArray,
  type DataArray,
  type DType,
  dtypeOfArray,
  formatShape,
  isFloatingPoint,
  numel,
  type Shape,
} from "@flint/backend";
import { type Device, device as toDevice, getDefaultDevice } from "../device.ts";
import { defaultGenerator } from "../default_generator.ts";
import type { Generator } from "../generator.ts";
import { stateOf, Tensor } from "../tensor.ts";
import type { CreationOptions, NestedArray } from "../types.ts";
import { checkDType, fromStorage } from "./_core.ts";

/** Size arguments: `(2, 3)`, `([2, 3])`, either followed by an options object. */
export type SizeArgs<O = CreationOptions> =
  | number[]
  | [...number[], O]
  | [readonly number[]]
  | [readonly number[], O];

/** Options of random creation: the creation options and a generator. */
export interface RandomOptions extends CreationOptions {
  /** the generator to draw from; the default one when absent */
  generator?: Generator;
}

/** Splits size arguments into a checked shape and the options. */
export function parseSizeArgs<O extends object>(args: readonly unknown[]): { shape: number[]; options: O } {
  let options = {} as O;
  let rest = args;
  const last = args[args.length - 1];
  if (last !== null && typeof last === "object" && !Array.isArray(last)) {
    options = last as O;
    rest = args.slice(0, -1);
  }
  const shape = rest.length === 1 && Array.isArray(rest[0]) ? [...(rest[0] as number[])] : [...(rest as number[])];
  checkShape(shape);
  const dtype = (options as CreationOptions).dtype;
  if (dtype !== undefined) checkDType(dtype);
  return { shape, options };
}

/** Checks that every size is a non-negative integer. */
export function checkShape(shape: readonly unknown[]): asserts shape is number[] {
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isInteger(d)) {
      throw new TypeError(`sizes must be integers, but got ${JSON.stringify(shape)}`);
    }
    if (d < 0) {
      throw new RangeError(`Trying to create tensor with negative dimension ${d}: ${formatShape(shape as number[])}`);
    }
  }
}

function resolveDevice(options: CreationOptions): Device {
  return options.device === undefined ? getDefaultDevice() : toDevice(options.device);
}

/** Applies `requiresGrad` to a new tensor, refusing integer dtypes as PyTorch does. */
function finish(t: Tensor, options: CreationOptions): Tensor {
  if (options.requiresGrad) {
    if (!isFloatingPoint(t.dtype)) {
      throw new TypeError(
        `Only Tensors of floating point and complex dtype can require gradients (got dtype ${t.dtype})`,
      );
    }
    stateOf(t).requiresGrad = true;
  }
  return t;
}

/**
 * Moves a host array onto the options' device as a new tensor. Only a
 * `shared` array (fromArray's, the caller's own) is adopted where the backend
 * can: the CPU backend then leaves it where the caller sees it, outside its
 * kernels' memory, and a WebAssembly kernel copies it in on every use. An
 * array made here (random draws, a flattened list) is uploaded instead, once.
 */
function fromHost(data: DataArray, shape: Shape, dtype: DType, options: CreationOptions, shared = false): Tensor {
  checkDType(dtype);
  const dev = resolveDevice(options);
  const backend = dev.backend;
  const storage = shared && backend.adopt ? backend.adopt(data, dtype) : backend.upload(data, dtype);
  return finish(fromStorage(dev, storage, shape, dtype), options);
}

// ---- from data ----

function inferShape(data: NestedArray, shape: number[] = []): number[] {
  if (!Array.isArray(data)) return shape;
  shape.push(data.length);
  if (data.length > 0) inferShape(data[0], shape);
  return shape;
}

function flatten(
  data: NestedArray,
  shape: readonly number[],
  depth: number,
  out: number[],
  hasFloat: { value: boolean },
): void {
  if (depth === shape.length) {
    if (Array.isArray(data)) throw new RangeError(`too many dimensions: expected ${shape.length}, got a nested array`);
    if (typeof data === "boolean") out.push(data ? 1 : 0);
    else if (typeof data === "number") {
      out.push(data);
      hasFloat.value = true;
    } else throw new TypeError(`tensor data must be numbers or booleans, got ${typeof data}`);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    const got = Array.isArray(data) ? data.length : "a scalar";
    throw new RangeError(`expected sequence of length ${shape[depth]} at dim ${depth} (got ${got})`);
  }
  for (const item of data) flatten(item, shape, depth + 1, out, hasFloat);
}

function firstLeaf(data: NestedArray): NestedArray {
  return Array.isArray(data) && data.length > 0 ? firstLeaf(data[0]) : data;
}

/** Any typed array a user may bring. */
export type TypedArrayInput =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Uint8ClampedArray
  | Uint32Array
  | BigInt64Array;

/** Converts any supported typed array into a Flint dtype's array, checking int ranges. */
export function typedArrayToDType(data: TypedArrayInput, dtype: DType): DataArray {
  if (dtypeOfArray(data) === dtype && !(data instanceof Uint8ClampedArray)) return data as DataArray;
  const out = allocArray(dtype, data.length);
  if (data instanceof BigInt64Array) {
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (dtype === "int32" && (v > 2147483647n || v < -2147483648n)) {
        throw new RangeError(`int64 value ${v} at position ${i} does not fit in int32, Flint's integer type`);
      }
      out[i] = dtype === "bool" ? (v !== 0n ? 1 : 0) : Number(v);
    }
    return out;
  }
  if (dtype === "int32" && data instanceof Uint32Array) {
    for (let i = 0; i < data.length; i++) {
      if (data[i] > 2147483647) throw new RangeError(`uint32 value ${data[i]} at position ${i} does not fit in int32`);
    }
  }
  if (dtype === "bool") { for (let i = 0; i < data.length; i++) out[i] = data[i] !== 0 ? 1 : 0; }
  else out.set(data as ArrayLike<number>);
  return out;
}

function defaultDTypeOfArray(data: TypedArrayInput): DType {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  if (data instanceof Uint8Array && !(data instanceof Uint8ClampedArray)) return "bool";
  return "int32";
}

/**
 * A tensor holding a copy of `data`: a number, nested arrays of numbers or
 * booleans, or a typed array. JS has one number type, so numbers give the
 * default dtype float32 (pass `{ dtype: "int32" }` for indices and labels);
 * booleans give bool; typed arrays keep their type (Int8/16, Uint16/32 and
 * BigInt64 become int32, with a range check).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.tensor([[1, 2], [3, 4]]);
 * console.log(x.shape, x.dtype); // [2, 2] float32
 * const labels = torch.tensor([0, 2, 1], { dtype: "int32" });
 * console.log(String(labels)); // tensor([0, 2, 1], dtype=torch.int32)
 * ```
 */
export function tensor(data: NestedArray | TypedArrayInput | Tensor, options: CreationOptions = {}): Tensor {
  if (options.dtype !== undefined) checkDType(options.dtype);
  if (data instanceof Tensor) {
    const dtype = options.dtype ?? data.dtype;
    const copy = data.detach().to({ dtype, device: options.device ?? data.device, copy: true });
    return finish(copy, options);
  }
  if (ArrayBuffer.isView(data)) {
    const dtype = options.dtype ?? defaultDTypeOfArray(data as TypedArrayInput);
    const converted = typedArrayToDType(data as TypedArrayInput, dtype);
    const copy = converted === (data as unknown) ? converted.slice() : converted;
    return fromHost(copy, [data.length], dtype, options);
  }
  const shape = inferShape(data as NestedArray);
  const values: number[] = [];
  const hasFloat = { value: false };
  flatten(data as NestedArray, shape, 0, values, hasFloat);
  const leaf = firstLeaf(data as NestedArray);
  const dtype = options.dtype ?? (typeof leaf === "boolean" && !hasFloat.value ? "bool" : "float32");
  const array = allocArray(dtype, values.length);
  if (dtype === "int32") {
    for (let i = 0; i < values.length; i++) {
      if (!Number.isInteger(values[i])) throw new TypeError(`int32 tensor data must be integers, got ${values[i]}`);
    }
  }
  if (dtype === "bool") { for (let i = 0; i < values.length; i++) array[i] = values[i] !== 0 ? 1 : 0; }
  else array.set(values);
  return fromHost(array, shape, dtype, options);
}

/**
 * A tensor over a typed array without copying it on the CPU (PyTorch's
 * `torch.from_numpy`): writes through either are seen by both. On other
 * devices the data is uploaded. `shape` defaults to the array's length.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const data = new Float32Array([1, 2, 3, 4]);
 * const x = torch.fromArray(data, [2, 2]);
 * data[0] = 10;
 * console.log(x.itemSync === undefined, x.index(0, 0).itemSync()); // false 10
 * ```
 */
export function fromArray(
  data: Float32Array | Float64Array | Int32Array | Uint8Array,
  shape: readonly number[] = [data.length],
  options: Omit<CreationOptions, "dtype"> = {},
): Tensor {
  const dtype = dtypeOfArray(data);
  if (dtype === undefined) {
    throw new TypeError("fromArray takes a Float32Array, Float64Array, Int32Array or Uint8Array");
  }
  checkShape(shape);
  if (numel(shape) !== data.length) {
    throw new RangeError(`shape ${formatShape(shape)} is invalid for an array of ${data.length} elements`);
  }
  return fromHost(data, shape, dtype, options, true);
}

// ---- filled ----

function filled(shape: number[], value: number, options: CreationOptions, dtype: DType): Tensor {
  checkDType(dtype);
  const dev = resolveDevice(options);
  return finish(fromStorage(dev, dev.backend.fill(numel(shape), value, dtype), shape, dtype), options);
}

/**
 * A tensor of zeros: `zeros(2, 3)` or `zeros([2, 3], { dtype: "int32" })`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(String(torch.zeros(2, 2))); // tensor([[0., 0.],\n        [0., 0.]])
 * ```
 */
export function zeros(...args: SizeArgs): Tensor {
  const { shape, options } = parseSizeArgs<CreationOptions>(args);
  return filled(shape, 0, options, options.dtype ?? "float32");
}

/**
 * A tensor of ones.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(String(torch.ones(3))); // tensor([1., 1., 1.])
 * ```
 */
export function ones(...args: SizeArgs): Tensor {
  const { shape, options } = parseSizeArgs<CreationOptions>(args);
  return filled(shape, 1, options, options.dtype ?? "float32");
}

/**
 * A tensor filled with `value` (Flint has no uninitialised memory: `empty` is
 * `zeros`).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(String(torch.empty(2))); // tensor([0., 0.])
 * ```
 */
export function empty(...args: SizeArgs): Tensor {
  return zeros(...args);
}

/**
 * A tensor of `shape` filled with `value`; the dtype follows the value (bool
 * for booleans, float32 for numbers) unless given.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(String(torch.full([2], 7))); // tensor([7., 7.])
 * ```
 */
export function full(shape: readonly number[], value: number | boolean, options: CreationOptions = {}): Tensor {
  checkShape(shape);
  const dtype = options.dtype ?? (typeof value === "boolean" ? "bool" : "float32");
  return filled([...shape], Number(value), options, dtype);
}

function likeOptions(x: Tensor, options: CreationOptions): CreationOptions {
  return { dtype: options.dtype ?? x.dtype, device: options.device ?? x.device, requiresGrad: options.requiresGrad };
}

/**
 * Zeros of `x`'s shape, dtype and device.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(torch.zerosLike(torch.ones(2, 3)).shape); // [2, 3]
 * ```
 */
export function zerosLike(x: Tensor, options: CreationOptions = {}): Tensor {
  const o = likeOptions(x, options);
  return filled([...x.shape], 0, o, o.dtype!);
}

/**
 * Ones of `x`'s shape, dtype and device.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(String(torch.onesLike(torch.zeros(2)))); // tensor([1., 1.])
 * ```
 */
export function onesLike(x: Tensor, options: CreationOptions = {}): Tensor {
  const o = likeOptions(x, options);
  return filled([...x.shape], 1, o, o.dtype!);
}

/**
 * `value` in `x`'s shape, dtype and device.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(String(torch.fullLike(torch.zeros(2), 3))); // tensor([3., 3.])
 * ```
 */
export function fullLike(x: Tensor, value: number, options: CreationOptions = {}): Tensor {
  const o = likeOptions(x, options);
  return filled([...x.shape], value, o, o.dtype!);
}

/**
 * Zeros in `x`'s shape, as `torch.empty_like`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(torch.emptyLike(torch.ones(4)).shape); // [4]
 * ```
 */
export function emptyLike(x: Tensor, options: CreationOptions = {}): Tensor {
  return zerosLike(x, options);
}

// ---- ranges ----

/**
 * Values from `start` up to (not including) `end` by `step`: `arange(5)`,
 * `arange(1, 4)`, `arange(0, 1, 0.25)`. Integer arguments give int32 (as
 * PyTorch gives int64), any fraction gives float32.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(String(torch.arange(4))); // tensor([0, 1, 2, 3], dtype=torch.int32)
 * console.log(String(torch.arange(0, 1, 0.25))); // tensor([0.0000, 0.2500, 0.5000, 0.7500])
 * ```
 */
export function arange(
  startOrEnd: number,
  end?: number | CreationOptions,
  step?: number | CreationOptions,
  options: CreationOptions = {},
): Tensor {
  let start = 0, stop = startOrEnd, by = 1;
  if (typeof end === "object") options = end;
  else if (end !== undefined) {
    start = startOrEnd;
    stop = end;
    if (typeof step === "object") options = step;
    else if (step !== undefined) by = step;
  }
  for (const [name, v] of [["start", start], ["end", stop], ["step", by]] as const) {
    if (!Number.isFinite(v)) throw new RangeError(`unsupported range: ${name} = ${v}`);
  }
  if (by === 0) throw new RangeError("step must be nonzero");
  if ((stop - start) / by < 0) {
    throw new RangeError(
      `upper bound and larger bound inconsistent with step sign (start ${start}, end ${stop}, step ${by})`,
    );
  }
  const allInt = Number.isInteger(start) && Number.isInteger(stop) && Number.isInteger(by);
  const dtype = options.dtype ?? (allInt ? "int32" : "float32");
  const n = Math.ceil((stop - start) / by);
  const data = allocArray(dtype, n);
  for (let i = 0; i < n; i++) data[i] = start + i * by;
  return fromHost(data, [n], dtype, options);
}

/**
 * `steps` evenly spaced values from `start` to `end`, both included.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(String(torch.linspace(0, 1, 5))); // tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])
 * ```
 */
export function linspace(start: number, end: number, steps: number, options: CreationOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`number of steps must be non-negative, got ${steps}`);
  const dtype = options.dtype ?? "float32";
  const data = allocArray(dtype, steps);
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  // PyTorch fills from both ends so the last value is exactly `end`.
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) data[i] = i < half ? start + i * step : end - (steps - i - 1) * step;
  return fromHost(data, [steps], dtype, options);
}

/**
 * The identity matrix, `n × n` or `n × m`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(String(torch.eye(2))); // tensor([[1., 0.],\n        [0., 1.]])
 * ```
 */
export function eye(n: number, m?: number | CreationOptions, options: CreationOptions = {}): Tensor {
  let cols = n;
  if (typeof m === "object") options = m;
  else if (m !== undefined) cols = m;
  checkShape([n, cols]);
  const dtype = options.dtype ?? "float32";
  const data = allocArray(dtype, n * cols);
  for (let i = 0; i < Math.min(n, cols); i++) data[i * cols + i] = 1;
  return fromHost(data, [n, cols], dtype, options);
}

// ---- random ----

function floatArray(dtype: DType, n: number): Float32Array | Float64Array {
  if (dtype !== "float32" && dtype !== "float64") {
    throw new TypeError(`random floats need dtype float32 or float64, got ${dtype}`);
  }
  return allocArray(dtype, n);
}

/**
 * Uniform samples from [0, 1), as PyTorch draws them: after
 * `torch.manualSeed(s)` the values equal `torch.rand` in PyTorch.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * torch.manualSeed(0);
 * console.log(String(torch.rand(3))); // tensor([0.4963, 0.7682, 0.0885])
 * ```
 */
export function rand(...args: SizeArgs<RandomOptions>): Tensor {
  const { shape, options } = parseSizeArgs<RandomOptions>(args);
  const data = floatArray(options.dtype ?? "float32", numel(shape));
  (options.generator ?? defaultGenerator).uniform(data, 0, 1);
  return fromHost(data, shape, options.dtype ?? "float32", options);
}

/**
 * Standard normal samples, equal to PyTorch's `torch.randn` after the same
 * `manualSeed`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * torch.manualSeed(0);
 * console.log(String(torch.randn(3))); // tensor([ 1.5410, -0.2934, -2.1788])
 * ```
 */
export function randn(...args: SizeArgs<RandomOptions>): Tensor {
  const { shape, options } = parseSizeArgs<RandomOptions>(args);
  const data = floatArray(options.dtype ?? "float32", numel(shape));
  (options.generator ?? defaultGenerator).normal(data, 0, 1);
  return fromHost(data, shape, options.dtype ?? "float32", options);
}

/**
 * Random integers in `[low, high)`: `randint(10, [5])` or
 * `randint(-5, 5, [2, 3])`; int32 unless a dtype is given.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * torch.manualSeed(0);
 * console.log(String(torch.randint(0, 10, [5]))); // tensor([4, 9, 3, 0, 3], dtype=torch.int32)
 * ```
 */
export function randint(high: number, size: readonly number[], options?: RandomOptions): Tensor;
/** Random integers in `[low, high)` of shape `size`. */
export function randint(low: number, high: number, size: readonly number[], options?: RandomOptions): Tensor;
export function randint(
  a: number,
  b: number | readonly number[],
  c?: readonly number[] | RandomOptions,
  d?: RandomOptions,
): Tensor {
  const [low, high, size, options] = typeof b === "number"
    ? [a, b, c as readonly number[], d ?? {}]
    : [0, a, b, (c as RandomOptions | undefined) ?? {}];
  checkShape(size);
  if (!(low < high)) {
    throw new RangeError(`random_ expects 'from' to be less than 'to', but got from=${low} >= to=${high}`);
  }
  const dtype = options.dtype ?? "int32";
  const data = allocArray(dtype, numel(size));
  if (dtype === "bool") throw new TypeError("randint cannot make bool tensors");
  (options.generator ?? defaultGenerator).randint(data as Int32Array | Float32Array | Float64Array, low, high);
  return fromHost(data, [...size], dtype, options);
}

/**
 * A random permutation of `0..n-1`, as `torch.randperm`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * torch.manualSeed(0);
 * console.log(String(torch.randperm(4)).startsWith("tensor([")); // true
 * ```
 */
export function randperm(n: number, options: RandomOptions = {}): Tensor {
  checkShape([n]);
  const perm = (options.generator ?? defaultGenerator).randperm(n);
  const dtype = options.dtype ?? "int32";
  const data = dtype === "int32" ? perm : typedArrayToDType(perm, dtype);
  return fromHost(data, [n], dtype, options);
}

/**
 * Uniform samples in `x`'s shape, dtype and device.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(torch.randLike(torch.zeros(2, 2)).shape); // [2, 2]
 * ```
 */
export function randLike(x: Tensor, options: RandomOptions = {}): Tensor {
  return rand([...x.shape], { ...likeOptions(x, options), generator: options.generator });
}

/**
 * Normal samples in `x`'s shape, dtype and device.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(torch.randnLike(torch.zeros(3)).shape); // [3]
 * ```
 */
export function randnLike(x: Tensor, options: RandomOptions = {}): Tensor {
  return randn([...x.shape], { ...likeOptions(x, options), generator: options.generator });
}

/**
 * Seeds the default generator (PyTorch's `torch.manual_seed`) and returns it.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * torch.manualSeed(42);
 * const a = torch.rand(2).tolistSync();
 * torch.manualSeed(42);
 * console.log(JSON.stringify(torch.rand(2).tolistSync()) === JSON.stringify(a)); // true
 * ```
 */
export function manualSeed(seed: number | bigint): Generator {
  return defaultGenerator.manualSeed(seed);
}
