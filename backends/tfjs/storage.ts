// tfjs storage: one flat tfjs tensor per Flint storage, and the bookkeeping
// `memory()` reports. tfjs tensors are immutable, so a write through a view
// swaps the tensor inside the storage while the Storage object stays the same.

import type { DType, MemoryLedger, Storage, View } from "@flint/backend";
import type * as tf from "@tensorflow/tfjs-core";

/** The tfjs dtype that holds a Flint dtype: tfjs has no float64, so it is kept in float32. */
export type TfDType = "float32" | "int32" | "bool";

/** Maps each Flint dtype to the tfjs dtype its storage uses. */
export const TF_DTYPE: Readonly<Record<DType, TfDType>> = {
  float32: "float32",
  float64: "float32",
  int32: "int32",
  bool: "bool",
};

const TF_BYTES: Readonly<Record<TfDType, number>> = { float32: 4, int32: 4, bool: 1 };

/** Every tfjs tensor a storage holds: a kernel result that is one of them must be copied, not kept. */
export const storageTensors: WeakSet<tf.Tensor> = new WeakSet();

/** A flat (1-d) tfjs tensor holding one storage's elements. */
export class TfjsStorage implements Storage {
  #tensor: tf.Tensor | undefined;
  /** the Flint dtype of the elements (float64 ones are held in float32) */
  readonly dtype: DType;
  /** number of elements */
  readonly size: number;
  readonly #ledger: MemoryLedger;

  constructor(tensor: tf.Tensor, dtype: DType, ledger: MemoryLedger) {
    this.#tensor = tensor;
    storageTensors.add(tensor);
    this.dtype = dtype;
    this.size = tensor.size;
    this.#ledger = ledger;
    ledger.add(this.byteLength);
  }

  /** Bytes on the device: float64 elements take 4, as tfjs holds them in float32. */
  get byteLength(): number {
    return this.#tensor === undefined ? 0 : this.size * TF_BYTES[TF_DTYPE[this.dtype]];
  }

  /** The flat tensor; throws once the storage is disposed. */
  get tensor(): tf.Tensor {
    if (this.#tensor === undefined) {
      throw new ReferenceError("tfjs storage was disposed: the tensor that owned it can no longer be used");
    }
    return this.#tensor;
  }

  /** Puts `next` (same size and dtype) in place of the current tensor, which is disposed. */
  replace(next: tf.Tensor): void {
    const old = this.tensor;
    this.#tensor = next;
    storageTensors.add(next);
    old.dispose();
  }

  dispose(): void {
    if (this.#tensor === undefined) return;
    this.#ledger.remove(this.byteLength);
    this.#tensor.dispose();
    this.#tensor = undefined;
  }
}

/** The storage behind a view, checking it belongs to a tfjs backend. */
export function storageOf(view: View): TfjsStorage {
  const storage = view.storage;
  if (!(storage instanceof TfjsStorage)) {
    throw new TypeError("tfjs backend was given a storage from another device");
  }
  return storage;
}
