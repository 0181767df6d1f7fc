/**
 * Datasets and loaders, as `torch.utils.data`: `Dataset`, `TensorDataset`, `Subset`, `randomSplit`, the
 * samplers and `DataLoader` with PyTorch's `default_collate`. A seeded generator (or `torch.manualSeed`)
 * gives the same shuffles and splits as PyTorch.
 *
 * @example Mini-batches of a tensor dataset, shuffled every epoch
 * ```ts
 * import * as torch from "@flint/torch";
 * const { DataLoader, TensorDataset } = torch.utils.data;
 *
 * const x = torch.randn(10, 3);
 * const y = torch.randint(0, 2, [10], { dtype: "int32" });
 * const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 4, shuffle: true });
 * for (let epoch = 0; epoch < 2; epoch++) {
 *   for (const [xb, yb] of loader) console.log(xb.shape, yb.shape);
 * }
 * // [ 4, 3 ] [ 4 ] ... [ 2, 3 ] [ 2 ]
 * ```
 *
 * @module
 */
export { Dataset, type DatasetLike, randomSplit, type RandomSplitOptions, Subset, TensorDataset } from "./dataset.ts";
export {
  BatchSampler,
  randomInt64,
  RandomSampler,
  type RandomSamplerOptions,
  type Sampler,
  SequentialSampler,
  type Sized,
} from "./sampler.ts";
export { type Collated, defaultCollate } from "./collate.ts";
export { DataLoader, type DataLoaderOptions } from "./dataloader.ts";
