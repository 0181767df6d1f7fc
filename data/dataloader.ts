// DataLoader: batches of a dataset, in order or shuffled, as torch.utils.data.DataLoader (single process).

import type { Generator } from "@flint/autograd";
import { type Collated, defaultCollate } from "./collate.ts";
import { type DatasetLike, itemOf } from "./dataset.ts";
import { BatchSampler, randomInt64, RandomSampler, SequentialSampler } from "./sampler.ts";

/** Options of {@linkcode DataLoader}, PyTorch's keyword arguments in camelCase. */
export interface DataLoaderOptions<T, B> {
  /** items per batch (default 1); null yields items one by one, without collating */
  batchSize?: number | null;
  /** reshuffle the items every epoch (default false) */
  shuffle?: boolean;
  /** drop the last batch when it is incomplete (default false) */
  dropLast?: boolean;
  /** the generator that shuffles (default: the default generator, as PyTorch) */
  generator?: Generator;
  /** the indices to read, instead of `shuffle` */
  sampler?: Iterable<number> & { readonly length: number };
  /** the batches of indices to read, instead of batchSize, shuffle, sampler and dropLast */
  batchSampler?: Iterable<number[]> & { readonly length: number };
  /** makes a batch of a list of items (default {@linkcode defaultCollate}); may return a Promise with `for await` */
  collateFn?: (batch: T[]) => B;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/**
 * Iterates over a dataset in batches, as `torch.utils.data.DataLoader` with `num_workers=0`:
 * `for (const [x, y] of loader)`, or `for await` when the dataset's `get` (or `collateFn`) returns Promises.
 * `length` is the number of batches.
 *
 * The random generator is used as PyTorch uses it, so a seeded generator (or `torch.manualSeed`) gives
 * PyTorch's order: every epoch first draws one int64 from `generator` (PyTorch's `_base_seed`, drawn even
 * without shuffling), then a shuffling sampler draws its permutation lazily (without a `generator`, from a
 * fresh one seeded by another int64 from the default generator), and finishing an epoch draws PyTorch's
 * trailing `randperm`.
 *
 * @typeParam T an item of the dataset
 * @typeParam B a batch (by default, the {@linkcode Collated} type of T)
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const ds = new torch.utils.data.TensorDataset(torch.arange(10), torch.arange(10).mul(2));
 * const loader = new torch.utils.data.DataLoader(ds, { batchSize: 4, shuffle: true, generator: new torch.Generator(0) });
 * console.log(loader.length); // 3
 * for (const [x, y] of loader) console.log(x.tolistSync(), y.shape);
 * // [ 3, 7, 5, 2 ] [ 4 ]
 * // [ 0, 8, 1, 6 ] [ 4 ]
 * // [ 9, 4 ] [ 2 ]   (PyTorch's order for torch.Generator().manual_seed(0))
 * ```
 */
export class DataLoader<T, B = Collated<T>> implements Iterable<B>, AsyncIterable<B> {
  /** the dataset */
  readonly dataset: DatasetLike<T> | readonly T[];
  /** items per batch, or null without automatic batching */
  readonly batchSize: number | null;
  /** whether the last, incomplete batch is dropped */
  readonly dropLast: boolean;
  /** the generator of the shuffle and of the per-epoch seed draw, if one was given */
  readonly generator: Generator | undefined;
  /** the sampler of single indices */
  readonly sampler: Iterable<number> & { readonly length: number };
  /** the sampler of batches of indices (null when batchSize is null) */
  readonly batchSampler: (Iterable<number[]> & { readonly length: number }) | null;
  /** makes a batch of a list of items */
  readonly collateFn: ((batch: T[]) => B) | null;

  /**
   * Creates a `DataLoader`.
   *
   * @param dataset a dataset, or an array of items
   * @param options batching, shuffling and collation
   * @throws {RangeError} with PyTorch's messages for options that exclude each other ("sampler option is
   *   mutually exclusive with shuffle", ...) or a bad batch size
   */
  constructor(dataset: DatasetLike<T> | readonly T[], options: DataLoaderOptions<T, B> = {}) {
    const shuffle = options.shuffle ?? false;
    let batchSize = options.batchSize === undefined ? 1 : options.batchSize;
    let dropLast = options.dropLast ?? false;
    if (typeof shuffle !== "boolean") {
      throw new TypeError(`DataLoader's shuffle should be a boolean value, but got shuffle=${shuffle}`);
    }
    if (options.sampler !== undefined && shuffle) {
      throw new RangeError("sampler option is mutually exclusive with shuffle");
    }
    if (options.batchSampler !== undefined) {
      if (batchSize !== 1 || shuffle || options.sampler !== undefined || dropLast) {
        throw new RangeError(
          "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last",
        );
      }
      batchSize = null;
      dropLast = false;
    } else if (batchSize === null && dropLast) {
      throw new RangeError(
        "batch_size=None option disables auto-batching and is mutually exclusive with drop_last",
      );
    }
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.dropLast = dropLast;
    this.generator = options.generator;
    this.sampler = options.sampler ??
      (shuffle ? new RandomSampler(dataset, { generator: options.generator }) : new SequentialSampler(dataset));
    this.batchSampler = options.batchSampler ??
      (batchSize === null ? null : new BatchSampler(this.sampler, batchSize, dropLast));
    this.collateFn = options.collateFn ??
      (batchSize === null && options.batchSampler === undefined
        ? null
        : defaultCollate as unknown as (batch: T[]) => B);
  }

  /** The number of batches (of items without automatic batching). */
  get length(): number {
    return (this.batchSampler ?? this.sampler).length;
  }

  /** Index lists of one epoch; draws the per-epoch seed first, as PyTorch's iterator does on creation. */
  #indices(): Iterator<number[] | number> {
    randomInt64(this.generator);
    return (this.batchSampler ?? this.sampler)[Symbol.iterator]();
  }

  /**
   * One epoch of batches. Throws a TypeError when the dataset or `collateFn` returns a Promise: iterate
   * with `for await` then.
   */
  *[Symbol.iterator](): Iterator<B> {
    const indices = this.#indices();
    try {
      for (let next = indices.next(); !next.done; next = indices.next()) {
        const index = next.value;
        if (typeof index === "number") {
          const item = itemOf(this.dataset, index);
          if (isThenable(item)) {
            throw new TypeError("the dataset returned a Promise: iterate the loader with `for await`");
          }
          yield (this.collateFn ? this.collateFn([item]) : item) as B;
          continue;
        }
        const items = index.map((i) => {
          const item = itemOf(this.dataset, i);
          if (isThenable(item)) {
            throw new TypeError("the dataset returned a Promise: iterate the loader with `for await`");
          }
          return item;
        });
        const batch = this.collateFn!(items);
        if (isThenable(batch)) throw new TypeError("collateFn returned a Promise: iterate the loader with `for await`");
        yield batch;
      }
    } finally {
      indices.return?.();
    }
  }

  /** One epoch of batches, awaiting items and batches that are Promises. */
  async *[Symbol.asyncIterator](): AsyncIterator<B> {
    const indices = this.#indices();
    try {
      for (let next = indices.next(); !next.done; next = indices.next()) {
        const index = next.value;
        if (typeof index === "number") {
          const item = await itemOf(this.dataset, index);
          yield (this.collateFn ? await this.collateFn([item]) : item) as B;
          continue;
        }
        const items = await Promise.all(index.map((i) => itemOf(this.dataset, i)));
        yield await this.collateFn!(items);
      }
    } finally {
      indices.return?.();
    }
  }
}
