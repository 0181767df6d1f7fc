// Fused optimizer steps: one kernel per parameter instead of a dozen
// element-wise ops, where the parameter's backend offers one. Optimizers call
// these first and compose the update from tensor ops when they answer false.

import type { AdamStepOptions, SgdStepOptions } from "@flint/backend";
import { isGradEnabled } from "../grad_mode.ts";
import { stateOf, type Tensor } from "../tensor.ts";
import { backendOf, viewOf } from "./_core.ts";

/**
 * True when every tensor is on `param`'s device, has its shape and a float
 * dtype equal to its, and no autograd history is involved (the optimizer runs
 * under `noGrad`); the kernels write raw storage and record nothing.
 */
function eligible(param: Tensor, others: readonly (Tensor | null)[]): boolean {
  if (isGradEnabled() || (param.dtype !== "float32" && param.dtype !== "float64")) return false;
  for (const t of others) {
    if (t === null) continue;
    if (t.device !== param.device || t.dtype !== param.dtype || t.ndim !== param.ndim) return false;
    if (t.shape.some((d, i) => d !== param.shape[i])) return false;
  }
  return true;
}

/** Marks the written tensors as modified, as an in-place op does. */
function bumpVersions(written: readonly (Tensor | null)[]): void {
  for (const t of written) if (t !== null) stateOf(t).ref.version++;
}

/**
 * One Adam / AdamW update of `param` in place with the backend's fused kernel
 * (see `FusedKernels.adamStep` in `@flint/backend` for the arithmetic, which
 * is `torch.optim.Adam`'s single-tensor update). Call it under `noGrad`, as
 * an optimizer's `step()` does.
 *
 * @returns false, having changed nothing, when the backend has no such kernel
 *   or the tensors do not qualify (other devices, dtypes or shapes; grad mode
 *   on): compose the update from tensor ops then
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const p = torch.tensor([1, 2]), g = torch.tensor([0.5, -0.5]);
 * const m = torch.zerosLike(p), v = torch.zerosLike(p);
 * const options = {
 *   lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0,
 *   decoupledWeightDecay: false, amsgrad: false, maximize: false, step: 1,
 * };
 * const done = torch.noGrad(() => torch.fusedAdamStep_(p, g, m, v, null, options));
 * console.log(done ? p.tolistSync() : "composed"); // [ 0.8999999761581421, 2.0999999046325684 ]
 * ```
 */
export function fusedAdamStep_(
  param: Tensor,
  grad: Tensor,
  expAvg: Tensor,
  expAvgSq: Tensor,
  maxExpAvgSq: Tensor | null,
  options: AdamStepOptions,
): boolean {
  const kernel = backendOf(param).fused.adamStep;
  if (kernel === undefined || !eligible(param, [grad, expAvg, expAvgSq, maxExpAvgSq])) return false;
  if (options.amsgrad && maxExpAvgSq === null) return false;
  kernel(viewOf(param), viewOf(grad), viewOf(expAvg), viewOf(expAvgSq), maxExpAvgSq && viewOf(maxExpAvgSq), options);
  bumpVersions([param, expAvg, expAvgSq, maxExpAvgSq]);
  return true;
}

/**
 * One SGD update of `param` in place with the backend's fused kernel (see
 * `FusedKernels.sgdStep` in `@flint/backend`: `torch.optim.SGD`'s
 * single-tensor update). Call it under `noGrad`.
 *
 * @returns false, having changed nothing, when the backend has no such kernel
 *   or the tensors do not qualify: compose the update from tensor ops then
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const p = torch.tensor([1, 2]), g = torch.tensor([1, -1]);
 * const options = { lr: 0.5, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, firstStep: true };
 * const done = torch.noGrad(() => torch.fusedSgdStep_(p, g, null, options));
 * console.log(done ? p.tolistSync() : "composed"); // [ 0.5, 2.5 ]
 * ```
 */
export function fusedSgdStep_(
  param: Tensor,
  grad: Tensor,
  momentumBuffer: Tensor | null,
  options: SgdStepOptions,
): boolean {
  const kernel = backendOf(param).fused.sgdStep;
  if (kernel === undefined || !eligible(param, [grad, momentumBuffer])) return false;
  if (options.momentum !== 0 && momentumBuffer === null) return false;
  kernel(viewOf(param), viewOf(grad), momentumBuffer && viewOf(momentumBuffer), options);
  bumpVersions([param, momentumBuffer]);
  return true;
}
