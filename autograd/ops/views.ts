// Views: tensors that share their base's storage with another geometry, and
// the autograd links that keep a view's gradient right after its base (or the
// view itself) is changed in place.

import { contiguousStrides, formatShape, numel, type Shape } from "@flint/backend";
import { Node } from "../engine.ts";
import { stateOf, type Tensor } from "../tensor.ts";
import { backendOf, edgeOf, fromStorage, makeView, record, sumToShape } from "./_core.ts";

/** A dim index in range `[-ndim, ndim)`, normalised; PyTorch's message otherwise. */
export function normalizeDim(dim: number, ndim: number): number {
  const n = Math.max(ndim, 1);
  if (!Number.isInteger(dim) || dim < -n || dim >= n) {
    throw new RangeError(`Dimension out of range (expected to be in range of [${-n}, ${n - 1}], but got ${dim})`);
  }
  return dim < 0 ? dim + n : dim;
}

/** Geometry of a view within its base's storage. */
export interface Geometry {
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}

/**
 * Zeros of `baseShape` (contiguous) with `g` written where the view
 * `geometry` sits: the gradient of taking that view. Its own gradient takes
 * the view again, so double backward works.
 */
export function viewScatter(g: Tensor, baseShape: Shape, geometry: Geometry): Tensor {
  const backend = backendOf(g);
  const storage = backend.fill(numel(baseShape), 0, g.dtype);
  const out = fromStorage(g.device, storage, baseShape, g.dtype);
  backend.copy(
    { storage, dtype: g.dtype, shape: geometry.shape, strides: geometry.strides, offset: geometry.offset },
    stateViewOf(g),
  );
  return record(out, "AsStridedScatterBackward0", [g], [], (gg) => [viewGather(gg, geometry)]);
}

/** The view `geometry` of a contiguous tensor, copied out: the inverse of viewScatter. */
export function viewGather(x: Tensor, geometry: Geometry): Tensor {
  const base = x.contiguous();
  const baseShape = base.shape;
  const view = makeView(base, geometry.shape, geometry.strides, geometry.offset);
  const out = view.contiguous();
  return record(out, "AsStridedBackward0", [x], [], (g) => [viewScatter(g, baseShape, geometry)]);
}

function stateViewOf(t: Tensor) {
  const s = stateOf(t);
  return { storage: s.ref.storage, dtype: s.dtype, shape: s.shape, strides: s.strides, offset: s.offset };
}

/**
 * A view's gradFn, rebuilt when its base was changed in place after the view
 * was made: the gradient then flows through the base's new history, as
 * PyTorch's AsStridedBackward0 does.
 */
export function currentGradFn(t: Tensor): Node | null {
  const s = stateOf(t);
  if (s.base === null) return s.gradFn;
  const b = stateOf(s.base);
  if (b.gradFn === s.baseGradFn) return s.gradFn;
  s.baseGradFn = b.gradFn;
  if (!b.requiresGrad) return s.gradFn;
  const base = s.base;
  const baseShape = b.shape;
  const geometry: Geometry = { shape: s.shape, strides: s.strides, offset: s.offset };
  s.requiresGrad = true;
  s.gradFn = new Node("AsStridedBackward0", [edgeOf(base)], (g) => [viewScatter(g, baseShape, geometry)], []);
  return s.gradFn;
}

// ---- the view ops ----

/** A view of `x` with shape `shape` (one entry may be -1); needs a compatible layout. */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferSize(shape, x.numel());
  const strides = viewStrides(x.shape, x.stride(), target);
  if (strides === null) {
    throw new RangeError(
      "view size is not compatible with input tensor's size and stride (at least one dimension spans across two " +
        "contiguous subspaces). Use .reshape(...) instead.",
    );
  }
  const out = makeView(x, target, strides, x.storageOffset());
  const inShape = x.shape;
  return record(out, "ViewBackward0", [x], [], (g) => [g.reshape(inShape)]);
}

/** Resolves a -1 in a requested shape and checks the element count. */
export function inferSize(shape: readonly number[], count: number): number[] {
  let infer = -1;
  let known = 1;
  shape.forEach((d, i) => {
    if (d === -1) {
      if (infer >= 0) throw new RangeError("only one dimension can be inferred");
      infer = i;
    } else if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(`invalid shape dimension ${d}`);
    } else known *= d;
  });
  const out = [...shape];
  if (infer >= 0) {
    if (known === 0 || count % known !== 0) {
      throw new RangeError(`shape '${formatShape(shape)}' is invalid for input of size ${count}`);
    }
    out[infer] = count / known;
  } else if (known !== count) {
    throw new RangeError(`shape '${formatShape(shape)}' is invalid for input of size ${count}`);
  }
  return out;
}

/**
 * Strides that lay `newShape` over a tensor of `shape`/`strides` without
 * copying, or null when the layout does not allow it (PyTorch's
 * computeStride: dims are matched in chunks that are each contiguous).
 */
export function viewStrides(shape: Shape, strides: readonly number[], newShape: Shape): number[] | null {
  if (numel(shape) === 0 || shape.length === 0) return contiguousStrides(newShape);
  const out = new Array<number>(newShape.length);
  let viewD = newShape.length - 1;
  let chunkBase = strides[strides.length - 1] ?? 1;
  let tensorElems = 1;
  let viewElems = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    tensorElems *= shape[d];
    if (d === 0 || (shape[d - 1] !== 1 && strides[d - 1] !== tensorElems * chunkBase)) {
      while (viewD >= 0 && (viewElems < tensorElems || newShape[viewD] === 1)) {
        out[viewD] = viewElems * chunkBase;
        viewElems *= newShape[viewD];
        viewD--;
      }
      if (viewElems !== tensorElems) return null;
      if (d > 0) {
        chunkBase = strides[d - 1];
        tensorElems = 1;
        viewElems = 1;
      }
    }
  }
  return viewD === -1 ? out : null;
}

/** Swaps two dims. */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const a = normalizeDim(dim0, x.ndim);
  const b = normalizeDim(dim1, x.ndim);
  if (x.ndim === 0) return alias(x, "TransposeBackward0");
  const shape = [...x.shape];
  const strides = [...x.stride()];
  [shape[a], shape[b]] = [shape[b], shape[a]];
  [strides[a], strides[b]] = [strides[b], strides[a]];
  const out = makeView(x, shape, strides, x.storageOffset());
  return record(out, "TransposeBackward0", [x], [], (g) => [g.transpose(a, b)]);
}

/** Transpose of a matrix; 0-d and 1-d tensors come back as they are. */
export function t(x: Tensor): Tensor {
  if (x.ndim > 2) throw new RangeError(`t() expects a tensor with <= 2 dimensions, but self is ${x.ndim}D`);
  if (x.ndim < 2) return alias(x, "TBackward0");
  const out = makeView(x, [x.shape[1], x.shape[0]], [x.stride(1), x.stride(0)], x.storageOffset());
  return record(out, "TBackward0", [x], [], (g) => [g.t()]);
}

function alias(x: Tensor, name: string): Tensor {
  const out = makeView(x, x.shape, x.stride(), x.storageOffset());
  return record(out, name, [x], [], (g) => [g]);
}

/** Reorders dims: `dims` lists the input dim for each output dim. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.ndim) {
    throw new RangeError(
      `permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired ` +
        `ordering of dimensions i.e. input.dim() = ${x.ndim} is not equal to len(dims) = ${dims.length}`,
    );
  }
  const norm = dims.map((d) => normalizeDim(d, x.ndim));
  if (new Set(norm).size !== norm.length) throw new RangeError("permute(): duplicate dims are not allowed.");
  const out = makeView(x, norm.map((d) => x.shape[d]), norm.map((d) => x.stride(d)), x.storageOffset());
  const inverse = new Array<number>(norm.length);
  norm.forEach((d, i) => (inverse[d] = i));
  return record(out, "PermuteBackward0", [x], [], (g) => [g.permute(inverse)]);
}

/** Broadcasts size-1 dims to `shape` without copying; -1 keeps a size. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const lead = shape.length - x.ndim;
  if (lead < 0) {
    throw new RangeError(
      `expand(${formatShape(x.shape)}, size=${formatShape(shape)}): the number of sizes provided (${shape.length}) ` +
        `must be greater or equal to the number of dimensions in the tensor (${x.ndim})`,
    );
  }
  const target: number[] = [];
  const strides: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const size = i < lead ? 1 : x.shape[i - lead];
    let want = shape[i];
    if (want === -1) {
      if (i < lead) {
        throw new RangeError(
          `The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension ${i}`,
        );
      }
      want = size;
    }
    if (want !== size && size !== 1) {
      throw new RangeError(
        `The expanded size of the tensor (${want}) must match the existing size (${size}) at non-singleton ` +
          `dimension ${i}.  Target sizes: ${formatShape(shape)}.  Tensor sizes: ${formatShape(x.shape)}`,
      );
    }
    target.push(want);
    strides.push(i < lead || (size === 1 && want !== 1) ? 0 : x.stride(i - lead));
  }
  const out = makeView(x, target, strides, x.storageOffset());
  const inShape = x.shape;
  return record(out, "ExpandBackward0", [x], [], (g) => [sumToShape(g, inShape)]);
}

/** Drops size-1 dims: all of them, or the one given (a no-op if its size is not 1). */
export function squeeze(x: Tensor, dim?: number): Tensor {
  const keep = x.shape.map((d, i) => (dim === undefined ? d !== 1 : i !== normalizeDim(dim, x.ndim) || d !== 1));
  const out = makeView(
    x,
    x.shape.filter((_, i) => keep[i]),
    x.stride().filter((_, i) => keep[i]),
    x.storageOffset(),
  );
  const inShape = x.shape;
  return record(out, dim === undefined ? "SqueezeBackward0" : "SqueezeBackward1", [x], [], (g) => [g.reshape(inShape)]);
}

/** Inserts a size-1 dim at `dim` (in range `[-ndim-1, ndim]`). */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normalizeDim(dim, x.ndim + 1);
  const shape = [...x.shape];
  const strides = [...x.stride()];
  shape.splice(d, 0, 1);
  strides.splice(d, 0, d < x.ndim ? x.stride(d) * x.shape[d] : 1);
  const out = makeView(x, shape, strides, x.storageOffset());
  return record(out, "UnsqueezeBackward0", [x], [], (g) => [g.squeeze(d)]);
}

/** A view of `length` elements along `dim` starting at `start`. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  if (x.ndim === 0) throw new RangeError("narrow() cannot be applied to a 0-dim tensor.");
  const d = normalizeDim(dim, x.ndim);
  const size = x.shape[d];
  const s = start < 0 ? start + size : start;
  if (!Number.isInteger(s) || s < 0 || s > size) {
    throw new RangeError(`start out of range (expected to be in range of [${-size}, ${size}], but got ${start})`);
  }
  if (!Number.isInteger(length) || length < 0 || s + length > size) {
    throw new RangeError(`start (${s}) + length (${length}) exceeds dimension size (${size}).`);
  }
  return sliceView(x, [{ dim: d, start: s, step: 1, size: length }], [], "SliceBackward0");
}

/** One step of basic indexing: keep `size` elements of `dim` from `start` by `step`. */
export interface SliceStep {
  readonly dim: number;
  readonly start: number;
  readonly step: number;
  readonly size: number;
}

/**
 * A view built from slices (keeping their dims) and selects (dropping dims
 * at the given positions), as basic indexing does. One node records it; its
 * gradient scatters into zeros of the input's shape.
 */
export function sliceView(
  x: Tensor,
  slices: readonly SliceStep[],
  selects: readonly { dim: number; index: number }[],
  name: string,
): Tensor {
  const shape = [...x.shape];
  const strides = [...x.stride()];
  let offset = x.storageOffset();
  for (const s of slices) {
    offset += s.start * strides[s.dim];
    shape[s.dim] = s.size;
    strides[s.dim] *= s.step;
  }
  const dropped = new Set<number>();
  for (const s of selects) {
    offset += s.index * strides[s.dim];
    dropped.add(s.dim);
  }
  const outShape = shape.filter((_, i) => !dropped.has(i));
  const outStrides = strides.filter((_, i) => !dropped.has(i));
  const out = makeView(x, outShape, outStrides, offset);
  // The gradient lands in a contiguous tensor of x's shape, at the same
  // element positions relative to x's first element.
  const relative = relativeGeometry(x.shape, slices, selects);
  const inShape = x.shape;
  return record(out, name, [x], [], (g) => [viewScatter(g, inShape, relative)]);
}

function relativeGeometry(
  shape: Shape,
  slices: readonly SliceStep[],
  selects: readonly { dim: number; index: number }[],
): Geometry {
  const strides = contiguousStrides(shape);
  const outShape = [...shape];
  let offset = 0;
  for (const s of slices) {
    offset += s.start * strides[s.dim];
    outShape[s.dim] = s.size;
    strides[s.dim] *= s.step;
  }
  const dropped = new Set(selects.map((s) => s.dim));
  for (const s of selects) offset += s.index * strides[s.dim];
  return {
    shape: outShape.filter((_, i) => !dropped.has(i)),
    strides: strides.filter((_, i) => !dropped.has(i)),
    offset,
  };
}

/** The `index`-th slice along `dim`, dropping that dim, as `tensor.select`. */
export function select(x: Tensor, dim: number, index: number): Tensor {
  if (x.ndim === 0) throw new RangeError("select() cannot be applied to a 0-dim tensor.");
  const d = normalizeDim(dim, x.ndim);
  const size = x.shape[d];
  if (!Number.isInteger(index) || index < -size || index >= size) {
    throw new RangeError(`index ${index} is out of bounds for dimension ${d} with size ${size}`);
  }
  return sliceView(x, [], [{ dim: d, index: index < 0 ? index + size : index }], "SelectBackward0");
}
