// Shuffle orders, samplers and random splits against PyTorch (tests/fixtures/optim.json, written by
// tests/fixtures/make_optim_fixtures.py with torch 1.13).

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { DataLoader, RandomSampler, randomSplit, TensorDataset } from "./mod.ts";

interface LoaderCase {
  n: number;
  batch_size: number;
  seed: number;
  drop_last: boolean;
  take: Array<number | null>;
  seed_default: boolean;
  length: number;
  epochs: number[][][];
  after?: number[];
}
const fixture = JSON.parse(Deno.readTextFileSync(new URL("../tests/fixtures/optim.json", import.meta.url))) as {
  loaders: LoaderCase[];
  plain_loader: { n: number; batch_size: number; seed: number; epochs: number[][][]; after: number[] };
  samplers: Array<{ n: number; num_samples: number | null; seed: number; epochs: number[][] }>;
  splits: Array<
    { n: number; lengths: number[]; seed: number; seed_default?: boolean; indices: number[][]; after?: number[] }
  >;
};

/** The batches of one epoch, consumed as the fixture's Python loop does (it fetches batch `take`, then breaks). */
function epoch(loader: DataLoader<torch.Tensor[]>, take: number | null): number[][] {
  const out: number[][] = [];
  let i = 0;
  for (const [x] of loader) {
    if (take !== null && i >= take) break;
    out.push(x.tolistSync() as number[]);
    i++;
  }
  return out;
}

for (const c of fixture.loaders) {
  const how = c.seed_default ? `torch.manualSeed(${c.seed})` : `generator seeded ${c.seed}`;
  Deno.test(`DataLoader(n=${c.n}, batchSize=${c.batch_size}, dropLast=${c.drop_last}) shuffles as PyTorch with ${how}`, () => {
    const ds = new TensorDataset(torch.arange(c.n, { dtype: "int32" }));
    let loader: DataLoader<torch.Tensor[]>;
    if (c.seed_default) {
      torch.manualSeed(c.seed);
      loader = new DataLoader(ds, { batchSize: c.batch_size, shuffle: true, dropLast: c.drop_last });
    } else {
      loader = new DataLoader(ds, {
        batchSize: c.batch_size,
        shuffle: true,
        dropLast: c.drop_last,
        generator: new torch.Generator(c.seed),
      });
    }
    assert.equal(loader.length, c.length);
    c.take.forEach((take, e) => assert.deepEqual(epoch(loader, take), c.epochs[e], `epoch ${e}`));
    if (c.after) assert.deepEqual(torch.rand(3).tolistSync(), c.after, "the default generator after the epochs");
  });
}

Deno.test("an unshuffled DataLoader still draws PyTorch's per-epoch seed from the default generator", () => {
  const c = fixture.plain_loader;
  torch.manualSeed(c.seed);
  const loader = new DataLoader(new TensorDataset(torch.arange(c.n, { dtype: "int32" })), { batchSize: c.batch_size });
  assert.deepEqual([epoch(loader, null), epoch(loader, null)], c.epochs);
  assert.deepEqual(torch.rand(3).tolistSync(), c.after);
});

for (const c of fixture.samplers) {
  Deno.test(`RandomSampler(n=${c.n}, replacement, numSamples=${c.num_samples}) draws PyTorch's indices`, () => {
    const sampler = new RandomSampler(c.n, {
      replacement: true,
      numSamples: c.num_samples ?? undefined,
      generator: new torch.Generator(c.seed),
    });
    assert.deepEqual([[...sampler], [...sampler]], c.epochs);
  });
}

for (const c of fixture.splits) {
  Deno.test(`randomSplit(n=${c.n}, [${c.lengths}]) gives PyTorch's subsets (seed ${c.seed})`, () => {
    const data = Array.from({ length: c.n }, (_, i) => i);
    let parts;
    if (c.seed_default) {
      torch.manualSeed(c.seed);
      parts = randomSplit(data, c.lengths);
    } else {
      parts = randomSplit(data, c.lengths, { generator: new torch.Generator(c.seed) });
    }
    assert.deepEqual(parts.map((p) => [...p.indices]), c.indices);
    assert.deepEqual(parts.map((p) => Array.from({ length: p.length }, (_, i) => p.get(i))), c.indices);
    if (c.after) assert.deepEqual(torch.rand(3).tolistSync(), c.after);
  });
}
