// The autograd engine's behaviour, case by case as PyTorch documents it.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";

const list = (t: torch.Tensor | null) => t!.tolistSync();

Deno.test("backward() accumulates when a tensor is used twice", () => {
  const x = torch.tensor([3], { requiresGrad: true });
  x.mul(x).sum().backward();
  assert.deepEqual(list(x.grad), [6]);
});

Deno.test("backward() adds into .grad across calls until zeroed", () => {
  const w = torch.ones(2, { requiresGrad: true });
  w.mul(3).sum().backward();
  w.mul(3).sum().backward();
  assert.deepEqual(list(w.grad), [6, 6]);
  w.grad!.zero_();
  w.mul(3).sum().backward();
  assert.deepEqual(list(w.grad), [3, 3]);
});

Deno.test("a non-scalar output needs a gradient argument, with PyTorch's message", () => {
  const x = torch.ones(3, { requiresGrad: true });
  assert.throws(() => x.mul(2).backward(), /grad can be implicitly created only for scalar outputs/);
  x.mul(2).backward(torch.tensor([1, 10, 100]));
  assert.deepEqual(list(x.grad), [2, 20, 200]);
});

Deno.test("backward on a tensor that does not require grad names element 0", () => {
  assert.throws(
    () => torch.ones(1).backward(),
    /element 0 of tensors does not require grad and does not have a grad_fn/,
  );
});

Deno.test("a second backward through freed saved tensors throws; retainGraph keeps them", () => {
  const x = torch.tensor([2], { requiresGrad: true });
  const y = x.mul(x).sum();
  y.backward(undefined, { retainGraph: true });
  y.backward();
  assert.deepEqual(list(x.grad), [8]);
  assert.throws(() => y.backward(), /Trying to backward through the graph a second time/);
});

Deno.test("nodes without saved tensors can be walked twice, as in PyTorch", () => {
  const x = torch.tensor([2], { requiresGrad: true });
  const y = x.add(1);
  y.sum().backward();
  y.sum().backward();
  assert.deepEqual(list(x.grad), [2]);
});

Deno.test("gradFn names and isLeaf read like PyTorch", () => {
  const x = torch.randn(3, { requiresGrad: true });
  assert.equal(x.isLeaf, true);
  assert.equal(x.gradFn, null);
  const y = x.add(2);
  assert.equal(y.gradFn!.name, "AddBackward0");
  assert.equal(y.isLeaf, false);
  assert.equal(y.mul(y).gradFn!.name, "MulBackward0");
  assert.equal(y.mean().gradFn!.name, "MeanBackward0");
  assert.equal(y.sum(0).gradFn!.name, "SumBackward1");
  assert.equal(y.gradFn!.nextFunctions[0]!.name, "AccumulateGrad");
  assert.equal(torch.ones(2).add(1).gradFn, null, "no tape without requiresGrad");
});

Deno.test("noGrad works as a callback and with `using`; enableGrad reopens it", () => {
  const w = torch.ones(2, { requiresGrad: true });
  assert.equal(torch.noGrad(() => w.mul(2)).requiresGrad, false);
  {
    using _ = torch.noGrad();
    assert.equal(w.mul(2).requiresGrad, false);
    assert.equal(torch.enableGrad(() => w.mul(2)).requiresGrad, true);
  }
  assert.equal(w.mul(2).requiresGrad, true);
  assert.equal(torch.isGradEnabled(), true);
});

Deno.test("noGrad restores the mode when its callback throws", () => {
  assert.throws(() =>
    torch.noGrad(() => {
      throw new Error("boom");
    }), /boom/);
  assert.equal(torch.isGradEnabled(), true);
});

Deno.test("detach() shares storage but not history; requiresGrad_(false) stops tracking", () => {
  const x = torch.tensor([1, 2], { requiresGrad: true });
  const d = x.detach();
  assert.equal(d.requiresGrad, false);
  d.fill_(5);
  assert.deepEqual(list(x), [5, 5], "a detached tensor writes through to the original");
  x.requiresGrad_(false);
  assert.equal(x.add(1).requiresGrad, false);
});

Deno.test("an in-place op on a leaf that requires grad throws outside noGrad", () => {
  const w = torch.ones(2, { requiresGrad: true });
  assert.throws(() => w.add_(1), /a leaf Variable that requires grad is being used in an in-place operation/);
  assert.throws(() => w.index(0).add_(1), /a view of a leaf Variable that requires grad/);
  torch.noGrad(() => w.sub_(0.5));
  assert.deepEqual(list(w), [0.5, 0.5]);
});

Deno.test("modifying a tensor backward still needs raises a version-counter error", () => {
  const x = torch.tensor([1, 2], { requiresGrad: true });
  const y = x.exp();
  const z = y.mul(y); // saves y
  y.add_(1);
  assert.throws(
    () => z.sum().backward(),
    /modified by an inplace operation: \[torch\.FloatTensor \[2\]\], which is output 0 of ExpBackward0, is at version 1; expected version 0 instead/,
  );
});

Deno.test("in-place ops on non-leaves are recorded and flow gradients", () => {
  const x = torch.tensor([1, 2, 3], { requiresGrad: true });
  const y = x.mul(2);
  y.add_(1);
  assert.equal(y.gradFn!.name, "AddBackward0");
  y.mul_(3);
  assert.equal(y.gradFn!.name, "MulBackward0");
  y.sum().backward();
  // y = (2x + 1) * 3 -> dy/dx = 6
  assert.deepEqual(list(x.grad), [6, 6, 6]);
});

Deno.test("an in-place op that overwrites a value its own backward needs is refused, as in PyTorch", () => {
  const x = torch.tensor([1, 2, 3], { requiresGrad: true });
  const y = x.mul(2).add(1);
  y.mul_(y);
  assert.throws(() => y.sum().backward(), /modified by an inplace operation/);
});

Deno.test("a product by a scalar keeps the scalar: a second backward needs retainGraph", () => {
  const x = torch.tensor([1, 2], { requiresGrad: true });
  const y = x.mul(2);
  y.sum().backward();
  assert.throws(() => y.sum().backward(), /backward through the graph a second time/);
});

Deno.test("writing through a view updates the base and its gradient (CopySlices)", () => {
  const x = torch.tensor([1, 2, 3], { requiresGrad: true });
  const y = torch.zeros(3);
  y.index("1:").copy_(x.index("1:").mul(2));
  assert.equal(y.gradFn!.name, "CopySlices");
  assert.deepEqual(list(y), [0, 4, 6]);
  y.mul(torch.tensor([1, 10, 100])).sum().backward();
  assert.deepEqual(list(x.grad), [0, 20, 200]);
});

Deno.test("a view made before its base changed in place sees the new history", () => {
  const x = torch.tensor([1, 2, 3], { requiresGrad: true });
  const base = x.mul(1);
  const view = base.index("1:");
  base.mul_(3);
  assert.equal(view.gradFn!.name, "AsStridedBackward0");
  view.sum().backward();
  assert.deepEqual(list(x.grad), [0, 3, 3]);
});

Deno.test("retainGrad keeps a non-leaf's gradient; registerHook can change it", () => {
  const x = torch.tensor([1, 2], { requiresGrad: true });
  const y = x.mul(2);
  y.retainGrad();
  const handle = x.registerHook((g) => g.mul(10));
  y.sum().backward();
  assert.deepEqual(list(y.grad), [1, 1]);
  assert.deepEqual(list(x.grad), [20, 20]);
  handle.remove();
  x.grad = null;
  x.mul(2).sum().backward();
  assert.deepEqual(list(x.grad), [2, 2]);
});

Deno.test("createGraph gives higher-order gradients", () => {
  const x = torch.tensor([2], { requiresGrad: true });
  const y = x.pow(3).sum();
  y.backward(undefined, { createGraph: true });
  const dx = x.grad!;
  assert.deepEqual(list(dx), [12]);
  assert.equal(dx.requiresGrad, true);
  x.grad = null;
  dx.sum().backward();
  assert.deepEqual(list(x.grad), [12]); // d²/dx² x³ = 6x
});

Deno.test("autograd.grad returns gradients without touching .grad", () => {
  const x = torch.tensor([1, 2], { requiresGrad: true });
  const [g] = torch.autograd.grad([x.mul(x).sum()], [x]);
  assert.deepEqual(list(g), [2, 4]);
  assert.equal(x.grad, null);
  const unused = torch.ones(1, { requiresGrad: true });
  assert.throws(() => torch.autograd.grad([x.sum()], [unused]), /appears to not have been used in the graph/);
  assert.deepEqual(torch.autograd.grad([x.sum()], [unused], undefined, { allowUnused: true }), [null]);
});

Deno.test("backward with inputs only fills the named leaves", () => {
  const a = torch.ones(1, { requiresGrad: true });
  const b = torch.ones(1, { requiresGrad: true });
  a.mul(b).mul(3).sum().backward(undefined, { inputs: [a] });
  assert.deepEqual(list(a.grad), [3]);
  assert.equal(b.grad, null);
});

Deno.test("a graph 10,000 ops deep backpropagates without a stack overflow", () => {
  const x = torch.tensor([1], { requiresGrad: true });
  let y = x;
  for (let i = 0; i < 10_000; i++) y = y.add(1);
  y.sum().backward();
  assert.deepEqual(list(x.grad), [1]);
});

Deno.test("requiresGrad only on floats and only changed on leaves", () => {
  assert.throws(() => torch.tensor([1], { dtype: "int32", requiresGrad: true }), /Only Tensors of floating point/);
  const y = torch.ones(1, { requiresGrad: true }).mul(2);
  assert.throws(() => (y.requiresGrad = false), /only change requires_grad flags of leaf variables/);
});

Deno.test("gradients of integer-valued results do not flow (comparisons, argmax)", () => {
  const x = torch.tensor([1, 3, 2], { requiresGrad: true });
  assert.equal(x.gt(1).requiresGrad, false);
  assert.equal(x.argmax().requiresGrad, false);
  assert.equal(x.argmax().itemSync(), 1);
});

Deno.test("backward frees the gradients it computes along the way, keeping .grad", () => {
  const w = torch.randn(50, 50, { requiresGrad: true });
  const x = torch.randn(8, 50);
  w.matmul(x.t()).relu().sum().backward(); // warm up: .grad now exists
  const before = torch.memory().cpu.storages;
  const loss = x.matmul(w).relu().sum();
  const afterForward = torch.memory().cpu.storages;
  loss.backward();
  // Only the (already existing) .grad outlives the walk: no new storages.
  assert.ok(torch.memory().cpu.storages <= afterForward, `${torch.memory().cpu.storages} > ${afterForward}`);
  assert.ok(afterForward > before);
  assert.deepEqual(w.grad!.shape, [50, 50]);
});

Deno.test("gradients handed to hooks stay readable after backward", () => {
  const x = torch.tensor([1, 2], { requiresGrad: true });
  let seen: torch.Tensor | undefined;
  x.registerHook((g) => void (seen = g));
  x.mul(3).sum().backward();
  assert.deepEqual(seen!.tolistSync(), [3, 3]);
});

Deno.test("a leaf keeps a gradient the walk made for it alone, and later backwards add into it", () => {
  const w = torch.ones(3, 4, { requiresGrad: true });
  const x = torch.arange(12).reshape(4, 3).float();
  w.matmul(x).sum().backward();
  const first = list(w.grad);
  w.matmul(x).sum().backward();
  assert.deepEqual(list(w.grad), (first as number[][]).map((row) => row.map((v) => 2 * v)));
});

Deno.test("a leaf's gradient never aliases a gradient the caller passed in", () => {
  const x = torch.zeros(2, 3, { requiresGrad: true });
  const seed = torch.tensor([1, 2, 3, 4, 5, 6]);
  x.reshape(6).backward(seed); // the view's backward hands x a view of the seed
  x.grad!.add_(100);
  assert.deepEqual(list(seed), [1, 2, 3, 4, 5, 6]);
  x.reshape(6).backward(seed);
  assert.deepEqual(list(x.grad), [[102, 104, 106], [108, 110, 112]]);
  assert.deepEqual(list(seed), [1, 2, 3, 4, 5, 6]);
});

Deno.test("a gradient a hook kept is not the leaf's .grad, so accumulating leaves it alone", () => {
  const x = torch.ones(2, { requiresGrad: true });
  let seen: torch.Tensor | undefined;
  x.registerHook((g) => {
    seen = g;
  });
  x.mul(3).sum().backward();
  x.mul(3).sum().backward();
  assert.deepEqual(list(x.grad), [6, 6]);
  assert.deepEqual(list(seen!), [3, 3]);
});

Deno.test("a gradient whose storage another pending gradient shares is copied into .grad", () => {
  // y's backward hands a and b views of one gradient: each leaf must own its own elements.
  const a = torch.zeros(2, 2, { requiresGrad: true }), b = torch.zeros(4, { requiresGrad: true });
  const y = torch.tensor([[1, 2], [3, 4]]);
  const both = a.add(b.reshape(2, 2));
  both.mul(y).sum().backward();
  a.grad!.add_(10);
  assert.deepEqual(list(b.grad), [1, 2, 3, 4]);
  assert.deepEqual(list(a.grad), [[11, 12], [13, 14]]);
});

Deno.test("a leaf used twice keeps the sum of its gradients, and later backwards add into it", () => {
  const w = torch.tensor([1, 2, 3], { requiresGrad: true });
  const loss = () => w.mul(2).add(w.mul(w)).sum(); // dloss/dw = 2 + 2w
  loss().backward();
  assert.deepEqual(list(w.grad), [4, 6, 8]);
  loss().backward();
  assert.deepEqual(list(w.grad), [8, 12, 16]);
});
