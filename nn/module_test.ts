// Module behaviour with the layers: state-dict keys and load errors as
// PyTorch's (from the fixtures), train/eval, freezing, zeroGrad, hooks with
// removable handles, dtype conversion, and batch norm's missing-key filling.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { fixtures } from "./_test_helpers.ts";

const { nn } = torch;
const F = nn.functional;
const expected = fixtures().state_dict;

class SmallCnn extends nn.Module<[torch.Tensor], torch.Tensor> {
  conv1 = new nn.Conv2d(1, 4, 3, { padding: 1, bias: false });
  bn1 = new nn.BatchNorm2d(4);
  relu = new nn.ReLU({ inplace: true });
  pool = new nn.MaxPool2d(2);
  features = new nn.Sequential(new nn.Conv2d(4, 8, 3), new nn.BatchNorm2d(8), new nn.ReLU());
  avgpool = new nn.AdaptiveAvgPool2d([1, 1]);
  fc = new nn.Linear(8, 10);

  override forward(x: torch.Tensor): torch.Tensor {
    const y = this.pool(this.relu(this.bn1(this.conv1(x))));
    return this.fc(this.avgpool(this.features(y)).flatten(1));
  }
}

const sequential = () =>
  new nn.Sequential(
    new nn.Conv2d(1, 2, 3),
    new nn.BatchNorm2d(2),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Linear(8, 3),
  );

Deno.test("stateDict keys, parameters and buffers of a small CNN are PyTorch's, in order", () => {
  const cnn = new SmallCnn();
  assert.deepEqual(Object.keys(cnn.stateDict()), expected.small_cnn_keys);
  assert.deepEqual(cnn.namedParameters().map(([k]) => k), expected.small_cnn_parameters);
  assert.deepEqual(cnn.namedBuffers().map(([k]) => k), expected.small_cnn_buffers);
  assert.equal(String(cnn), expected.small_cnn_repr);
  assert.deepEqual(Object.keys(sequential().stateDict()), expected.sequential_keys);
  assert.equal(String(sequential()), expected.sequential_repr);
  assert.equal(cnn.stateDict()["bn1.num_batches_tracked"].dtype, "int32");
  assert.deepEqual(cnn(torch.randn(2, 1, 8, 8)).shape, [2, 10]);
});

Deno.test("loss weights are buffers in the state dict, as in PyTorch", () => {
  const ce = new nn.CrossEntropyLoss({ weight: torch.ones(3) });
  assert.deepEqual(Object.keys(ce.stateDict()), expected.cross_entropy_weight_keys);
  const bce = new nn.BCEWithLogitsLoss({ posWeight: torch.ones(3) });
  assert.deepEqual(Object.keys(bce.stateDict()), expected.bce_with_logits_keys);
  assert.deepEqual(Object.keys(new nn.CrossEntropyLoss().stateDict()), []);
});

Deno.test("loadStateDict reports every missing, unexpected and mis-shaped key at once, in PyTorch's words", () => {
  const model = sequential();
  const sd = { ...model.stateDict() };
  delete sd["1.running_mean"];
  delete sd["5.bias"];
  sd["extra.weight"] = torch.zeros(1);
  sd["0.weight"] = torch.zeros(2, 1, 5, 5);
  sd["5.weight"] = torch.zeros(3, 7);
  assert.throws(() => model.loadStateDict(sd), (e: Error) => {
    assert.equal(e.message, expected.load_error_sequential);
    return true;
  });
});

Deno.test("loadStateDict copies values into the same parameters, and strict: false reports missing keys", () => {
  const a = new nn.Linear(3, 2), b = new nn.Linear(3, 2);
  const weight = b.weight;
  b.loadStateDict(a.stateDict());
  assert.equal(b.weight, weight);
  assert.deepEqual(b.weight.tolistSync(), a.weight.tolistSync());
  const result = b.loadStateDict({ weight: a.weight.detach() }, { strict: false });
  assert.deepEqual(result, { missingKeys: ["bias"], unexpectedKeys: [] });
});

Deno.test("batch norm fills a missing num_batches_tracked with 0 (torchvision's checkpoints lack it)", () => {
  const bn = new nn.BatchNorm2d(3);
  bn(torch.randn(2, 3, 2, 2));
  assert.equal(bn.numBatchesTracked!.itemSync(), 1);
  const sd = { ...new nn.BatchNorm2d(3).stateDict() };
  delete sd["num_batches_tracked"];
  sd.running_mean = torch.tensor([1, 2, 3]);
  assert.deepEqual(bn.loadStateDict(sd), { missingKeys: [], unexpectedKeys: [] });
  assert.equal(bn.numBatchesTracked!.itemSync(), 0);
  assert.deepEqual(bn.runningMean!.tolistSync(), [1, 2, 3]);
  // Other missing keys are still reported.
  delete sd["running_var"];
  assert.throws(() => bn.loadStateDict(sd), /Missing key\(s\) in state_dict: "running_var"/);
});

Deno.test("train() and eval() switch batch norm between batch and running statistics, and dropout off", () => {
  const model = new nn.Sequential(new nn.BatchNorm1d(2), new nn.Dropout(0.5));
  const x = torch.tensor([[1, 2], [3, 6]]);
  assert.equal(model.training, true);
  model.eval();
  assert.equal(model[0].training, false);
  assert.equal(model[1].training, false);
  // Eval: running mean 0, var 1 → y = x / sqrt(1 + eps), and dropout is the identity.
  const y = model(x).tolistSync() as number[][];
  assert.ok(Math.abs(y[1][1] - 6 / Math.sqrt(1 + 1e-5)) < 1e-5);
  assert.equal((model[0] as torch.nn.BatchNorm1d).numBatchesTracked!.itemSync(), 0);
  model.train();
  torch.manualSeed(0);
  const z = model(x).tolistSync() as number[][];
  // Train: each column normalised to ±1, then dropped or doubled.
  for (const v of z.flat()) assert.ok(v === 0 || Math.abs(Math.abs(v) - 2) < 1e-4, `${v}`);
  assert.equal((model[0] as torch.nn.BatchNorm1d).numBatchesTracked!.itemSync(), 1);
});

Deno.test("requiresGrad_(false) freezes a layer: no gradients reach its parameters", () => {
  const model = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 1));
  model[0].requiresGrad_(false);
  model(torch.randn(5, 3)).sum().backward();
  assert.equal((model[0] as torch.nn.Linear).weight.grad, null);
  assert.ok((model[2] as torch.nn.Linear).weight.grad !== null);
  assert.equal(model.parameters().filter((p) => p.requiresGrad).length, 2);
});

Deno.test("zeroGrad() sets gradients to null by default, or to zeros with setToNone: false", () => {
  const fc = new nn.Linear(2, 1);
  fc(torch.ones(1, 2)).sum().backward();
  assert.deepEqual(fc.weight.grad!.tolistSync(), [[1, 1]]);
  fc.zeroGrad({ setToNone: false });
  assert.deepEqual(fc.weight.grad!.tolistSync(), [[0, 0]]);
  fc.zeroGrad();
  assert.equal(fc.weight.grad, null);
});

Deno.test("forward pre-hooks, forward hooks and full backward hooks run and are removable", () => {
  const fc = new nn.Linear(2, 2, { bias: false });
  torch.noGrad(() => fc.weight.copy_(torch.tensor([[1, 2], [3, 4]])));
  const seen: string[] = [];
  const pre = fc.registerForwardPreHook((_m, [x]) => {
    seen.push("pre");
    return [x.mul(2)];
  });
  const post = fc.registerForwardHook((_m, _args, out) => {
    seen.push("forward");
    return out.add(1);
  });
  let gradIn: (torch.Tensor | null)[] = [], gradOut: (torch.Tensor | null)[] = [];
  const back = fc.registerFullBackwardHook((_m, gi, go) => {
    seen.push("backward");
    gradIn = gi;
    gradOut = go;
  });
  const x = torch.tensor([[1, 1]], { requiresGrad: true });
  const y = fc(x);
  // (2x) @ W.T + 1 = [2*3 + 1, 2*7 + 1]
  assert.deepEqual(y.tolistSync(), [[7, 15]]);
  y.backward(torch.tensor([[1, 10]]));
  assert.deepEqual(seen, ["pre", "forward", "backward"]);
  assert.deepEqual(gradOut[0]!.tolistSync(), [[1, 10]]);
  // The module's input is the pre-hook's 2x: its gradient is g @ W = [31, 42].
  assert.deepEqual(gradIn[0]!.tolistSync(), [[31, 42]]);
  assert.deepEqual(x.grad!.tolistSync(), [[62, 84]]);
  for (const h of [pre, post, back]) h.remove();
  seen.length = 0;
  assert.deepEqual(fc(torch.tensor([[1, 1]])).tolistSync(), [[3, 7]]);
  assert.deepEqual(seen, []);
});

Deno.test("to('float64') converts parameters and float buffers in place and keeps num_batches_tracked int32", () => {
  const model = new nn.Sequential(new nn.Linear(3, 2), new nn.BatchNorm1d(2));
  const weight = (model[0] as torch.nn.Linear).weight;
  model.to("float64");
  assert.equal((model[0] as torch.nn.Linear).weight, weight);
  assert.equal(weight.dtype, "float64");
  const bn = model[1] as torch.nn.BatchNorm1d;
  assert.equal(bn.runningMean!.dtype, "float64");
  assert.equal(bn.numBatchesTracked!.dtype, "int32");
  const y = model(torch.randn([4, 3], { dtype: "float64" }));
  assert.equal(y.dtype, "float64");
  F.mseLoss(y, torch.zeros([4, 2], { dtype: "float64" })).backward();
  assert.equal(weight.grad!.dtype, "float64");
  model.float();
  assert.equal(weight.dtype, "float32");
});

Deno.test("a layer built with dtype float64 computes in float64", () => {
  const conv = new nn.Conv2d(1, 1, 3, { dtype: "float64" });
  const bn = new nn.BatchNorm2d(1, { dtype: "float64" });
  const ln = new nn.LayerNorm(3, { dtype: "float64" });
  const emb = new nn.Embedding(4, 3, { dtype: "float64" });
  assert.equal(bn(conv(torch.randn([2, 1, 5, 5], { dtype: "float64" }))).dtype, "float64");
  assert.equal(ln(emb(torch.tensor([1, 2], { dtype: "int32" }))).dtype, "float64");
});

Deno.test("LayerNorm with bias: false learns only a scale", () => {
  const ln = new nn.LayerNorm(3, { bias: false });
  assert.deepEqual(Object.keys(ln.stateDict()), ["weight"]);
  const y = ln(torch.tensor([[1, 2, 3]])).tolistSync() as number[][];
  assert.ok(Math.abs(y[0][1]) < 1e-6 && Math.abs(y[0][2] - Math.sqrt(1.5)) < 1e-4);
});

Deno.test("Embedding.fromPretrained freezes by default; paddingIdx rows get no gradient", () => {
  const emb = nn.Embedding.fromPretrained(torch.tensor([[1, 2], [3, 4], [5, 6]]), { freeze: false, paddingIdx: 0 });
  assert.equal(emb.weight.requiresGrad, true);
  assert.deepEqual(emb.weight.tolistSync(), [[1, 2], [3, 4], [5, 6]]);
  emb(torch.tensor([0, 2, 0], { dtype: "int32" })).sum().backward();
  assert.deepEqual(emb.weight.grad!.tolistSync(), [[0, 0], [0, 0], [1, 1]]);
  assert.equal(nn.Embedding.fromPretrained(torch.ones(2, 2)).weight.requiresGrad, false);
});

Deno.test("MaxPool2d with returnIndices returns values and indices", () => {
  const pool = new nn.MaxPool2d(2, { returnIndices: true });
  const [values, indices] = pool(torch.arange(16, { dtype: "float32" }).reshape([1, 1, 4, 4]));
  assert.deepEqual(values.tolistSync(), [[[[5, 7], [13, 15]]]]);
  assert.deepEqual(indices.tolistSync(), [[[[5, 7], [13, 15]]]]);
});

Deno.test("a model trains: loss falls with plain SGD on a tiny classification task", () => {
  torch.manualSeed(0);
  const model = new nn.Sequential(new nn.Linear(2, 8), new nn.ReLU(), new nn.Linear(8, 2));
  const x = torch.randn(64, 2);
  const y = x.index(":", 0).gt(0).to("int32");
  const lossFn = new nn.CrossEntropyLoss();
  const first = lossFn(model(x), y).itemSync();
  let last = first;
  for (let step = 0; step < 100; step++) {
    model.zeroGrad();
    const loss = lossFn(model(x), y);
    loss.backward();
    torch.noGrad(() => {
      for (const p of model.parameters()) p.sub_(p.grad!.mul(0.5));
    });
    last = loss.itemSync();
  }
  assert.ok(last < first / 4, `${first} → ${last}`);
});
