// CPU storage: a typed array, either in ordinary memory or in a block of the
// WebAssembly kernels' arena (./_arena.ts) where kernels use it in place, and
// the bookkeeping `memory()` reports.

import { allocArray, type DataArray, type DType, type MemoryLedger, type Storage, type View } from "@flint/backend";
import type { Arena, Block, Tenant } from "./_arena.ts";

const BYTES: Readonly<Record<DType, number>> = { float32: 4, float64: 8, int32: 4, bool: 1 };

function viewOf(buffer: ArrayBufferLike, dtype: DType, ptr: number, length: number): DataArray {
  if (dtype === "float32") return new Float32Array(buffer, ptr, length);
  if (dtype === "float64") return new Float64Array(buffer, ptr, length);
  if (dtype === "int32") return new Int32Array(buffer, ptr, length);
  return new Uint8Array(buffer, ptr, length);
}

/** A typed array holding one tensor storage on the CPU. */
export class CpuStorage implements Storage, Tenant {
  readonly dtype: DType;
  /** elements */
  readonly length: number;
  /** the caller's own array (`adopt`): it never moves into the arena, so the caller keeps seeing writes */
  readonly external: boolean;
  readonly #ledger: MemoryLedger;
  #data: DataArray | undefined;
  #arena: Arena | undefined;
  #block: Block | undefined;
  #disposed = false;

  /** Wraps `data` (`length` overrides its length only while allocate() finds a home). */
  constructor(data: DataArray, dtype: DType, ledger: MemoryLedger, external = false, length = data.length) {
    this.dtype = dtype;
    this.length = length;
    this.external = external;
    this.#data = data;
    this.#ledger = ledger;
    ledger.add(length * BYTES[dtype]);
  }

  /**
   * A storage of `length` elements in `arena` when it has room, else in
   * ordinary memory. Elements are zero only when `zero` is set.
   */
  static allocate(
    arena: Arena | undefined,
    dtype: DType,
    length: number,
    ledger: MemoryLedger,
    zero = false,
  ): CpuStorage {
    if (arena === undefined || length === 0) return new CpuStorage(allocArray(dtype, length), dtype, ledger);
    const s = new CpuStorage(EMPTY[dtype], dtype, ledger, false, length);
    if (!s.#moveTo(arena)) s.#data = allocArray(dtype, length);
    else if (zero) s.#data!.fill(0);
    return s;
  }

  get byteLength(): number {
    return this.#disposed ? 0 : this.length * BYTES[this.dtype];
  }

  /** The elements; throws once the storage is disposed. */
  get data(): DataArray {
    if (this.#disposed) {
      throw new ReferenceError("cpu storage was disposed: the tensor that owned it can no longer be read");
    }
    if (this.#block !== undefined) this.#arena!.touch(this.#block);
    return this.#data!;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * The byte address of the elements in `arena`'s memory, moving them in
   * first when they live elsewhere; -1 when they cannot move (an adopted
   * array, or no room). Pins the storage for the current op.
   */
  addressIn(arena: Arena): number {
    if (this.#disposed) this.data; // throws the disposed error
    if (this.#block === undefined || this.#arena !== arena) {
      if (this.external || this.#block !== undefined) return -1;
      const old = this.#data!;
      if (!this.#moveTo(arena)) return -1;
      this.#data!.set(old);
    }
    arena.touch(this.#block!);
    return this.#block!.ptr;
  }

  /** Copies the elements to ordinary memory and gives the block back (the arena needs it). */
  evict(): void {
    this.#data = this.#data!.slice();
    this.#block = undefined;
    this.#arena = undefined;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#ledger.remove(this.length * BYTES[this.dtype]);
    if (this.#block !== undefined) this.#arena!.freeTenant(this.#block);
    this.#block = undefined;
    this.#arena = undefined;
    this.#data = undefined;
  }

  #moveTo(arena: Arena): boolean {
    const bytes = this.length * BYTES[this.dtype];
    const block = arena.allocTenant(bytes, this);
    if (block === undefined) return false;
    this.#arena = arena;
    this.#block = block;
    this.#data = viewOf(arena.buffer, this.dtype, block.ptr, this.length);
    return true;
  }
}

const EMPTY: Readonly<Record<DType, DataArray>> = {
  float32: new Float32Array(0),
  float64: new Float64Array(0),
  int32: new Int32Array(0),
  bool: new Uint8Array(0),
};

/** The typed array behind a view, checking it belongs to the CPU backend. */
export function dataOf(view: View): DataArray {
  const storage = view.storage;
  if (!(storage instanceof CpuStorage)) {
    throw new TypeError("cpu backend was given a storage from another device");
  }
  return storage.data;
}
