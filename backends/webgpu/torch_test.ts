// Flint's Tensor API on the WebGPU device: training without leaks, the
// asynchronous reads, and the clear errors where WebGPU cannot serve a call.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { WebGpuBackend } from "./backend.ts";

const DEVICE = "webgpu-torch";
const gpu = await WebGpuBackend.create({ name: DEVICE });
torch.registerBackend(gpu);

Deno.test("a training loop on webgpu learns and keeps memory flat across steps", async () => {
  torch.manualSeed(0);
  const x = torch.randn(64, 8).to(DEVICE);
  const trueW = torch.randn(8, 1).to(DEVICE);
  const y = x.matmul(trueW).add(0.5);
  const w = torch.zeros(8, 1, { device: DEVICE, requiresGrad: true });
  const b = torch.zeros(1, { device: DEVICE, requiresGrad: true });
  const step = () =>
    torch.scope(() => {
      const loss = x.matmul(w).add(b).sub(y).pow(2).mean();
      loss.backward();
      torch.noGrad(() => {
        w.sub_(w.grad!.mul(0.1));
        b.sub_(b.grad!.mul(0.1));
      });
      w.grad!.zero_();
      b.grad!.zero_();
      return loss.detach();
    });
  const first = await step().item();
  const baseline = torch.memory()[DEVICE];
  let last = first;
  for (let i = 0; i < 200; i++) {
    const loss = step();
    if (i % 50 === 49) last = await loss.item();
    loss.dispose();
  }
  const after = torch.memory()[DEVICE];
  assert.ok(last < first / 100, `loss went from ${first} to ${last}`);
  // (fewer is fine: the garbage collector may free set-up temporaries meanwhile)
  assert.ok(after.storages <= baseline.storages, `storages went from ${baseline.storages} to ${after.storages}`);
  assert.ok(after.bytes <= baseline.bytes, `bytes went from ${baseline.bytes} to ${after.bytes}`);
  // the pool recycled the step's buffers instead of growing
  assert.ok(gpu.stats().pooledBytes < 1 << 20, `pooled ${gpu.stats().pooledBytes} bytes`);
});

Deno.test("tensors on webgpu read asynchronously, and synchronous reads name the async call", async () => {
  const t = torch.tensor([[1.5, 2], [3, 4]], { device: DEVICE });
  assert.deepEqual(await t.mul(2).tolist(), [[3, 4], [6, 8]]);
  assert.equal(await t.sum().item(), 10.5);
  assert.throws(() => t.dataSync(), /await x\.data\(\)/);
  assert.throws(() => t.sum().itemSync(), /await x\.item\(\)/);
  const back = await t.toAsync("cpu");
  assert.deepEqual(back.tolistSync(), [[1.5, 2], [3, 4]]);
});

Deno.test("boolean-mask indexing on webgpu throws a clear error; where and maskedFill work", async () => {
  const t = torch.tensor([1, -2, 3], { device: DEVICE });
  const mask = t.gt(0);
  assert.throws(() => t.index(mask), /cannot read them synchronously/);
  assert.deepEqual(await t.maskedFill(mask.logicalNot(), 0).tolist(), [1, 0, 3]);
  assert.deepEqual(await torch.where(mask, t, torch.tensor(9, { device: DEVICE })).tolist(), [1, 9, 3]);
});

Deno.test("float64 tensors on webgpu compute in float32 and still report float64", async () => {
  assert.equal(gpu.float64Precision, "float32");
  const t = torch.tensor([1, 2, 3], { dtype: "float64", device: DEVICE });
  const s = t.div(3).sum();
  assert.equal(s.dtype, "float64");
  assert.ok(Math.abs((await s.item()) - 2) < 1e-6);
});

Deno.test("optim.Adam trains the same weights on webgpu as on the CPU", async () => {
  const run = async (device: string) => {
    torch.manualSeed(1);
    const x = torch.randn(32, 4).to(device);
    const y = x.matmul(torch.tensor([[1], [-2], [0.5], [3]]).to(device));
    const w = torch.zeros(4, 1, { device, requiresGrad: true });
    const opt = new torch.optim.Adam([w], { lr: 0.05, weightDecay: 0.01, amsgrad: true });
    for (let i = 0; i < 30; i++) {
      torch.scope(() => {
        opt.zeroGrad();
        x.matmul(w).sub(y).pow(2).mean().backward();
        opt.step();
      });
    }
    return (await w.detach().tolist()) as number[][];
  };
  const [onGpu, onCpu] = [await run(DEVICE), await run("cpu")];
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(onGpu[i][0] - onCpu[i][0]) < 1e-4, `${onGpu[i]} vs ${onCpu[i]}`);
});
