// Option and result types shared by the tensor methods and the functional API.

import type { DType } from "@flint/backend";
import type { DeviceLike } from "./device.ts";
import type { Tensor } from "./tensor.ts";

/** Options of tensor creation: `{ dtype, requiresGrad, device }`. */
export interface CreationOptions {
  /** element type; float32 unless the data says otherwise */
  dtype?: DType;
  /** record ops on the new tensor for autograd */
  requiresGrad?: boolean;
  /** where the tensor lives; the default device unless given */
  device?: DeviceLike;
}

/** Options of reductions: which dims, and whether they stay as size 1. */
export interface ReduceOptions {
  /** the dims to reduce; all when absent */
  dim?: number | readonly number[] | null;
  /** keep reduced dims as size 1 */
  keepdim?: boolean;
  /** the dtype to accumulate and return in */
  dtype?: DType;
}

/** Options of `var` and `std`. */
export interface VarOptions extends ReduceOptions {
  /** subtracted from the count in the divisor: 1 (Bessel, default) or 0 */
  correction?: number;
  /** the older spelling: `unbiased: false` is `correction: 0` */
  unbiased?: boolean;
}

/** Options of `div`. */
export interface DivOptions {
  /** "trunc" rounds toward zero, "floor" down; absent is true division */
  roundingMode?: "trunc" | "floor" | null;
}

/** Options of `clamp`. */
export interface ClampOptions {
  /** lower bound */
  min?: number | Tensor | null;
  /** upper bound */
  max?: number | Tensor | null;
}

/** Options of `tensor.to(...)`. */
export interface ToOptions {
  /** the target dtype */
  dtype?: DType;
  /** the target device */
  device?: DeviceLike;
  /** copy even when nothing changes */
  copy?: boolean;
}

/** Options of `backward()`. */
export interface BackwardOptions {
  /** keep the graph for another backward (default: createGraph) */
  retainGraph?: boolean;
  /** record the backward pass itself, for higher-order gradients */
  createGraph?: boolean;
  /** only accumulate into these leaves */
  inputs?: readonly Tensor[];
}

/** Options of `indexPut_`. */
export interface IndexPutOptions {
  /** add into the selected elements instead of overwriting */
  accumulate?: boolean;
}

/**
 * One entry of an index expression: an integer (selects and drops a dim), a
 * slice (a string in Python syntax, "1:", "::2", ":", or a {@linkcode Slice}),
 * `null` (a new size-1 dim, Python's None), "..." (all remaining dims), an
 * int32 tensor or a bool mask (advanced indexing), or an array of integers.
 */
export type IndexSpec = number | string | Slice | null | Tensor | readonly number[];

/** A slice `start:stop:step`; absent parts take Python's defaults. */
export interface Slice {
  /** first position (negative counts from the end) */
  start?: number | null;
  /** one past the last position */
  stop?: number | null;
  /** step, positive */
  step?: number | null;
}

/** Nested arrays of numbers (or booleans), as `tolist()` returns and `tensor()` takes. */
export type NestedArray = number | boolean | NestedArray[];

/** `[values, indices]` of `max`/`min` along a dim; also readable as `.values` and `.indices`. */
export type ValuesIndices = [Tensor, Tensor] & { readonly values: Tensor; readonly indices: Tensor };
