// What every op shares: making tensors from storages, checking devices,
// PyTorch's type promotion and broadcasting, and recording the tape.

import {
  type Backend,
  contiguousStrides,
  type DType,
  DTYPES,
  formatShape,
  isContiguous,
  isFloatingPoint,
  type Operand,
  type Shape,
  type Storage,
  type View,
} from "@flint/backend";
import type { Device } from "../device.ts";
import { AccumulateGrad, Node, type SavedTensor } from "../engine.ts";
import { isGradEnabled, noGrad } from "../grad_mode.ts";
import { type TensorState, viewOfState } from "../state.ts";
import { keep, StorageRef } from "../storage_ref.ts";
import { stateOf, Tensor, wrapState } from "../tensor.ts";
import { add } from "./elementwise.ts";
import { sum } from "./reduction.ts";

/** The backend-facing view of a tensor. */
export function viewOf(t: Tensor): View {
  return viewOfState(stateOf(t));
}

/** A tensor operand as the backend takes it: a view, or a plain number. */
export function operandOf(x: Tensor | number, shape?: Shape): Operand {
  if (typeof x === "number") return x;
  return shape === undefined ? viewOf(x) : expandedView(x, shape);
}

/** The backend a tensor's kernels run on. */
export function backendOf(t: Tensor): Backend {
  return t.device.backend;
}

function freshState(ref: StorageRef, shape: Shape, dtype: DType): TensorState {
  return {
    ref,
    shape: [...shape],
    strides: contiguousStrides(shape),
    offset: 0,
    dtype,
    requiresGrad: false,
    grad: null,
    gradFn: null,
    base: null,
    baseGradFn: null,
    accumulator: null,
    retainsGrad: false,
    disposed: false,
  };
}

/** A new tensor owning a fresh contiguous storage. */
export function fromStorage(device: Device, storage: Storage, shape: Shape, dtype: DType): Tensor {
  return wrapState(freshState(new StorageRef(device, storage), shape, dtype));
}

/** A view of `t`'s storage with another geometry; autograd links are the caller's job. */
export function makeView(t: Tensor, shape: Shape, strides: readonly number[], offset: number): Tensor {
  const s = stateOf(t);
  return wrapState({
    ...freshState(s.ref, shape, s.dtype),
    strides: [...strides],
    offset,
    base: s.base ?? t,
  });
}

/**
 * The one device all tensor operands are on; mixing devices is an error, as
 * in PyTorch. With `allowScalars`, a 0-d tensor on the CPU may join tensors
 * on another device (PyTorch treats CPU scalars that way); the caller moves it
 * with {@linkcode onDevice}.
 */
export function commonDevice(
  operands: readonly (Tensor | number | null | undefined)[],
  allowScalars = false,
): Device {
  let found: Device | undefined;
  let fallback: Device | undefined;
  for (const x of operands) {
    if (!(x instanceof Tensor)) continue;
    const d = x.device;
    fallback ??= d;
    if (allowScalars && x.ndim === 0 && d.backend.canReadSync) continue;
    if (found === undefined) found = d;
    else if (found !== d) {
      throw new Error(
        `Expected all tensors to be on the same device, but found at least two devices, ${found.type} and ${d.type}!`,
      );
    }
  }
  const device = found ?? fallback;
  if (device === undefined) throw new TypeError("expected at least one tensor operand");
  return device;
}

/** A CPU scalar tensor moved to `device` (differentiably); anything else unchanged. */
export function onDevice<T extends Tensor | number | null | undefined>(x: T, device: Device): T {
  return x instanceof Tensor && x.device !== device ? x.to(device) as T : x;
}

// ---- dtypes ----

const RANK: Record<DType, number> = { bool: 0, int32: 1, float32: 2, float64: 3 };
const category = (d: DType) => (d === "bool" ? 0 : d === "int32" ? 1 : 2);

/** The wider of two dtypes. */
export function promoteTypes(a: DType, b: DType): DType {
  return RANK[a] >= RANK[b] ? a : b;
}

function promoteMaybe(a: DType | undefined, b: DType): DType {
  return a === undefined ? b : promoteTypes(a, b);
}

// PyTorch's combine_categories: a higher category from a 0-d tensor or a
// number lifts the result; within a category, dimensioned tensors decide.
function combine(higher: DType | undefined, lower: DType | undefined): DType | undefined {
  if (higher !== undefined && isFloatingPoint(higher)) return higher;
  if (lower !== undefined && (higher === "bool" || isFloatingPoint(lower))) return promoteMaybe(higher, lower);
  return higher ?? lower;
}

/**
 * The dtype of an op's result, by PyTorch's rules: tensors with dims decide
 * within a category (bool < integer < float); 0-d tensors and numbers only
 * lift the category. A JS number is an integer when it has no fraction, so
 * `intTensor.mul(2)` stays int32 and `intTensor.mul(0.5)` becomes float32.
 */
export function resultType(...operands: readonly (Tensor | number | boolean)[]): DType {
  let dim: DType | undefined, zero: DType | undefined, wrapped: DType | undefined;
  for (const x of operands) {
    if (x instanceof Tensor) {
      if (x.ndim > 0) dim = promoteMaybe(dim, x.dtype);
      else zero = promoteMaybe(zero, x.dtype);
    } else if (typeof x === "boolean") {
      wrapped = promoteMaybe(wrapped, "bool");
    } else {
      wrapped = promoteMaybe(wrapped, Number.isInteger(x) ? "int32" : "float32");
    }
  }
  return combine(dim, combine(zero, wrapped)) ?? "float32";
}

/** PyTorch's name for a dtype in messages: Float, Double, Int, Bool. */
export function torchTypeName(dtype: DType): string {
  return { float32: "Float", float64: "Double", int32: "Int", bool: "Bool" }[dtype];
}

/** True when a value of `from` may be written into a tensor of `to` (PyTorch's can_cast). */
export function canCast(from: DType, to: DType): boolean {
  return category(from) <= category(to);
}

/** The default float dtype: integer inputs of float ops become this. */
export function floatTypeOf(dtype: DType): DType {
  return isFloatingPoint(dtype) ? dtype : "float32";
}

/** `t` converted to `dtype` (itself when it already is); differentiable. */
export function castTo(t: Tensor, dtype: DType): Tensor {
  if (t.dtype === dtype) return t;
  const out = fromStorage(t.device, backendOf(t).cast(viewOf(t), dtype), t.shape, dtype);
  if (isFloatingPoint(dtype)) {
    record(out, "ToCopyBackward0", [t], [], (g) => [castTo(g, t.dtype)]);
  }
  return out;
}

/** Checks a dtype name, naming the valid ones when it is wrong. */
export function checkDType(dtype: unknown): DType {
  if (typeof dtype !== "string" || !(DTYPES as readonly string[]).includes(dtype)) {
    throw new TypeError(`invalid dtype ${JSON.stringify(dtype)}: expected one of ${DTYPES.join(", ")}`);
  }
  return dtype as DType;
}

// ---- broadcasting ----

/** The shape two shapes broadcast to, with PyTorch's error when they cannot. */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new RangeError(
        `The size of tensor a (${da}) must match the size of tensor b (${db}) at non-singleton dimension ${i}`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** The shape all operands broadcast to. */
export function broadcastAll(...shapes: readonly Shape[]): number[] {
  return shapes.reduce<number[]>((acc, s) => broadcastShapes(acc, s), []);
}

/** A view of `t` broadcast to `shape`: stride 0 along repeated dims. */
export function expandedView(t: Tensor, shape: Shape): View {
  const s = stateOf(t);
  const lead = shape.length - s.shape.length;
  if (lead < 0) {
    throw new RangeError(
      `the expanded size must have at least as many dims as the tensor: ${formatShape(shape)} for ` +
        formatShape(s.shape),
    );
  }
  const strides = new Array<number>(shape.length);
  for (let i = 0; i < shape.length; i++) {
    const size = i < lead ? 1 : s.shape[i - lead];
    if (size === shape[i]) strides[i] = i < lead ? 0 : s.strides[i - lead];
    else if (size === 1) strides[i] = 0;
    else {
      throw new RangeError(
        `The expanded size of the tensor (${shape[i]}) must match the existing size (${size}) at non-singleton ` +
          `dimension ${i}.  Target sizes: ${formatShape(shape)}.  Tensor sizes: ${formatShape(s.shape)}`,
      );
    }
  }
  return { storage: s.ref.storage, dtype: s.dtype, shape, strides, offset: s.offset };
}

// ---- recording the tape ----

/** True when an op on these operands must be recorded. */
export function needsGrad(inputs: readonly unknown[]): boolean {
  if (!isGradEnabled()) return false;
  for (const x of inputs) if (x instanceof Tensor && x.requiresGrad) return true;
  return false;
}

/** The node a gradient for `t` flows into: its gradFn, or its leaf accumulator. */
export function edgeOf(t: Tensor): Node {
  return t.gradFn ?? accumulatorOf(t);
}

/** The (unique) accumulator of a leaf. */
export function accumulatorOf(t: Tensor): AccumulateGrad {
  const s = stateOf(t);
  s.accumulator ??= new AccumulateGrad(t, (g, createGraph, owned) => accumulateInto(t, g, createGraph, owned));
  return s.accumulator;
}

function accumulateInto(leaf: Tensor, g: Tensor, createGraph: boolean, owned: boolean): void {
  const s = stateOf(leaf);
  if (g.shape.length !== s.shape.length || g.shape.some((d, i) => d !== s.shape[i])) {
    throw new Error(
      `Function AccumulateGrad returned an invalid gradient - got ${formatShape(g.shape)} but expected shape ` +
        `compatible with ${formatShape(s.shape)}`,
    );
  }
  if (s.grad === null) {
    if (createGraph) {
      s.grad = keep(g);
    } else {
      // A gradient the engine made for this leaf alone, laid out as the leaf is, becomes its .grad (PyTorch's
      // AccumulateGrad steals it too): a 100×1000 weight's gradient is not copied every step. Anything else may
      // be read elsewhere: the leaf owns a copy.
      const gs = stateOf(g);
      const take = owned && g.dtype === s.dtype && gs.ref.device === s.ref.device && isContiguous(g.shape, gs.strides);
      s.grad = keep(take ? g.detach() : detachedCopy(g));
      engineOwnedGrads.add(s.grad);
    }
  } else if (createGraph) {
    s.grad = keep(addTensors(s.grad, g));
  } else {
    const grad = s.grad;
    noGrad(() => grad.add_(g));
  }
}

/** Gradients the engine allocated for a leaf's `.grad`, which nothing but that leaf was handed. */
const engineOwnedGrads = new WeakSet<Tensor>();

/**
 * Sets `t.grad` to null, as `zero_grad(set_to_none=True)` does, and frees the
 * old gradient's memory at once when backward allocated it. PyTorch frees it
 * when its last reference goes; JavaScript cannot count references, and
 * leaving it to the garbage collector lets every training step take fresh
 * memory (hundreds of MB before a collection, and slower steps). A gradient
 * you assigned yourself is only dropped. Clone a gradient you want to keep
 * past `zeroGrad`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const w = torch.ones(3, { requiresGrad: true });
 * w.sum().backward();
 * const kept = w.grad!.clone();
 * torch.releaseGrad(w);
 * console.log(w.grad, kept.tolistSync()); // null [ 1, 1, 1 ]
 * ```
 */
export function releaseGrad(t: Tensor): void {
  const grad = t.grad;
  if (grad === null) return;
  t.grad = null;
  if (engineOwnedGrads.has(grad)) {
    engineOwnedGrads.delete(grad);
    grad.dispose();
  }
}

/** A contiguous copy of `g`'s values with no autograd history. */
export function detachedCopy(g: Tensor): Tensor {
  return fromStorage(g.device, backendOf(g).cast(viewOf(g), g.dtype), g.shape, g.dtype);
}

/** Adds two gradients (recorded when the backward builds a graph of its own). */
export function addTensors(a: Tensor, b: Tensor): Tensor {
  return add(a, b);
}

/** A gradient rule: the output's gradient and the saved tensors in, one gradient per input out. */
export type GradRule = (grad: Tensor, saved: readonly Tensor[]) => readonly (Tensor | null | undefined)[];

/** How an error names a saved tensor, as it is when saved (its node then). */
function describeSaved(t: Tensor): () => string {
  const { gradFn, dtype, shape } = t;
  return () => {
    const base = `[torch.${torchTypeName(dtype)}Tensor ${formatShape(shape)}]`;
    return gradFn ? `${base}, which is output 0 of ${gradFn.name}` : base;
  };
}

/**
 * A tensor saved for backward: it shares the original's storage (and its
 * version counter) and its place on the tape, and holds its own reference, so
 * disposing the original does not free what backward needs.
 */
function saveTensor(t: Tensor): Tensor {
  const s = stateOf(t);
  if (s.requiresGrad && s.gradFn === null && s.base === null) accumulatorOf(t);
  return wrapState({ ...s, grad: null, retainsGrad: false, disposed: false });
}

/**
 * Records `out` on the tape as the result of `name` applied to `inputs`, when
 * any input requires grad and grad mode is on. `toSave` are kept (as aliases
 * checked for in-place changes) and handed to `rule` in order; `out` itself
 * may be among them. A null entry stands for a value the rule needs that is
 * not a tensor (a scalar operand, kept by the rule's closure): it is not
 * version-checked, but like any saved value it is freed after backward, so a
 * second backward through the node throws, as in PyTorch.
 */
export function record(
  out: Tensor,
  name: string,
  inputs: readonly (Tensor | number | null | undefined)[],
  toSave: readonly (Tensor | null)[],
  rule: GradRule,
): Tensor {
  if (!needsGrad(inputs)) return out;
  const next = inputs.map((x) => (x instanceof Tensor && x.requiresGrad ? edgeOf(x) : null));
  const saved: Tensor[] = [];
  const snapshots: SavedTensor[] = [];
  const node = new Node(name, next, (g) => rule(g, saved), snapshots, toSave.length > 0);
  const s = stateOf(out);
  s.requiresGrad = true;
  s.gradFn = node;
  if (s.base !== null) s.baseGradFn = stateOf(s.base).gradFn;
  for (const t of toSave) {
    if (t === null) {
      saved.push(null as unknown as Tensor);
      continue;
    }
    const alias = saveTensor(t);
    saved.push(alias);
    const ref = stateOf(t).ref;
    snapshots.push({ ref, version: ref.version, describe: describeSaved(t), tensor: alias });
  }
  return out;
}

/** Sums a broadcast gradient back to the shape of the input it belongs to. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.shape.length - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.shape.length; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  }
  return sum(g, dims, { keepdim: false }).reshape(shape);
}
