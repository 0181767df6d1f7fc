// Tensor: the user-facing object. Its methods are thin: each names the op
// module that does the work, so this file reads as the API's table of contents.

import type { DType } from "@flint/backend";
import { formatShape, isContiguous, numel } from "@flint/backend";
import type { Device, DeviceLike } from "./device.ts";
import type { GradHook, Node, RemovableHandle } from "./engine.ts";
import { formatTensor } from "./format.ts";
import type { Generator } from "./generator.ts";
import * as autogradApi from "./ops/autograd_api.ts";
import * as convert from "./ops/convert.ts";
import * as ew from "./ops/elementwise.ts";
import * as idx from "./ops/indexing.ts";
import * as inplace from "./ops/inplace.ts";
import * as linalg from "./ops/linalg.ts";
import * as red from "./ops/reduction.ts";
import * as shp from "./ops/shape.ts";
import * as views from "./ops/views.ts";
import type { TensorState } from "./state.ts";
import { trackTensor, untrackTensor } from "./storage_ref.ts";
import type {
  BackwardOptions,
  ClampOptions,
  DivOptions,
  IndexPutOptions,
  IndexSpec,
  NestedArray,
  ReduceOptions,
  ToOptions,
  ValuesIndices,
  VarOptions,
} from "./types.ts";

/** A dimension list: one dim or several. */
export type Dims = number | readonly number[];

// Collected tensors release their storage: users never have to dispose.
const finalizer = new FinalizationRegistry<TensorState>((s) => {
  if (!s.disposed) {
    s.disposed = true;
    s.ref.release();
    untrackTensor(s.ref.device);
  }
});

const internalStates = new WeakSet<object>();
function isInternalState(state: unknown): state is TensorState {
  return typeof state === "object" && state !== null && internalStates.has(state);
}

let stateOfTensor: (t: Tensor) => TensorState;
let createTensor: (s: TensorState) => Tensor;

/** Internal: the state behind a tensor, for autograd's own ops. */
export function stateOf(t: Tensor): TensorState {
  return stateOfTensor(t);
}

/** Internal: wraps a state (whose ref the caller has not retained yet) as a tensor. */
export function wrapState(s: TensorState): Tensor {
  internalStates.add(s);
  return createTensor(s);
}

/** Internal: marks a state as made by autograd, so a Tensor subclass may be built on it. */
export function sealState(s: TensorState): TensorState {
  internalStates.add(s);
  return s;
}

/**
 * A multi-dimensional array on a device, with autograd: PyTorch's
 * `torch.Tensor`. Make one with `torch.tensor`, `torch.zeros`, `torch.randn`
 * and friends; ops return new tensors, and those ending in `_` work in place.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.tensor([[1, 2], [3, 4]], { requiresGrad: true });
 * const y = x.mul(x).sum();
 * y.backward();
 * console.log(String(x.grad)); // tensor([[2., 4.],\n        [6., 8.]])
 * ```
 */
export class Tensor {
  readonly #s: TensorState;

  /**
   * Tensors are made by `torch.tensor`, `torch.zeros` and the ops, never with
   * `new Tensor`; the argument is internal state only autograd can produce.
   */
  protected constructor(state: unknown) {
    if (!isInternalState(state)) throw new TypeError("use torch.tensor(...) or torch.zeros(...) to make a tensor");
    this.#s = state;
    state.ref.retain();
    trackTensor(this, state.ref.device);
    finalizer.register(this, state, state);
  }

  static {
    stateOfTensor = (t) => {
      const s = t.#s;
      if (s.disposed) {
        throw new ReferenceError(
          `Tensor was disposed: a tensor of shape ${formatShape(s.shape)} and dtype ${s.dtype} ` +
            `cannot be used after dispose() or the end of its torch.scope()`,
        );
      }
      return s;
    };
    createTensor = (s) => new Tensor(s);
  }

  // ---- what it is ----

  /** The sizes of each dimension, as `tensor.shape`. */
  get shape(): readonly number[] {
    return this.#s.shape;
  }
  /** The element type. */
  get dtype(): DType {
    return this.#s.dtype;
  }
  /** The device the elements live on. */
  get device(): Device {
    return this.#s.ref.device;
  }
  /** Number of dimensions. */
  get ndim(): number {
    return this.#s.shape.length;
  }
  /** Number of dimensions, as `tensor.dim()`. */
  dim(): number {
    return this.#s.shape.length;
  }
  /** Number of elements. */
  numel(): number {
    return numel(this.#s.shape);
  }
  /** The shape, or the size of one dim (negative dims count from the end). */
  size(): readonly number[];
  /** The size of one dim (negative dims count from the end). */
  size(dim: number): number;
  size(dim?: number): number | readonly number[] {
    return dim === undefined ? this.#s.shape : this.#s.shape[views.normalizeDim(dim, this.ndim)];
  }
  /** The strides, in elements, or the stride of one dim. */
  stride(): readonly number[];
  /** The stride of one dim, in elements. */
  stride(dim: number): number;
  stride(dim?: number): number | readonly number[] {
    return dim === undefined ? this.#s.strides : this.#s.strides[views.normalizeDim(dim, this.ndim)];
  }
  /** Position of the first element in the storage. */
  storageOffset(): number {
    return this.#s.offset;
  }
  /** True when the elements are laid out row-major without gaps. */
  isContiguous(): boolean {
    return isContiguous(this.#s.shape, this.#s.strides);
  }
  /** True for floating-point dtypes. */
  isFloatingPoint(): boolean {
    return this.#s.dtype === "float32" || this.#s.dtype === "float64";
  }
  /** The in-place version counter autograd checks, as `tensor._version`. */
  get version(): number {
    return this.#s.ref.version;
  }
  /** True once disposed (or released by a scope). */
  get isDisposed(): boolean {
    return this.#s.disposed;
  }

  // ---- autograd ----

  /** Whether autograd records ops on this tensor. Setting it only works on leaves. */
  get requiresGrad(): boolean {
    return this.#s.requiresGrad;
  }
  set requiresGrad(value: boolean) {
    autogradApi.setRequiresGrad(this, value);
  }
  /** Sets `requiresGrad` in place and returns this tensor. */
  requiresGrad_(requiresGrad = true): this {
    autogradApi.setRequiresGrad(this, requiresGrad);
    return this;
  }
  /** The gradient accumulated by `backward()`, or null. */
  get grad(): Tensor | null {
    return this.#s.grad;
  }
  set grad(value: Tensor | null) {
    autogradApi.setGrad(this, value);
  }
  /** The node that made this tensor, or null for leaves. */
  get gradFn(): Node | null {
    return views.currentGradFn(this);
  }
  /** True for tensors made by the user rather than by an op that records grad. */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }
  /** True when a non-leaf keeps its `.grad` (see `retainGrad`). */
  get retainsGrad(): boolean {
    return this.#s.retainsGrad;
  }
  /**
   * Computes the gradient of this tensor with respect to the leaves and adds
   * it into their `.grad`. A non-scalar needs `gradient` (same shape).
   */
  backward(gradient?: Tensor, options: BackwardOptions = {}): void {
    autogradApi.backward(this, gradient, options);
  }
  /** A tensor sharing this one's elements, cut off from the tape. */
  detach(): Tensor {
    return convert.detach(this);
  }
  /** Cuts this tensor off from the tape, in place. */
  detach_(): this {
    autogradApi.detachInPlace(this);
    return this;
  }
  /** Makes a non-leaf keep its `.grad` after backward. */
  retainGrad(): void {
    autogradApi.retainGrad(this);
  }
  /** Calls `hook(grad)` whenever this tensor's gradient is computed; it may return a replacement. */
  registerHook(hook: GradHook): RemovableHandle {
    return autogradApi.registerHook(this, hook);
  }

  // ---- reading ----

  /** The single value of a one-element tensor. Works on every device. */
  item(): Promise<number> {
    return convert.item(this);
  }
  /** `item()` without waiting, where the device can read synchronously (CPU). */
  itemSync(): number {
    return convert.itemSync(this);
  }
  /** The elements as nested arrays (a number for a 0-d tensor). */
  tolist(): Promise<NestedArray> {
    return convert.tolist(this);
  }
  /** `tolist()` without waiting, where the device can read synchronously. */
  tolistSync(): NestedArray {
    return convert.tolistSync(this);
  }
  /** The elements, row-major, in a new typed array. */
  data(): Promise<Float32Array | Float64Array | Int32Array | Uint8Array> {
    return convert.data(this);
  }
  /** `data()` without waiting, where the device can read synchronously. */
  dataSync(): Float32Array | Float64Array | Int32Array | Uint8Array {
    return convert.dataSync(this);
  }

  // ---- conversion and copies ----

  /** This tensor in another dtype and/or on another device (itself when nothing changes). */
  to(target: DType | DeviceLike | ToOptions): Tensor {
    return convert.to(this, target);
  }
  /** `to()` for moves that read asynchronously (from WebGPU to the CPU, say). */
  toAsync(target: DType | DeviceLike | ToOptions): Promise<Tensor> {
    return convert.toAsync(this, target);
  }
  /** As float32. */
  float(): Tensor {
    return convert.to(this, "float32");
  }
  /** As float64. */
  double(): Tensor {
    return convert.to(this, "float64");
  }
  /** As int32 (Flint's integer type; PyTorch's `long()` maps here). */
  int(): Tensor {
    return convert.to(this, "int32");
  }
  /** As int32: Flint keeps integers in int32, so `long()` is `int()`. */
  long(): Tensor {
    return convert.to(this, "int32");
  }
  /** As bool. */
  bool(): Tensor {
    return convert.to(this, "bool");
  }
  /** On the CPU device. */
  cpu(): Tensor {
    return convert.to(this, "cpu");
  }
  /** A copy with its own storage; gradients flow back to this tensor. */
  clone(): Tensor {
    return convert.clone(this);
  }
  /** This tensor if contiguous, else a contiguous copy. */
  contiguous(): Tensor {
    return convert.contiguous(this);
  }

  // ---- element-wise math ----

  /** `this + alpha * other`, broadcasting. */
  add(other: Tensor | number, options: { alpha?: number } = {}): Tensor {
    return ew.add(this, other, options);
  }
  /** `this - alpha * other`, broadcasting. */
  sub(other: Tensor | number, options: { alpha?: number } = {}): Tensor {
    return ew.sub(this, other, options);
  }
  /** `this * other`, broadcasting. */
  mul(other: Tensor | number): Tensor {
    return ew.mul(this, other);
  }
  /** `this / other` (true division), or rounded with `roundingMode`. */
  div(other: Tensor | number, options: DivOptions = {}): Tensor {
    return ew.div(this, other, options);
  }
  /** `this ** exponent`. */
  pow(exponent: Tensor | number): Tensor {
    return ew.pow(this, exponent);
  }
  /** Python's `%`: the remainder has the divisor's sign. */
  remainder(other: Tensor | number): Tensor {
    return ew.remainder(this, other);
  }
  /** `-this`. */
  neg(): Tensor {
    return ew.neg(this);
  }
  /** `|this|`. */
  abs(): Tensor {
    return ew.abs(this);
  }
  /** -1, 0 or 1 by sign. */
  sign(): Tensor {
    return ew.sign(this);
  }
  /** `e ** this`. */
  exp(): Tensor {
    return ew.exp(this);
  }
  /** `e ** this - 1`, accurate near 0. */
  expm1(): Tensor {
    return ew.expm1(this);
  }
  /** Natural logarithm. */
  log(): Tensor {
    return ew.log(this);
  }
  /** `log(1 + this)`, accurate near 0. */
  log1p(): Tensor {
    return ew.log1p(this);
  }
  /** Base-2 logarithm. */
  log2(): Tensor {
    return ew.log2(this);
  }
  /** Square root. */
  sqrt(): Tensor {
    return ew.sqrt(this);
  }
  /** `1 / sqrt(this)`. */
  rsqrt(): Tensor {
    return ew.rsqrt(this);
  }
  /** `1 / this`. */
  reciprocal(): Tensor {
    return ew.reciprocal(this);
  }
  /** `this * this`. */
  square(): Tensor {
    return ew.square(this);
  }
  /** Sine. */
  sin(): Tensor {
    return ew.sin(this);
  }
  /** Cosine. */
  cos(): Tensor {
    return ew.cos(this);
  }
  /** Tangent. */
  tan(): Tensor {
    return ew.tan(this);
  }
  /** Hyperbolic tangent. */
  tanh(): Tensor {
    return ew.tanh(this);
  }
  /** `1 / (1 + e ** -this)`. */
  sigmoid(): Tensor {
    return ew.sigmoid(this);
  }
  /** `max(this, 0)`. */
  relu(): Tensor {
    return ew.relu(this);
  }
  /** The error function. */
  erf(): Tensor {
    return ew.erf(this);
  }
  /** Rounds down. */
  floor(): Tensor {
    return ew.floor(this);
  }
  /** Rounds up. */
  ceil(): Tensor {
    return ew.ceil(this);
  }
  /** Rounds half to even. */
  round(): Tensor {
    return ew.round(this);
  }
  /** Rounds toward zero. */
  trunc(): Tensor {
    return ew.trunc(this);
  }
  /** Limits values to `[min, max]`: `clamp({ min: 0 })` or `clamp(0, 1)`. */
  clamp(min?: number | Tensor | ClampOptions | null, max?: number | Tensor | null): Tensor {
    return ew.clamp(this, min, max);
  }
  /** Element-wise maximum with `other`. */
  maximum(other: Tensor): Tensor {
    return ew.maximum(this, other);
  }
  /** Element-wise minimum with `other`. */
  minimum(other: Tensor): Tensor {
    return ew.minimum(this, other);
  }
  /** `this < other`, as bool. */
  lt(other: Tensor | number): Tensor {
    return ew.lt(this, other);
  }
  /** `this <= other`, as bool. */
  le(other: Tensor | number): Tensor {
    return ew.le(this, other);
  }
  /** `this > other`, as bool. */
  gt(other: Tensor | number): Tensor {
    return ew.gt(this, other);
  }
  /** `this >= other`, as bool. */
  ge(other: Tensor | number): Tensor {
    return ew.ge(this, other);
  }
  /** `this == other`, as bool. */
  eq(other: Tensor | number): Tensor {
    return ew.eq(this, other);
  }
  /** `this != other`, as bool. */
  ne(other: Tensor | number): Tensor {
    return ew.ne(this, other);
  }
  /** Logical not. */
  logicalNot(): Tensor {
    return ew.logicalNot(this);
  }
  /** Logical and. */
  logicalAnd(other: Tensor): Tensor {
    return ew.logicalAnd(this, other);
  }
  /** Logical or. */
  logicalOr(other: Tensor): Tensor {
    return ew.logicalOr(this, other);
  }
  /** Logical exclusive or. */
  logicalXor(other: Tensor): Tensor {
    return ew.logicalXor(this, other);
  }
  /** True where the element is NaN. */
  isnan(): Tensor {
    return ew.isnan(this);
  }
  /** `condition ? this : other`, as `tensor.where(condition, other)`. */
  where(condition: Tensor, other: Tensor | number): Tensor {
    return ew.where(condition, this, other);
  }
  /** This tensor with `value` where `mask` is true. */
  maskedFill(mask: Tensor, value: number | Tensor): Tensor {
    return ew.maskedFill(this, mask, value);
  }

  // ---- matrix products ----

  /** Matrix product with PyTorch's rules for 1-d, 2-d and batched operands. */
  matmul(other: Tensor): Tensor {
    return linalg.matmul(this, other);
  }
  /** Product of two matrices. */
  mm(other: Tensor): Tensor {
    return linalg.mm(this, other);
  }
  /** `beta * this + alpha * (mat1 · mat2)`, as `Tensor.addmm`. */
  addmm(mat1: Tensor, mat2: Tensor, options?: linalg.AddmmOptions): Tensor {
    return linalg.addmm(this, mat1, mat2, options);
  }
  /** Product of two batches of matrices. */
  bmm(other: Tensor): Tensor {
    return linalg.bmm(this, other);
  }
  /** Dot product of two 1-d tensors. */
  dot(other: Tensor): Tensor {
    return linalg.dot(this, other);
  }
  /** Matrix-vector product. */
  mv(other: Tensor): Tensor {
    return linalg.mv(this, other);
  }
  /** Outer product of two 1-d tensors. */
  outer(other: Tensor): Tensor {
    return linalg.outer(this, other);
  }

  // ---- reductions ----

  /** Sum of all elements, or over `dim`. */
  sum(dim?: Dims | ReduceOptions | null, options?: ReduceOptions): Tensor {
    return red.sum(this, dim, options);
  }
  /** Mean of all elements, or over `dim`. */
  mean(dim?: Dims | ReduceOptions | null, options?: ReduceOptions): Tensor {
    return red.mean(this, dim, options);
  }
  /** Product of all elements, or along `dim`. */
  prod(dim?: number | ReduceOptions | null, options?: ReduceOptions): Tensor {
    return red.prod(this, dim, options);
  }
  /** The largest element; along a dim, `[values, indices]`; with a tensor, `maximum`. */
  max(): Tensor;
  /** Element-wise maximum with `other`, as `torch.max(a, b)`. */
  max(other: Tensor): Tensor;
  /** The largest values along `dim` and their positions: `[values, indices]`. */
  max(dim: number | { dim: number; keepdim?: boolean }, options?: { keepdim?: boolean }): ValuesIndices;
  max(
    dim?: number | Tensor | { dim: number; keepdim?: boolean },
    options?: { keepdim?: boolean },
  ): Tensor | ValuesIndices {
    return red.max(this, dim, options);
  }
  /** The smallest element; along a dim, `[values, indices]`; with a tensor, `minimum`. */
  min(): Tensor;
  /** Element-wise minimum with `other`, as `torch.min(a, b)`. */
  min(other: Tensor): Tensor;
  /** The smallest values along `dim` and their positions: `[values, indices]`. */
  min(dim: number | { dim: number; keepdim?: boolean }, options?: { keepdim?: boolean }): ValuesIndices;
  min(
    dim?: number | Tensor | { dim: number; keepdim?: boolean },
    options?: { keepdim?: boolean },
  ): Tensor | ValuesIndices {
    return red.min(this, dim, options);
  }
  /** Largest values over `dim` (gradient shared among ties). */
  amax(dim?: Dims | ReduceOptions | null, options?: ReduceOptions): Tensor {
    return red.amax(this, dim, options);
  }
  /** Smallest values over `dim` (gradient shared among ties). */
  amin(dim?: Dims | ReduceOptions | null, options?: ReduceOptions): Tensor {
    return red.amin(this, dim, options);
  }
  /** Position of the largest element (flat), or along `dim`. */
  argmax(dim?: number | ReduceOptions | null, options?: ReduceOptions): Tensor {
    return red.argmax(this, dim, options);
  }
  /** Position of the smallest element (flat), or along `dim`. */
  argmin(dim?: number | ReduceOptions | null, options?: ReduceOptions): Tensor {
    return red.argmin(this, dim, options);
  }
  /** Variance, with Bessel's correction unless `correction: 0`. */
  var(dim?: Dims | VarOptions | null, options?: VarOptions): Tensor {
    return red.variance(this, dim, options);
  }
  /** Standard deviation, with Bessel's correction unless `correction: 0`. */
  std(dim?: Dims | VarOptions | null, options?: VarOptions): Tensor {
    return red.std(this, dim, options);
  }
  /** `log(sum(exp(this)))` over `dim`, computed stably. */
  logsumexp(dim: Dims, options?: ReduceOptions): Tensor {
    return red.logsumexp(this, dim, options);
  }
  /** Softmax along `dim`. */
  softmax(dim: number): Tensor {
    return red.softmax(this, dim);
  }
  /** Log of softmax along `dim`, computed stably. */
  logSoftmax(dim: number): Tensor {
    return red.logSoftmax(this, dim);
  }
  /** The p-norm (2 by default) of all elements or over `dim`. */
  norm(p: number = 2, dim?: Dims | null, options?: ReduceOptions): Tensor {
    return red.norm(this, p, dim, options);
  }
  /** Running sum along `dim`. */
  cumsum(dim: number): Tensor {
    return red.cumsum(this, dim);
  }
  /** True if every element is true (non-zero), or along `dim`. */
  all(dim?: number | null, options?: ReduceOptions): Tensor {
    return red.all(this, dim, options);
  }
  /** True if any element is true (non-zero), or along `dim`. */
  any(dim?: number | null, options?: ReduceOptions): Tensor {
    return red.any(this, dim, options);
  }

  // ---- shape ----

  /** A view with another shape (one size may be -1); the layout must allow it. */
  view(...shape: number[] | [readonly number[]]): Tensor {
    return views.view(this, shp.sizeArgs(shape));
  }
  /** A view with the shape of `other`. */
  viewAs(other: Tensor): Tensor {
    return views.view(this, other.shape);
  }
  /** Another shape: a view when the layout allows, else a copy. */
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    return shp.reshape(this, shp.sizeArgs(shape));
  }
  /** Reshaped like `other`. */
  reshapeAs(other: Tensor): Tensor {
    return shp.reshape(this, other.shape);
  }
  /** Swaps two dims (a view). */
  transpose(dim0: number, dim1: number): Tensor {
    return views.transpose(this, dim0, dim1);
  }
  /** Transpose of a matrix (0-d and 1-d tensors are returned as they are). */
  t(): Tensor {
    return views.t(this);
  }
  /** Transpose of a matrix, as the `.T` property (reverses all dims). */
  get T(): Tensor {
    return views.permute(this, [...this.shape.keys()].reverse());
  }
  /** Transpose of the last two dims, as the `.mT` property. */
  get mT(): Tensor {
    return views.transpose(this, -2, -1);
  }
  /** Reorders dims (a view). */
  permute(...dims: number[] | [readonly number[]]): Tensor {
    return views.permute(this, shp.sizeArgs(dims));
  }
  /** Repeats size-1 dims without copying (a view); -1 keeps a size. */
  expand(...shape: number[] | [readonly number[]]): Tensor {
    return views.expand(this, shp.sizeArgs(shape));
  }
  /** Expanded to the shape of `other`. */
  expandAs(other: Tensor): Tensor {
    return views.expand(this, other.shape);
  }
  /** Drops size-1 dims (all, or the given one). */
  squeeze(dim?: number): Tensor {
    return views.squeeze(this, dim);
  }
  /** Inserts a size-1 dim at `dim`. */
  unsqueeze(dim: number): Tensor {
    return views.unsqueeze(this, dim);
  }
  /** Merges dims `startDim..endDim` into one. */
  flatten(startDim = 0, endDim = -1): Tensor {
    return shp.flatten(this, startDim, endDim);
  }
  /** A view of `length` elements along `dim` from `start`. */
  narrow(dim: number, start: number, length: number): Tensor {
    return views.narrow(this, dim, start, length);
  }
  /** The `index`-th slice along `dim`, dropping that dim (a view). */
  select(dim: number, index: number): Tensor {
    return views.select(this, dim, index);
  }
  /** Splits into pieces of `splitSize` (or the listed sizes) along `dim`. */
  split(splitSize: number | readonly number[], dim = 0): Tensor[] {
    return shp.split(this, splitSize, dim);
  }
  /** Splits into `chunks` nearly equal pieces along `dim`. */
  chunk(chunks: number, dim = 0): Tensor[] {
    return shp.chunk(this, chunks, dim);
  }
  /** Reverses the order along `dims`. */
  flip(...dims: number[] | [readonly number[]]): Tensor {
    return shp.flip(this, shp.sizeArgs(dims));
  }
  /** Tiles the tensor `sizes` times along each dim. */
  repeat(...sizes: number[] | [readonly number[]]): Tensor {
    return shp.repeat(this, shp.sizeArgs(sizes));
  }

  // ---- indexing ----

  /**
   * `this[spec]`: `x.index(1)`, `x.index("1:, ::2")` (Python slice syntax in
   * a string), `x.index(idxTensor)`, `x.index(mask)`, `x.index(":", 0)`.
   * Integers and slices give views; tensors give copies, as in PyTorch.
   */
  index(...spec: IndexSpec[]): Tensor {
    return idx.index(this, spec);
  }
  /** `this[indices] = values` in place, as `index_put_`; `accumulate` adds instead. */
  indexPut_(indices: readonly IndexSpec[], values: Tensor | number, options: IndexPutOptions = {}): this {
    idx.indexPut_(this, indices, values, options);
    return this;
  }
  /** Gathers values along `dim` at `index`. */
  gather(dim: number, index: Tensor): Tensor {
    return idx.gather(this, dim, index);
  }
  /** Selects entries of `index` along `dim`. */
  indexSelect(dim: number, index: Tensor): Tensor {
    return idx.indexSelect(this, dim, index);
  }
  /** The elements where `mask` is true, as a 1-d tensor. */
  maskedSelect(mask: Tensor): Tensor {
    return idx.maskedSelect(this, mask);
  }

  // ---- in place ----

  /** Adds in place. */
  add_(other: Tensor | number, options: { alpha?: number } = {}): this {
    return inplace.apply_(this, (t) => ew.add(t, other, options));
  }
  /** Subtracts in place. */
  sub_(other: Tensor | number, options: { alpha?: number } = {}): this {
    return inplace.apply_(this, (t) => ew.sub(t, other, options));
  }
  /** Multiplies in place. */
  mul_(other: Tensor | number): this {
    return inplace.apply_(this, (t) => ew.mul(t, other));
  }
  /** Divides in place. */
  div_(other: Tensor | number, options: DivOptions = {}): this {
    return inplace.apply_(this, (t) => ew.div(t, other, options));
  }
  /** Raises to a power in place. */
  pow_(exponent: Tensor | number): this {
    return inplace.apply_(this, (t) => ew.pow(t, exponent));
  }
  /** Negates in place. */
  neg_(): this {
    return inplace.apply_(this, (t) => ew.neg(t));
  }
  /** Exponentiates in place. */
  exp_(): this {
    return inplace.apply_(this, (t) => ew.exp(t));
  }
  /** ReLU in place. */
  relu_(): this {
    return inplace.apply_(this, (t) => ew.relu(t));
  }
  /** Sigmoid in place. */
  sigmoid_(): this {
    return inplace.apply_(this, (t) => ew.sigmoid(t));
  }
  /** Clamps in place. */
  clamp_(min?: number | Tensor | ClampOptions | null, max?: number | Tensor | null): this {
    return inplace.apply_(this, (t) => ew.clamp(t, min, max));
  }
  /** Fills with `value` where `mask` is true, in place. */
  maskedFill_(mask: Tensor, value: number | Tensor): this {
    return inplace.apply_(this, (t) => ew.maskedFill(t, mask, value));
  }
  /** Copies `src` (broadcast, converted) into this tensor. */
  copy_(src: Tensor): this {
    return inplace.copy_(this, src);
  }
  /** Fills with `value`. */
  fill_(value: number | Tensor): this {
    return inplace.fill_(this, value);
  }
  /** Fills with zeros. */
  zero_(): this {
    return inplace.fill_(this, 0);
  }
  /** Fills with uniform samples from `[low, high)`, from the default generator. */
  uniform_(low = 0, high = 1, options: { generator?: Generator } = {}): this {
    return inplace.uniform_(this, low, high, options.generator);
  }
  /** Fills with normal samples, from the default generator. */
  normal_(mean = 0, std = 1, options: { generator?: Generator } = {}): this {
    return inplace.normal_(this, mean, std, options.generator);
  }
  /** Replaces this tensor's storage and shape with `other`'s, as Python's `x.data = other`. */
  setData(other: Tensor): void {
    inplace.setData(this, other);
  }

  // ---- memory ----

  /** Frees this tensor's hold on its storage now; the storage goes when no view or graph needs it. */
  dispose(): void {
    const s = this.#s;
    if (s.disposed) return;
    s.disposed = true;
    finalizer.unregister(s);
    s.ref.release();
    untrackTensor(s.ref.device);
  }
  /** `using t = ...` disposes at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- printing ----

  /** PyTorch's repr: `tensor([1., 2.], requires_grad=True)`. */
  toString(): string {
    const s = this.#s;
    if (s.disposed) return `tensor(<disposed>, shape=${formatShape(s.shape)}, dtype=${s.dtype})`;
    const gradFn = this.gradFn;
    const suffixes = {
      device: s.ref.device.type,
      requiresGrad: s.requiresGrad && gradFn === null,
      gradFn: gradFn?.name,
    };
    if (!s.ref.device.backend.canReadSync) {
      return `tensor(<${numel(s.shape)} values on ${s.ref.device.type}: print await t.format()>, ` +
        `shape=${formatShape(s.shape)}, dtype=${s.dtype})`;
    }
    return formatTensor(convert.dataSync(this), s.shape, s.dtype, suffixes);
  }
  /** PyTorch's repr on every device (reads the values asynchronously). */
  async format(): Promise<string> {
    const s = this.#s;
    const gradFn = this.gradFn;
    return formatTensor(await convert.data(this), s.shape, s.dtype, {
      device: s.ref.device.type,
      requiresGrad: s.requiresGrad && gradFn === null,
      gradFn: gradFn?.name,
    });
  }
  /** How `console.log` shows a tensor in Deno. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
  /** How `console.log` shows a tensor in Node. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
