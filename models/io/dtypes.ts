// The element types found in weights files, and how each becomes one of
// Flint's four (float32, float64, int32, bool): half floats widen to float32,
// 64-bit and small integers become int32 (with a range check).

import type { DType } from "@flint/autograd";
import { type WeightsErrorLocation, WeightsFormatError } from "./errors.ts";

/** An element type as PyTorch names it (`torch.float16` is `"float16"`). */
export type SourceDType =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/** Bytes per element of each source dtype. */
export const ITEM_SIZE: Readonly<Record<SourceDType, number>> = Object.freeze({
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
});

/** The Flint dtype a source dtype loads as. */
export const FLINT_DTYPE: Readonly<Record<SourceDType, DType>> = Object.freeze({
  float32: "float32",
  float64: "float64",
  float16: "float32",
  bfloat16: "float32",
  int64: "int32",
  int32: "int32",
  int16: "int32",
  int8: "int32",
  uint8: "int32",
  bool: "bool",
});

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A float16 bit pattern as a number (exact: every half is a float32). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The float16 bit pattern nearest to `x` (round half to even, as PyTorch's `.half()`). */
export function floatToHalf(x: number): number {
  F32[0] = x;
  const bits = U32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let frac = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (frac !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    frac |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = frac & ((1 << shift) - 1);
    let m = frac >>> shift;
    if (rest > half || (rest === half && (m & 1) === 1)) m++;
    return sign | m;
  }
  const rest = frac & 0x1fff;
  let out = sign | (e << 10) | (frac >>> 13);
  if (rest > 0x1000 || (rest === 0x1000 && (out & 1) === 1)) out++;
  return out;
}

/** The bfloat16 bit pattern nearest to `x` (round half to even, NaN kept quiet). */
export function floatToBfloat16(x: number): number {
  F32[0] = x;
  const bits = U32[0];
  if (Number.isNaN(x)) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Copies `bytes` into an aligned array of `itemSize`-byte elements, swapping byte order when the data is big-endian. */
function aligned(bytes: Uint8Array, itemSize: number, bigEndian: boolean): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (bigEndian === LITTLE_ENDIAN && itemSize > 1) {
    for (let i = 0; i < copy.length; i += itemSize) copy.subarray(i, i + itemSize).reverse();
  }
  return copy.buffer;
}

/**
 * Decodes little-endian (or, with `bigEndian`, big-endian) storage bytes of
 * `dtype` into the typed array of its Flint dtype. Refuses int64 values
 * outside int32's range, naming the first.
 */
export function decodeElements(
  bytes: Uint8Array,
  dtype: SourceDType,
  where: WeightsErrorLocation,
  bigEndian = false,
): Float32Array | Float64Array | Int32Array | Uint8Array {
  const n = bytes.length / ITEM_SIZE[dtype];
  const buffer = aligned(bytes, ITEM_SIZE[dtype], bigEndian);
  switch (dtype) {
    case "float32":
      return new Float32Array(buffer);
    case "float64":
      return new Float64Array(buffer);
    case "int32":
      return new Int32Array(buffer);
    case "float16": {
      const h = new Uint16Array(buffer);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(h[i]);
      return out;
    }
    case "bfloat16": {
      const h = new Uint16Array(buffer);
      const out = new Float32Array(n);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = h[i] << 16;
      return out;
    }
    case "int64": {
      const v = new BigInt64Array(buffer);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const x = v[i];
        if (x > 2147483647n || x < -2147483648n) {
          throw new WeightsFormatError(
            "unsupported",
            `int64 value ${x} at element ${i} does not fit in int32, Flint's integer type`,
            where,
          );
        }
        out[i] = Number(x);
      }
      return out;
    }
    case "int16":
      return Int32Array.from(new Int16Array(buffer));
    case "int8":
      return Int32Array.from(new Int8Array(buffer));
    case "uint8":
      return Int32Array.from(new Uint8Array(buffer));
    case "bool": {
      const out = new Uint8Array(buffer);
      for (let i = 0; i < n; i++) out[i] = out[i] !== 0 ? 1 : 0;
      return out;
    }
  }
}

/**
 * Encodes row-major elements as little-endian bytes of `dtype`. Values are
 * rounded as PyTorch's `.to(dtype)` rounds them; integer targets must hold
 * integers in range.
 */
export function encodeElements(
  data: Float32Array | Float64Array | Int32Array | Uint8Array,
  dtype: SourceDType,
  where: WeightsErrorLocation,
): Uint8Array {
  const n = data.length;
  const same = (dtype === "float32" && data instanceof Float32Array) ||
    (dtype === "float64" && data instanceof Float64Array) || (dtype === "int32" && data instanceof Int32Array);
  if (same && LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  const out = new Uint8Array(n * ITEM_SIZE[dtype]);
  const view = new DataView(out.buffer);
  const intRange = (lo: number, hi: number) => {
    for (let i = 0; i < n; i++) {
      const v = data[i];
      if (!Number.isInteger(v) || v < lo || v > hi) {
        throw new WeightsFormatError("invalid", `value ${v} at element ${i} does not fit in ${dtype}`, where);
      }
    }
  };
  switch (dtype) {
    case "float32":
      for (let i = 0; i < n; i++) view.setFloat32(i * 4, data[i], true);
      break;
    case "float64":
      for (let i = 0; i < n; i++) view.setFloat64(i * 8, data[i], true);
      break;
    case "float16":
      for (let i = 0; i < n; i++) view.setUint16(i * 2, floatToHalf(data[i]), true);
      break;
    case "bfloat16":
      for (let i = 0; i < n; i++) view.setUint16(i * 2, floatToBfloat16(data[i]), true);
      break;
    case "int64":
      intRange(-(2 ** 53), 2 ** 53);
      for (let i = 0; i < n; i++) view.setBigInt64(i * 8, BigInt(data[i]), true);
      break;
    case "int32":
      intRange(-2147483648, 2147483647);
      for (let i = 0; i < n; i++) view.setInt32(i * 4, data[i], true);
      break;
    case "int16":
      intRange(-32768, 32767);
      for (let i = 0; i < n; i++) view.setInt16(i * 2, data[i], true);
      break;
    case "int8":
      intRange(-128, 127);
      for (let i = 0; i < n; i++) view.setInt8(i, data[i]);
      break;
    case "uint8":
      intRange(0, 255);
      out.set(data);
      break;
    case "bool":
      for (let i = 0; i < n; i++) out[i] = data[i] !== 0 ? 1 : 0;
      break;
  }
  return out;
}

/** The source dtype a Flint dtype is saved as by default (int32 as int64, PyTorch's `long`). */
export const DEFAULT_SAVE_DTYPE: Readonly<Record<DType, SourceDType>> = Object.freeze({
  float32: "float32",
  float64: "float64",
  int32: "int64",
  bool: "bool",
});

/** True for a name in {@linkcode SourceDType}. */
export function isSourceDType(name: string): name is SourceDType {
  return Object.hasOwn(ITEM_SIZE, name);
}
