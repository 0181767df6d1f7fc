// Tutorial 001 (../shared/seeds/001): a two-layer MLP trained six ways, as the
// tutorial walks through them: NumPy-style with gradients by hand, the same on
// tensors, autograd, nn.Sequential with a manual update, optim.Adam, and a
// custom nn.Module (TwoLayerNet). Each prints its loss every 100 steps; with
// the same seed PyTorch prints the same losses
// (tests/fixtures/make_tutorial_fixtures.py).
//
//   deno run -A examples/tutorial_001_mlp.ts [--device cpu]

import * as torch from "@flint/torch";
import { deviceFromArgs } from "./_device.ts";
import { formatG } from "./_format.ts";

const device = await deviceFromArgs();
const { nn, optim } = torch;

// ---- 1. The NumPy-style MLP: float64 tensors, forward and backward by hand ----
// NumPy runs on the host: this part stays on the CPU in float64 whatever --device says.
{
  torch.manualSeed(0);
  const [n, inputDim, hiddenDim, outputDim] = [64, 784, 100, 10];
  const host = { dtype: "float64", device: "cpu" } as const;
  const x = torch.randn(n, inputDim, host);
  const y = torch.randn(n, outputDim, host);
  let w1 = torch.randn(inputDim, hiddenDim, host);
  let w2 = torch.randn(hiddenDim, outputDim, host);
  const learningRate = 1e-6;
  for (let i = 0; i < 500; i++) {
    const h = x.mm(w1); // x.dot(w1)
    const hRelu = h.maximum(torch.zeros([], host)); // np.maximum(h, 0)
    const yPred = hRelu.mm(w2);
    const loss = yPred.sub(y).square().sum(); // np.square(y_pred - y).sum()
    if (i % 100 === 99) console.log(`numpy-style ${i} ${formatG(await loss.item())}`);
    const gradYPred = yPred.sub(y).mul(2.0);
    const gradW2 = hRelu.t().mm(gradYPred);
    const gradHRelu = gradYPred.mm(w2.t());
    const gradH = gradHRelu.clone();
    gradH.indexPut_([h.lt(0)], 0); // grad_h[h < 0] = 0
    const gradW1 = x.t().mm(gradH);
    w1 = w1.sub(gradW1.mul(learningRate));
    w2 = w2.sub(gradW2.mul(learningRate));
  }
}

// ---- 2. The same on tensors, with PyTorch's names ----
const [n, inputDim, hiddenDim, outputDim] = [64, 784, 100, 10];
const learningRate = 1e-6;
{
  torch.manualSeed(0);
  const x = torch.randn(n, inputDim, { device });
  const y = torch.randn(n, outputDim, { device });
  const w1 = torch.randn(inputDim, hiddenDim, { device });
  const w2 = torch.randn(hiddenDim, outputDim, { device });
  for (let t = 0; t < 500; t++) {
    const h = x.mm(w1);
    const hRelu = h.clamp({ min: 0 });
    const yPred = hRelu.mm(w2);
    const loss = yPred.sub(y).pow(2).sum();
    if (t % 100 === 99) console.log(`tensors ${t} ${formatG(await loss.item())}`);
    const gradYPred = yPred.sub(y).mul(2.0);
    const gradW2 = hRelu.t().mm(gradYPred);
    const gradHRelu = gradYPred.mm(w2.t());
    const gradH = gradHRelu.clone();
    gradH.indexPut_([h.lt(0)], 0);
    const gradW1 = x.t().mm(gradH);
    w1.sub_(gradW1.mul(learningRate)); // w1 -= learning_rate * grad_w1
    w2.sub_(gradW2.mul(learningRate));
  }
}

// ---- 3. Autograd ----
{
  torch.manualSeed(0);
  const x = torch.randn(n, inputDim, { device });
  const y = torch.randn(n, outputDim, { device });
  const w1 = torch.randn(inputDim, hiddenDim, { requiresGrad: true, device });
  const w2 = torch.randn(hiddenDim, outputDim, { requiresGrad: true, device });
  for (let t = 0; t < 500; t++) {
    const yPred = x.mm(w1).clamp({ min: 0 }).mm(w2);
    const loss = yPred.sub(y).pow(2).sum();
    if (t % 100 === 99) console.log(`autograd ${t} ${formatG(await loss.item())}`);
    loss.backward();
    torch.noGrad(() => {
      w1.sub_(w1.grad!.mul(learningRate));
      w2.sub_(w2.grad!.mul(learningRate));
      // Manually zero the gradients after updating weights
      w1.grad!.zero_();
      w2.grad!.zero_();
    });
  }
}

// ---- 4, 5, 6. nn.Sequential by hand, optim.Adam, and a custom Module with SGD ----
class TwoLayerNet extends nn.Module {
  linear1: InstanceType<typeof nn.Linear>;
  linear2: InstanceType<typeof nn.Linear>;
  // In the constructor we make two nn.Linear modules and assign them as fields.
  constructor(dIn: number, h: number, dOut: number) {
    super();
    this.linear1 = new nn.Linear(dIn, h);
    this.linear2 = new nn.Linear(h, dOut);
  }
  // forward takes a tensor of input data and returns a tensor of output data.
  override forward(x: torch.Tensor): torch.Tensor {
    const hRelu = this.linear1(x).clamp({ min: 0 });
    return this.linear2(hRelu);
  }
}

const [N, dIn, H, dOut] = [64, 1000, 100, 10];
for (const form of ["sequential", "adam", "module"] as const) {
  torch.manualSeed(0);
  const x = torch.randn(N, dIn, { device });
  const y = torch.randn(N, dOut, { device });
  const model = form === "module"
    ? new TwoLayerNet(dIn, H, dOut)
    : new nn.Sequential(new nn.Linear(dIn, H), new nn.ReLU(), new nn.Linear(H, dOut));
  model.to(device);
  const lossFn = new nn.MSELoss({ reduction: "sum" });
  const lr = 1e-4;
  const optimizer = form === "adam"
    ? new optim.Adam(model.parameters(), { lr })
    : form === "module"
    ? new optim.SGD(model.parameters(), { lr })
    : undefined;
  for (let t = 0; t < 500; t++) {
    const yPred = model(x);
    const loss = lossFn(yPred, y);
    if (t % 100 === 99) console.log(`${form} ${t} ${formatG(await loss.item())}`);
    if (optimizer === undefined) {
      model.zeroGrad(); // zero the gradients before the backward pass
      loss.backward();
      torch.noGrad(() => {
        for (const param of model.parameters()) param.sub_(param.grad!.mul(lr));
      });
    } else {
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
    }
  }
}
