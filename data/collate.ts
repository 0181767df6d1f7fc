// default_collate: how a list of items becomes a batch.

import { stack, Tensor, tensor } from "@flint/autograd";

/**
 * The type {@linkcode defaultCollate} makes of a batch of `T`: tensors, numbers and booleans become
 * tensors, strings stay a list, arrays and objects are collated element by element.
 */
export type Collated<T> = T extends Tensor ? Tensor
  : T extends number | boolean | ArrayBufferView ? Tensor
  : T extends string ? string[]
  : T extends readonly unknown[] ? { -readonly [K in keyof T]: Collated<T[K]> }
  : T extends object ? { -readonly [K in keyof T]: Collated<T[K]> }
  : T;

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Makes a batch of a list of items, as `torch.utils.data.default_collate`:
 *
 * - tensors are stacked along a new first dimension;
 * - numbers become one tensor: int32 when every number of the batch is an integer in int32's range
 *   (PyTorch's Python ints become int64, and int32 is Flint's integer dtype), float32 otherwise (PyTorch's
 *   floats become float64; float32 is Flint's default dtype) — so a batch of labels becomes int32, but
 *   float targets that happen to be whole numbers do too: return those as tensors to fix their dtype;
 * - booleans become a bool tensor; typed arrays become tensors and are stacked;
 * - strings stay a list;
 * - arrays are collated position by position (all items must have the same length), plain objects key by
 *   key.
 *
 * @param batch the items, at least one
 * @returns the batch, of type {@linkcode Collated}
 * @throws {RangeError} "each element in list of batch should be of equal size", or tensors of different
 *   shapes (from `stack`)
 * @throws {TypeError} "default_collate: batch must contain tensors, numbers, dicts or lists; found ..."
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const batch = torch.utils.data.defaultCollate([
 *   { x: torch.tensor([1, 2]), label: 0, name: "a" },
 *   { x: torch.tensor([3, 4]), label: 1, name: "b" },
 * ]);
 * console.log(batch.x.shape, batch.label.dtype, batch.label.tolistSync(), batch.name); // [ 2, 2 ] int32 [ 0, 1 ] [ "a", "b" ]
 * ```
 */
export function defaultCollate<T>(batch: readonly T[]): Collated<T> {
  return collate(batch as readonly unknown[]) as Collated<T>;
}

function collate(batch: readonly unknown[]): unknown {
  if (batch.length === 0) throw new RangeError("default_collate: the batch is empty");
  const elem = batch[0];
  if (elem instanceof Tensor) return stack(batch as Tensor[], 0);
  if (typeof elem === "number") {
    const numbers = batch as number[];
    const integral = numbers.every((v) => Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX);
    return tensor(numbers, { dtype: integral ? "int32" : "float32" });
  }
  if (typeof elem === "boolean") return tensor(batch as boolean[], { dtype: "bool" });
  if (typeof elem === "string") return [...batch];
  if (ArrayBuffer.isView(elem) && !(elem instanceof DataView)) {
    return stack(batch.map((a) => tensor(a as Float32Array)), 0);
  }
  if (Array.isArray(elem)) {
    const size = elem.length;
    if (!batch.every((item) => Array.isArray(item) && item.length === size)) {
      throw new RangeError("each element in list of batch should be of equal size");
    }
    return elem.map((_, i) => collate(batch.map((item) => (item as unknown[])[i])));
  }
  if (isPlainObject(elem)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(elem)) {
      out[key] = collate(batch.map((item) => (item as Record<string, unknown>)[key]));
    }
    return out;
  }
  throw new TypeError(
    `default_collate: batch must contain tensors, typed arrays, numbers, booleans, strings, objects or arrays; found ${
      describe(elem)
    }`,
  );
}
