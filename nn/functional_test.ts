// nn.functional against PyTorch (tests/fixtures/nn_modules.json): values,
// gradients of every differentiable argument, mutated running statistics and
// grad_fn names; gradcheck in float64 on every composed op; PyTorch's errors.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { assertClose, decode, fixtures, type FunctionalCase, tensorOf } from "./_test_helpers.ts";

const F = torch.nn.functional;
const fx = fixtures();

type Fn = (...args: unknown[]) => torch.Tensor | torch.Tensor[];
const fnOf = (name: string): Fn => {
  const fn = (F as unknown as Record<string, Fn>)[name];
  if (!fn) throw new Error(`F.${name} is missing`);
  return fn;
};

// grad_fn names PyTorch gives that Flint's composition does not (values and gradients still match).
const GRAD_FN_DIFFERS: Record<string, string> = {
  "linear no bias 3-d": "PyTorch reshapes to 2-d and back (UnsafeViewBackward0)",
  "cross_entropy probabilities mean": "PyTorch divides by a Scalar overload (DivBackward1)",
  "cross_entropy probabilities weight smoothing mean": "PyTorch divides by a Scalar overload (DivBackward1)",
  "cross_entropy probabilities 3-d mean": "PyTorch divides by a Scalar overload (DivBackward1)",
  "cross_entropy 3-d ignore none": "PyTorch reshapes the 2-d loss back (ViewBackward0)",
};

// PyTorch's name() of CopySlices carries its C++ namespace; it prints as <CopySlices>.
const torchName = (name: string) => name.replace(/^torch::autograd::/, "");

function call(c: FunctionalCase, args: unknown[], options: Record<string, unknown>): torch.Tensor[] {
  if (c.seed !== undefined) torch.manualSeed(c.seed);
  const out = Object.keys(options).length === 0 ? fnOf(c.fn)(...args) : fnOf(c.fn)(...args, options);
  return Array.isArray(out) ? [...out] : [out];
}

for (const c of fx.functional) {
  Deno.test(`F.${c.fn} matches PyTorch: ${c.name}`, () => {
    const args = c.args.map((a) => decode(a));
    const options = decode(c.options) as Record<string, unknown>;
    const outs = call(c, args, options);
    assert.equal(outs.length, c.output.length, `${c.name}: outputs`);
    c.output.forEach((spec, i) => assertClose(outs[i], spec, `${c.name}: output ${i}`));
    if (c.grad_fn) {
      const same = outs[0].gradFn?.name === torchName(c.grad_fn);
      assert.ok(
        same !== c.name in GRAD_FN_DIFFERS,
        `${c.name}: grad_fn ${outs[0].gradFn?.name}, PyTorch's ${c.grad_fn}`,
      );
    }
    c.args_after?.forEach((spec, i) => {
      if (spec) assertClose(args[i] as torch.Tensor, spec, `${c.name}: argument ${i} after the call`);
    });
    if (!c.grad_output) return;
    outs[0].backward(tensorOf(c.grad_output));
    c.grads?.forEach((spec, i) => {
      if (spec) assertClose((args[i] as torch.Tensor).grad, spec, `${c.name}: grad of argument ${i}`);
    });
    for (const [k, spec] of Object.entries(c.option_grads ?? {})) {
      if (spec) assertClose((options[k] as torch.Tensor).grad, spec, `${c.name}: grad of ${k}`);
    }
  });
}

// Every case PyTorch's own gradcheck passed, in float64 through Flint's composition.
const checked = fx.functional.filter((c) => c.gradcheck);
Deno.test(`gradcheck (float64) passes on ${checked.length} nn.functional cases`, () => {
  const failures: string[] = [];
  for (const c of checked) {
    const args = c.args.map((a) => decode(a, "float64"));
    const options = decode(c.options, "float64") as Record<string, unknown>;
    const argSlots = args.flatMap((a, i) => (a instanceof torch.Tensor && a.requiresGrad ? [i] : []));
    const optSlots = Object.keys(options).filter((k) =>
      options[k] instanceof torch.Tensor && (options[k] as torch.Tensor).requiresGrad
    );
    const leaves = [...argSlots.map((i) => args[i]), ...optSlots.map((k) => options[k])] as torch.Tensor[];
    const fn = (...xs: torch.Tensor[]) => {
      const a = [...args];
      const o = { ...options };
      argSlots.forEach((i, j) => (a[i] = xs[j]));
      optSlots.forEach((k, j) => (o[k] = xs[argSlots.length + j]));
      return call(c, a, o)[0];
    };
    try {
      torch.gradcheck(fn, leaves);
    } catch (e) {
      failures.push(`${c.name}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  assert.deepEqual(failures, []);
});

Deno.test("second derivatives (gradgradcheck, float64) of the custom-backward and composed ops", () => {
  const f64 = { dtype: "float64" as const };
  const x = () => torch.randn([3, 4], { ...f64, requiresGrad: true });
  const probs = () => torch.rand([3, 4], f64).mul(0.9).add(0.05).requiresGrad_(true);
  const y = torch.rand([3, 4], f64);
  const labels = torch.tensor([0, 3, 1], { dtype: "int32" });
  const cases: [string, (t: torch.Tensor) => torch.Tensor, torch.Tensor][] = [
    ["gelu", (t) => F.gelu(t), x()],
    ["gelu tanh", (t) => F.gelu(t, { approximate: "tanh" }), x()],
    ["silu", (t) => F.silu(t), x()],
    ["leakyRelu", (t) => F.leakyRelu(t, 0.2), x()],
    ["binaryCrossEntropy", (t) => F.binaryCrossEntropy(t, y), probs()],
    ["binaryCrossEntropyWithLogits", (t) => F.binaryCrossEntropyWithLogits(t, y, { posWeight: y.index(0) }), x()],
    ["crossEntropy", (t) => F.crossEntropy(t, labels, { labelSmoothing: 0.1 }), x()],
    ["batchNorm", (t) => F.batchNorm(t, null, null, { training: true }), x()],
    ["layerNorm", (t) => F.layerNorm(t, [4]), x()],
    ["smoothL1Loss", (t) => F.smoothL1Loss(t, y, { beta: 0.5 }), x()],
  ];
  for (const [name, fn, input] of cases) assert.ok(torch.gradgradcheck(fn, [input]), name);
});
