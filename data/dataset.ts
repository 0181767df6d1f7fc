// Map-style datasets (Dataset, TensorDataset, Subset) and randomSplit, as torch.utils.data.

import { defaultGenerator, type Generator, Tensor } from "@flint/autograd";

/**
 * What a loader reads from: a length and an item per index, PyTorch's map-style dataset (`__len__` and
 * `__getitem__`). `get` may return a Promise (for items read from files or the network); iterate such a
 * dataset's loader with `for await`.
 */
export interface DatasetLike<T> {
  /** the number of items, as `len(dataset)` */
  readonly length: number;
  /** the item at `index`, as `dataset[index]` */
  get(index: number): T | Promise<T>;
}

/**
 * The base class of map-style datasets, as `torch.utils.data.Dataset`: subclasses implement `length` and
 * `get(index)`.
 *
 * @typeParam T the type of an item
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { Dataset } from "@flint/data";
 *
 * class Squares extends Dataset<[torch.Tensor, number]> {
 *   get length(): number {
 *     return 4;
 *   }
 *   get(i: number): [torch.Tensor, number] {
 *     return [torch.tensor([i]), i * i];
 *   }
 * }
 * const ds = new Squares();
 * console.log(ds.length, ds.get(3)[1]); // 4 9
 * ```
 */
export abstract class Dataset<T> implements DatasetLike<T> {
  /** The number of items. */
  abstract get length(): number;
  /**
   * The item at `index`.
   *
   * @param index an index in `[0, length)`
   */
  abstract get(index: number): T | Promise<T>;
}

/** `dataset.get(i)` for datasets, and `array[i]` for arrays (PyTorch accepts any sequence as a dataset). */
export function itemOf<T>(dataset: DatasetLike<T> | readonly T[], index: number): T | Promise<T> {
  if (Array.isArray(dataset)) {
    if (!Number.isInteger(index) || index >= dataset.length || index < -dataset.length) {
      throw new RangeError(`list index out of range: ${index} for a dataset of ${dataset.length} items`);
    }
    return dataset[index < 0 ? index + dataset.length : index];
  }
  return (dataset as DatasetLike<T>).get(index);
}

/**
 * A dataset of tensors indexed along their first dimension, as `torch.utils.data.TensorDataset`: item `i`
 * is `[t0[i], t1[i], ...]` (views).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.arange(6).reshape(3, 2);
 * const y = torch.tensor([0, 1, 0], { dtype: "int32" });
 * const ds = new torch.utils.data.TensorDataset(x, y);
 * const [xi, yi] = ds.get(1);
 * console.log(ds.length, xi.tolistSync(), yi.itemSync()); // 3 [ 2, 3 ] 1
 * ```
 */
export class TensorDataset extends Dataset<Tensor[]> {
  /** the tensors, all of the same first dimension */
  readonly tensors: readonly Tensor[];

  /**
   * Creates a `TensorDataset`.
   *
   * @param tensors tensors with the same size in dimension 0
   * @throws {RangeError} "Size mismatch between tensors" (PyTorch's assertion), or no tensors / a 0-d tensor
   */
  constructor(...tensors: Tensor[]) {
    super();
    if (tensors.length === 0) throw new RangeError("TensorDataset needs at least one tensor");
    for (const t of tensors) {
      if (!(t instanceof Tensor)) throw new TypeError(`TensorDataset takes tensors, got ${typeof t}`);
      if (t.ndim === 0) throw new RangeError("TensorDataset needs tensors with a first dimension, got a 0-d tensor");
    }
    if (!tensors.every((t) => t.shape[0] === tensors[0].shape[0])) {
      throw new RangeError("Size mismatch between tensors");
    }
    this.tensors = [...tensors];
  }

  /** The size of the first dimension. */
  get length(): number {
    return this.tensors[0].shape[0];
  }

  /**
   * The `index`-th slice of every tensor.
   *
   * @param index in `[-length, length)`
   * @returns one view per tensor
   */
  get(index: number): Tensor[] {
    return this.tensors.map((t) => t.select(0, index));
  }
}

/**
 * The items of `dataset` at `indices`, as `torch.utils.data.Subset`.
 *
 * @example
 * ```ts
 * import { Subset } from "@flint/data";
 *
 * const s = new Subset(["a", "b", "c", "d"], [3, 1]);
 * console.log(s.length, s.get(0), s.get(-1)); // 2 d b
 * ```
 */
export class Subset<T> extends Dataset<T> {
  /** the underlying dataset */
  readonly dataset: DatasetLike<T> | readonly T[];
  /** the indices into it */
  readonly indices: readonly number[];

  /**
   * Creates a `Subset`.
   *
   * @param dataset the whole dataset
   * @param indices the indices of the items to keep, in order
   */
  constructor(dataset: DatasetLike<T> | readonly T[], indices: Iterable<number>) {
    super();
    this.dataset = dataset;
    this.indices = [...indices];
  }

  /** The number of indices. */
  get length(): number {
    return this.indices.length;
  }

  /**
   * The item at `indices[index]`.
   *
   * @param index in `[-length, length)`
   * @throws {RangeError} "list index out of range"
   */
  get(index: number): T | Promise<T> {
    return itemOf(this.dataset, itemOf(this.indices, index) as number);
  }
}

/** Options of {@linkcode randomSplit}. */
export interface RandomSplitOptions {
  /** the generator of the permutation (default: the default generator, as PyTorch) */
  generator?: Generator;
}

/**
 * Splits a dataset into non-overlapping random subsets, as `torch.utils.data.random_split`, with PyTorch's
 * algorithm: fractions summing to 1 become `floor(n * fraction)` items each, the remainder handed out one
 * by one from the first split; then a `randperm(n)` from the generator is cut in order. The same seed gives
 * the same subsets as PyTorch.
 *
 * @param dataset the dataset to split
 * @param lengths the sizes of the splits, or fractions that sum to 1
 * @param options `generator`
 * @returns one Subset per length
 * @throws {RangeError} "Fraction at index i is not between 0 and 1", "Sum of input lengths does not equal
 *   the length of the input dataset!"
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const [train, val] = torch.utils.data.randomSplit([..."abcdefghij"], [0.8, 0.2], {
 *   generator: new torch.Generator(42),
 * });
 * console.log(train.length, val.length, val.indices); // 8 2 [ 3, 7 ] (PyTorch's random_split gives the same)
 * ```
 */
export function randomSplit<T>(
  dataset: DatasetLike<T> | readonly T[],
  lengths: readonly number[],
  options: RandomSplitOptions = {},
): Subset<T>[] {
  const n = dataset.length;
  let sizes = [...lengths];
  const total = sizes.reduce((a, b) => a + b, 0);
  // math.isclose(sum(lengths), 1) and sum(lengths) <= 1, as PyTorch decides between fractions and counts
  if (Math.abs(total - 1) <= 1e-9 * Math.max(Math.abs(total), 1) && total <= 1) {
    sizes = sizes.map((frac, i) => {
      if (frac < 0 || frac > 1) throw new RangeError(`Fraction at index ${i} is not between 0 and 1`);
      return Math.floor(n * frac);
    });
    const remainder = n - sizes.reduce((a, b) => a + b, 0);
    for (let i = 0; i < remainder; i++) sizes[i % sizes.length] += 1;
    sizes.forEach((size, i) => {
      if (size === 0) {
        console.warn(`UserWarning: Length of split at index ${i} is 0. This might result in an empty dataset.`);
      }
    });
  }
  if (sizes.reduce((a, b) => a + b, 0) !== n) {
    throw new RangeError("Sum of input lengths does not equal the length of the input dataset!");
  }
  const perm = (options.generator ?? defaultGenerator).randperm(n);
  const out: Subset<T>[] = [];
  let offset = 0;
  for (const size of sizes) {
    out.push(new Subset(dataset, perm.subarray(offset, offset + size)));
    offset += size;
  }
  return out;
}
