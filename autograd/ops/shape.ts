// Shape ops that may copy: reshape, flatten, cat, stack, split, flip, repeat.

import { contiguousStrides, formatShape, numel } from "@flint/backend";
import { noGrad } from "../grad_mode.ts";
import type { Tensor } from "../tensor.ts";
import { backendOf, castTo, commonDevice, fromStorage, record, resultType, viewOf } from "./_core.ts";
import { gatherFlat } from "./indexing.ts";
import { inferSize, narrow, normalizeDim, select, unsqueeze, view, viewStrides } from "./views.ts";

/** Reads `(2, 3)` or `([2, 3])` as a list of sizes. */
export function sizeArgs(args: readonly (number | readonly number[])[]): number[] {
  if (args.length === 1 && Array.isArray(args[0])) return [...(args[0] as readonly number[])];
  for (const a of args) {
    if (typeof a !== "number") throw new TypeError(`expected integer sizes, got ${JSON.stringify(args)}`);
  }
  return args as number[];
}

/** `x` with another shape: a view when the layout allows, else a copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferSize(shape, x.numel());
  if (viewStrides(x.shape, x.stride(), target) !== null) return view(x, target);
  const copy = backendOf(x).cast(viewOf(x), x.dtype);
  const out = fromStorage(x.device, copy, target, x.dtype);
  const inShape = x.shape;
  return record(out, "UnsafeViewBackward0", [x], [], (g) => [g.reshape(inShape)]);
}

/** Merges dims `startDim..endDim` into one; a 0-d tensor becomes 1-d. */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normalizeDim(startDim, x.ndim);
  const e = normalizeDim(endDim, x.ndim);
  if (s > e) throw new RangeError("flatten() has invalid args: start_dim cannot come after end_dim");
  const shape = [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

/**
 * Joins tensors along an existing dim; sizes must match elsewhere.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.cat([torch.zeros(2, 1), torch.ones(2, 2)], 1);
 * console.log(x.shape); // [2, 3]
 * ```
 */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new RangeError("torch.cat(): expected a non-empty list of Tensors");
  const device = commonDevice(tensors);
  // PyTorch skips 1-d empty tensors in cat, a legacy rule many scripts rely on.
  const parts = tensors.filter((t) => !(t.ndim === 1 && t.shape[0] === 0));
  if (parts.length === 0) return tensors[0].clone();
  const first = parts[0];
  if (first.ndim === 0) throw new RangeError("zero-dimensional tensor (at position 0) cannot be concatenated");
  const d = normalizeDim(dim, first.ndim);
  let total = 0;
  parts.forEach((t, i) => {
    if (t.ndim !== first.ndim) {
      throw new RangeError(
        `Tensors must have same number of dimensions: got ${first.ndim} and ${t.ndim}`,
      );
    }
    for (let k = 0; k < t.ndim; k++) {
      if (k !== d && t.shape[k] !== first.shape[k]) {
        throw new RangeError(
          `Sizes of tensors must match except in dimension ${d}. Expected size ${first.shape[k]} but got size ` +
            `${t.shape[k]} for tensor number ${i} in the list.`,
        );
      }
    }
    total += t.shape[d];
  });
  const dtype = resultType(...parts);
  const shape = [...first.shape];
  shape[d] = total;
  const backend = device.backend;
  const storage = backend.fill(numel(shape), 0, dtype);
  const strides = contiguousStrides(shape);
  let offset = 0;
  const sizes: number[] = [];
  for (const t of parts) {
    const part = castTo(t, dtype);
    const partShape = [...t.shape];
    backend.copy({ storage, dtype, shape: partShape, strides, offset: offset * strides[d] }, viewOf(part));
    offset += t.shape[d];
    sizes.push(t.shape[d]);
  }
  const out = fromStorage(device, storage, shape, dtype);
  return record(out, "CatBackward0", parts, [], (g) => {
    let start = 0;
    return sizes.map((size) => {
      const piece = narrow(g, d, start, size);
      start += size;
      return piece;
    });
  });
}

/**
 * Joins equally shaped tensors along a new dim.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(torch.stack([torch.zeros(3), torch.ones(3)]).shape); // [2, 3]
 * ```
 */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new RangeError("stack expects a non-empty TensorList");
  const first = tensors[0];
  tensors.forEach((t, i) => {
    if (t.ndim !== first.ndim || t.shape.some((s, k) => s !== first.shape[k])) {
      throw new RangeError(
        `stack expects each tensor to be equal size, but got ${formatShape(first.shape)} at entry 0 and ` +
          `${formatShape(t.shape)} at entry ${i}`,
      );
    }
  });
  const d = normalizeDim(dim, first.ndim + 1);
  const out = noGrad(() => cat(tensors.map((t) => unsqueeze(t, d)), d));
  return record(out, "StackBackward0", tensors, [], (g) => tensors.map((_, i) => select(g, d, i)));
}

/** Pieces of `splitSize` along `dim` (the last may be smaller), or of the listed sizes. */
export function split(x: Tensor, splitSize: number | readonly number[], dim = 0): Tensor[] {
  const d = normalizeDim(dim, x.ndim);
  const size = x.shape[d];
  let sizes: number[];
  if (typeof splitSize === "number") {
    if (!Number.isInteger(splitSize) || splitSize < 0 || (splitSize === 0 && size !== 0)) {
      throw new RangeError(`split expects split_size be non-negative, but got split_size=${splitSize}`);
    }
    sizes = [];
    for (let start = 0; start < size; start += splitSize) sizes.push(Math.min(splitSize, size - start));
    if (sizes.length === 0) sizes.push(0);
  } else {
    sizes = [...splitSize];
    const sum = sizes.reduce((a, b) => a + b, 0);
    if (sum !== size || sizes.some((s) => !Number.isInteger(s) || s < 0)) {
      throw new RangeError(
        `split_with_sizes expects split_sizes to sum exactly to ${size} (input tensor's size at dimension ${d}), ` +
          `but got split_sizes=${formatShape(sizes)}`,
      );
    }
  }
  let start = 0;
  return sizes.map((s) => {
    const piece = narrow(x, d, start, s);
    start += s;
    return piece;
  });
}

/** `chunks` nearly equal pieces along `dim` (fewer when the size runs out). */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  if (!Number.isInteger(chunks) || chunks <= 0) {
    throw new RangeError(`chunk expects \`chunks\` to be greater than 0, got: ${chunks}`);
  }
  const d = normalizeDim(dim, x.ndim);
  // An empty dim still gives `chunks` (empty) pieces, as in PyTorch.
  if (x.shape[d] === 0) return split(x, new Array<number>(chunks).fill(0), d);
  return split(x, Math.ceil(x.shape[d] / chunks), d);
}

/** For each output position of a flip, the row-major position it reads from. */
function flippedPositions(shape: readonly number[], dims: readonly number[]): Int32Array {
  const n = numel(shape);
  const strides = contiguousStrides(shape);
  const out = new Int32Array(n);
  const counter = new Array<number>(shape.length).fill(0);
  for (let p = 0; p < n; p++) {
    let src = 0;
    for (let d = 0; d < shape.length; d++) {
      src += (dims.includes(d) ? shape[d] - 1 - counter[d] : counter[d]) * strides[d];
    }
    out[p] = src;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++counter[d] < shape[d]) break;
      counter[d] = 0;
    }
  }
  return out;
}

/** The order reversed along `dims` (a copy, as in PyTorch). */
export function flip(x: Tensor, dims: readonly number[]): Tensor {
  const norm = dims.map((d) => normalizeDim(d, x.ndim));
  const positions = flippedPositions(x.shape, norm);
  const index = fromStorage(x.device, backendOf(x).upload(positions, "int32"), x.shape, "int32");
  return gatherFlat(x, index, "FlipBackward0");
}

/** Tiles `x` `sizes[i]` times along each dim (extra leading sizes add dims). */
export function repeat(x: Tensor, sizes: readonly number[]): Tensor {
  if (sizes.length < x.ndim) {
    throw new RangeError(
      "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor",
    );
  }
  const lead = sizes.length - x.ndim;
  const padded = [...new Array<number>(lead).fill(1), ...x.shape];
  // [r0, s0, r1, s1, ...]: expand the repeats beside each size, then merge.
  const interleaved = padded.flatMap((s, i) => [sizes[i], s]);
  const out = noGrad(() => {
    const expanded = x.reshape(padded.flatMap((s) => [1, s])).expand(interleaved);
    return reshape(expanded, padded.map((s, i) => s * sizes[i]));
  });
  const inShape = x.shape;
  return record(out, "RepeatBackward0", [x], [], (g) => {
    const split = g.reshape(interleaved);
    const repeatDims = sizes.map((_, i) => 2 * i);
    return [split.sum(repeatDims).reshape(inShape)];
  });
}
