// Runs one fixture case on one device: forward values and gradients against
// PyTorch's.

import type { DType } from "@flint/backend";
import * as torch from "@flint/torch";
import { mismatch, type Tolerance } from "./compare.ts";
import { applyTransform, leafOf, type OpCase, type TensorSpec } from "./fixtures.ts";
import { OPS } from "./op_table.ts";

/** The result of one case. */
export interface CaseResult {
  readonly name: string;
  readonly ok: boolean;
  readonly message?: string;
}

const asList = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** Runs `c` on `device` and compares with PyTorch at `tol`. */
export async function runCase(c: OpCase, device: string, tol: Tolerance): Promise<CaseResult> {
  const impl = OPS[c.op];
  if (!impl) return { name: c.name, ok: false, message: `no Flint implementation for op "${c.op}"` };
  try {
    const leaves = c.inputs.map((spec) => leafOf(spec, device));
    const inputs = leaves.map((leaf, i) => applyTransform(leaf, c.inputs[i].transform));
    const outputs = asList(impl(inputs, c.kwargs));
    const expected = asList(c.output);
    if (outputs.length !== expected.length) {
      return { name: c.name, ok: false, message: `${outputs.length} outputs but PyTorch gives ${expected.length}` };
    }
    for (let i = 0; i < outputs.length; i++) {
      const m = await mismatch(outputs[i], expected[i], tol, `output ${i}`);
      if (m) return { name: c.name, ok: false, message: m };
    }
    const gradOutputs = asList(c.grad_output);
    const wanted = (c.grads ?? []).map((g, i) => (g && c.inputs[i].requires_grad ? i : -1)).filter((i) => i >= 0);
    if (gradOutputs.length > 0 && wanted.length > 0) {
      const seeds = gradOutputs.map((spec) => leafOf(spec as TensorSpec, device));
      const roots = outputs.slice(0, seeds.length);
      const grads = torch.autograd.grad(roots, wanted.map((i) => leaves[i]), seeds, { allowUnused: true });
      for (let k = 0; k < wanted.length; k++) {
        const i = wanted[k];
        const g = grads[k] ?? torch.zerosLike(leaves[i]);
        const m = await mismatch(g, c.grads![i]!, tol, `grad of input ${i}`);
        if (m) return { name: c.name, ok: false, message: m };
      }
    }
    return { name: c.name, ok: true };
  } catch (error) {
    return { name: c.name, ok: false, message: `threw ${(error as Error).stack ?? error}` };
  }
}

/** Runs `fn` in float64 around the case's inputs and checks its gradients with gradcheck. */
export function gradcheckCase(c: OpCase, second = false): CaseResult {
  const impl = OPS[c.op];
  try {
    const leaves = c.inputs.map((spec) => leafOf(spec, "cpu", "float64" as DType));
    const diff = leaves.filter((t, i) => c.inputs[i].requires_grad && t.dtype === "float64");
    const fn = (...xs: torch.Tensor[]) => {
      let k = 0;
      const inputs = leaves.map((leaf, i) =>
        applyTransform(c.inputs[i].requires_grad && leaf.dtype === "float64" ? xs[k++] : leaf, c.inputs[i].transform)
      );
      const out = impl(inputs, c.kwargs);
      return (Array.isArray(out) ? out : [out]).filter((o) => o.dtype === "float64");
    };
    const ok = second ? torch.autograd.gradgradcheck(fn, diff) : torch.autograd.gradcheck(fn, diff);
    return { name: c.name, ok };
  } catch (error) {
    return { name: c.name, ok: false, message: (error as Error).message };
  }
}
