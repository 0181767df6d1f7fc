// A user's program, as a project outside this workspace would write it after
// `deno add jsr:@flint/torch jsr:@flint/models`: imports by published names.

import * as torch from "@flint/torch";
import { resnet18 } from "@flint/models";

torch.manualSeed(0);
const model = new torch.nn.Sequential(new torch.nn.Linear(4, 8), new torch.nn.ReLU(), new torch.nn.Linear(8, 2));
const optimizer = new torch.optim.SGD(model.parameters(), { lr: 0.1 });
const x = torch.randn(16, 4), y = torch.randn(16, 2);
let first = 0, last = 0;
for (let step = 0; step < 20; step++) {
  const loss = torch.nn.functional.mseLoss(model(x), y);
  if (step === 0) first = await loss.item();
  last = await loss.item();
  optimizer.zeroGrad();
  loss.backward();
  optimizer.step();
}
const net = resnet18({ numClasses: 3 }).eval();
const logits = torch.noGrad(() => net(torch.rand(1, 3, 32, 32)));
const bytes = await torch.save(model.stateDict(), { format: "safetensors" });
const reloaded = await torch.load(bytes);
console.log(JSON.stringify({ fell: last < first, logits: logits.shape, keys: Object.keys(reloaded) }));
