// ResNet against torchvision (tests/fixtures/resnet/resnet.json, written by
// make_resnet_fixtures.py): the same keys, the same seeded weights, the same
// logits and gradients. The state dicts are rebuilt from the seed on both
// sides instead of committing 46 MB: a per-tensor sha256 proves Flint's
// initialisation equals torchvision's, then the model goes through a .pth
// written by Flint before it is checked.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import {
  BasicBlock,
  Bottleneck,
  getDir,
  IMAGENET_CATEGORIES,
  load,
  loadWithInfo,
  openImage,
  ResNet,
  resnet18,
  ResNet18_Weights,
  resnet34,
  resnet50,
  ResNet50_Weights,
  save,
  type StateDict,
} from "./mod.ts";
import {
  exists,
  maxAbs,
  maxAbsDiff,
  RESNET_FIXTURES,
  resnetFixture,
  samplesOf,
  sha256Hex,
  type Summary,
  tensorSha256,
} from "./_resnet_fixture.ts";

const fx = await resnetFixture();

function checkStateDict(sd: StateDict, name: string): void {
  const expected = fx.models[name].state_dict;
  assert.deepEqual(Object.keys(sd), expected.map((e) => e.key), `${name}: keys in torchvision's order`);
  for (const e of expected) {
    const t = sd[e.key];
    assert.deepEqual(t.shape, e.shape, `${name} ${e.key} shape`);
    if (e.sha256 !== undefined) {
      assert.equal(t.dtype, "float32", `${name} ${e.key} dtype`);
      assert.equal(tensorSha256(t), e.sha256, `${name} ${e.key}: Flint's initial values differ from torchvision's`);
    } else {
      assert.equal(t.dtype, "int32", `${name} ${e.key} is an integer buffer`);
      assert.deepEqual([...t.dataSync()], e.value, `${name} ${e.key}`);
    }
  }
}

// One model for the tests that only read it, built as torchvision builds it after torch.manual_seed(0).
torch.manualSeed(0);
const model18 = resnet18();
const afterInit18 = [...torch.rand(3).dataSync()];

/** The seed-0 model through a .pth Flint wrote, loaded into a model built from another seed. */
async function throughPth(options: { float16?: boolean } = {}): Promise<ResNet> {
  const sd = model18.stateDict();
  const dtypes = options.float16
    ? Object.fromEntries(
      Object.entries(sd).filter(([, t]) => t.dtype === "float32").map(([k]) => [k, "float16" as const]),
    )
    : undefined;
  const path = await Deno.makeTempFile({ suffix: ".pth" });
  try {
    await save(sd, path, { dtypes });
    torch.manualSeed(123);
    const fresh = resnet18();
    const { stateDict, dtypes: fileDtypes } = await loadWithInfo(path);
    assert.equal(fileDtypes["conv1.weight"], options.float16 ? "float16" : "float32");
    assert.equal(fileDtypes["bn1.num_batches_tracked"], "int64");
    fresh.loadStateDict(stateDict);
    return fresh;
  } finally {
    await Deno.remove(path);
  }
}

function seededRand(seed: number, shape: number[]): torch.Tensor {
  torch.manualSeed(seed);
  return torch.rand(shape);
}

Deno.test("resnet18() after manualSeed(0) has torchvision's keys, shapes and exact weights", () => {
  checkStateDict(model18.stateDict(), "resnet18");
  assert.equal(Object.keys(model18.stateDict()).length, 122);
  // The generator is left where torchvision leaves it.
  assert.deepEqual(afterInit18.map(Math.fround), fx.models.resnet18.after_init!.map(Math.fround));
});

Deno.test("resnet34() and resnet50() after manualSeed(0) equal torchvision's, key for key", () => {
  for (const [name, build] of [["resnet34", resnet34], ["resnet50", resnet50]] as const) {
    torch.manualSeed(0);
    const m = build();
    checkStateDict(m.stateDict(), name);
    assert.deepEqual([...torch.rand(3).dataSync()], fx.models[name].after_init!.map(Math.fround), name);
  }
});

Deno.test("zeroInitResidual zeroes each block's last batch-norm weight, as torchvision's", () => {
  torch.manualSeed(0);
  const m = resnet18({ zeroInitResidual: true });
  checkStateDict(m.stateDict(), "resnet18_zero_init_residual");
  assert.equal(maxAbs((m.layer2.at(1) as BasicBlock).bn2.weight!.dataSync()), 0);
});

Deno.test("groups, widthPerGroup and replaceStrideWithDilation build torchvision's ResNeXt-style network", () => {
  const rec = fx.models.grouped_dilated;
  torch.manualSeed(0);
  const m = new ResNet(Bottleneck, [1, 1, 1, 1], {
    numClasses: 7,
    groups: 4,
    widthPerGroup: 16,
    replaceStrideWithDilation: [false, true, true],
  });
  checkStateDict(m.stateDict(), "grouped_dilated");
  const logits = torch.noGrad(() => m.eval()(seededRand(rec.input_seed!, [1, 3, 64, 64])));
  assert.ok(maxAbsDiff(logits.dataSync(), rec.logits!) <= 1e-4);
});

Deno.test("the module tree prints and nests as torchvision's", () => {
  const text = String(model18);
  assert.match(
    text,
    /^ResNet\(\n {2}\(conv1\): Conv2d\(3, 64, kernel_size=\(7, 7\), stride=\(2, 2\), padding=\(3, 3\), bias=False\)/,
  );
  assert.match(text, /\(relu\): ReLU\(inplace=True\)/);
  assert.match(
    text,
    /\(downsample\): Sequential\(\n\s+\(0\): Conv2d\(64, 128, kernel_size=\(1, 1\), stride=\(2, 2\), bias=False\)/,
  );
  assert.match(text, /\(fc\): Linear\(in_features=512, out_features=1000, bias=True\)\n\)$/);
  assert.ok(model18.layer1.at(0) instanceof BasicBlock);
  assert.ok(resnet50({ numClasses: 3 }).layer4.at(2) instanceof Bottleneck);
});

Deno.test("eval logits through a Flint-written .pth match torchvision's within 1e-4 (2 x 3 x 64 x 64)", async () => {
  const model = (await throughPth()).eval();
  const x = seededRand(fx.eval.input.seed, fx.eval.input.shape);
  assert.deepEqual([...x.flatten().index(":4").dataSync()], fx.eval.input.first.map(Math.fround));
  const logits = torch.noGrad(() => model(x));
  assert.deepEqual(logits.shape, [2, 1000]);
  const diff = maxAbsDiff(logits.dataSync(), fx.eval.logits.flat());
  assert.ok(diff <= 1e-4, `largest logit difference ${diff}`);
});

Deno.test("eval logits at 224 x 224 match torchvision's within 1e-4", () => {
  model18.eval();
  const x = seededRand(fx.eval.input224.seed, fx.eval.input224.shape);
  const diff = maxAbsDiff(torch.noGrad(() => model18(x)).dataSync(), fx.eval.logits224);
  assert.ok(diff <= 1e-4, `largest logit difference ${diff}`);
});

Deno.test("a float16 .pth gives torch's float16-roundtrip logits within 1e-4", async () => {
  const model = (await throughPth({ float16: true })).eval();
  const x = seededRand(fx.eval.input.seed, fx.eval.input.shape);
  const logits = torch.noGrad(() => model(x)).dataSync();
  const diff = maxAbsDiff(logits, fx.eval.float16_logits.flat());
  assert.ok(diff <= 1e-4, `largest logit difference ${diff}`);
  // ...and the rounding did change them, by what torch saw.
  const change = maxAbsDiff(logits, fx.eval.logits.flat());
  assert.ok(Math.abs(change - fx.eval.float16_max_change) <= 1e-4, `changed by ${change}`);
});

function relDiff(actual: Summary, expected: Summary, name: string): void {
  assert.ok(Math.abs(actual.norm - expected.norm) <= 1e-3 * expected.norm, `${name} norm ${actual.norm}`);
  const d = maxAbsDiff(actual.samples, expected.samples);
  assert.ok(d <= 1e-3 * maxAbs(expected.samples), `${name}: sampled entries differ by ${d}`);
}

Deno.test("tutorial 003's training step gives torchvision's gradients within 1e-3 and the same SGD update", async () => {
  const ts = fx.train_step;
  const model = await throughPth(); // training mode, as the tutorial
  const data = seededRand(ts.seed_data, [1, 3, 64, 64]);
  const labels = torch.rand(1, 1000);
  const loss = model(data).sub(labels).sum();
  assert.ok(Math.abs(loss.itemSync() - ts.loss) <= 1e-4 * Math.abs(ts.loss), `loss ${loss.itemSync()} vs ${ts.loss}`);
  loss.backward();
  const params = Object.fromEntries(model.namedParameters());
  for (const [key, expected] of Object.entries(ts.grads)) {
    const g = params[key].grad!;
    const norm = Math.sqrt(g.double().pow(2).sum().itemSync());
    relDiff({ norm, sum: g.double().sum().itemSync(), samples: samplesOf(g) }, expected, `${key}.grad`);
  }
  new torch.optim.SGD(model.parameters(), { lr: 1e-2, momentum: 0.9 }).step();
  for (const [key, expected] of Object.entries(ts.after_step)) {
    // w - lr * g: the step moves each weight by lr times a gradient that agrees to 1e-3.
    const d = maxAbsDiff(samplesOf(params[key]), expected);
    assert.ok(d <= 1e-2 * 1e-3 * maxAbs(ts.grads[key].samples) + 1e-6, `${key} after the step differs by ${d}`);
  }
  // Batch norm's running statistics moved as torch's did.
  assert.ok(maxAbsDiff(model.bn1.runningMean!.dataSync(), ts.bn1_running_mean) <= 1e-5);
  const rv = (model.layer4.at(1) as BasicBlock).bn2.runningVar!;
  assert.ok(maxAbsDiff(samplesOf(rv, 64), ts.layer4_1_bn2_running_var) <= 1e-4 * maxAbs(ts.layer4_1_bn2_running_var));
});

Deno.test("a torch-written float16 .pth (BasicBlock with downsample) loads exactly and computes as torch", async () => {
  const sf = fx.small_fp16;
  const { stateDict, dtypes } = await loadWithInfo(new URL("small_fp16.pth", RESNET_FIXTURES).pathname);
  assert.deepEqual(Object.keys(stateDict), sf.keys.map((k) => k.key));
  for (const k of sf.keys) {
    assert.equal(dtypes[k.key], k.dtype, k.key);
    assert.deepEqual([...stateDict[k.key].dataSync()], sf.values[k.key].map(Math.fround), k.key);
  }
  torch.manualSeed(0);
  const downsample = new torch.nn.Sequential(
    new torch.nn.Conv2d(4, 8, 1, { stride: 2, bias: false }),
    new torch.nn.BatchNorm2d(8),
  );
  const block = new BasicBlock(4, 8, { stride: 2, downsample });
  block.loadStateDict(stateDict);
  block.eval();
  const y = torch.noGrad(() => block(seededRand(sf.input_seed, sf.input_shape)));
  assert.deepEqual(y.shape, sf.output_shape);
  const diff = maxAbsDiff(y.dataSync(), sf.output);
  assert.ok(diff <= 1e-5, `largest difference ${diff}`);
});

/** The gradFn graph from `t`: node names, and the leaves it accumulates into. */
function graphOf(t: torch.Tensor): { names: string[]; leaves: torch.Tensor[] } {
  const names: string[] = [], leaves: torch.Tensor[] = [];
  const seen = new Set<torch.Node>();
  const stack: (torch.Node | null)[] = [t.gradFn];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || node === undefined || seen.has(node)) continue;
    seen.add(node);
    names.push(node.name);
    const variable = (node as { variable?: torch.Tensor }).variable;
    if (variable !== undefined) leaves.push(variable);
    stack.push(...node.nextFunctions);
  }
  return { names: names.sort(), leaves };
}

Deno.test("a frozen backbone with a new fc records no tape through the backbone", () => {
  torch.manualSeed(0);
  const model = resnet18();
  model.requiresGrad_(false);
  model.fc = new torch.nn.Linear(512, 10);
  assert.deepEqual(
    model.namedParameters().filter(([, p]) => p.requiresGrad).map(([k]) => k),
    ["fc.weight", "fc.bias"],
  );
  const x = torch.rand(2, 3, 64, 64);
  const stem = model.maxpool(model.relu(model.bn1(model.conv1(x))));
  const features = model.avgpool(model.layer4(model.layer3(model.layer2(model.layer1(stem)))));
  assert.equal(features.gradFn, null, "the backbone's output has no grad_fn");
  assert.equal(features.requiresGrad, false);
  const logits = model(x);
  // PyTorch's graph of the same output is Addmm ← (AccumulateGrad bias, T ← AccumulateGrad weight); Flint's
  // linear is composed (its AddmmBackward0 wraps an Mm and an Add), so the graph holds PyTorch's nodes and those.
  const head = graphOf(logits);
  for (const name of fx.tutorial003.graph) assert.ok(head.names.includes(name), `${name} in ${head.names}`);
  assert.ok(head.names.length <= 8, `${head.names}`);
  assert.equal(head.leaves.length, 2);
  assert.ok(head.leaves.includes(model.fc.weight) && head.leaves.includes(model.fc.bias!));
  const loss = new torch.nn.CrossEntropyLoss()(logits, torch.tensor([1, 7], { dtype: "int32" }));
  const { names, leaves } = graphOf(loss);
  assert.deepEqual(leaves, head.leaves, "the loss reaches fc's parameters and nothing else");
  // Unfrozen, the same loss's graph runs through every layer.
  torch.manualSeed(0);
  const unfrozen = graphOf(
    new torch.nn.CrossEntropyLoss()(resnet18({ numClasses: 10 })(x), torch.tensor([1, 7], { dtype: "int32" })),
  );
  assert.equal(unfrozen.leaves.length, 62);
  // Frozen: the loss's own nodes and fc's, nothing of the 20 convolutions and batch norms.
  assert.ok(
    names.length <= 16 && unfrozen.names.length > 120,
    `${names.length} frozen, ${unfrozen.names.length} unfrozen`,
  );
  assert.ok(!names.some((n) => /Convolution|BatchNorm|Relu|MaxPool/.test(n)), `${names}`);
  assert.ok(["ConvolutionBackward0", "NativeBatchNormBackward0"].every((n) => unfrozen.names.includes(n)));
  console.log(`gradFn nodes from the loss: ${names.length} frozen, ${unfrozen.names.length} unfrozen`);
  loss.backward();
  assert.ok(model.parameters().every((p) => (p.grad !== null) === p.requiresGrad), "only fc has gradients");
});

Deno.test("ResNet18_Weights carries torchvision's URL, hash prefix, categories and preset", () => {
  const w = ResNet18_Weights.IMAGENET1K_V1;
  assert.equal(ResNet18_Weights.DEFAULT, w);
  assert.equal(w.url, "https://download.pytorch.org/models/resnet18-f37072fd.pth");
  assert.equal(String(w), "ResNet18_Weights.IMAGENET1K_V1");
  assert.equal(w.meta.numParams, model18.parameters().reduce((n, p) => n + p.numel(), 0));
  assert.equal(sha256Hex(new TextEncoder().encode(w.meta.categories.join("\n"))), fx.categories_sha256);
  assert.equal(w.meta.categories, IMAGENET_CATEGORIES);
  const t = w.transforms();
  assert.deepEqual([t.resizeSize, t.cropSize, t.mean, t.std], [[256], [224], [0.485, 0.456, 0.406], [
    0.229,
    0.224,
    0.225,
  ]]);
  assert.equal(ResNet50_Weights.DEFAULT.url, "https://download.pytorch.org/models/resnet50-11ad3fa6.pth");
  assert.deepEqual(ResNet50_Weights.DEFAULT.transforms().resizeSize, [232]);
});

Deno.test("resnet18({ weights }) loads through the hub cache and refuses numClasses other than 1000", async () => {
  const modelDir = await Deno.makeTempDir();
  try {
    // A release-like file: no num_batches_tracked, as in torchvision's files.
    const sd = Object.fromEntries(
      Object.entries(model18.stateDict()).filter(([k]) => !k.endsWith("num_batches_tracked")),
    );
    await save(sd, `${modelDir}/resnet18-f37072fd.pth`);
    torch.manualSeed(7);
    const m = await resnet18({ weights: ResNet18_Weights.DEFAULT, modelDir, progress: false });
    assert.equal(tensorSha256(m.conv1.weight), tensorSha256(model18.conv1.weight));
    assert.equal(m.bn1.numBatchesTracked!.itemSync(), 0);
    const byName = await resnet18({ weights: "IMAGENET1K_V1", modelDir, progress: false });
    assert.equal(tensorSha256(byName.fc.weight), tensorSha256(model18.fc.weight));
    await assert.rejects(
      resnet18({ weights: "DEFAULT", numClasses: 10, modelDir }),
      /The parameter 'num_classes' expected value 1000 but got 10 instead\./,
    );
    assert.throws(() => resnet18({ weights: "IMAGENET1K_V9" }), /Failed to find Weights 'IMAGENET1K_V9'/);
    assert.throws(() => resnet18({ weights: ResNet50_Weights.DEFAULT }), /expected ResNet18_Weights/);
  } finally {
    await Deno.remove(modelDir, { recursive: true });
  }
});

// A torch-written ResNet18 (make_resnet_fixtures.py saves its seed-0 model there) when this machine has one.
const torchPth = Deno.env.get("FLINT_RESNET18_PTH") ??
  `${Deno.env.get("HOME") ?? "."}/.cache/flint/fixtures/resnet18_seed0_torch.pth`;
Deno.test({
  name: "a torch.save'd resnet18 state dict loads with torchvision's exact weights and logits",
  ignore: !(await exists(torchPth)),
  fn: async () => {
    const sd = await load(torchPth);
    const nbt = "bn1.num_batches_tracked";
    checkStateDict(sd, "resnet18");
    assert.equal(sd[nbt].dtype, "int32");
    torch.manualSeed(99);
    const m = resnet18().eval();
    m.loadStateDict(sd);
    const logits = torch.noGrad(() => m(seededRand(fx.eval.input.seed, fx.eval.input.shape)));
    assert.ok(maxAbsDiff(logits.dataSync(), fx.eval.logits.flat()) <= 1e-4);
  },
});

// torchvision's released IMAGENET1K_V1 file, when the hub cache (or $FLINT_RESNET18_RELEASE) has it: the
// reference photos in ../shared must then come out as their ImageNet classes.
const release = Deno.env.get("FLINT_RESNET18_RELEASE") ?? `${getDir()}/checkpoints/resnet18-f37072fd.pth`;
const photos = Deno.env.get("FLINT_RESNET18_REFERENCE") ??
  new URL("../../shared/reference/resnet18", import.meta.url).pathname;
Deno.test({
  name: "torchvision's released resnet18-f37072fd.pth classifies the reference photos as ImageNet does",
  ignore: !(await exists(release)) || !(await exists(photos)) || fx.photos.length === 0,
  fn: async () => {
    const { stateDict, dtypes } = await loadWithInfo(release);
    assert.equal(Object.keys(stateDict).length, 102, "the release has no num_batches_tracked");
    assert.equal(dtypes["fc.weight"], "float32");
    const model = resnet18();
    model.loadStateDict(stateDict);
    model.eval();
    const preprocess = ResNet18_Weights.DEFAULT.transforms();
    const batch = torch.stack(
      await Promise.all(fx.photos.map(async (p) => preprocess(await openImage(`${photos}/${p.file}`)))),
    );
    const logits = await torch.noGrad(() => model(batch)).tolist() as number[][];
    fx.photos.forEach((p, i) => {
      const top5 = logits[i].map((v, k) => [v, k]).sort((a, b) => b[0] - a[0]).slice(0, 5).map(([, k]) => k);
      assert.ok(top5.includes(p.label!), `${p.file}: top-5 ${top5.map((k) => IMAGENET_CATEGORIES[k])}`);
    });
  },
});
