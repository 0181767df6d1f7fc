// Memory on the CPU: no growth over 1,000 training steps; immediate frees.
// (tfjs and WebGPU run the same checks from their own packages' test files.)

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { assertDisposalIsImmediate, assertTrainingDoesNotGrow } from "./_memory_check.ts";

Deno.test("cpu: 1,000 training steps of tutorial 001's MLP do not grow memory", () => {
  assertTrainingDoesNotGrow("cpu");
});

Deno.test("cpu: `using` and torch.scope free storages at once", () => {
  assertDisposalIsImmediate("cpu");
});

Deno.test("cpu: a model holds only its parameters and buffers, and freeing them frees every byte", () => {
  const { nn } = torch;
  const before = torch.memory().cpu;
  torch.manualSeed(0);
  // Every layer that makes parameters, each initialised by a random fill or a constant one.
  const conv = new nn.Conv2d(3, 8, 3), bn = new nn.BatchNorm2d(8), fc = new nn.Linear(8 * 6 * 6, 10);
  const model = new nn.Sequential(conv, bn, new nn.Flatten(), new nn.LayerNorm(8 * 6 * 6), fc);
  const embedding = new nn.Embedding(20, 4);
  const held = [...model.parameters(), ...model.buffers(), ...embedding.parameters()];
  const bytes = held.reduce((n, t) => n + t.numel() * 4, 0);
  const now = torch.memory().cpu;
  assert.equal(now.storages - before.storages, held.length, "one storage per parameter and buffer, no more");
  assert.equal(now.tensors - before.tensors, held.length, "no wrapper tensors waiting for the collector");
  assert.equal(now.bytes - before.bytes, bytes);
  // Re-initialising in place (random and constant fills) leaves nothing behind either.
  torch.nn.init.kaimingNormal_(conv.weight, { mode: "fan_out", nonlinearity: "relu" });
  torch.nn.init.uniform_(fc.weight, -1, 1);
  torch.nn.init.ones_(bn.weight!);
  assert.deepEqual(torch.memory().cpu, now);
  for (const t of held) t.dispose();
  assert.deepEqual(torch.memory().cpu, before);
});

Deno.test("cpu: fills of a tensor that requires grad record the op and free their temporaries", () => {
  const before = torch.memory().cpu;
  const w = torch.zeros(16, { requiresGrad: true });
  const y = w.mul(2);
  // No scope here: what the fills make for themselves must be freed by them.
  const z = y.clone();
  z.fill_(3);
  assert.equal(z.gradFn?.name, "FillBackward2");
  z.normal_(0, 1);
  assert.equal(z.gradFn?.name, "CopyBackwards");
  z.dispose();
  y.dispose();
  w.dispose();
  assert.deepEqual(torch.memory().cpu, before);
});
