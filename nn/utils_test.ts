// nn.utils against PyTorch: clip_grad_norm_ for several norms, and the
// vector <-> parameters round trip.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { assertClose, decodeNumber, fixtures, tensorOf } from "./_test_helpers.ts";

const utils = torch.nn.utils;

Deno.test("clipGradNorm_ returns PyTorch's total norm and clips as PyTorch does (2, 1, 3 and inf norms)", () => {
  for (const c of fixtures().clip_grad_norm) {
    const params = c.grads.map((g, i) => {
      const p = new torch.Parameter(torch.zeros(g?.shape ?? [i + 1]));
      if (g) p.grad = tensorOf(g);
      return p;
    });
    const normType = decodeNumber(c.norm_type);
    const total = utils.clipGradNorm_(params, c.max_norm, { normType });
    assertClose(total, c.total, `norm ${normType} total`);
    c.clipped.forEach((spec, i) => spec && assertClose(params[i].grad, spec, `norm ${normType} grad ${i}`));
  }
});

Deno.test("clipGradNorm_ takes one tensor, skips parameters without grads, and can refuse a non-finite norm", () => {
  const p = new torch.Parameter(torch.zeros(2));
  assert.equal(utils.clipGradNorm_([p], 1).itemSync(), 0);
  p.grad = torch.tensor([Infinity, 1]);
  assert.equal(utils.clipGradNorm_(p, 1).itemSync(), Infinity);
  p.grad = torch.tensor([Infinity, 1]);
  assert.throws(
    () => utils.clipGradNorm_([p], 1, { errorIfNonfinite: true }),
    /The total norm of order 2.0 for gradients from `parameters` is non-finite, so it cannot be clipped/,
  );
});

Deno.test("clipGradValue_ clamps every gradient", () => {
  const a = new torch.Parameter(torch.zeros(3)), b = new torch.Parameter(torch.zeros(1));
  a.grad = torch.tensor([-3, 0.25, 3]);
  utils.clipGradValue_([a, b], 0.5);
  assert.deepEqual(a.grad.tolistSync(), [-0.5, 0.25, 0.5]);
  assert.equal(b.grad, null);
});

Deno.test("parametersToVector and vectorToParameters round-trip a model's parameters", () => {
  const model = new torch.nn.Linear(3, 2);
  const vec = utils.parametersToVector(model.parameters());
  assert.deepEqual(vec.shape, [8]);
  utils.vectorToParameters(torch.arange(8, { dtype: "float32" }), model.parameters());
  assert.deepEqual(model.weight.tolistSync(), [[0, 1, 2], [3, 4, 5]]);
  assert.deepEqual(model.bias!.tolistSync(), [6, 7]);
  assert.deepEqual(utils.parametersToVector(model.parameters()).tolistSync(), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(model.weight.requiresGrad, true);
  assert.throws(
    () => utils.vectorToParameters([1] as unknown as torch.Tensor, []),
    /expected torch.Tensor, but got: list/,
  );
});
