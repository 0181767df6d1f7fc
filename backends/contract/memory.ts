// Bookkeeping every backend needs for `memory()`.

import type { MemoryInfo } from "./backend.ts";

/**
 * Counts a backend's live storages and their bytes, for `memory()`.
 *
 * @example
 * ```ts
 * import { MemoryLedger } from "@flint/backend";
 *
 * const ledger = new MemoryLedger();
 * ledger.add(16);
 * console.log(ledger.info()); // { storages: 1, bytes: 16 }
 * ```
 */
export class MemoryLedger {
  #storages = 0;
  #bytes = 0;
  /** Records a new storage of `bytes`. */
  add(bytes: number): void {
    this.#storages++;
    this.#bytes += bytes;
  }
  /** Records that a storage of `bytes` was freed. */
  remove(bytes: number): void {
    this.#storages--;
    this.#bytes -= bytes;
  }
  /** Live storages and bytes. */
  info(): MemoryInfo {
    return { storages: this.#storages, bytes: this.#bytes };
  }
}
