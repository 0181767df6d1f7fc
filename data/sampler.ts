// Samplers: which indices a loader reads, in which order, as torch.utils.data's SequentialSampler,
// RandomSampler and BatchSampler. They are lazy generators, like PyTorch's, so they draw from the random
// generator at the same moments PyTorch does.

import { defaultGenerator, Generator } from "@flint/autograd";

/**
 * One int64 draw as `torch.empty((), dtype=torch.int64).random_(generator=g).item()`: a 64-bit output
 * (`random64()`, high word first) reduced to `[0, 2^63)`. PyTorch seeds per-epoch generators and worker
 * seeds with it.
 *
 * @param generator the generator to draw from (default: the default generator)
 * @returns the draw
 *
 * @example
 * ```ts
 * import { Generator } from "@flint/torch";
 * import { randomInt64 } from "@flint/data";
 *
 * console.log(randomInt64(new Generator(5))); // 4095051218741643470n
 * ```
 */
export function randomInt64(generator: Generator = defaultGenerator): bigint {
  const hi = generator.nextUint32();
  const lo = generator.nextUint32();
  return ((BigInt(hi) << 32n) | BigInt(lo)) & 0x7fffffffffffffffn;
}

/** Something that yields dataset indices and knows how many, PyTorch's `Sampler`. */
export interface Sampler<T = number> extends Iterable<T> {
  /** the number of values one pass yields */
  readonly length: number;
}

/** Anything with a length: a dataset, an array, or the length itself. */
export type Sized = number | { readonly length: number };

function sizeOf(source: Sized): number {
  return typeof source === "number" ? source : source.length;
}

/**
 * Yields `0, 1, ..., n - 1`, as `SequentialSampler`.
 *
 * @example
 * ```ts
 * import { SequentialSampler } from "@flint/data";
 *
 * console.log([...new SequentialSampler(["a", "b", "c"])]); // [ 0, 1, 2 ]
 * ```
 */
export class SequentialSampler implements Sampler<number> {
  #source: Sized;

  /** Creates a sampler over `dataSource` (a dataset, or its length). */
  constructor(dataSource: Sized) {
    this.#source = dataSource;
  }

  /** The dataset's length. */
  get length(): number {
    return sizeOf(this.#source);
  }

  /** The indices in order. */
  *[Symbol.iterator](): Iterator<number> {
    const n = this.length;
    for (let i = 0; i < n; i++) yield i;
  }
}

/** Options of {@linkcode RandomSampler}. */
export interface RandomSamplerOptions {
  /** draw with replacement (default false) */
  replacement?: boolean;
  /** how many indices one pass yields (default: the dataset's length) */
  numSamples?: number;
  /** the generator (default: a fresh one per pass, seeded from the default generator, as PyTorch) */
  generator?: Generator;
}

/**
 * Yields the indices in random order, as `RandomSampler`, drawing exactly as PyTorch: without a generator
 * each pass seeds a new one from the default generator; without replacement a pass is `randperm(n)`
 * repeated as needed, with PyTorch's trailing `randperm(n)` for the remainder (drawn even when the
 * remainder is 0); with replacement, `randint(n)` in chunks of 32.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { RandomSampler } from "@flint/data";
 *
 * const sampler = new RandomSampler(10, { generator: new torch.Generator(0) });
 * console.log([...sampler].join(" ")); // 4 1 7 5 3 9 0 8 6 2
 * ```
 */
export class RandomSampler implements Sampler<number> {
  #source: Sized;
  /** whether indices are drawn with replacement */
  readonly replacement: boolean;
  /** the generator, if one was given */
  readonly generator: Generator | undefined;
  #numSamples: number | undefined;

  /**
   * Creates a `RandomSampler`.
   *
   * @param dataSource the dataset (or its length)
   * @param options `replacement`, `numSamples`, `generator`
   * @throws {TypeError} "replacement should be a boolean value, but got replacement=..."
   * @throws {RangeError} "num_samples should be a positive integer value, but got num_samples=..."
   */
  constructor(dataSource: Sized, options: RandomSamplerOptions = {}) {
    this.#source = dataSource;
    this.replacement = options.replacement ?? false;
    this.#numSamples = options.numSamples;
    this.generator = options.generator;
    if (typeof this.replacement !== "boolean") {
      throw new TypeError(`replacement should be a boolean value, but got replacement=${this.replacement}`);
    }
    const n = this.numSamples;
    if (!Number.isInteger(n) || n <= 0) {
      throw new RangeError(`num_samples should be a positive integer value, but got num_samples=${n}`);
    }
  }

  /** How many indices one pass yields. */
  get numSamples(): number {
    return this.#numSamples ?? sizeOf(this.#source);
  }

  /** The same as {@linkcode RandomSampler.numSamples}. */
  get length(): number {
    return this.numSamples;
  }

  /** One pass of random indices; draws happen as the pass is consumed. */
  *[Symbol.iterator](): Iterator<number> {
    const n = sizeOf(this.#source);
    const generator = this.generator ?? new Generator(randomInt64());
    const numSamples = this.numSamples;
    if (this.replacement) {
      for (let i = 0; i < Math.floor(numSamples / 32); i++) yield* randint(generator, n, 32);
      yield* randint(generator, n, numSamples % 32);
    } else {
      for (let i = 0; i < Math.floor(numSamples / n); i++) yield* generator.randperm(n);
      yield* generator.randperm(n).subarray(0, numSamples % n);
    }
  }
}

function randint(generator: Generator, high: number, size: number): Int32Array {
  const out = new Int32Array(size);
  if (size > 0) generator.randint(out, 0, high);
  return out;
}

/**
 * Groups another sampler's indices into lists of `batchSize`, as `BatchSampler`; the last, shorter batch
 * is kept unless `dropLast`.
 *
 * @example
 * ```ts
 * import { BatchSampler, SequentialSampler } from "@flint/data";
 *
 * console.log([...new BatchSampler(new SequentialSampler(5), 2, false)]); // [ [ 0, 1 ], [ 2, 3 ], [ 4 ] ]
 * ```
 */
export class BatchSampler implements Sampler<number[]> {
  /** the sampler of single indices */
  readonly sampler: Iterable<number> & { readonly length: number };
  /** the size of a batch */
  readonly batchSize: number;
  /** whether a last, incomplete batch is dropped */
  readonly dropLast: boolean;

  /**
   * Creates a `BatchSampler`.
   *
   * @param sampler yields the indices
   * @param batchSize the size of a batch, a positive integer
   * @param dropLast drop the last batch when it is incomplete
   * @throws {RangeError} "batch_size should be a positive integer value, but got batch_size=..."
   * @throws {TypeError} "drop_last should be a boolean value, but got drop_last=..."
   */
  constructor(sampler: Iterable<number> & { readonly length: number }, batchSize: number, dropLast: boolean) {
    if (typeof batchSize !== "number" || !Number.isInteger(batchSize) || batchSize <= 0) {
      throw new RangeError(`batch_size should be a positive integer value, but got batch_size=${batchSize}`);
    }
    if (typeof dropLast !== "boolean") {
      throw new TypeError(`drop_last should be a boolean value, but got drop_last=${dropLast}`);
    }
    this.sampler = sampler;
    this.batchSize = batchSize;
    this.dropLast = dropLast;
  }

  /** The number of batches one pass yields. */
  get length(): number {
    const n = this.sampler.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** One pass of batches. */
  *[Symbol.iterator](): Iterator<number[]> {
    let batch: number[] = [];
    for (const index of this.sampler) {
      batch.push(index);
      if (batch.length === this.batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0 && !this.dropLast) yield batch;
  }
}
