// The backend contract: what a device must do for Flint's autograd to run on
// it. Required ops are few and take strided views, so views, broadcasting and
// transposes never force a copy; fused kernels are optional speed-ups.

import type { DataArray, DType } from "./dtype.ts";
import type { Shape } from "./layout.ts";
import type { ArgReduceOp, BinaryOp, ReduceOp, UnaryOp } from "./ops.ts";

/**
 * A block of device memory holding elements of one dtype. Opaque outside its
 * backend: autograd only passes it back to the backend that made it.
 */
export interface Storage {
  /** Bytes the storage occupies on its device. */
  readonly byteLength: number;
}

/**
 * A strided window onto a storage: the form every op input takes. Element
 * `[i0, i1, ...]` sits at `offset + i0 * strides[0] + i1 * strides[1] + ...`.
 * A stride of 0 repeats an element (broadcasting, `expand`).
 */
export interface View {
  /** the storage the elements live in */
  readonly storage: Storage;
  /** the element type (the storage's) */
  readonly dtype: DType;
  /** sizes, outermost first */
  readonly shape: Shape;
  /** steps, in elements, one per dim */
  readonly strides: readonly number[];
  /** position of element `[0, 0, ...]`, in elements */
  readonly offset: number;
}

/** A binary or ternary op operand: a view, or a scalar broadcast everywhere. */
export type Operand = View | number;

/** Live storages and their bytes on one backend. */
export interface MemoryInfo {
  /** storages allocated and not yet disposed */
  readonly storages: number;
  /** bytes those storages hold */
  readonly bytes: number;
}

/** Stride, padding, dilation and groups of a 2-d convolution. */
export interface Conv2dGeometry {
  /** step of the window over (height, width) */
  readonly stride: readonly [number, number];
  /** zeros added on each side of (height, width) */
  readonly padding: readonly [number, number];
  /** spacing between kernel taps over (height, width) */
  readonly dilation: readonly [number, number];
  /** input and output channels are split into this many independent groups */
  readonly groups: number;
}

/** Window geometry of a 2-d pooling. */
export interface Pool2dGeometry {
  /** window size over (height, width) */
  readonly kernel: readonly [number, number];
  /** step of the window over (height, width) */
  readonly stride: readonly [number, number];
  /** implicit padding on each side of (height, width) */
  readonly padding: readonly [number, number];
  /** spacing between window taps (max pooling only; 1 for average pooling) */
  readonly dilation: readonly [number, number];
  /** output size rounds up instead of down */
  readonly ceilMode: boolean;
  /** output (height, width), computed by autograd from the above */
  readonly outSize: readonly [number, number];
}

/** Options only average pooling has. */
export interface AvgPoolOptions {
  /** padding zeros count in the divisor */
  readonly countIncludePad: boolean;
  /** a fixed divisor instead of the window size */
  readonly divisorOverride?: number;
}

/**
 * The hyper-parameters of one fused Adam or AdamW step, as
 * `torch.optim.Adam` / `AdamW` name them (camelCase), plus the step count.
 */
export interface AdamStepOptions {
  /** learning rate */
  readonly lr: number;
  /** decay of the first moment average (PyTorch's `betas[0]`) */
  readonly beta1: number;
  /** decay of the second moment average (PyTorch's `betas[1]`) */
  readonly beta2: number;
  /** added to the denominator */
  readonly eps: number;
  /** L2 penalty (Adam) or decoupled decay rate (AdamW); 0 for none */
  readonly weightDecay: number;
  /**
   * true for AdamW: the parameter is scaled by `1 - lr * weightDecay` before
   * the update; false for Adam: `weightDecay * param` is added to the gradient
   */
  readonly decoupledWeightDecay: boolean;
  /** keep the running maximum of the second moment in `maxExpAvgSq` and divide by it */
  readonly amsgrad: boolean;
  /** ascend: the gradient's sign is flipped first */
  readonly maximize: boolean;
  /** this update's step number, counted from 1 (for the bias corrections `1 - beta ** step`) */
  readonly step: number;
}

/** The hyper-parameters of one fused SGD step, as `torch.optim.SGD` names them (camelCase). */
export interface SgdStepOptions {
  /** learning rate */
  readonly lr: number;
  /** momentum factor; 0 for plain SGD (the buffer is then not touched) */
  readonly momentum: number;
  /** dampening of the momentum */
  readonly dampening: number;
  /** L2 penalty: `weightDecay * param` is added to the gradient; 0 for none */
  readonly weightDecay: number;
  /** Nesterov momentum */
  readonly nesterov: boolean;
  /** ascend: the gradient's sign is flipped first */
  readonly maximize: boolean;
  /**
   * true on the first step that uses momentum: the buffer is set to the
   * (decayed) gradient instead of being updated, as PyTorch does when its
   * `momentum_buffer` is None
   */
  readonly firstStep: boolean;
}

/**
 * Kernels a backend may offer to go faster than autograd's composition of
 * required ops. Autograd checks for each one and falls back when it is absent,
 * so a new backend works on day one. Shapes follow PyTorch (NCHW, OIHW).
 */
export interface FusedKernels {
  /**
   * `bias + a · b` for a [M, K] and b [K, N] (any strides) and `bias` a view
   * of [M, N], broadcast by zero strides (a Linear layer's bias [N] has
   * strides [0, 1]): the product is computed as `matmul` computes it and the
   * bias added to it in place (one rounding each, as the composition), so a
   * layer costs one op and one output instead of two. Float dtypes only.
   */
  addmm(bias: View, a: View, b: View): Storage;
  /** conv2d without bias: x [N, C, H, W], w [O, C/groups, kH, kW] → [N, O, oH, oW] */
  conv2d(x: View, w: View, geometry: Conv2dGeometry, outShape: Shape): Storage;
  /** gradient of conv2d with respect to its input, of shape `inputShape` */
  conv2dBackwardInput(gradOut: View, w: View, geometry: Conv2dGeometry, inputShape: Shape): Storage;
  /** gradient of conv2d with respect to its weight, of shape `weightShape` */
  conv2dBackwardWeight(x: View, gradOut: View, geometry: Conv2dGeometry, weightShape: Shape): Storage;
  /**
   * max pooling of x [N, C, H, W]; `indices` (int32) hold each winner's flat
   * position within its H×W plane, as PyTorch's `return_indices` does
   */
  maxPool2d(x: View, geometry: Pool2dGeometry): { values: Storage; indices: Storage };
  /** routes `gradOut` back to the positions `indices` name, in a tensor of `inputShape` */
  maxPool2dBackward(gradOut: View, indices: View, inputShape: Shape): Storage;
  /** average pooling of x [N, C, H, W] */
  avgPool2d(x: View, geometry: Pool2dGeometry, options: AvgPoolOptions): Storage;
  /** gradient of average pooling, in a tensor of `inputShape` */
  avgPool2dBackward(gradOut: View, geometry: Pool2dGeometry, options: AvgPoolOptions, inputShape: Shape): Storage;
  /** softmax (or log-softmax when `log`) along `axis`, numerically stable */
  softmax(x: View, axis: number, log: boolean): Storage;
  /**
   * gradient of softmax / log-softmax given its output `out`:
   * softmax: out * (g - sum(g * out)); log-softmax: g - exp(out) * sum(g)
   */
  softmaxBackward(gradOut: View, out: View, axis: number, log: boolean): Storage;
  /**
   * `out <= threshold ? 0 : gradOut`, both of one shape and float dtype, as
   * PyTorch's threshold_backward: ReLU's gradient from its output
   * (threshold 0) in one pass instead of a comparison and a select. A NaN in
   * `out` passes the gradient.
   */
  thresholdBackward(gradOut: View, out: View, threshold: number): Storage;
  /**
   * `x * scale[c] + shift[c]` for x [N, C, *] (c its index along dim 1),
   * multiplied then added (two roundings, as the composition): evaluation-mode
   * batch norm in one pass instead of two. `scale` and `shift` are [C] of x's
   * dtype; the result is contiguous, of x's shape.
   */
  channelAffine(x: View, scale: View, shift: View): Storage;
  /**
   * One Adam / AdamW update of one parameter, in place, as PyTorch's
   * single-tensor `torch.optim.Adam` (`AdamW` with `decoupledWeightDecay`)
   * computes it: with g the gradient (negated when `maximize`, plus
   * `weightDecay * param` for Adam),
   * `expAvg = expAvg * beta1 + (1 - beta1) * g`,
   * `expAvgSq = expAvgSq * beta2 + (1 - beta2) * g * g`,
   * `maxExpAvgSq = max(maxExpAvgSq, expAvgSq)` when `amsgrad`, and
   * `param += -lr / (1 - beta1 ** step) * expAvg / (sqrt(v) / sqrt(1 - beta2 ** step) + eps)`
   * where v is expAvgSq (or maxExpAvgSq). All views have the parameter's
   * shape and dtype; `param`, `expAvg`, `expAvgSq` and `maxExpAvgSq` (null
   * unless `amsgrad`) are written, `grad` only read. Version counters are the
   * caller's to bump.
   */
  adamStep(
    param: View,
    grad: View,
    expAvg: View,
    expAvgSq: View,
    maxExpAvgSq: View | null,
    options: AdamStepOptions,
  ): void;
  /**
   * One SGD update of one parameter, in place, as PyTorch's single-tensor
   * `torch.optim.SGD` computes it: with d the gradient (negated when
   * `maximize`, plus `weightDecay * param`), when `momentum` is not 0
   * `buf = firstStep ? d : buf * momentum + (1 - dampening) * d` and
   * `d = nesterov ? d + momentum * buf : buf`; then `param += -lr * d`.
   * `momentumBuffer` (null without momentum) has the parameter's shape and
   * dtype and is written; version counters are the caller's to bump.
   */
  sgdStep(param: View, grad: View, momentumBuffer: View | null, options: SgdStepOptions): void;
}

/**
 * A device that stores tensors and runs their kernels. Every method that
 * returns a Storage returns a new, contiguous (row-major) one that the caller
 * owns; views passed in are only read, except by `copy` and `scatter`, which
 * write through `dst`. Inputs of one call are on this backend.
 *
 * A backend whose hardware has no 64-bit floats (WebGPU, tfjs) may keep
 * float64 tensors in float32 and say so with `float64Precision: "float32"`;
 * reads still return Float64Array. Out-of-range gather/scatter positions are
 * the caller's to prevent; a backend that cannot check them cheaply must
 * still never read or write outside the storage (clamp or skip).
 */
export interface Backend {
  /** the device name tensors report: "cpu", "webgpu", "tfjs" */
  readonly name: string;
  /** true when `readSync` serves reads without waiting */
  readonly canReadSync: boolean;
  /** how float64 tensors are stored: "float64" (default) or "float32" on hardware without doubles */
  readonly float64Precision?: "float64" | "float32";
  /** optional fast kernels; absent ones are composed by autograd */
  readonly fused: Partial<FusedKernels>;

  /** copies `data` into new storage */
  upload(data: DataArray, dtype: DType): Storage;
  /**
   * takes `data` as storage without copying when the backend can (the CPU
   * backend does: `fromArray` shares memory with the caller's array)
   */
  adopt?(data: DataArray, dtype: DType): Storage;
  /** the view's elements, in row-major order, in a new array */
  read(x: View): Promise<DataArray>;
  /** `read` without waiting; only when `canReadSync` */
  readSync?(x: View): DataArray;
  /** frees a storage now; using it afterwards is an error */
  dispose(storage: Storage): void;
  /** live storages and bytes */
  memory(): MemoryInfo;
  /** waits until every op recorded so far has run (a no-op on synchronous backends) */
  sync?(): Promise<void>;

  /** `size` elements of `value` */
  fill(size: number, value: number, dtype: DType): Storage;
  /** a contiguous copy of `x`, converted to `dtype` */
  cast(x: View, dtype: DType): Storage;
  /** writes `src` (same dtype, broadcast to `dst.shape`) into the elements `dst` names */
  copy(dst: View, src: Operand): void;

  /** `op` applied to each element; output dtype per `UNARY_OP_INFO` */
  unary(op: UnaryOp, x: View): Storage;
  /**
   * `op` over `a` and `b`, both already of dtype `dtype` (the common type) and
   * broadcast to `shape` by their strides; output dtype per `BINARY_OP_KIND`
   */
  binary(op: BinaryOp, a: Operand, b: Operand, shape: Shape, dtype: DType): Storage;
  /** `cond ? a : b` with all three broadcast to `shape`; `a` and `b` are of `dtype` */
  where(cond: View, a: Operand, b: Operand, shape: Shape, dtype: DType): Storage;
  /** reduces `axes` away (the output keeps the other dims, in order) */
  reduce(op: ReduceOp, x: View, axes: readonly number[]): Storage;
  /** int32 position of the first max / min along `axis` (NaN wins, as in PyTorch) */
  argReduce(op: ArgReduceOp, x: View, axis: number): Storage;
  /** batched matrix product: a [B, M, K] · b [B, K, N] → [B, M, N] */
  matmul(a: View, b: View): Storage;
  /** out[i] = x's element at row-major position index[i]; out has index's shape */
  gather(x: View, index: View): Storage;
  /**
   * dst's element at row-major position index[i] becomes src[i] (or has it
   * added when `accumulate`); `src` has index's shape or is a scalar
   */
  scatter(dst: View, index: View, src: Operand, accumulate: boolean): void;
}
