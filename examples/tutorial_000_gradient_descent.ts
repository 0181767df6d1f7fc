// Tutorial 000 (../shared/seeds/000): linear regression f = w * x by
// gradient descent, first with a hand-written gradient on plain tensors, then
// with autograd. Ported line by line from the PyTorch tutorial.
//
//   deno run -A examples/tutorial_000_gradient_descent.ts [--device cpu]

import * as torch from "@flint/torch";
import { deviceFromArgs } from "./_device.ts";

const device = await deviceFromArgs();

// ---- 1. Manual: the gradient written by hand (the NumPy part) ----
{
  // f = w * x, with data from y = 2 * x
  const X = torch.tensor([1, 2, 3, 4], { dtype: torch.float32, device });
  const Y = torch.tensor([2, 4, 6, 8], { dtype: torch.float32, device });
  let w = 0.0;

  const forward = (x: torch.Tensor | number) => (typeof x === "number" ? w * x : x.mul(w));
  // loss = MSE
  const loss = (y: torch.Tensor, yPred: torch.Tensor) => yPred.sub(y).pow(2).mean();
  // dJ/dw = 1/N * 2x(w*x - y), written as the tutorial writes it: np.dot(2*x, y_pred - y).mean()
  const gradient = (x: torch.Tensor, y: torch.Tensor, yPred: torch.Tensor) => x.mul(2).dot(yPred.sub(y)).mean();

  console.log(`Manual gradient -- prediction before training: f(5) = ${(forward(5) as number).toFixed(3)}`);
  const learningRate = 0.01;
  const nIters = 20;
  for (let epoch = 0; epoch < nIters; epoch++) {
    const yPred = forward(X) as torch.Tensor; // forward pass
    const l = loss(Y, yPred);
    const dw = gradient(X, Y, yPred);
    w -= learningRate * (await dw.item());
    if (epoch % 2 === 0) console.log(`epoch ${epoch + 1}: w = ${w.toFixed(3)}, loss = ${(await l.item()).toFixed(8)}`);
  }
  console.log(`Manual gradient -- prediction after training: f(5) = ${(forward(5) as number).toFixed(3)}`);
}

// ---- 2. Autograd: PyTorch computes the gradient ----
{
  const X = torch.tensor([1, 2, 3, 4], { dtype: torch.float32, device });
  const Y = torch.tensor([2, 4, 6, 8], { dtype: torch.float32, device });
  // The weight requires grad, so backward() fills w.grad.
  const w = torch.tensor(0.0, { dtype: torch.float32, requiresGrad: true, device });

  const forward = (x: torch.Tensor | number) => w.mul(x);
  const loss = (y: torch.Tensor, yPred: torch.Tensor) => yPred.sub(y).pow(2).mean();

  console.log(`Autograd -- prediction before training: f(5) = ${(await forward(5).item()).toFixed(3)}`);
  const learningRate = 0.01;
  const nIters = 100;
  for (let epoch = 0; epoch < nIters; epoch++) {
    const yPred = forward(X);
    const l = loss(Y, yPred);
    l.backward(); // dl/dw
    // The update must not be recorded: `with torch.no_grad(): w -= learning_rate * w.grad`
    torch.noGrad(() => w.sub_(w.grad!.mul(learningRate)));
    w.grad!.zero_(); // gradients accumulate: clear them
    if (epoch % 10 === 0) {
      console.log(`epoch ${epoch + 1}: w = ${(await w.item()).toFixed(3)}, loss = ${(await l.item()).toFixed(8)}`);
    }
  }
  console.log(`Autograd -- prediction after training: f(5) = ${(await forward(5).item()).toFixed(3)}`);
}
