// Every layer against PyTorch (tests/fixtures/nn_modules.json): forward,
// backward (input and parameter gradients), running statistics, default
// initialisation under a seed, and the printed repr.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { assertClose, build, decode, fixtures, type ModuleCase, tensorOf } from "./_test_helpers.ts";

const fx = fixtures();

// grad_fn names PyTorch gives that a composed Flint layer does not (the values and gradients still match).
const GRAD_FN_DIFFERS: Record<string, string> = {
  "Linear no bias, 3-d input": "PyTorch reshapes to 2-d and back (UnsafeViewBackward0)",
  "Flatten default": "PyTorch's view is ReshapeAliasBackward0",
  "Flatten 0..2": "PyTorch's view is ReshapeAliasBackward0",
  "LeakyReLU 0.2 inplace": "in place, Flint's result is written back with copy_ (CopyBackwards)",
  "SiLU inplace": "in place, Flint's result is written back with copy_ (CopyBackwards)",
};

function runCase(c: ModuleCase): void {
  const m = build(c.ctor);
  m.train(c.train);
  m.loadStateDict(decode(c.state) as Record<string, torch.Tensor>);
  torch.noGrad(() => {
    for (const w of c.warmup) m(tensorOf(w));
  });
  if (c.state_warm) {
    const sd = m.stateDict();
    for (const [k, spec] of Object.entries(c.state_warm)) assertClose(sd[k], spec, `${c.name}: ${k} after warm-up`);
  }
  const inputs = c.inputs.map((s) => tensorOf(s));
  const call = inputs.map((x) => (c.clone_input && x.requiresGrad ? x.clone() : x));
  if (c.seed !== undefined) torch.manualSeed(c.seed);
  const result = m(...call);
  const outs: torch.Tensor[] = Array.isArray(result) ? [...result] : [result];
  assert.equal(outs.length, c.output.length, `${c.name}: number of outputs`);
  c.output.forEach((spec, i) => assertClose(outs[i], spec, `${c.name}: output ${i}`));
  if (c.grad_fn && !(c.name in GRAD_FN_DIFFERS)) assert.equal(outs[0].gradFn?.name, c.grad_fn, `${c.name}: grad_fn`);
  if (c.name in GRAD_FN_DIFFERS) assert.notEqual(outs[0].gradFn?.name, c.grad_fn, `${c.name} now matches: unlist it`);
  if (c.grads && c.grad_output) {
    outs[0].backward(tensorOf(c.grad_output));
    c.grads.inputs.forEach((spec, i) => {
      if (spec) assertClose(inputs[i].grad, spec, `${c.name}: grad of input ${i}`);
    });
    const params = Object.fromEntries(m.namedParameters());
    for (const [k, spec] of Object.entries(c.grads.params)) {
      assertClose(params[k].grad, spec, `${c.name}: grad of ${k}`);
    }
    assert.deepEqual(
      m.namedParameters().filter(([, p]) => p.requiresGrad).map(([k]) => k).sort(),
      Object.keys(c.grads.params).sort(),
      `${c.name}: parameters`,
    );
  }
  const after = m.stateDict();
  assert.deepEqual(Object.keys(after), Object.keys(c.state_after), `${c.name}: state dict keys`);
  for (const [k, spec] of Object.entries(c.state_after)) assertClose(after[k], spec, `${c.name}: ${k} after forward`);
}

for (const c of fx.modules) {
  Deno.test(`nn.${c.ctor.class} matches PyTorch: ${c.name}`, () => runCase(c));
}

Deno.test("default initialisation under torch.manualSeed gives exactly PyTorch's values", () => {
  for (const c of fx.init) {
    torch.manualSeed(c.seed);
    const m = build(c.ctor);
    const sd = m.stateDict();
    assert.deepEqual(Object.keys(sd), Object.keys(c.state), `${c.ctor.class}: keys`);
    for (const [k, spec] of Object.entries(c.state)) {
      assert.equal(sd[k].dtype, spec.dtype, `${c.ctor.class}(${c.ctor.args}) ${k}: dtype`);
      assertClose(sd[k], spec, `${c.ctor.class}(${c.ctor.args}) seed ${c.seed}: ${k}`, { rtol: 0, atol: 0 });
    }
  }
});

Deno.test("String(layer) prints PyTorch's repr for every layer", () => {
  for (const c of fx.repr) assert.equal(String(build(c.ctor)), c.text);
});
