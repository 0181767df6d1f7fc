// Tutorial 002 (../shared/seeds/002): computing gradients, first by hand
// (the partial derivative written out), then with autograd; the three ways to
// stop tracking, and why gradients must be zeroed. Ported from the PyTorch
// tutorial; with torch.manual_seed(0), PyTorch prints the same numbers.
//
//   deno run -A examples/tutorial_002_autograd.ts [--device cpu]

import * as torch from "@flint/torch";
import { deviceFromArgs } from "./_device.ts";

const device = await deviceFromArgs();
torch.manualSeed(0);

// ---- 1. By hand: z = mean(2 * (x + 2)^2), so dz/dx = 4 * (x + 2) / n ----
{
  const x = torch.randn(3, { device });
  const n = x.numel();
  const manual = x.add(2).mul(4).div(n);
  console.log("dz/dx by hand:", await manual.format());
}

// ---- 2. Autograd ----
torch.manualSeed(0);
const x = torch.randn(3, { requiresGrad: true, device });
console.log(await x.format());
// tensor([ 1.5410, -0.2934, -2.1788], requires_grad=True)

const y = x.add(2);
console.log(await y.format()); // grad_fn=<AddBackward0>
let z = y.mul(y).mul(2);
console.log(await z.format()); // grad_fn=<MulBackward0>
z = z.mean();
console.log(await z.format()); // grad_fn=<MeanBackward0>

z.backward(); // dz/dx
console.log("dz/dx by autograd:", await x.grad!.format());

// ---- 3. Three ways to stop tracking ----
x.requiresGrad_(false);
console.log(await x.format());
const detached = x.detach();
console.log(await detached.format());
x.requiresGrad_(true);
console.log(await x.add(2).format());
torch.noGrad(() => {
  const inside = x.add(2);
  console.log(String(inside.requiresGrad), inside.gradFn === null);
});
{
  using _ = torch.noGrad(); // the `with torch.no_grad():` form
  console.log(await x.add(2).format());
}

// ---- 4. Gradients accumulate: zero them each step ----
const weights = torch.ones(4, { requiresGrad: true, device });
for (let epoch = 0; epoch < 3; epoch++) {
  const modelOutput = weights.mul(3).sum();
  modelOutput.backward();
  console.log(`epoch ${epoch}: grad without zeroing`, await weights.grad!.format());
}
weights.grad!.zero_();
for (let epoch = 0; epoch < 3; epoch++) {
  const modelOutput = weights.mul(3).sum();
  modelOutput.backward();
  console.log(`epoch ${epoch}: grad with zeroing`, await weights.grad!.format());
  weights.grad!.zero_();
}
