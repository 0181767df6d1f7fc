// The memory check every backend runs: 1,000 training steps of tutorial 001's
// MLP (64×1000→100→10, Adam) inside torch.scope, with no growth in live
// tensors, storages or bytes after warm-up.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";

const { nn, optim } = torch;

/** Trains `steps` steps on `device` and asserts memory after warm-up never grows. */
export function assertTrainingDoesNotGrow(device: string, steps = 1000, warmup = 50): void {
  torch.manualSeed(0);
  const model = new nn.Sequential(new nn.Linear(1000, 100), new nn.ReLU(), new nn.Linear(100, 10)).to(device);
  const optimizer = new optim.Adam(model.parameters(), { lr: 1e-4 });
  const lossFn = new nn.MSELoss({ reduction: "sum" });
  const x = torch.randn(64, 1000, { device });
  const y = torch.randn(64, 10, { device });
  let baseline: torch.DeviceMemory | undefined;
  let first = Infinity, last = 0;
  for (let step = 0; step < steps; step++) {
    const loss = torch.scope(() => {
      // Zeroing in place keeps the gradient storages: nothing waits for the garbage collector.
      optimizer.zeroGrad({ setToNone: false });
      const l = lossFn(model(x), y);
      l.backward();
      optimizer.step();
      return l.detach();
    });
    if (step === 0) first = loss.numel();
    if (step === steps - 1) last = loss.numel();
    loss.dispose();
    const now = torch.memory()[device];
    if (step === warmup) baseline = now;
    if (step > warmup) {
      assert.deepEqual(now, baseline, `step ${step} on ${device}: live memory grew from ${JSON.stringify(baseline)}`);
    }
  }
  assert.equal(first, 1);
  assert.equal(last, 1);
}

/** `using` and torch.scope free a device's storages at once. */
export function assertDisposalIsImmediate(device: string): void {
  const before = torch.memory()[device];
  {
    using big = torch.zeros(256, 256, { device });
    assert.equal(torch.memory()[device].storages, before.storages + 1);
    assert.equal(big.shape[0], 256);
  }
  assert.deepEqual(torch.memory()[device], before);
  torch.scope(() => {
    const a = torch.ones(128, { device });
    a.mul(2).add(1).exp();
  });
  assert.deepEqual(torch.memory()[device], before);
}
