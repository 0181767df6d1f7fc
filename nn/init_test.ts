// nn.init against PyTorch: the same numbers after the same seed, PyTorch's
// gains, and its errors.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { assertClose, decode, fixtures } from "./_test_helpers.ts";

const init = torch.nn.init;
const fx = fixtures();

type InitFn = (t: torch.Tensor, ...rest: unknown[]) => torch.Tensor;

// PyTorch's keyword arguments → Flint's positional arguments and options, per function.
function apply(fn: string, t: torch.Tensor, o: Record<string, unknown>): torch.Tensor {
  const f = (init as unknown as Record<string, InitFn>)[fn];
  if (fn === "uniform_") return f(t, o.a ?? 0, o.b ?? 1);
  if (fn === "normal_") return f(t, o.mean ?? 0, o.std ?? 1);
  if (fn === "constant_") return f(t, o.val);
  if (fn === "eye_") return f(t);
  return f(t, o);
}

Deno.test("nn.init fills are exactly PyTorch's for the same seed", () => {
  for (const c of fx.init_fns) {
    torch.manualSeed(c.seed);
    const t = apply(c.fn, torch.empty(c.shape, { dtype: c.dtype }), decode(c.options) as Record<string, unknown>);
    assert.equal(t.dtype, c.dtype);
    // truncNormal_'s inverse error function is computed with tensor ops, not ATen's scalar loop: float rounding.
    const tolerance = c.fn === "truncNormal_" ? { rtol: 1e-6, atol: 1e-6 } : { rtol: 0, atol: 0 };
    assertClose(t, c.output, `${c.fn}(${JSON.stringify(c.options)})`, tolerance);
  }
});

Deno.test("an explicit generator replaces the default one", () => {
  const a = init.kaimingUniform_(torch.empty(4, 3), { generator: new torch.Generator(5) });
  torch.manualSeed(5);
  const b = init.kaimingUniform_(torch.empty(4, 3));
  assert.deepEqual(a.tolistSync(), b.tolistSync());
});

Deno.test("calculateGain gives PyTorch's gains", () => {
  for (const [name, param, gain] of fx.gains) {
    assert.equal(init.calculateGain(name as torch.nn.init.Nonlinearity, param), gain, `${name}(${param})`);
  }
  assert.throws(() => init.calculateGain("foo" as torch.nn.init.Nonlinearity), /Unsupported nonlinearity foo$/);
});

Deno.test("init works on parameters without recording gradients", () => {
  const p = new torch.Parameter(torch.empty(3, 3));
  init.xavierNormal_(p);
  init.eye_(p);
  assert.equal(p.gradFn, null);
  assert.deepEqual(p.tolistSync(), [[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
});

Deno.test("init errors are PyTorch's", () => {
  assert.throws(
    () => init.kaimingUniform_(torch.empty(3)),
    /Fan in and fan out can not be computed for tensor with fewer than 2 dimensions/,
  );
  assert.throws(() => init.xavierUniform_(torch.empty(3)), /fewer than 2 dimensions/);
  assert.throws(() => init.eye_(torch.empty(3)), /Only tensors with 2 dimensions are supported/);
  assert.throws(
    () => init.kaimingNormal_(torch.empty(3, 3), { mode: "foo" as torch.nn.init.FanMode }),
    /Mode foo not supported, please use one of \['fan_in', 'fan_out'\]/,
  );
});
