// The caps a reader checks every size, offset and count against before it
// allocates: a file can claim anything, so nothing it claims is trusted.

import { type WeightsErrorLocation, WeightsFormatError } from "./errors.ts";

/** Caps on what a weights file may make the reader allocate or walk. */
export interface LoadLimits {
  /**
   * Most bytes the reader will allocate for tensor data, decompressed entries
   * and decompressed packs, in total (default 2 GiB). A file whose sizes
   * claim more is refused before anything is allocated.
   */
  maxBytes?: number;
  /** Most bytes of a safetensors JSON header (default 100,000,000, the format's own limit). */
  maxHeaderBytes?: number;
  /** Most bytes of a pickle (`data.pkl`; default 256 MiB). */
  maxPickleBytes?: number;
  /** Deepest nesting of MARKs in a pickle (default 1,000). */
  maxPickleDepth?: number;
  /** Most memo entries in a pickle (default 1,000,000). */
  maxMemoSize?: number;
  /** Longest string or bytes value in a pickle (default 1 MiB). */
  maxStringLength?: number;
  /** Most entries in a zip archive or tensors in a header (default 1,000,000). */
  maxEntries?: number;
}

/** The limits with every default filled in. */
export type ResolvedLimits = Required<LoadLimits>;

/**
 * The default caps.
 *
 * @example
 * ```ts
 * import { DEFAULT_LIMITS } from "@flint/models";
 *
 * console.log(DEFAULT_LIMITS.maxBytes === 2 ** 31, DEFAULT_LIMITS.maxHeaderBytes); // true 100000000
 * ```
 */
export const DEFAULT_LIMITS: Readonly<ResolvedLimits> = Object.freeze({
  maxBytes: 2 * 1024 ** 3,
  maxHeaderBytes: 100_000_000,
  maxPickleBytes: 256 * 1024 ** 2,
  maxPickleDepth: 1000,
  maxMemoSize: 1_000_000,
  maxStringLength: 1024 ** 2,
  maxEntries: 1_000_000,
});

/** Fills in the defaults, refusing caps that are not non-negative integers. */
export function resolveLimits(limits: LoadLimits = {}): ResolvedLimits {
  const out = { ...DEFAULT_LIMITS };
  for (const [name, value] of Object.entries(limits) as [keyof LoadLimits, number | undefined][]) {
    if (value === undefined) continue;
    if (!(name in DEFAULT_LIMITS)) throw new TypeError(`unknown limit '${name}'`);
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`limit ${name} must be a non-negative integer, got ${value}`);
    }
    out[name] = value;
  }
  return out;
}

/** Something that approves an allocation of `bytes` or throws. */
export interface Budget {
  /** approves `bytes` for `what`, or throws a "limit" error */
  take(bytes: number, what: string, where?: WeightsErrorLocation): void;
  /** bytes still free (after what `take` approved) */
  readonly remaining: number;
}

/**
 * Counts what a reader allocates against `maxBytes`, so that a file with many
 * storages each under the cap cannot add up to more than it.
 */
export class ByteBudget {
  #used = 0;
  readonly #cap: number;

  /** A budget of `cap` bytes. */
  constructor(cap: number) {
    this.#cap = cap;
  }

  /** Bytes taken so far. */
  get used(): number {
    return this.#used;
  }

  /** The cap. */
  get cap(): number {
    return this.#cap;
  }

  /** Bytes not yet taken. */
  get remaining(): number {
    return this.#cap - this.#used;
  }

  /** Takes `bytes` from the budget, or throws a "limit" error naming `what` and leaves it untouched. */
  take(bytes: number, what: string, where: WeightsErrorLocation = {}): void {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new WeightsFormatError("corrupt", `${what}: invalid size ${bytes}`, where);
    }
    if (bytes > this.#cap - this.#used) {
      throw new WeightsFormatError(
        "limit",
        `${what} needs ${bytes} bytes, past the cap of ${this.#cap} bytes (${this.#used} already taken); ` +
          `raise limits.maxBytes if the file is trusted`,
        where,
      );
    }
    this.#used += bytes;
  }

  /** A budget that approves one allocation at a time against what is left, without counting it: for buffers dropped at once. */
  transient(): Budget {
    // deno-lint-ignore no-this-alias
    const budget = this;
    let last = 0;
    return {
      take: (bytes, what, where) => {
        this.check(bytes, what, where);
        last = bytes;
      },
      get remaining() {
        return budget.remaining - last;
      },
    };
  }

  /** Throws as {@linkcode take} would, without taking anything. */
  check(bytes: number, what: string, where: WeightsErrorLocation = {}): void {
    const used = this.#used;
    this.take(bytes, what, where);
    this.#used = used;
  }
}

/** Multiplies sizes, refusing negative, fractional or unsafe ones and products past `cap`. */
export function checkedNumel(
  shape: readonly unknown[],
  cap: number,
  what: string,
  where: WeightsErrorLocation,
): number {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      throw new WeightsFormatError(
        "corrupt",
        `${what}: invalid size ${String(d)} in shape [${shape.join(", ")}]`,
        where,
      );
    }
    n *= d;
    if (n > cap) {
      throw new WeightsFormatError(
        "limit",
        `${what}: shape [${shape.join(", ")}] has more elements than the cap of ${cap} allows`,
        where,
      );
    }
  }
  return n;
}
