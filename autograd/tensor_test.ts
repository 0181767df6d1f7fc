// Tensor creation, reading, conversion, indexing and memory.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";

Deno.test("tensor() infers shape and dtype: numbers float32, booleans bool, typed arrays their own", () => {
  const x = torch.tensor([[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual([x.shape, x.dtype], [[2, 3], "float32"]);
  assert.equal(torch.tensor([true, false]).dtype, "bool");
  assert.equal(torch.tensor(new Int32Array([1, 2])).dtype, "int32");
  assert.equal(torch.tensor(new Float64Array([1])).dtype, "float64");
  assert.deepEqual(torch.tensor(3.5).shape, []);
  assert.deepEqual(torch.tensor([]).shape, [0]);
  assert.equal(torch.tensor([1, 2], { dtype: "int32" }).dtype, "int32");
});

Deno.test("int64 data (BigInt64Array) is read into int32 with a range check", () => {
  assert.deepEqual(torch.tensor(new BigInt64Array([1n, -2n])).tolistSync(), [1, -2]);
  assert.throws(
    () => torch.tensor(new BigInt64Array([2n ** 40n])),
    /int64 value 1099511627776 at position 0 does not fit in int32/,
  );
});

Deno.test("sizes can be given spread, as a list, and followed by options", () => {
  assert.deepEqual(torch.zeros(2, 3).shape, [2, 3]);
  assert.deepEqual(torch.ones([2, 3]).shape, [2, 3]);
  const r = torch.randn(2, 3, { dtype: "float64", requiresGrad: true });
  assert.deepEqual([r.shape, r.dtype, r.requiresGrad], [[2, 3], "float64", true]);
  assert.deepEqual(torch.rand([4], { dtype: "float64" }).shape, [4]);
  assert.deepEqual(torch.zeros().shape, []);
});

Deno.test("creation helpers make PyTorch's values", () => {
  assert.deepEqual(torch.arange(5).tolistSync(), [0, 1, 2, 3, 4]);
  assert.equal(torch.arange(5).dtype, "int32");
  assert.deepEqual(torch.arange(1, 2, 0.25).tolistSync(), [1, 1.25, 1.5, 1.75]);
  assert.deepEqual(torch.linspace(0, 1, 5).tolistSync(), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(torch.eye(2, 3).tolistSync(), [[1, 0, 0], [0, 1, 0]]);
  assert.deepEqual(torch.full([2], 7).tolistSync(), [7, 7]);
  assert.deepEqual(torch.zerosLike(torch.ones(2, { dtype: "int32" })).tolistSync(), [0, 0]);
  assert.equal(torch.onesLike(torch.ones(2, { dtype: "float64" })).dtype, "float64");
});

Deno.test("manualSeed gives PyTorch's random numbers (torch.manual_seed(0))", () => {
  torch.manualSeed(0);
  const close = (a: number[], b: number[]) =>
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-6, `${v} vs ${b[i]}`));
  close(torch.rand(3).tolistSync() as number[], [0.49625658988952637, 0.7682217955589294, 0.08847743272781372]);
  torch.manualSeed(0);
  close(torch.randn(3).tolistSync() as number[], [1.5409960746765137, -0.293428897857666, -2.1787893772125244]);
  torch.manualSeed(0);
  assert.deepEqual(torch.randint(0, 10, [5]).tolistSync(), [4, 9, 3, 0, 3]);
  torch.manualSeed(0);
  assert.deepEqual(torch.randperm(10).tolistSync(), [4, 1, 7, 5, 3, 9, 0, 8, 6, 2]);
});

Deno.test("fromArray shares memory with the typed array on the CPU", () => {
  const data = new Float32Array([1, 2, 3, 4]);
  const x = torch.fromArray(data, [2, 2]);
  data[0] = 10;
  assert.equal(x.index(0, 0).itemSync(), 10);
  x.index(1, 1).fill_(-1);
  assert.equal(data[3], -1);
  assert.throws(() => torch.fromArray(data, [3]), /shape \[3\] is invalid for an array of 4 elements/);
});

Deno.test("reads: item, tolist, data, async and sync", async () => {
  const x = torch.tensor([[1, 2], [3, 4]]);
  assert.deepEqual(await x.tolist(), [[1, 2], [3, 4]]);
  assert.deepEqual(x.tolistSync(), [[1, 2], [3, 4]]);
  assert.deepEqual([...(await x.t().data())], [1, 3, 2, 4]);
  assert.equal(await x.sum().item(), 10);
  assert.equal(x.sum().itemSync(), 10);
  assert.deepEqual(torch.tensor([true, false]).tolistSync(), [true, false]);
  assert.equal(torch.tensor(2).tolistSync(), 2);
});

Deno.test("printing reads like PyTorch's repr", () => {
  torch.manualSeed(0);
  const x = torch.randn(3, { requiresGrad: true });
  assert.equal(String(x), "tensor([ 1.5410, -0.2934, -2.1788], requires_grad=True)");
  assert.equal(String(x.add(2)), "tensor([ 3.5410,  1.7066, -0.1788], grad_fn=<AddBackward0>)");
  assert.equal(String(x.add(2).mean()), "tensor(1.6896, grad_fn=<MeanBackward0>)");
  assert.equal(String(torch.tensor([1, 2], { dtype: "int32" })), "tensor([1, 2], dtype=torch.int32)");
  assert.equal(String(torch.zeros(0, 3)), "tensor([], size=(0, 3))");
  assert.equal(Deno.inspect(torch.ones(2)), "tensor([1., 1.])");
});

Deno.test("to() converts dtype and device, returning itself when nothing changes", () => {
  const x = torch.tensor([1.7, -1.7]);
  assert.equal(x.to("float32"), x);
  assert.deepEqual(x.to("int32").tolistSync(), [1, -1]);
  assert.deepEqual(x.double().dtype, "float64");
  assert.deepEqual(x.bool().tolistSync(), [true, true]);
  assert.notEqual(x.to({ copy: true }), x);
  assert.equal(x.to("cpu"), x);
});

Deno.test("slices are views: writes through them reach the base", () => {
  const x = torch.arange(12, { dtype: "float32" }).reshape(3, 4);
  const v = x.index("1:, ::2");
  assert.deepEqual(v.tolistSync(), [[4, 6], [8, 10]]);
  v.fill_(0);
  assert.deepEqual(x.tolistSync(), [[0, 1, 2, 3], [0, 5, 0, 7], [0, 9, 0, 11]]);
  assert.deepEqual(x.index(-1).tolistSync(), [0, 9, 0, 11]);
  assert.deepEqual(x.index("...", 1).tolistSync(), [1, 5, 9]);
  assert.deepEqual(x.index(null, 0).shape, [1, 4]);
  assert.deepEqual(x.index({ start: 1, stop: null, step: 2 }).shape, [1, 4]);
});

Deno.test("integer tensors and masks index (copies) and assign (in place)", () => {
  const x = torch.tensor([[1, -2], [-3, 4]]);
  assert.deepEqual(x.index(x.lt(0)).tolistSync(), [-2, -3]);
  assert.deepEqual(x.index(torch.tensor([1, 0], { dtype: "int32" })).tolistSync(), [[-3, 4], [1, -2]]);
  assert.deepEqual(x.index([1, 1], [0, 1]).tolistSync(), [-3, 4]);
  const gradH = x.clone();
  gradH.indexPut_([x.lt(0)], 0); // grad_h[h < 0] = 0
  assert.deepEqual(gradH.tolistSync(), [[1, 0], [0, 4]]);
  const y = torch.zeros(4);
  y.indexPut_([torch.tensor([0, 0, 3], { dtype: "int32" })], torch.tensor([1, 2, 3]), { accumulate: true });
  assert.deepEqual(y.tolistSync(), [3, 0, 0, 3]);
});

Deno.test("max along a dim gives values and indices, as a pair and by name", () => {
  const x = torch.tensor([[1, 5, 2], [7, 0, 7]]);
  const [values, indices] = x.max(1);
  assert.deepEqual(values.tolistSync(), [5, 7]);
  assert.deepEqual(x.max(1).indices.tolistSync(), [1, 0]);
  assert.deepEqual(indices.tolistSync(), [1, 0]);
  assert.equal(x.max().itemSync(), 7);
});

Deno.test("setData takes a view's own elements, whatever its offset", () => {
  const p = torch.zeros(2);
  p.setData(torch.tensor([1, 2, 3, 4]).narrow(0, 2, 2));
  assert.deepEqual(p.tolistSync(), [3, 4]);
});

Deno.test("setData replaces the elements, as Python's `x.data = y`", () => {
  const w = torch.tensor([1, 2], { requiresGrad: true });
  torch.noGrad(() => w.setData(w.detach().mul(3)));
  assert.deepEqual(w.tolistSync(), [3, 6]);
  assert.equal(w.requiresGrad, true);
});

Deno.test("dispose() and `using` free storage at once; torch.memory() counts it", () => {
  const before = torch.memory().cpu;
  {
    using t = torch.zeros(1000);
    assert.equal(torch.memory().cpu.bytes - before.bytes, 4000);
    assert.equal(t.numel(), 1000);
  }
  assert.equal(torch.memory().cpu.bytes, before.bytes);
  assert.equal(torch.memory().cpu.storages, before.storages);
});

Deno.test("a view keeps storage alive after its base is disposed", () => {
  const base = torch.arange(4, { dtype: "float32" });
  const view = base.index("1:");
  base.dispose();
  assert.deepEqual(view.tolistSync(), [1, 2, 3]);
});

Deno.test("torch.scope frees what it made except the results and the gradients", () => {
  const w = torch.ones(100, { requiresGrad: true });
  const before = torch.memory().cpu.storages;
  for (let step = 0; step < 50; step++) {
    torch.scope(() => {
      const loss = w.mul(2).add(1).pow(2).mean();
      loss.backward();
      torch.noGrad(() => w.sub_(w.grad!.mul(0.01)));
      w.grad!.zero_();
    });
  }
  // w.grad is the one new storage that outlives the steps.
  assert.equal(torch.memory().cpu.storages - before, 1);
  const kept = torch.scope(() => [w.mul(2), { inner: w.add(1) }] as const);
  assert.equal(kept[0].isDisposed, false);
  assert.equal((kept[1] as { inner: torch.Tensor }).inner.isDisposed, false);
});

Deno.test("backward keeps its saved tensors even when the user disposed them", () => {
  const x = torch.tensor([1, 2], { requiresGrad: true });
  const y = x.mul(3);
  const z = y.mul(y);
  y.dispose();
  z.sum().backward();
  assert.deepEqual(x.grad!.tolistSync(), [18, 36]);
});
