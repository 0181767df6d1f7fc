// In-place ops. Each computes its result out of place, writes it into the
// tensor's storage, bumps the version counter, and moves the tensor's place on
// the tape (or, for a view, its base's: PyTorch's CopySlices) to the result.

import { contiguousStrides, isContiguous, isFloatingPoint } from "@flint/backend";
import { Node } from "../engine.ts";
import { defaultGenerator } from "../default_generator.ts";
import type { Generator } from "../generator.ts";
import { isGradEnabled } from "../grad_mode.ts";
import { stateOf, Tensor } from "../tensor.ts";
import {
  backendOf,
  broadcastShapes,
  canCast,
  castTo,
  edgeOf,
  expandedView,
  fromStorage,
  record,
  sumToShape,
  torchTypeName,
  viewOf,
} from "./_core.ts";
import { zerosLike } from "./creation.ts";
import { type Geometry, viewGather } from "./views.ts";

/** Refuses in-place writes autograd could not account for, with PyTorch's messages. */
export function checkInplace(t: Tensor): void {
  if (!isGradEnabled()) return;
  const s = stateOf(t);
  if (s.base === null) {
    if (s.requiresGrad && t.gradFn === null) {
      throw new Error("a leaf Variable that requires grad is being used in an in-place operation.");
    }
    return;
  }
  const base = s.base;
  if (base.requiresGrad && base.gradFn === null) {
    throw new Error("a view of a leaf Variable that requires grad is being used in an in-place operation.");
  }
}

/** Zeros where the view `geometry` sits in a contiguous `g`; everything else kept. Self-adjoint. */
function zeroRegion(g: Tensor, geometry: Geometry): Tensor {
  const backend = backendOf(g);
  const out = fromStorage(g.device, backend.cast(viewOf(g), g.dtype), g.shape, g.dtype);
  backend.copy({ storage: viewOf(out).storage, dtype: g.dtype, ...geometry }, 0);
  return record(out, "CopySlicesZeroBackward", [g], [], (gg) => [zeroRegion(gg, geometry)]);
}

/**
 * Moves `t`'s place on the tape to `value` (which now holds t's elements);
 * null when the new elements have no history (a constant fill). `name` names
 * the node when `value` carries no history of its own.
 */
function rebase(t: Tensor, value: Tensor | null, name: string): void {
  if (!isGradEnabled()) return;
  const s = stateOf(t);
  const valueGrad = value?.requiresGrad ?? false;
  if (!valueGrad && !s.requiresGrad) return;
  if (s.base === null) {
    if (valueGrad && value!.gradFn !== null) {
      s.gradFn = value!.gradFn;
    } else {
      // The old value's history gets zero gradient; a leaf value routes to its accumulator.
      const old = s.requiresGrad ? edgeOf(t) : null;
      const src = valueGrad ? edgeOf(value!) : null;
      s.gradFn = new Node(name, [old, src], (g) => [zerosLike(g), src ? g : null], []);
    }
    s.requiresGrad = true;
    return;
  }
  const base = s.base;
  const b = stateOf(base);
  if (!isContiguous(b.shape, b.strides) || b.offset !== 0) {
    throw new Error(
      "an in-place op on a view of a non-contiguous detached tensor cannot be recorded: call .contiguous() on it first",
    );
  }
  const geometry: Geometry = { shape: s.shape, strides: s.strides, offset: s.offset };
  const oldEdge = b.requiresGrad ? edgeOf(base) : null;
  const valueEdge = valueGrad ? edgeOf(value!) : null;
  b.gradFn = new Node("CopySlices", [oldEdge, valueEdge], (g) => [
    oldEdge ? zeroRegion(g, geometry) : null,
    valueEdge ? viewGather(g, geometry) : null,
  ], []);
  b.requiresGrad = true;
}

/** Writes `value` (same shape) into `t`'s elements and bumps the version. */
function write(t: Tensor, value: Tensor): void {
  const s = stateOf(t);
  let src = castTo(value, t.dtype);
  if (stateOf(src).ref === s.ref) {
    src = fromStorage(src.device, backendOf(src).cast(viewOf(src), src.dtype), src.shape, src.dtype);
  }
  backendOf(t).copy(viewOf(t), expandedView(src, t.shape));
  s.ref.version++;
  // A cast or a copy made here is ours alone: free it now, not when the collector finds it.
  if (src !== value) src.dispose();
}

/** Runs `fn(t)` out of place and stores the result in `t`. */
export function apply_<T extends Tensor>(t: T, fn: (t: Tensor) => Tensor): T {
  checkInplace(t);
  const result = fn(t);
  const shape = broadcastShapes(t.shape, result.shape);
  if (shape.length !== t.ndim || shape.some((d, i) => d !== t.shape[i])) {
    throw new RangeError(
      `output with shape [${t.shape.join(", ")}] doesn't match the broadcast shape [${shape.join(", ")}]`,
    );
  }
  if (!canCast(result.dtype, t.dtype)) {
    throw new TypeError(
      `result type ${torchTypeName(result.dtype)} can't be cast to the desired output type ${torchTypeName(t.dtype)}`,
    );
  }
  write(t, result);
  rebase(t, result, "CopyBackwards");
  // The out-of-place result is garbage now (the tape keeps its own reference
  // where backward needs it): free it at once instead of waiting for the GC.
  if (result !== t) result.dispose();
  return t;
}

/** Copies `src` (broadcast to t's shape, converted to t's dtype) into `t`. */
export function copy_<T extends Tensor>(t: T, src: Tensor): T {
  checkInplace(t);
  if (src.device !== t.device) src = src.to(t.device);
  const shape = broadcastShapes(t.shape, src.shape);
  if (shape.length !== t.ndim || shape.some((d, i) => d !== t.shape[i])) {
    throw new RangeError(
      `output with shape [${t.shape.join(", ")}] doesn't match the broadcast shape [${shape.join(", ")}]`,
    );
  }
  const value = castTo(src, t.dtype);
  write(t, value);
  if (isGradEnabled() && (value.requiresGrad || t.requiresGrad)) {
    if (stateOf(t).base === null) {
      const old = t.requiresGrad ? edgeOf(t) : null;
      const from = value.requiresGrad ? edgeOf(value) : null;
      const srcShape = value.shape;
      const s = stateOf(t);
      s.gradFn = new Node(
        "CopyBackwards",
        [old, from],
        (g) => [zerosLike(g), from ? sumToShape(g, srcShape) : null],
        [],
      );
      s.requiresGrad = true;
    } else {
      rebase(t, value.expand(t.shape), "CopyBackwards");
    }
  }
  return t;
}

/** Fills `t` with a number (or a 0-d tensor). */
export function fill_<T extends Tensor>(t: T, value: number | Tensor, name = "FillBackward2"): T {
  if (value instanceof Tensor) {
    if (value.ndim !== 0) {
      throw new RangeError(
        `fill_ only supports 0-dimension value tensor but got tensor with ${value.ndim} dimensions.`,
      );
    }
    return copy_(t, value);
  }
  checkInplace(t);
  const s = stateOf(t);
  const v = t.dtype === "bool" ? (value !== 0 ? 1 : 0) : t.dtype === "int32" ? Math.trunc(value) : value;
  backendOf(t).copy(viewOf(t), v);
  s.ref.version++;
  if (s.requiresGrad) rebase(t, null, value === 0 ? "ZeroBackward0" : name);
  return t;
}

function randomFill<T extends Tensor>(t: T, fill: (data: Float32Array | Float64Array) => void): T {
  if (!isFloatingPoint(t.dtype)) throw new TypeError(`random fills need a floating-point tensor, got ${t.dtype}`);
  checkInplace(t);
  const data = t.dtype === "float64" ? new Float64Array(t.numel()) : new Float32Array(t.numel());
  fill(data);
  const value = fromStorage(t.device, backendOf(t).upload(data, t.dtype), t.shape, t.dtype);
  write(t, value);
  if (stateOf(t).requiresGrad) rebase(t, value, "CopyBackwards");
  // The samples are in `t` now and the graph keeps no reference to them: every weight init made a full-size
  // copy that waited for the collector (ResNet18's: 47 MB).
  value.dispose();
  return t;
}

/** Fills with uniform samples in `[low, high)` (PyTorch's `uniform_`, same numbers for the same seed). */
export function uniform_<T extends Tensor>(t: T, low: number, high: number, generator?: Generator): T {
  return randomFill(t, (data) => (generator ?? defaultGenerator).uniform(data, low, high));
}

/** Fills with normal samples (PyTorch's `normal_`, same numbers for the same seed). */
export function normal_<T extends Tensor>(t: T, mean: number, std: number, generator?: Generator): T {
  return randomFill(t, (data) => (generator ?? defaultGenerator).normal(data, mean, std));
}

/**
 * Makes `t` hold `other`'s elements, shape and dtype (sharing its storage), as
 * Python's `t.data = other`; `t`'s autograd identity is kept.
 */
export function setData(t: Tensor, other: Tensor): void {
  const s = stateOf(t);
  // Share the storage when `other` owns it from its start; otherwise (a view
  // with an offset or gaps) take a copy, since a tensor that owns its storage
  // must start at element 0 for views of it to be tracked.
  const source = other.isContiguous() && other.storageOffset() === 0 ? other : other.detach().clone();
  const o = stateOf(source);
  o.ref.retain();
  s.ref.release();
  s.ref = o.ref;
  s.shape = o.shape;
  s.strides = contiguousStrides(o.shape);
  s.offset = 0;
  s.dtype = o.dtype;
  s.base = null;
}
