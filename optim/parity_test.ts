// Replays PyTorch's optimizer trajectories and lr schedules (tests/fixtures/optim.json, written by
// tests/fixtures/make_optim_fixtures.py with torch 1.13) and compares every step and the final state dicts.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { type LoadableStateDict, lrScheduler, type Optimizer, type OptimizerStateDict } from "./mod.ts";
import { toCamel } from "./_util.ts";

type Nested = number | Nested[];
interface OptimizerCase {
  optimizer: string;
  kwargs: Record<string, unknown>;
  groups: Array<Record<string, unknown> & { params: string[] }> | null;
  steps: [Nested, Nested][];
  grads: [Nested, Nested][];
  state_dict_mid: JsonStateDict;
  state_dict: JsonStateDict;
}
interface JsonStateDict {
  state: Record<string, Record<string, Nested | null>>;
  param_groups: Array<Record<string, unknown> & { params: number[] }>;
}
interface SchedulerCase {
  scheduler: string;
  kwargs: Record<string, unknown>;
  optimizer: string;
  optimizer_kwargs: Record<string, unknown>;
  groups: number[];
  lrs: number[][];
  momentums?: number[][];
  metrics?: number[];
  state_dict: Record<string, unknown>;
  param_groups: Record<string, unknown>[];
}
const fixture = JSON.parse(Deno.readTextFileSync(new URL("../tests/fixtures/optim.json", import.meta.url))) as {
  problem: { X: Nested; Y: Nested; W: Nested; b: Nested };
  optimizers: OptimizerCase[];
  schedulers: SchedulerCase[];
};

// float32 tolerance across 25 steps of float32 arithmetic (torch.testing's float32 rtol and atol)
const RTOL = 1.3e-6;
const ATOL = 1e-5;
// PyTorch 1.13 writes these implementation switches in param_groups; Flint has none of them.
const TORCH_ONLY_GROUP_KEYS = new Set(["foreach", "differentiable", "capturable", "fused"]);

const OPTIMIZERS: Record<string, new (params: never, options: never) => Optimizer> = {
  SGD: torch.optim.SGD,
  Adam: torch.optim.Adam,
  AdamW: torch.optim.AdamW,
  RMSprop: torch.optim.RMSprop,
  Adagrad: torch.optim.Adagrad,
};

function camelOptions(kwargs: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(kwargs).map(([k, v]) => [toCamel(k), v]));
}

function flat(x: Nested): number[] {
  return Array.isArray(x) ? x.flatMap(flat) : [x];
}

let worstAbs = 0;
let worstRel = 0;
let worstRatio = 0; // error / (ATOL + RTOL * |expected|): at most 1 passes

function assertClose(actual: Nested, expected: Nested, what: string): void {
  const a = flat(actual);
  const e = flat(expected);
  assert.equal(a.length, e.length, `${what}: length`);
  a.forEach((v, i) => {
    const err = Math.abs(v - e[i]);
    worstAbs = Math.max(worstAbs, err);
    if (e[i] !== 0) worstRel = Math.max(worstRel, err / Math.abs(e[i]));
    worstRatio = Math.max(worstRatio, err / (ATOL + RTOL * Math.abs(e[i])));
    assert.ok(err <= ATOL + RTOL * Math.abs(e[i]), `${what}[${i}]: ${v} vs PyTorch ${e[i]}`);
  });
}

let worstUlps = 0;
// The optimizer's own arithmetic: the same float32 ops in the same order as PyTorch, so results differ from
// PyTorch's at most by the rounding of a fused multiply-add or a reordered product, compounded over 25 steps.
const MAX_ULPS = 64;

function ulp(x: number): number {
  const a = Math.abs(Math.fround(x));
  if (a < 1.1754943508222875e-38) return 1.401298464324817e-45;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

function assertUlps(actual: Nested, expected: Nested, what: string): void {
  const a = flat(actual);
  const e = flat(expected);
  assert.equal(a.length, e.length, `${what}: length`);
  // measured against the tensor's largest element: an element that lands near zero by cancellation
  // carries the rounding of its operands, not its own
  const scale = ulp(Math.max(...e.map(Math.abs)));
  a.forEach((v, i) => {
    const ulps = Math.abs(v - e[i]) / scale;
    worstUlps = Math.max(worstUlps, ulps);
    assert.ok(ulps <= MAX_ULPS, `${what}[${i}]: ${v} vs PyTorch ${e[i]} (${ulps} ulps)`);
  });
}

function problem() {
  const p = fixture.problem;
  const X = torch.tensor(p.X);
  const Y = torch.tensor(p.Y);
  const W = torch.tensor(p.W, { requiresGrad: true });
  const b = torch.tensor(p.b, { requiresGrad: true });
  const loss = () => X.matmul(W).add(b).sub(Y).pow(2).mean();
  return { W, b, loss };
}

function build(c: OptimizerCase, W: torch.Tensor, b: torch.Tensor): Optimizer {
  const Cls = OPTIMIZERS[c.optimizer];
  const named: Record<string, torch.Tensor> = { W, b };
  const params = c.groups === null
    ? [W, b]
    : c.groups.map((g) => ({ ...camelOptions(g), params: g.params.map((n) => named[n]) }));
  return new Cls(params as never, camelOptions(c.kwargs) as never);
}

/** Checks a Flint state dict against PyTorch's, keys and values. */
function assertStateDict(actual: OptimizerStateDict, expected: JsonStateDict, c: OptimizerCase): void {
  const state = actual.state;
  for (const [id, torchState] of Object.entries(expected.state)) {
    // PyTorch 1.13's SGD stores momentum_buffer=None without momentum; PyTorch 2 stores no state then.
    if (c.optimizer === "SGD" && torchState.momentum_buffer === null) {
      // (a dict loaded from PyTorch 1.13 keeps its null buffer)
      const mine = state[Number(id)];
      assert.ok(mine === undefined || mine.momentum_buffer === null, `state ${id}: none without momentum`);
      continue;
    }
    const mine = state[Number(id)];
    assert.deepEqual(Object.keys(mine), Object.keys(torchState), `state ${id} keys`);
    for (const [key, value] of Object.entries(torchState)) {
      const v = mine[key];
      if (key === "step") assert.equal(v, value, `state ${id}.step`);
      else assertClose((v as torch.Tensor).tolistSync() as Nested, value as Nested, `state ${id}.${key}`);
    }
  }
  assert.equal(actual.param_groups.length, expected.param_groups.length);
  expected.param_groups.forEach((g, i) => {
    // (a dict loaded from PyTorch keeps PyTorch's keys, as PyTorch does)
    const mine = Object.fromEntries(
      Object.entries(actual.param_groups[i]).filter(([k]) => !TORCH_ONLY_GROUP_KEYS.has(k)),
    );
    const wanted = Object.fromEntries(Object.entries(g).filter(([k]) => !TORCH_ONLY_GROUP_KEYS.has(k)));
    assert.deepEqual(
      Object.fromEntries(Object.entries(mine).sort(([a], [b]) => a < b ? -1 : 1)),
      Object.fromEntries(Object.entries(wanted).sort(([a], [b]) => a < b ? -1 : 1)),
      `param_groups[${i}]`,
    );
  });
}

/** PyTorch's JSON state dict as torch.load would give it: tensors for lists, a tensor `step`. */
function torchStateDict(sd: JsonStateDict): LoadableStateDict {
  const state: Record<number, Record<string, unknown>> = {};
  for (const [id, s] of Object.entries(sd.state)) {
    state[Number(id)] = Object.fromEntries(
      Object.entries(s).map(([k, v]) => [k, v === null ? null : torch.tensor(v as number[])]),
    );
  }
  return { state, param_groups: structuredClone(sd.param_groups) };
}

for (const c of fixture.optimizers) {
  const label = `${c.optimizer}(${JSON.stringify(c.kwargs)}${c.groups ? `, groups ${JSON.stringify(c.groups)}` : ""})`;

  Deno.test(`${label} follows PyTorch for ${c.steps.length} steps, state dict included`, () => {
    const { W, b, loss } = problem();
    const opt = build(c, W, b);
    c.steps.forEach(([wantW, wantB], i) => {
      opt.zeroGrad();
      loss().backward();
      opt.step();
      assertClose(W.tolistSync() as Nested, wantW, `step ${i + 1} W`);
      assertClose(b.tolistSync() as Nested, wantB, `step ${i + 1} b`);
    });
    assertStateDict(opt.stateDict(), c.state_dict, c);
  });

  Deno.test(`${label} on PyTorch's own gradients matches every step to float32 rounding`, () => {
    const { W, b } = problem();
    const opt = build(c, W, b);
    c.steps.forEach(([wantW, wantB], i) => {
      W.grad = torch.tensor(c.grads[i][0]);
      b.grad = torch.tensor(c.grads[i][1]);
      opt.step();
      assertUlps(W.tolistSync() as Nested, wantW, `step ${i + 1} W`);
      assertUlps(b.tolistSync() as Nested, wantB, `step ${i + 1} b`);
    });
    assertStateDict(opt.stateDict(), c.state_dict, c);
  });

  Deno.test(`${label} resumes from PyTorch's state dict at step 20 and matches steps 21-25`, () => {
    const { W, b, loss } = problem();
    const [midW, midB] = c.steps[19];
    torch.noGrad(() => {
      W.copy_(torch.tensor(midW));
      b.copy_(torch.tensor(midB));
    });
    const opt = build(c, W, b);
    opt.loadStateDict(torchStateDict(c.state_dict_mid));
    for (let i = 20; i < c.steps.length; i++) {
      opt.zeroGrad();
      loss().backward();
      opt.step();
      assertClose(W.tolistSync() as Nested, c.steps[i][0], `step ${i + 1} W`);
      assertClose(b.tolistSync() as Nested, c.steps[i][1], `step ${i + 1} b`);
    }
    assertStateDict(opt.stateDict(), c.state_dict, c);
  });
}

// ---- schedulers ----

function infinities(value: unknown): unknown {
  if (value === "inf") return Infinity;
  if (value === "-inf") return -Infinity;
  if (Array.isArray(value)) return value.map(infinities);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, infinities(v)]));
  }
  return value;
}

function buildScheduler(c: SchedulerCase, opt: Optimizer) {
  const k = camelOptions(c.kwargs) as Record<string, never>;
  const { stepSize, milestones, TMax, maxLr, ...rest } = k;
  switch (c.scheduler) {
    case "StepLR":
      return new lrScheduler.StepLR(opt, stepSize, rest);
    case "MultiStepLR":
      return new lrScheduler.MultiStepLR(opt, milestones, rest);
    case "ExponentialLR":
      return new lrScheduler.ExponentialLR(opt, rest.gamma, rest);
    case "CosineAnnealingLR":
      return new lrScheduler.CosineAnnealingLR(opt, TMax, rest);
    case "LinearLR":
      return new lrScheduler.LinearLR(opt, rest);
    case "OneCycleLR":
      return new lrScheduler.OneCycleLR(opt, maxLr, rest);
    case "ReduceLROnPlateau":
      return new lrScheduler.ReduceLROnPlateau(opt, rest);
  }
  throw new Error(`no scheduler ${c.scheduler}`);
}

// Keys PyTorch 2 writes that 1.13 (the oracle here) does not.
const TORCH2_ONLY_SCHEDULER_KEYS = new Set(["_is_initial", "_anneal_func_type", "default_min_lr"]);

let lrsBitExact = 0;
let lrsTotal = 0;

function assertLr(actual: number, expected: number, what: string): void {
  lrsTotal++;
  if (Object.is(actual, expected)) {
    lrsBitExact++;
    return;
  }
  assert.ok(Math.abs(actual - expected) <= 1e-15 + 1e-13 * Math.abs(expected), `${what}: ${actual} vs ${expected}`);
}

for (const c of fixture.schedulers) {
  Deno.test(
    `${c.scheduler}(${JSON.stringify(c.kwargs)}) on ${c.optimizer} gives PyTorch's ${c.lrs.length - 1} learning rates`,
    () => {
      const params = c.groups.map(() => torch.zeros(2, { requiresGrad: true }));
      const Cls = OPTIMIZERS[c.optimizer];
      const opt = new Cls(
        params.map((p, i) => ({ params: [p], lr: c.groups[i] })) as never,
        camelOptions(c.optimizer_kwargs) as never,
      );
      const sched = buildScheduler(c, opt);
      const momentum = () => opt.paramGroups.map((g) => Array.isArray(g.betas) ? g.betas[0] : g.momentum as number);
      const check = (i: number) => {
        sched.getLastLr().forEach((lr, g) => assertLr(lr, c.lrs[i][g], `lrs[${i}][${g}]`));
        opt.paramGroups.forEach((g, j) => assertLr(g.lr, c.lrs[i][j], `group ${j} lr at ${i}`));
        if (c.momentums) momentum().forEach((m, g) => assertLr(m, c.momentums![i][g], `momentum[${i}][${g}]`));
      };
      check(0);
      for (let i = 1; i < c.lrs.length; i++) {
        opt.step();
        if (sched instanceof lrScheduler.ReduceLROnPlateau) sched.step(c.metrics![i - 1]);
        else sched.step();
        check(i);
      }
      const sd = sched.stateDict();
      const expected = infinities(c.state_dict) as Record<string, unknown>;
      for (const [key, value] of Object.entries(expected)) {
        assert.ok(key in sd, `state dict has ${key}`);
        if (typeof value === "number") assertLr(sd[key] as number, value, key);
        else if (Array.isArray(value) && typeof value[0] === "number") {
          (value as number[]).forEach((v, i) => assertLr((sd[key] as number[])[i], v, `${key}[${i}]`));
        } else assert.deepEqual(sd[key], value, key);
      }
      for (const key of Object.keys(sd)) {
        assert.ok(key in expected || TORCH2_ONLY_SCHEDULER_KEYS.has(key), `unexpected state dict key ${key}`);
      }
      // the groups carry what PyTorch's do (initial_lr, max_lr, ...), snake_cased in the optimizer's dict
      const groups = opt.stateDict().param_groups;
      c.param_groups.forEach((g, i) => {
        for (const [key, value] of Object.entries(g)) {
          if (TORCH_ONLY_GROUP_KEYS.has(key)) continue;
          if (typeof value === "number") assertLr(groups[i][key] as number, value, `param_groups[${i}].${key}`);
          else assert.deepEqual(groups[i][key], value, `param_groups[${i}].${key}`);
        }
      });
    },
  );
}

Deno.test("parity summary: worst errors stay within float32 tolerance", () => {
  // Runs last (tests run in file order); prints what the trajectories measured.
  console.log(
    `optimizer trajectories: worst abs error ${worstAbs.toExponential(2)}, worst rel error ${
      worstRel.toExponential(2)
    }, worst error / tolerance ${
      worstRatio.toFixed(3)
    }; on PyTorch's gradients: worst ${worstUlps} ulps; learning rates bit-identical to PyTorch: ${lrsBitExact}/${lrsTotal}`,
  );
  assert.ok(worstRatio <= 1);
  assert.ok(lrsTotal === 0 || lrsBitExact / lrsTotal > 0.9); // (0 when --filter skipped the schedulers)
});
