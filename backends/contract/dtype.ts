// The element types Flint tensors hold, and how each maps to a typed array.

/**
 * The element type of a tensor. `float32` is the default; `float64` exists for
 * gradcheck and precise work; `int32` holds indices and labels (PyTorch's
 * `int64` values are read into it with a range check); `bool` holds masks.
 */
export type DType = "float32" | "float64" | "int32" | "bool";

/** Every dtype, in promotion order (a later one wins over an earlier one). */
export const DTYPES: readonly DType[] = ["bool", "int32", "float32", "float64"];

/** The typed array that stores a dtype's elements on the CPU. */
export type DataArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/** Maps a dtype to the typed array type that holds it. */
export interface DataArrayOf {
  /** float32 elements */
  float32: Float32Array;
  /** float64 elements */
  float64: Float64Array;
  /** int32 elements */
  int32: Int32Array;
  /** bool elements, one byte each, 0 or 1 */
  bool: Uint8Array;
}

type ArrayConstructorOf = {
  [D in DType]: { new (length: number): DataArrayOf[D]; readonly BYTES_PER_ELEMENT: number };
};

const CONSTRUCTORS: ArrayConstructorOf = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  bool: Uint8Array,
};

/** Allocates a zero-filled typed array for `length` elements of `dtype`. */
export function allocArray<D extends DType>(dtype: D, length: number): DataArrayOf[D] {
  return new CONSTRUCTORS[dtype](length);
}

/** Bytes one element of `dtype` takes in storage. */
export function bytesPerElement(dtype: DType): number {
  return CONSTRUCTORS[dtype].BYTES_PER_ELEMENT;
}

/** True for float32 and float64: the dtypes that can require gradients. */
export function isFloatingPoint(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float64";
}

/** The dtype a typed array holds, or undefined for an array Flint does not store. */
export function dtypeOfArray(array: ArrayBufferView): DType | undefined {
  if (array instanceof Float32Array) return "float32";
  if (array instanceof Float64Array) return "float64";
  if (array instanceof Int32Array) return "int32";
  if (array instanceof Uint8Array) return "bool";
  return undefined;
}

/** Checks that `value` names a dtype, naming the valid ones when it does not. */
export function assertDType(value: unknown): asserts value is DType {
  if (typeof value !== "string" || !(DTYPES as readonly string[]).includes(value)) {
    throw new TypeError(
      `invalid dtype ${JSON.stringify(value)}: expected one of ${DTYPES.join(", ")}`,
    );
  }
}
