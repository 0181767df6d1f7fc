// CPU storage: a typed array, and the bookkeeping `memory()` reports.

import type { DataArray, DType, MemoryInfo, Storage, View } from "@flint/backend";

/** A typed array holding one tensor storage on the CPU. */
export class CpuStorage implements Storage {
  #data: DataArray | undefined;
  readonly dtype: DType;
  readonly #ledger: MemoryLedger;

  constructor(data: DataArray, dtype: DType, ledger: MemoryLedger) {
    this.#data = data;
    this.dtype = dtype;
    this.#ledger = ledger;
    ledger.add(data.byteLength);
  }

  get byteLength(): number {
    return this.#data?.byteLength ?? 0;
  }

  /** The elements; throws once the storage is disposed. */
  get data(): DataArray {
    if (this.#data === undefined) {
      throw new ReferenceError("cpu storage was disposed: the tensor that owned it can no longer be read");
    }
    return this.#data;
  }

  get disposed(): boolean {
    return this.#data === undefined;
  }

  dispose(): void {
    if (this.#data === undefined) return;
    this.#ledger.remove(this.#data.byteLength);
    this.#data = undefined;
  }
}

/** Counts live storages and bytes for `memory()`. */
export class MemoryLedger {
  #storages = 0;
  #bytes = 0;
  add(bytes: number): void {
    this.#storages++;
    this.#bytes += bytes;
  }
  remove(bytes: number): void {
    this.#storages--;
    this.#bytes -= bytes;
  }
  info(): MemoryInfo {
    return { storages: this.#storages, bytes: this.#bytes };
  }
}

/** The typed array behind a view, checking it belongs to the CPU backend. */
export function dataOf(view: View): DataArray {
  const storage = view.storage;
  if (!(storage instanceof CpuStorage)) {
    throw new TypeError("cpu backend was given a storage from another device");
  }
  return storage.data;
}
