// Datasets, collation, samplers and loaders: behaviour and PyTorch's errors (orders are in parity_test.ts).

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import {
  BatchSampler,
  DataLoader,
  Dataset,
  defaultCollate,
  RandomSampler,
  randomSplit,
  SequentialSampler,
  Subset,
  TensorDataset,
} from "./mod.ts";

function assertThrows(fn: () => unknown, type: ErrorConstructor, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${e}`);
    assert.equal((e as Error).message, message);
    return true;
  });
}

Deno.test("TensorDataset items are views of each tensor's rows", () => {
  const x = torch.arange(6).reshape(3, 2);
  const y = torch.tensor([7, 8, 9], { dtype: "int32" });
  const ds = new TensorDataset(x, y);
  assert.equal(ds.length, 3);
  const [xi, yi] = ds.get(2);
  assert.deepEqual([xi.tolistSync(), yi.itemSync()], [[4, 5], 9]);
  assert.deepEqual(ds.get(-1)[0].tolistSync(), [4, 5]);
  torch.noGrad(() => xi.fill_(0));
  assert.deepEqual(x.tolistSync(), [[0, 1], [2, 3], [0, 0]]); // a view, as tensor[index] in PyTorch
  assertThrows(() => new TensorDataset(x, torch.zeros(4)), RangeError, "Size mismatch between tensors");
});

Deno.test("Subset reads its indices, negative ones from the end", () => {
  const s = new Subset(new TensorDataset(torch.arange(5, { dtype: "int32" })), [4, 0, 2]);
  assert.deepEqual([0, 1, 2, -1].map((i) => (s.get(i) as torch.Tensor[])[0].itemSync()), [4, 0, 2, 2]);
  assert.throws(() => s.get(3), RangeError);
});

Deno.test("a Dataset subclass feeds a DataLoader, numbers collated as PyTorch's ints and floats", () => {
  class Pairs extends Dataset<[torch.Tensor, number, number]> {
    get length(): number {
      return 5;
    }
    get(i: number): [torch.Tensor, number, number] {
      return [torch.tensor([i, -i]), i % 2, i / 4];
    }
  }
  const loader = new DataLoader(new Pairs(), { batchSize: 2 });
  assert.equal(loader.length, 3);
  const batches = [...loader];
  assert.equal(batches.length, 3);
  const [x, label, frac] = batches[0];
  assert.deepEqual(x.tolistSync(), [[0, -0], [1, -1]]);
  assert.deepEqual([label.dtype, label.tolistSync()], ["int32", [0, 1]]);
  assert.deepEqual([frac.dtype, frac.tolistSync()], ["float32", [0, 0.25]]);
  assert.deepEqual(batches[2][0].shape, [1, 2]);
});

Deno.test("DataLoader without shuffle reads in order; dropLast drops the incomplete batch", () => {
  const ds = new TensorDataset(torch.arange(7, { dtype: "int32" }));
  const read = (l: DataLoader<torch.Tensor[]>) => [...l].map(([x]) => x.tolistSync());
  assert.deepEqual(read(new DataLoader(ds, { batchSize: 3 })), [[0, 1, 2], [3, 4, 5], [6]]);
  const dropping = new DataLoader(ds, { batchSize: 3, dropLast: true });
  assert.equal(dropping.length, 2);
  assert.deepEqual(read(dropping), [[0, 1, 2], [3, 4, 5]]);
  assert.deepEqual(read(new DataLoader(ds)), [[0], [1], [2], [3], [4], [5], [6]]);
});

Deno.test("DataLoader reshuffles every epoch and visits every item once per epoch", () => {
  const loader = new DataLoader(new TensorDataset(torch.arange(20, { dtype: "int32" })), {
    batchSize: 6,
    shuffle: true,
    generator: new torch.Generator(3),
  });
  const epochs = [0, 1].map(() => [...loader].flatMap(([x]) => x.tolistSync() as number[]));
  for (const e of epochs) assert.deepEqual([...e].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
  assert.notDeepEqual(epochs[0], epochs[1]);
});

Deno.test("DataLoader over an array of items, with a custom collateFn", () => {
  const items = ["a", "b", "c", "d", "e"];
  assert.deepEqual([...new DataLoader(items, { batchSize: 2 })], [["a", "b"], ["c", "d"], ["e"]]);
  const joined = new DataLoader(items, { batchSize: 2, collateFn: (b) => b.join("") });
  assert.deepEqual([...joined], ["ab", "cd", "e"]);
});

Deno.test("DataLoader with batchSize null yields the items themselves", () => {
  const loader = new DataLoader([10, 20, 30], { batchSize: null });
  assert.equal(loader.length, 3);
  assert.deepEqual([...loader], [10, 20, 30]);
});

Deno.test("DataLoader takes a sampler or a batchSampler", () => {
  const items = [0, 1, 2, 3, 4, 5];
  const reversed = {
    length: 6,
    *[Symbol.iterator]() {
      for (let i = 5; i >= 0; i--) yield i;
    },
  };
  const bySampler = new DataLoader(items, { sampler: reversed, batchSize: 4 });
  assert.deepEqual([...bySampler].map((t) => t.tolistSync()), [[5, 4, 3, 2], [1, 0]]);
  const byBatches = new DataLoader(items, { batchSampler: [[0, 5], [2]] });
  assert.equal(byBatches.length, 2);
  assert.deepEqual([...byBatches].map((t) => t.tolistSync()), [[0, 5], [2]]);
});

Deno.test("DataLoader refuses options that exclude each other, with PyTorch's messages", () => {
  const items = [1, 2, 3];
  const sampler = new SequentialSampler(items);
  assertThrows(
    () => new DataLoader(items, { sampler, shuffle: true }),
    RangeError,
    "sampler option is mutually exclusive with shuffle",
  );
  for (const extra of [{ batchSize: 2 }, { shuffle: true }, { sampler }, { dropLast: true }]) {
    assertThrows(
      () => new DataLoader(items, { batchSampler: [[0]], ...extra }),
      RangeError,
      "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last",
    );
  }
  assertThrows(
    () => new DataLoader(items, { batchSize: null, dropLast: true }),
    RangeError,
    "batch_size=None option disables auto-batching and is mutually exclusive with drop_last",
  );
  assertThrows(
    () => new DataLoader(items, { batchSize: 0 }),
    RangeError,
    "batch_size should be a positive integer value, but got batch_size=0",
  );
});

Deno.test("for await reads a dataset whose items are Promises; for...of refuses it", async () => {
  class Remote extends Dataset<number> {
    get length(): number {
      return 3;
    }
    get(i: number): Promise<number> {
      return Promise.resolve(i * 10);
    }
  }
  const loader = new DataLoader(new Remote(), { batchSize: 2 });
  const seen = [];
  for await (const batch of loader) seen.push(batch.tolistSync());
  assert.deepEqual(seen, [[0, 10], [20]]);
  assertThrows(
    () => [...loader],
    TypeError,
    "the dataset returned a Promise: iterate the loader with `for await`",
  );
  // for await works on synchronous datasets too
  const sync = [];
  for await (const [x] of new DataLoader(new TensorDataset(torch.arange(3)), { batchSize: 2 })) sync.push(x.shape);
  assert.deepEqual(sync, [[2], [1]]);
});

Deno.test("defaultCollate recurses into arrays and objects like PyTorch's default_collate", () => {
  const batch = defaultCollate([
    { image: torch.ones(2, 2), meta: { id: 1, ok: true, tag: "x" }, pair: [1.5, torch.zeros(1)] },
    { image: torch.zeros(2, 2), meta: { id: 2, ok: false, tag: "y" }, pair: [2, torch.ones(1)] },
  ]);
  assert.deepEqual(batch.image.shape, [2, 2, 2]);
  assert.deepEqual([batch.meta.id.dtype, batch.meta.id.tolistSync()], ["int32", [1, 2]]);
  assert.deepEqual([batch.meta.ok.dtype, batch.meta.ok.tolistSync()], ["bool", [true, false]]);
  assert.deepEqual(batch.meta.tag, ["x", "y"]);
  assert.deepEqual([batch.pair[0].dtype, batch.pair[0].tolistSync()], ["float32", [1.5, 2]]);
  assert.deepEqual(batch.pair[1].tolistSync(), [[0], [1]]);
  const typed = defaultCollate([new Float64Array([1, 2]), new Float64Array([3, 4])]);
  assert.deepEqual([typed.dtype, typed.shape], ["float64", [2, 2]]);
});

Deno.test("defaultCollate refuses ragged lists and unsupported items", () => {
  assertThrows(
    () => defaultCollate([[1, 2], [3]]),
    RangeError,
    "each element in list of batch should be of equal size",
  );
  assert.throws(() => defaultCollate([torch.zeros(2), torch.zeros(3)]), RangeError);
  assertThrows(
    () => defaultCollate([null, null]),
    TypeError,
    "default_collate: batch must contain tensors, typed arrays, numbers, booleans, strings, objects or arrays; found null",
  );
  assert.throws(() => defaultCollate([new Map(), new Map()]), /found Map/);
});

Deno.test("randomSplit refuses bad fractions and lengths, with PyTorch's messages", () => {
  const data = [1, 2, 3, 4];
  assertThrows(() => randomSplit(data, [1.5, -0.5]), RangeError, "Fraction at index 0 is not between 0 and 1");
  assertThrows(
    () => randomSplit(data, [1, 2]),
    RangeError,
    "Sum of input lengths does not equal the length of the input dataset!",
  );
  const warned: string[] = [];
  const original = console.warn;
  console.warn = (m: string) => warned.push(m);
  try {
    const parts = randomSplit([1, 2], [0.1, 0.1, 0.8], { generator: new torch.Generator(0) });
    assert.deepEqual(parts.map((p) => p.length), [1, 0, 1]);
  } finally {
    console.warn = original;
  }
  assert.deepEqual(warned, ["UserWarning: Length of split at index 1 is 0. This might result in an empty dataset."]);
});

Deno.test("samplers: lengths, batches and PyTorch's argument errors", () => {
  assert.deepEqual([...new BatchSampler(new SequentialSampler(5), 2, true)], [[0, 1], [2, 3]]);
  assert.equal(new BatchSampler(new SequentialSampler(5), 2, true).length, 2);
  assert.equal(new BatchSampler(new SequentialSampler(5), 2, false).length, 3);
  const sampler = new RandomSampler(4, { numSamples: 10, generator: new torch.Generator(1) });
  const drawn = [...sampler];
  assert.equal(drawn.length, 10);
  assert.deepEqual([...drawn.slice(0, 4)].sort(), [0, 1, 2, 3]);
  assertThrows(
    () => new RandomSampler(4, { numSamples: 0 }),
    RangeError,
    "num_samples should be a positive integer value, but got num_samples=0",
  );
  assertThrows(
    () => new RandomSampler(4, { replacement: 1 as never }),
    TypeError,
    "replacement should be a boolean value, but got replacement=1",
  );
  assertThrows(
    () => new BatchSampler(new SequentialSampler(3), 2, "yes" as never),
    TypeError,
    "drop_last should be a boolean value, but got drop_last=yes",
  );
});

Deno.test("breaking out of an epoch early skips PyTorch's end-of-epoch draw", () => {
  // The trailing randperm is drawn only when an epoch runs to its end, so the next epoch differs.
  const make = () =>
    new DataLoader(new TensorDataset(torch.arange(6, { dtype: "int32" })), {
      batchSize: 2,
      shuffle: true,
      generator: new torch.Generator(9),
    });
  const full = make();
  [...full];
  const early = make();
  for (const _ of early) break;
  const next = (l: DataLoader<torch.Tensor[]>) => [...l].map(([x]) => x.tolistSync());
  assert.notDeepEqual(next(full), next(early));
});
