// Optimizer behaviour beyond the PyTorch trajectories: PyTorch's errors, state-dict round trips, zeroGrad,
// closures, skipped parameters, scopes and parameter groups.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { Adagrad, Adam, AdamW, type LoadableStateDict, Optimizer, RMSprop, SGD } from "./mod.ts";

type Make = (params: torch.Tensor[]) => Optimizer;

const MAKERS: Record<string, Make> = {
  "SGD momentum nesterov": (p) => new SGD(p, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
  "SGD plain": (p) => new SGD(p, { lr: 0.1 }),
  "Adam amsgrad": (p) => new Adam(p, { lr: 0.05, amsgrad: true, weightDecay: 0.1 }),
  "AdamW": (p) => new AdamW(p, { lr: 0.05 }),
  "RMSprop centered momentum": (p) => new RMSprop(p, { lr: 0.01, centered: true, momentum: 0.5 }),
  "Adagrad lrDecay": (p) => new Adagrad(p, { lr: 0.1, lrDecay: 0.01 }),
};

function quadratic(params: torch.Tensor[]): torch.Tensor {
  return params.map((p, i) => p.sub(i + 0.5).pow(2).mul(i + 1).sum()).reduce((a, b) => a.add(b));
}

function train(opt: Optimizer, params: torch.Tensor[], steps: number, setToNone = true): void {
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad({ setToNone });
    quadratic(params).backward();
    opt.step();
  }
}

function fresh(): torch.Tensor[] {
  return [
    torch.tensor([[0.3, -1.2], [2.0, 0.7]], { requiresGrad: true }),
    torch.tensor([1.5, -0.4], { requiresGrad: true }),
  ];
}

function values(params: torch.Tensor[]): unknown[] {
  return params.map((p) => p.tolistSync());
}

function assertThrows(fn: () => unknown, type: ErrorConstructor, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${e}`);
    assert.equal((e as Error).message, message);
    return true;
  });
}

for (const [name, make] of Object.entries(MAKERS)) {
  Deno.test(`${name}: stateDict -> new optimizer -> loadStateDict takes identical next steps`, () => {
    const a = fresh();
    const optA = make(a);
    train(optA, a, 5);
    const saved = optA.stateDict();

    const b = fresh();
    torch.noGrad(() => b.forEach((p, i) => p.copy_(a[i])));
    const optB = make(b);
    optB.paramGroups[0].lr = 123; // overwritten by the load
    optB.loadStateDict(saved);
    assert.equal(optB.paramGroups[0].lr, optA.paramGroups[0].lr);
    assert.deepEqual(Object.keys(optB.stateDict().state), Object.keys(saved.state));

    train(optA, a, 5);
    train(optB, b, 5);
    assert.deepEqual(values(b), values(a)); // bit for bit
    // the loaded state is a copy: A's later steps did not write into B's tensors
    const stateA = optA.stateDict().state;
    const stateB = optB.stateDict().state;
    for (const [id, s] of Object.entries(stateA)) {
      for (const [key, v] of Object.entries(s)) {
        if (v instanceof torch.Tensor) assert.notEqual(stateB[Number(id)][key], v);
        else assert.equal(stateB[Number(id)][key], v);
      }
    }
  });
}

Deno.test("stateDict() uses PyTorch's snake_case keys and numbers parameters across groups", () => {
  const [w, b] = fresh();
  const opt = new Adam([{ params: [w] }, { params: [b], lr: 0.01, amsgrad: true }], { weightDecay: 0.1 });
  train(opt, [w, b], 2);
  const sd = opt.stateDict();
  assert.deepEqual(sd.param_groups.map((g) => g.params), [[0], [1]]);
  assert.deepEqual(Object.keys(sd.param_groups[1]), [
    "lr",
    "amsgrad",
    "betas",
    "eps",
    "weight_decay",
    "maximize",
    "params",
  ]);
  const state = sd.state;
  assert.deepEqual(Object.keys(state[0]), ["step", "exp_avg", "exp_avg_sq"]);
  assert.deepEqual(Object.keys(state[1]), ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"]);
  assert.equal(state[1].step, 2);
  // the live state, not a copy (as PyTorch's state_dict)
  assert.equal(state[0].exp_avg, opt.state.get(w)!.expAvg);
});

Deno.test("loadStateDict() accepts PyTorch's layout: tensor steps, a Map of states, unknown group keys", () => {
  const [w] = fresh();
  const opt = new Adam([w]);
  const sd: LoadableStateDict = {
    state: new Map([[0, { step: torch.tensor(7), exp_avg: torch.onesLike(w), exp_avg_sq: torch.onesLike(w) }]]),
    param_groups: [{
      lr: 0.5,
      betas: [0.8, 0.9],
      eps: 1e-8,
      weight_decay: 0,
      amsgrad: false,
      maximize: false,
      foreach: null,
      capturable: false,
      differentiable: false,
      fused: null,
      params: [0],
    }],
  };
  opt.loadStateDict(sd);
  const s = opt.state.get(w)!;
  assert.equal(s.step, 7);
  assert.deepEqual(s.expAvg.tolistSync(), [[1, 1], [1, 1]]);
  assert.equal(opt.paramGroups[0].lr, 0.5);
  assert.deepEqual(opt.paramGroups[0].betas, [0.8, 0.9]);
  assert.equal(opt.paramGroups[0].params[0], w);
  assert.equal(opt.paramGroups[0].foreach, null); // kept, as PyTorch keeps what it loads
});

Deno.test("loadStateDict() casts state to a float64 parameter's dtype", () => {
  const w = torch.zeros(2, { dtype: "float64", requiresGrad: true });
  const opt = new SGD([w], { lr: 0.1, momentum: 0.9 });
  opt.loadStateDict({
    state: { 0: { momentum_buffer: torch.tensor([1, 2]) } },
    param_groups: [{ ...opt.stateDict().param_groups[0] }],
  });
  assert.equal(opt.state.get(w)!.momentumBuffer!.dtype, "float64");
});

Deno.test("loadStateDict() refuses dicts whose groups do not match, with PyTorch's messages", () => {
  const [w, b] = fresh();
  const opt = new SGD([w, b], { lr: 0.1 });
  const two = new SGD([{ params: [w] }, { params: [b] }], { lr: 0.1 }).stateDict();
  assertThrows(
    () => opt.loadStateDict(two),
    RangeError,
    "loaded state dict has a different number of parameter groups",
  );
  const one = new SGD([w], { lr: 0.1 }).stateDict();
  assertThrows(
    () => opt.loadStateDict(one),
    RangeError,
    "loaded state dict contains a parameter group that doesn't match the size of optimizer's group",
  );
});

Deno.test("constructors refuse bad parameters with PyTorch's messages", () => {
  const w = torch.zeros(2, { requiresGrad: true });
  assertThrows(
    () => new SGD(w as never),
    TypeError,
    "params argument given to the optimizer should be an iterable of Tensors or dicts, but got Tensor",
  );
  assertThrows(() => new SGD([]), RangeError, "optimizer got an empty parameter list");
  assertThrows(
    () => new SGD([{ params: [w] }, { params: [w] }]),
    RangeError,
    "some parameters appear in more than one parameter group",
  );
  assertThrows(
    () => new SGD([1, 2] as never),
    TypeError,
    "optimizer can only optimize Tensors, but one of the params is number",
  );
  assertThrows(() => new SGD([w.mul(2)]), RangeError, "can't optimize a non-leaf Tensor");
  assertThrows(
    () => new SGD([{ params: new Set([w]) }]),
    TypeError,
    "optimizer parameters need to be organized in ordered collections, but the ordering of tensors in sets will " +
      "change between runs. Please use a list instead.",
  );
});

Deno.test("constructors refuse bad hyper-parameters with PyTorch's messages", () => {
  const p = [torch.zeros(1, { requiresGrad: true })];
  const cases: Array<[() => unknown, string]> = [
    [() => new SGD(p, { lr: -0.1 }), "Invalid learning rate: -0.1"],
    [() => new SGD(p, { momentum: -1 }), "Invalid momentum value: -1"],
    [() => new SGD(p, { weightDecay: -0.5 }), "Invalid weight_decay value: -0.5"],
    [() => new SGD(p, { nesterov: true }), "Nesterov momentum requires a momentum and zero dampening"],
    [
      () => new SGD(p, { nesterov: true, momentum: 0.9, dampening: 0.1 }),
      "Nesterov momentum requires a momentum and zero dampening",
    ],
    [() => new Adam(p, { lr: -1e-3 }), "Invalid learning rate: -0.001"],
    [() => new Adam(p, { eps: -1e-8 }), "Invalid epsilon value: -1e-08"],
    [() => new Adam(p, { betas: [1.5, 0.999] }), "Invalid beta parameter at index 0: 1.5"],
    [() => new Adam(p, { betas: [0.9, -0.25] }), "Invalid beta parameter at index 1: -0.25"],
    [() => new Adam(p, { weightDecay: -0.01 }), "Invalid weight_decay value: -0.01"],
    [() => new AdamW(p, { betas: [0.9, 1.5] }), "Invalid beta parameter at index 1: 1.5"],
    [() => new AdamW(p, { lr: -2e-5 }), "Invalid learning rate: -2e-05"],
    [() => new RMSprop(p, { alpha: -0.5 }), "Invalid alpha value: -0.5"],
    [() => new RMSprop(p, { momentum: -0.5 }), "Invalid momentum value: -0.5"],
    [() => new RMSprop(p, { eps: -1 }), "Invalid epsilon value: -1"],
    [() => new Adagrad(p, { lrDecay: -0.1 }), "Invalid lr_decay value: -0.1"],
    [() => new Adagrad(p, { initialAccumulatorValue: -1 }), "Invalid initial_accumulator_value value: -1"],
    [() => new Adagrad(p, { lr: -0.5 }), "Invalid learning rate: -0.5"],
  ];
  for (const [fn, message] of cases) assertThrows(fn, RangeError, message);
});

Deno.test("defaults are PyTorch 2's: SGD lr 1e-3, Adam betas (0.9, 0.999), AdamW weight decay 1e-2", () => {
  const p = [torch.zeros(1, { requiresGrad: true })];
  assert.deepEqual({ ...new SGD(p).defaults }, {
    lr: 1e-3,
    momentum: 0,
    dampening: 0,
    weightDecay: 0,
    nesterov: false,
    maximize: false,
  });
  assert.deepEqual(new Adam(p).defaults, {
    lr: 1e-3,
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay: 0,
    amsgrad: false,
    maximize: false,
  });
  assert.equal(new AdamW(p).defaults.weightDecay, 1e-2);
  assert.deepEqual([new RMSprop(p).defaults.lr, new RMSprop(p).defaults.alpha], [1e-2, 0.99]);
  assert.deepEqual([new Adagrad(p).defaults.lr, new Adagrad(p).defaults.eps], [1e-2, 1e-10]);
});

Deno.test("zeroGrad() sets grads to null by default and to zeros with setToNone: false", () => {
  const w = torch.tensor([1, 2], { requiresGrad: true });
  const opt = new SGD([w], { lr: 0.1 });
  w.mul(3).sum().backward();
  const grad = w.grad!;
  opt.zeroGrad({ setToNone: false });
  assert.equal(w.grad, grad); // same tensor, zeroed in place
  assert.deepEqual(w.grad!.tolistSync(), [0, 0]);
  w.mul(3).sum().backward();
  assert.deepEqual(w.grad!.tolistSync(), [3, 3]);
  opt.zeroGrad();
  assert.equal(w.grad, null);
});

Deno.test("zeroGrad({ setToNone: false }) detaches a gradient that has history (createGraph)", () => {
  const w = torch.tensor([2], { requiresGrad: true });
  const opt = new SGD([w], { lr: 0.1 });
  w.pow(3).sum().backward(undefined, { createGraph: true });
  assert.notEqual(w.grad!.gradFn, null);
  opt.zeroGrad({ setToNone: false });
  assert.equal(w.grad!.gradFn, null);
  assert.deepEqual(w.grad!.tolistSync(), [0]);
});

Deno.test("step(closure) runs the closure with grad enabled and returns its loss", () => {
  const w = torch.tensor([3], { requiresGrad: true });
  const opt = new SGD([w], { lr: 0.25 });
  let calls = 0;
  const loss = torch.noGrad(() =>
    opt.step(() => {
      calls++;
      opt.zeroGrad();
      const l = w.pow(2).sum();
      assert.ok(torch.isGradEnabled());
      l.backward();
      return l;
    })
  );
  assert.equal(calls, 1);
  assert.equal(loss.itemSync(), 9);
  assert.deepEqual(w.tolistSync(), [1.5]);
  assert.equal(opt.step(), undefined);
  assert.throws(() => opt.step(() => Promise.resolve(1)), TypeError);
});

Deno.test("step() skips parameters without a grad or that do not require grad", () => {
  const a = torch.tensor([1], { requiresGrad: true });
  const b = torch.tensor([1], { requiresGrad: true });
  const frozen = torch.tensor([1], { requiresGrad: true });
  const opt = new Adam([a, b, frozen], { lr: 0.1 });
  a.sum().backward();
  frozen.sum().backward();
  frozen.requiresGrad_(false);
  opt.step();
  assert.notDeepEqual(a.tolistSync(), [1]);
  assert.deepEqual(b.tolistSync(), [1]);
  assert.deepEqual(frozen.tolistSync(), [1]);
  assert.deepEqual([opt.state.has(a), opt.state.has(b), opt.state.has(frozen)], [true, false, false]);
});

Deno.test("optimizer state made inside torch.scope() survives it, and training in scopes does not leak", () => {
  for (const make of Object.values(MAKERS)) {
    const params = fresh();
    const opt = make(params);
    torch.scope(() => train(opt, params, 2));
    for (const s of opt.state.values()) {
      for (const v of Object.values(s)) if (v instanceof torch.Tensor) assert.equal(v.isDisposed, false);
    }
    // zeroGrad({ setToNone: false }) reuses the grads; the default drops them for the garbage collector
    torch.scope(() => train(opt, params, 1, false));
    const before = torch.memory().cpu;
    for (let i = 0; i < 50; i++) torch.scope(() => train(opt, params, 1, false));
    const after = torch.memory().cpu;
    assert.deepEqual([after.tensors, after.storages], [before.tensors, before.storages]);
  }
});

Deno.test("group options are mutable: group.lr = ... takes effect at the next step", () => {
  const w = torch.tensor([1], { requiresGrad: true });
  const opt = new SGD([w], { lr: 0.1 });
  w.sum().backward();
  opt.paramGroups[0].lr = 0.5;
  opt.step();
  assert.deepEqual(w.tolistSync(), [0.5]);
});

Deno.test("addParamGroup() fills missing options from the defaults and refuses overlaps", () => {
  const a = torch.zeros(1, { requiresGrad: true });
  const b = torch.zeros(1, { requiresGrad: true });
  const opt = new RMSprop([a], { lr: 0.1, momentum: 0.3 });
  opt.addParamGroup({ params: b, lr: 0.5 });
  assert.equal(opt.paramGroups[1].params[0], b);
  assert.deepEqual([opt.paramGroups[1].lr, opt.paramGroups[1].momentum, opt.paramGroups[1].alpha], [0.5, 0.3, 0.99]);
  assertThrows(
    () => opt.addParamGroup({ params: [a] }),
    RangeError,
    "some parameters appear in more than one parameter group",
  );
});

Deno.test("a group may spell options as PyTorch does (weight_decay)", () => {
  const a = torch.zeros(1, { requiresGrad: true });
  const opt = new SGD([{ params: [a], weight_decay: 0.5 }], { lr: 0.1 });
  assert.equal(opt.paramGroups[0].weightDecay, 0.5);
  assert.equal("weight_decay" in opt.paramGroups[0], false);
});

Deno.test("Adagrad has state for every parameter from construction, as PyTorch", () => {
  const [w, b] = fresh();
  const opt = new Adagrad([w, b], { initialAccumulatorValue: 0.25 });
  const state = opt.stateDict().state;
  assert.deepEqual(Object.keys(state), ["0", "1"]);
  assert.equal(state[0].step, 0);
  assert.deepEqual((state[1].sum as torch.Tensor).tolistSync(), [0.25, 0.25]);
});

Deno.test("optimizers step float64 parameters in float64", () => {
  for (const make of Object.values(MAKERS)) {
    const w = torch.tensor([0.1, 0.2], { dtype: "float64", requiresGrad: true });
    const opt = make([w]);
    train(opt, [w], 3);
    assert.equal(w.dtype, "float64");
    for (const v of Object.values(opt.state.get(w) ?? {})) {
      if (v instanceof torch.Tensor) assert.equal(v.dtype, "float64");
    }
  }
});

Deno.test("toString() prints the groups as PyTorch's repr", () => {
  const opt = new Adam([torch.zeros(1, { requiresGrad: true })], { lr: 0.01 });
  assert.equal(
    String(opt),
    "Adam (\nParameter Group 0\n    amsgrad: False\n    betas: (0.9, 0.999)\n    eps: 1e-08\n    lr: 0.01\n" +
      "    maximize: False\n    weight_decay: 0\n)",
  );
});

Deno.test("the base Optimizer has no update rule", () => {
  const opt = new Optimizer([torch.zeros(1, { requiresGrad: true })], { lr: 0.1 });
  assert.throws(() => opt.step(), /Optimizer.stepGroup is not implemented/);
});
