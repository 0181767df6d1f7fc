// gradcheck and gradgradcheck: compare autograd's gradients with finite
// differences, as torch.autograd.gradcheck does (float64, central differences).

import { formatShape } from "@flint/backend";
import { Generator } from "./generator.ts";
import { grad } from "./ops/autograd_api.ts";
import { fromArray, randn } from "./ops/creation.ts";
import type { Tensor } from "./tensor.ts";

/** Options of {@linkcode gradcheck} and {@linkcode gradgradcheck}: PyTorch's defaults. */
export interface GradcheckOptions {
  /** finite-difference step (default 1e-6) */
  eps?: number;
  /** absolute tolerance (default 1e-5) */
  atol?: number;
  /** relative tolerance (default 1e-3) */
  rtol?: number;
  /** throw on a mismatch (default true) instead of returning false */
  raiseException?: boolean;
}

/** A function gradcheck differentiates: tensors in, a tensor or several out. */
export type GradcheckFunction = (...inputs: Tensor[]) => Tensor | readonly Tensor[];
type Fn = GradcheckFunction;

function outputsOf(fn: Fn, inputs: readonly Tensor[]): Tensor[] {
  const out = fn(...inputs);
  return Array.isArray(out) ? [...out] : [out as Tensor];
}

function floatData(t: Tensor): Float64Array {
  return Float64Array.from(t.detach().dataSync() as ArrayLike<number>);
}

/** d(outputs)/d(input i): one column per input element, by central differences. */
function numericalJacobian(fn: Fn, inputs: readonly Tensor[], i: number, eps: number): Float64Array[][] {
  const x = inputs[i];
  const base = floatData(x);
  const columns: Float64Array[][] = [];
  // Evaluated with grad mode on, so functions that differentiate inside
  // (gradgradcheck's) work; the perturbed copy requires grad like the input.
  const evalWith = (values: Float64Array) => {
    const copy = fromArray(values.slice(), [...x.shape]).to(x.dtype).requiresGrad_(x.requiresGrad);
    const perturbed = inputs.map((t, j) => (j === i ? copy : t));
    return outputsOf(fn, perturbed).map(floatData);
  };
  for (let k = 0; k < base.length; k++) {
    const plus = base.slice();
    plus[k] += eps;
    const minus = base.slice();
    minus[k] -= eps;
    const fp = evalWith(plus);
    const fm = evalWith(minus);
    columns.push(fp.map((o, oi) => o.map((v, m) => (v - fm[oi][m]) / (2 * eps))));
  }
  return columns;
}

/** d(output o)/d(input i) by autograd: one row per output element. */
function analyticalJacobian(
  outputs: readonly Tensor[],
  inputs: readonly Tensor[],
  o: number,
): (Float64Array | null)[][] {
  const out = outputs[o];
  const rows: (Float64Array | null)[][] = [];
  for (let m = 0; m < out.numel(); m++) {
    const seed = new Float64Array(out.numel());
    seed[m] = 1;
    const gradOut = fromArray(seed, [...out.shape]).to(out.dtype);
    const grads = grad([out], inputs, [gradOut], { retainGraph: true, allowUnused: true });
    rows.push(grads.map((g) => (g === null ? null : floatData(g))));
  }
  return rows;
}

/**
 * Checks the gradients of `fn` at `inputs` against finite differences, for
 * every input that requires grad and every floating-point output. Inputs
 * should be float64. Returns true, or throws a message naming the output,
 * the input and both Jacobians (false with `raiseException: false`).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.randn([3], { dtype: "float64", requiresGrad: true });
 * console.log(torch.autograd.gradcheck((t) => t.sin().mul(t), [x])); // true
 * ```
 */
export function gradcheck(fn: GradcheckFunction, inputs: readonly Tensor[], options: GradcheckOptions = {}): boolean {
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-3, raiseException = true } = options;
  const outputs = outputsOf(fn, inputs).filter((o) => o.dtype === "float64" || o.dtype === "float32");
  const diffIndices = inputs.map((t, i) => (t.requiresGrad ? i : -1)).filter((i) => i >= 0);
  const diffInputs = diffIndices.map((i) => inputs[i]);
  for (let o = 0; o < outputs.length; o++) {
    if (!outputs[o].requiresGrad) continue;
    const analytical = analyticalJacobian(outputs, diffInputs, o);
    for (let a = 0; a < diffIndices.length; a++) {
      const i = diffIndices[a];
      const numerical = numericalJacobian(fn, inputs, i, eps);
      const n = inputs[i].numel();
      const rowsCount = outputs[o].numel();
      const num = new Float64Array(n * rowsCount);
      const ana = new Float64Array(n * rowsCount);
      let ok = true;
      for (let k = 0; k < n; k++) {
        for (let m = 0; m < rowsCount; m++) {
          const nv = numerical[k][o][m];
          const av = analytical[m][a]?.[k] ?? 0;
          num[k * rowsCount + m] = nv;
          ana[k * rowsCount + m] = av;
          if (!(Math.abs(av - nv) <= atol + rtol * Math.abs(nv))) ok = false;
        }
      }
      if (!ok) {
        if (!raiseException) return false;
        const shape = [n, rowsCount];
        throw new Error(
          `Jacobian mismatch for output ${o} with respect to input ${i},\n` +
            `numerical:${String(fromArray(num, shape))}\nanalytical:${String(fromArray(ana, shape))}\n` +
            `(input shape ${formatShape(inputs[i].shape)}, output shape ${formatShape(outputs[o].shape)})`,
        );
      }
    }
  }
  return true;
}

/**
 * Checks second derivatives: gradcheck of the function that returns the
 * gradients of `fn` (made with `createGraph`), with respect to the inputs
 * and to random upstream gradients (seeded, so runs repeat).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.randn([3], { dtype: "float64", requiresGrad: true });
 * console.log(torch.autograd.gradgradcheck((t) => t.pow(3), [x])); // true
 * ```
 */
export function gradgradcheck(
  fn: GradcheckFunction,
  inputs: readonly Tensor[],
  gradOutputs?: readonly Tensor[],
  options: GradcheckOptions = {},
): boolean {
  const outputs = outputsOf(fn, inputs);
  const generator = new Generator(0);
  const upstream = gradOutputs ??
    outputs.map((o) => randn([...o.shape], { dtype: "float64", generator, requiresGrad: true }));
  const diffIndices = inputs.map((t, i) => (t.requiresGrad ? i : -1)).filter((i) => i >= 0);
  const gradFn = (...all: Tensor[]) => {
    const ins = all.slice(0, inputs.length);
    const gos = all.slice(inputs.length);
    const outs = outputsOf(fn, ins);
    const grads = grad(outs, diffIndices.map((i) => ins[i]), gos, { createGraph: true, allowUnused: true });
    return grads.filter((g): g is Tensor => g !== null && g.requiresGrad);
  };
  return gradcheck(gradFn, [...inputs, ...upstream], options);
}
