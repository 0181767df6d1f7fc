// Strided views as tfjs tensors. tfjs has no strides, so a view is rebuilt
// from its storage's flat tensor with the cheapest ops its layout allows:
// a slice for a contiguous block, a transpose for a permuted one, a
// broadcast for stride-0 dims, and a gather at host-computed positions for
// anything else (every_other slices, overlapping windows).

import { isContiguous, numel, type Shape, type View } from "@flint/backend";
import * as tf from "@tensorflow/tfjs-core";
import { storageOf } from "./storage.ts";

/** The storage offset of every element of a view, in row-major order. */
export function storageOffsets(shape: Shape, strides: readonly number[], offset: number): Int32Array {
  const out = new Int32Array(numel(shape));
  const rank = shape.length;
  if (out.length === 0) return out;
  const index = new Array<number>(rank).fill(0);
  let at = offset;
  for (let i = 0; i < out.length; i++) {
    out[i] = at;
    // Odometer step: bump the last dim, carrying into earlier ones.
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) {
        at += strides[d];
        break;
      }
      at -= (shape[d] - 1) * strides[d];
      index[d] = 0;
    }
  }
  return out;
}

/**
 * Host-side storage offsets, cached by geometry: a training loop views the
 * same shapes every step, so each table is computed once. Least recently
 * used tables are dropped past `maxEntries`.
 */
export class OffsetCache {
  readonly #tables = new Map<string, Int32Array>();
  readonly #maxEntries: number;

  constructor(maxEntries = 256) {
    this.#maxEntries = maxEntries;
  }

  /** Offsets of the view's elements (see {@linkcode storageOffsets}). */
  offsets(shape: Shape, strides: readonly number[], offset: number): Int32Array {
    const key = `${shape.join(",")}|${strides.join(",")}|${offset}`;
    const hit = this.#tables.get(key);
    if (hit !== undefined) {
      this.#tables.delete(key);
      this.#tables.set(key, hit);
      return hit;
    }
    const table = storageOffsets(shape, strides, offset);
    this.#tables.set(key, table);
    if (this.#tables.size > this.#maxEntries) this.#tables.delete(this.#tables.keys().next().value!);
    return table;
  }

  /** Number of cached tables. */
  get size(): number {
    return this.#tables.size;
  }
}

/**
 * The dims of `shape` in the order that walks `strides` from largest to
 * smallest, when that order makes the view one contiguous block; else
 * undefined. Size-1 dims go last: their strides do not matter.
 */
function permutationOf(shape: Shape, strides: readonly number[]): number[] | undefined {
  const dims = shape.map((_, d) => d);
  dims.sort((p, q) => {
    const big = Number(shape[q] > 1) - Number(shape[p] > 1);
    return big !== 0 ? big : strides[q] - strides[p];
  });
  const permutedShape = dims.map((d) => shape[d]);
  const permutedStrides = dims.map((d) => strides[d]);
  return isContiguous(permutedShape, permutedStrides) ? dims : undefined;
}

/**
 * The view's elements as a tfjs tensor of the view's shape, or, when
 * `expand` is false, of its shape with every stride-0 dim cut to size 1
 * (which tfjs's own broadcasting then stretches, without a copy). Call it
 * inside `tf.tidy`: the intermediates are left for the tidy to free.
 */
export function viewTensor(view: View, cache: OffsetCache, expand = true): tf.Tensor {
  const flat = storageOf(view).tensor;
  const { shape, strides, offset } = view;
  const size = numel(shape);
  if (size === 0) return tf.zeros(shape as number[], flat.dtype);
  if (isContiguous(shape, strides)) {
    const block = offset === 0 && size === flat.size ? flat : tf.slice(flat, offset, size);
    return shape.length === 1 ? block : tf.reshape(block, shape as number[]);
  }
  const base = shape.map((s, d) => (strides[d] === 0 ? 1 : s));
  const baseSize = numel(base);
  let t: tf.Tensor;
  const perm = permutationOf(base, strides);
  if (perm !== undefined) {
    const block = tf.reshape(tf.slice(flat, offset, baseSize), perm.map((d) => base[d]));
    const inverse = new Array<number>(perm.length);
    perm.forEach((d, i) => (inverse[d] = i));
    t = inverse.every((p, i) => p === i) ? tf.reshape(block, base) : tf.transpose(block, inverse);
  } else {
    const positions = tf.tensor1d(cache.offsets(base, strides, offset), "int32");
    t = tf.reshape(tf.gather(flat, positions), base);
  }
  return expand && baseSize !== size ? tf.broadcastTo(t, shape as number[]) : t;
}

/**
 * The view's elements as a 1-d tensor in row-major order, which is all an
 * element-wise kernel needs: a contiguous view costs no reshape at all.
 */
export function flatTensor(view: View, cache: OffsetCache): tf.Tensor {
  const t = viewTensor(view, cache);
  return t.rank === 1 ? t : tf.reshape(t, [-1]);
}

/** True when a view walks `shape`'s elements in row-major order with no repeats (no broadcasting). */
export function isDense(view: View, shape: Shape): boolean {
  return view.shape.length === shape.length && view.shape.every((s, i) => s === shape[i]) &&
    isContiguous(view.shape, view.strides);
}
