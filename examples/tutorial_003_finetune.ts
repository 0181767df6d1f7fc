// Tutorial 003 (../shared/seeds/003): one training step of a pretrained
// ResNet18 (forward, loss, backward, an SGD step), then fine-tuning: freeze
// the network, replace the classifier with a 10-class one, and train only
// that. With `--image`, first classify a photo and print the top 5 classes.
// After torch.manual_seed(0), PyTorch prints the same numbers for the same
// weights (tests/fixtures/make_resnet_fixtures.py runs the same steps).
//
//   deno run -A examples/tutorial_003_finetune.ts [--weights <path | url>] [--image <photo>] [--device cpu]
//
// Without --weights it loads torchvision's ResNet18_Weights.DEFAULT through
// the download cache (as `resnet18(weights=ResNet18_Weights.DEFAULT)`); when
// the network is unreachable it says where to put the file and goes on with
// randomly initialised weights, so every step still runs.

import * as torch from "@flint/torch";
import {
  getDir,
  load,
  loadStateDictFromUrl,
  openImage,
  type ResNet,
  resnet18,
  ResNet18_Weights,
  type StateDict,
} from "@flint/models";
import { deviceFromArgs } from "./_device.ts";

const { nn, optim } = torch;

function option(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  if (i >= 0) {
    const value = Deno.args[i + 1];
    if (value === undefined || value.startsWith("--")) throw new TypeError(`${name} needs a value`);
    return value;
  }
  return Deno.args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

const fmt = (v: number): string => v.toFixed(4);

/** The pretrained state dict from a path or URL (through the hub cache), or null with a message when it cannot. */
async function pretrained(source: string): Promise<StateDict | null> {
  const isUrl = /^https?:\/\//i.test(source);
  try {
    const sd = isUrl ? await loadStateDictFromUrl(source) : await load(source);
    console.error(`weights: ${source}`);
    return sd;
  } catch (e) {
    const name = isUrl ? decodeURIComponent(new URL(source).pathname.split("/").pop() ?? "") : source;
    const where = isUrl ? `${getDir()}/checkpoints/${name}` : source;
    console.error(
      `could not load the pretrained weights from ${source}:\n  ${(e as Error).message}\n` +
        `To use them, download ${isUrl ? source : "the file"} to ${where} (or pass --weights <path>).\n` +
        `Continuing with randomly initialised weights: every step below still runs, the numbers just differ.`,
    );
    return null;
  }
}

/** `resnet18(weights=...)`: built (and randomly initialised) first, then loaded, as torchvision does. */
function buildModel(weights: StateDict | null): ResNet {
  const model = resnet18();
  if (weights !== null) model.loadStateDict(weights);
  return model;
}

const device = await deviceFromArgs();
const weights = await pretrained(option("--weights") ?? ResNet18_Weights.DEFAULT.url);
const imagePath = option("--image");
torch.manualSeed(0);

// ---- model = resnet18(weights=ResNet18_Weights.DEFAULT) ----
let model = buildModel(weights);

if (imagePath !== undefined) {
  // Classify a photo: the weights' own preprocessing, eval mode, softmax over the 1,000 classes.
  model.eval();
  const batch = ResNet18_Weights.DEFAULT.transforms()(await openImage(imagePath)).unsqueeze(0);
  const probs = torch.noGrad(() => model(batch.to(device)).softmax(1));
  const p = await probs.index(0).tolist() as number[];
  const top5 = p.map((prob, i) => [prob, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 5);
  console.log("top-5:");
  for (const [prob, i] of top5) {
    console.log(`  ${(100 * prob).toFixed(2).padStart(6)}%  ${ResNet18_Weights.DEFAULT.meta.categories[i]} (${i})`);
  }
  model.train();
}

// ---- one training step ----
const data = torch.rand(1, 3, 64, 64);
const labels = torch.rand(1, 1000);

const prediction = model(data); // forward pass
console.log(`prediction: [${prediction.shape.join(", ")}]`);
const loss = prediction.sub(labels).sum();
console.log(`loss = (prediction - labels).sum(): ${fmt(await loss.item())}`);
loss.backward(); // backward pass
const norm = async (t: torch.Tensor): Promise<number> => Math.sqrt(await t.double().pow(2).sum().item());
console.log(`conv1.weight.grad norm: ${fmt(await norm(model.conv1.weight.grad!))}`);
console.log(`fc.weight.grad norm: ${fmt(await norm(model.fc.weight.grad!))}`);

const sgd = new optim.SGD(model.parameters(), { lr: 1e-2, momentum: 0.9 });
const before = await model.fc.bias!.index(":3").tolist() as number[];
sgd.step(); // gradient descent
const after = await model.fc.bias!.index(":3").tolist() as number[];
console.log(`optim.step(): fc.bias[:3] ${before.map(fmt).join(" ")} -> ${after.map(fmt).join(" ")}`);
console.log(`loss after the step: ${fmt(await torch.noGrad(() => model(data).sub(labels).sum()).item())}`);

// ---- fine-tuning: freeze everything, then a new classifier for 10 labels ----
model = buildModel(weights);
model.requiresGrad_(false); // for param in model.parameters(): param.requires_grad = False
model.fc = new nn.Linear(512, 10);
const trainable = model.namedParameters().filter(([, p]) => p.requiresGrad).map(([name]) => name);
const frozen = model.parameters().filter((p) => !p.requiresGrad).length;
console.log(`frozen: ${frozen} parameters; trainable: ${trainable.join(", ")}`);

// All parameters are registered, as in the tutorial; only fc's get gradients, so only they move.
const optimizer = new optim.SGD(model.parameters(), { lr: 1e-2, momentum: 0.9 });
const inputs = torch.rand(4, 3, 64, 64);
const targets = torch.randint(0, 10, [4]);
const criterion = new nn.CrossEntropyLoss();
for (let step = 1; step <= 3; step++) {
  optimizer.zeroGrad();
  const stepLoss = criterion(model(inputs), targets);
  stepLoss.backward();
  optimizer.step();
  console.log(`fine-tune step ${step}: loss ${fmt(await stepLoss.item())}`);
}
console.log(`backbone grads: ${model.parameters().filter((p) => p.grad !== null && !p.requiresGrad).length}`);
