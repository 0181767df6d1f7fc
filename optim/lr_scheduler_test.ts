// Scheduler behaviour beyond the PyTorch lr sequences (parity_test.ts): construction, PyTorch's errors and
// warnings, state-dict round trips, the deprecated step(epoch) and tensor metrics.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { Adam, lrScheduler, type Optimizer, SGD } from "./mod.ts";
import { resetWarnings } from "./_util.ts";

const {
  CosineAnnealingLR,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  LRScheduler,
  MultiStepLR,
  OneCycleLR,
  ReduceLROnPlateau,
  StepLR,
} = lrScheduler;

function sgd(lrs: number[] = [0.1, 0.01]): SGD {
  return new SGD(lrs.map((lr) => ({ params: [torch.zeros(1, { requiresGrad: true })], lr })), { momentum: 0.9 });
}

function assertThrows(fn: () => unknown, type: ErrorConstructor, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${e}`);
    assert.equal((e as Error).message, message);
    return true;
  });
}

/** Runs `fn` and returns what it printed with console.warn (each warning prints once per process). */
function warnings(fn: () => void): string[] {
  resetWarnings();
  const seen: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => seen.push(args.join(" "));
  try {
    fn();
  } finally {
    console.warn = original;
  }
  return seen;
}

type Factory = (opt: Optimizer) => lrScheduler.LRScheduler;
const FACTORIES: Record<string, Factory> = {
  StepLR: (o) => new StepLR(o, 3, { gamma: 0.5 }),
  MultiStepLR: (o) => new MultiStepLR(o, [2, 5, 5], { gamma: 0.3 }),
  ExponentialLR: (o) => new ExponentialLR(o, 0.9),
  CosineAnnealingLR: (o) => new CosineAnnealingLR(o, 4, { etaMin: 0.001 }),
  LinearLR: (o) => new LinearLR(o, { startFactor: 0.2, totalIters: 6 }),
  OneCycleLR: (o) => new OneCycleLR(o, [1, 0.1], { totalSteps: 20, threePhase: true }),
  LambdaLR: (o) => new LambdaLR(o, (e) => 0.5 ** e),
};

Deno.test("construction stores initialLr in every group and performs the initial step", () => {
  const opt = sgd();
  const sched = new LinearLR(opt, { startFactor: 0.5 });
  assert.deepEqual(opt.paramGroups.map((g) => g.initialLr), [0.1, 0.01]);
  assert.deepEqual(sched.baseLrs, [0.1, 0.01]);
  assert.equal(sched.lastEpoch, 0);
  assert.deepEqual(sched.getLastLr(), [0.05, 0.005]);
  assert.deepEqual(opt.stateDict().param_groups.map((g) => g.initial_lr), [0.1, 0.01]);
});

for (const [name, make] of Object.entries(FACTORIES)) {
  Deno.test(`${name}: stateDict -> new scheduler -> loadStateDict continues the same schedule`, () => {
    const optA = sgd();
    const a = make(optA);
    for (let i = 0; i < 7; i++) {
      optA.step();
      a.step();
    }
    const optB = sgd();
    const b = make(optB);
    optB.loadStateDict(optA.stateDict());
    b.loadStateDict(a.stateDict());
    assert.deepEqual(b.getLastLr(), a.getLastLr());
    for (let i = 0; i < 10; i++) {
      optA.step();
      a.step();
      optB.step();
      b.step();
      assert.deepEqual(b.getLastLr(), a.getLastLr());
      assert.deepEqual(optB.paramGroups.map((g) => g.momentum), optA.paramGroups.map((g) => g.momentum));
    }
    assert.deepEqual(b.stateDict(), a.stateDict());
  });
}

Deno.test("scheduler state dicts use PyTorch's keys", () => {
  const sched = new MultiStepLR(sgd(), [3, 3, 8], { gamma: 0.5 });
  assert.deepEqual(sched.stateDict(), {
    base_lrs: [0.1, 0.01],
    last_epoch: 0,
    milestones: { 3: 2, 8: 1 },
    gamma: 0.5,
    _step_count: 1,
    _get_lr_called_within_step: false,
    _last_lr: [0.1, 0.01],
    _is_initial: false,
  });
  const cos = new CosineAnnealingLR(sgd(), 10).stateDict();
  assert.deepEqual([cos.T_max, cos.eta_min], [10, 0]);
  const one = new OneCycleLR(sgd(), 1, { totalSteps: 10, annealStrategy: "linear" }).stateDict();
  assert.equal(one._anneal_func_type, "linear");
  assert.deepEqual((one._schedule_phases as Record<string, unknown>[])[1], {
    end_step: 9,
    start_lr: "max_lr",
    end_lr: "min_lr",
    start_momentum: "base_momentum",
    end_momentum: "max_momentum",
  });
  assert.deepEqual([one.total_steps, one.cycle_momentum, one.use_beta1], [10, true, false]);
});

Deno.test("ReduceLROnPlateau: state dict round trip, infinities as PyTorch writes them", () => {
  const optA = sgd();
  const a = new ReduceLROnPlateau(optA, { patience: 1, cooldown: 1, factor: 0.5 });
  const sd0 = a.stateDict();
  assert.equal(sd0.best, Infinity);
  assert.equal(sd0.mode_worse, Infinity);
  assert.deepEqual(sd0.min_lrs, [0, 0]);
  assert.equal(sd0.default_min_lr, 0);
  const metrics = [5, 4, 4, 4, 4, 3, 3, 3, 3, 3];
  for (const m of metrics.slice(0, 4)) a.step(m);
  const optB = sgd();
  const b = new ReduceLROnPlateau(optB);
  optB.loadStateDict(optA.stateDict());
  b.loadStateDict({ ...a.stateDict(), mode_worse: "inf" });
  assert.equal(b.modeWorse, Infinity);
  for (const m of metrics.slice(4)) {
    a.step(m);
    b.step(m);
    assert.deepEqual(b.getLastLr(), a.getLastLr());
  }
  assert.deepEqual(b.stateDict(), a.stateDict());
});

Deno.test("ReduceLROnPlateau reads a one-element tensor metric", () => {
  const opt = sgd([1]);
  const sched = new ReduceLROnPlateau(opt, { patience: 0, factor: 0.5, mode: "max" });
  sched.step(torch.tensor(2));
  sched.step(torch.tensor(1));
  assert.deepEqual(sched.getLastLr(), [0.5]);
  assert.equal(sched.best, 2);
  assertThrows(
    () => sched.step(),
    TypeError,
    "ReduceLROnPlateau.step() missing 1 required positional argument: 'metrics'",
  );
});

Deno.test("ReduceLROnPlateau extends new groups' minLr from a single value and refuses it from a list", () => {
  const opt = sgd([1]);
  const sched = new ReduceLROnPlateau(opt, { patience: 0, minLr: 0.3 });
  opt.addParamGroup({ params: [torch.zeros(1, { requiresGrad: true })], lr: 1 });
  sched.step(1);
  sched.step(2);
  assert.deepEqual(sched.getLastLr(), [0.3, 0.3]);
  assert.deepEqual(sched.minLrs, [0.3, 0.3]);
  const listed = new ReduceLROnPlateau(opt, { patience: 0, minLr: [0.1, 0.1] });
  opt.addParamGroup({ params: [torch.zeros(1, { requiresGrad: true })], lr: 1 });
  listed.step(1);
  assert.throws(() => listed.step(2), /The number of param groups in the `optimizer` \(3\) differs/);
});

Deno.test("OneCycleLR cycles Adam's beta1 and keeps beta2", () => {
  const opt = new Adam([torch.zeros(1, { requiresGrad: true })], { betas: [0.9, 0.99] });
  const sched = new OneCycleLR(opt, 0.1, { totalSteps: 10, baseMomentum: 0.8, maxMomentum: 0.9 });
  assert.deepEqual(opt.paramGroups[0].betas, [0.9, 0.99]);
  for (let i = 0; i < 2; i++) {
    opt.step();
    sched.step();
  }
  assert.deepEqual(opt.paramGroups[0].betas, [0.8, 0.99]); // the peak, at pctStart * 10 - 1 = step 2
  assert.deepEqual([opt.paramGroups[0].maxLr, opt.paramGroups[0].initialLr], [0.1, 0.004]);
});

Deno.test("OneCycleLR refuses to step past totalSteps, with PyTorch 2's message", () => {
  const opt = sgd([0.1]);
  const sched = new OneCycleLR(opt, 1, { totalSteps: 3 });
  for (let i = 0; i < 3; i++) sched.step();
  assertThrows(() => sched.step(), RangeError, "Tried to step 4 times. The specified number of total steps is 3");
});

Deno.test("schedulers refuse bad arguments with PyTorch's messages", () => {
  const opt = sgd();
  const cases: Array<[() => unknown, ErrorConstructor, string]> = [
    [() => new StepLR({} as never, 1), TypeError, "Object is not an Optimizer"],
    [() => new ReduceLROnPlateau(5 as never), TypeError, "number is not an Optimizer"],
    [
      () => new LinearLR(opt, { startFactor: 0 }),
      RangeError,
      "Starting multiplicative factor expected to be greater than 0 and less or equal to 1.",
    ],
    [
      () => new LinearLR(opt, { endFactor: 1.5 }),
      RangeError,
      "Ending multiplicative factor expected to be between 0 and 1.",
    ],
    [
      () => new OneCycleLR(opt, 1),
      RangeError,
      "You must define either total_steps OR (epochs AND steps_per_epoch)",
    ],
    [() => new OneCycleLR(opt, 1, { totalSteps: 0 }), RangeError, "Expected positive integer total_steps, but got 0"],
    [
      () => new OneCycleLR(opt, 1, { epochs: 2.5, stepsPerEpoch: 3 }),
      RangeError,
      "Expected positive integer epochs, but got 2.5",
    ],
    [
      () => new OneCycleLR(opt, 1, { epochs: 2, stepsPerEpoch: -3 }),
      RangeError,
      "Expected positive integer steps_per_epoch, but got -3",
    ],
    [
      () => new OneCycleLR(opt, 1, { totalSteps: 5, pctStart: 1.5 }),
      RangeError,
      "Expected float between 0 and 1 pct_start, but got 1.5",
    ],
    [
      () => new OneCycleLR(opt, 1, { totalSteps: 5, annealStrategy: "exp" as never }),
      RangeError,
      "anneal_strategy must be one of 'cos' or 'linear', instead got exp",
    ],
    [
      () => new OneCycleLR(opt, [1, 2, 3], { totalSteps: 5 }),
      RangeError,
      "max_lr must have the same length as optimizer.param_groups. max_lr has 3 values, param_groups has 2.",
    ],
    [
      () => new OneCycleLR(new torch.optim.Adagrad([torch.zeros(1, { requiresGrad: true })]), 1, { totalSteps: 5 }),
      RangeError,
      "optimizer must support momentum or beta1 with `cycle_momentum` option enabled",
    ],
    [() => new ReduceLROnPlateau(opt, { factor: 1 }), RangeError, "Factor should be < 1.0."],
    [() => new ReduceLROnPlateau(opt, { minLr: [0.1] }), RangeError, "expected 2 min_lrs, got 1"],
    [() => new ReduceLROnPlateau(opt, { mode: "up" as never }), RangeError, "mode up is unknown!"],
    [
      () => new ReduceLROnPlateau(opt, { thresholdMode: "pct" as never }),
      RangeError,
      "threshold mode pct is unknown!",
    ],
    [() => new LambdaLR(opt, [(e) => e]), RangeError, "Expected 2 lr_lambdas, but got 1"],
    [
      () => new StepLR(sgd(), 2, { lastEpoch: 4 }),
      Error,
      "param 'initial_lr' is not specified in param_groups[0] when resuming an optimizer",
    ],
  ];
  for (const [fn, type, message] of cases) assertThrows(fn, type, message);
});

Deno.test("resuming with lastEpoch keeps the groups' initialLr", () => {
  const opt = sgd([1]);
  opt.paramGroups[0].initialLr = 2;
  const sched = new StepLR(opt, 2, { gamma: 0.5, lastEpoch: 3 });
  assert.deepEqual(sched.baseLrs, [2]);
  assert.equal(sched.lastEpoch, 4); // the initial step counts
  assert.deepEqual(sched.getLastLr(), [0.5]); // epoch 4 is a multiple of 2: the current lr times gamma
});

Deno.test("scheduler.step() before optimizer.step() warns as PyTorch does, once", () => {
  const opt = sgd();
  const sched = new ExponentialLR(opt, 0.5);
  const seen = warnings(() => {
    sched.step();
    sched.step();
  });
  assert.equal(seen.length, 1);
  assert.match(seen[0], /^UserWarning: Detected call of `lr_scheduler.step\(\)` before `optimizer.step\(\)`/);
  const opt2 = sgd();
  const sched2 = new ExponentialLR(opt2, 0.5);
  assert.deepEqual(
    warnings(() => {
      opt2.step();
      sched2.step();
    }),
    [],
  );
});

Deno.test("step(epoch) uses the closed form and warns that epoch is deprecated", () => {
  const opt = sgd([1]);
  const sched = new StepLR(opt, 2, { gamma: 0.5 });
  opt.step();
  const seen = warnings(() => sched.step(5));
  assert.match(seen[0] ?? "", /The epoch parameter in `scheduler.step\(\)` was not necessary/);
  assert.deepEqual(sched.getLastLr(), [0.25]);
  const cos = new CosineAnnealingLR(sgd([1]), 4);
  cos.step(2);
  assert.ok(Math.abs(cos.getLastLr()[0] - 0.5) < 1e-15);
  const multi = new MultiStepLR(sgd([1]), [1, 3, 3], { gamma: 0.5 });
  multi.step(3);
  assert.deepEqual(multi.getLastLr(), [0.125]);
});

Deno.test("getLr() called directly warns to use getLastLr()", () => {
  const opt = sgd([1]);
  const sched = new StepLR(opt, 2);
  const seen = warnings(() => sched.getLr());
  assert.deepEqual(seen, [
    "UserWarning: To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
  ]);
});

Deno.test("the LRScheduler base has no getLr, and ReduceLROnPlateau is an LRScheduler", () => {
  const opt = sgd([1]);
  assert.throws(() => {
    const s = new LRScheduler(opt);
    s.step();
  }, /LRScheduler.getLr is not implemented/);
  assert.ok(new ReduceLROnPlateau(sgd()) instanceof LRScheduler);
});

Deno.test("LambdaLR: one function per group, lr_lambdas saved as null like PyTorch's plain functions", () => {
  const opt = sgd([1, 2]);
  const sched = new LambdaLR(opt, [(e) => e + 1, (e) => 1 / (e + 1)]);
  opt.step();
  sched.step();
  assert.deepEqual(sched.getLastLr(), [2, 1]);
  assert.deepEqual(sched.stateDict().lr_lambdas, [null, null]);
});
