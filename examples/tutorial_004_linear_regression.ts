// Tutorial 004 (../shared/seeds/004): fit Y = 2X + noise with gradient
// descent, first with the gradient derived by hand, then with backward();
// then draw the points and the fitted line. Ported from the PyTorch tutorial
// (NumPy's random noise is drawn from torch.rand with a fixed seed instead).
//
//   deno run -A examples/tutorial_004_linear_regression.ts [--device cpu] [--out out]

import * as torch from "@flint/torch";
import { deviceFromArgs } from "./_device.ts";
import { renderPng, renderSvg, scatterWithLine } from "./_plot.ts";

const device = await deviceFromArgs();
const outIndex = Deno.args.indexOf("--out");
const outDir = outIndex >= 0 ? Deno.args[outIndex + 1] : "out";
torch.manualSeed(0);

// The data: X = arange(0, 10, 0.1), Y = 2X + 2 * uniform noise.
const X = torch.arange(0, 10, 0.1, { dtype: torch.float32, device });
const Y = X.mul(2).add(torch.rand(100, { device }).mul(2));

const loss = (y: torch.Tensor, yPred: torch.Tensor) => yPred.sub(y).pow(2).mean();

// ---- 1. By hand: dJ/dw = mean(2 w x^2 - 2 x y) ----
{
  let w = 0.0;
  const forward = (x: torch.Tensor) => x.mul(w);
  const gradient = (x: torch.Tensor, y: torch.Tensor, w: number) => x.mul(x).mul(2 * w).sub(x.mul(y).mul(2)).mean();
  const learningRate = 0.001;
  const nIters = 100;
  for (let epoch = 0; epoch < nIters; epoch++) {
    const l = loss(Y, forward(X));
    const dw = await gradient(X, Y, w).item();
    w = w - learningRate * dw;
    if (epoch % 20 === 0) console.log(`epoch ${epoch + 1}: w = ${w.toFixed(3)}, loss = ${(await l.item()).toFixed(8)}`);
  }
  console.log(`By hand: when x = 7, the model predicts y = ${(7 * w).toFixed(3)}`);
}

// ---- 2. Autograd ----
const w = torch.tensor(0.0, { dtype: torch.float32, requiresGrad: true, device });
const forward = (x: torch.Tensor | number) => w.mul(x);
const learningRate = 0.001;
const nIters = 100;
for (let epoch = 0; epoch < nIters; epoch++) {
  const yPred = forward(X);
  const l = loss(Y, yPred); // the error
  l.backward(); // the gradient
  torch.noGrad(() => {
    // w.data = w.data - learning_rate * w.grad
    w.setData(w.detach().sub(w.grad!.mul(learningRate)));
  });
  w.grad!.zero_(); // clear the gradient
  if (epoch % 20 === 0) {
    console.log(`epoch ${epoch + 1}: w = ${(await w.item()).toFixed(3)}, loss = ${(await l.item()).toFixed(3)}`);
  }
}
console.log(`Autograd: when x = 5, the model predicts y = ${(await forward(5).item()).toFixed(3)}`);

// ---- 3. The picture: the points and the fitted line ----
const xs = (await X.tolist()) as number[];
const ys = (await Y.tolist()) as number[];
const fitted = (await forward(X).detach().tolist()) as number[];
const svg = await renderSvg(scatterWithLine(
  xs.map((x, i) => ({ x, y: ys[i] })),
  xs.map((x, i) => ({ x, y: fitted[i] })),
  `Y = 2X + noise, fitted w = ${(await w.item()).toFixed(3)}`,
));
await Deno.mkdir(outDir, { recursive: true });
const base = `${outDir}/tutorial_004_fit`;
await Deno.writeTextFile(`${base}.svg`, svg);
await Deno.writeFile(`${base}.png`, await renderPng(svg));
console.log(`wrote ${base}.svg and ${base}.png`);
