// Evaluation-mode batch norm's arithmetic, `x * scale[c] + shift[c]` along
// dim 1, in one pass where the backend has the kernel: the composition reads
// and writes the activation twice. It records no autograd history, so it
// answers only where none is wanted.

import { isGradEnabled } from "../grad_mode.ts";
import type { Tensor } from "../tensor.ts";
import { backendOf, fromStorage, viewOf } from "./_core.ts";

/**
 * `x * scale.reshape(1, C, 1, …) + shift.reshape(1, C, 1, …)` for x [N, C, *]
 * with the backend's fused kernel (see `FusedKernels.channelAffine` in
 * `@flint/backend`), where no gradient is wanted: grad mode off, or no input
 * requiring grad. Batch norm in evaluation mode calls it.
 *
 * @returns the result, or null when the backend has no such kernel or the
 *   tensors do not qualify (a gradient wanted; scale or shift not [C], or on
 *   another device or dtype): compose it from tensor ops then
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.ones([1, 2, 2, 2]);
 * const y = torch.noGrad(() => torch.fusedChannelAffine(x, torch.tensor([2, 3]), torch.tensor([1, 0])));
 * console.log(y?.flatten().tolistSync()); // [ 3, 3, 3, 3, 3, 3, 3, 3 ]
 * ```
 */
export function fusedChannelAffine(x: Tensor, scale: Tensor, shift: Tensor): Tensor | null {
  const kernel = backendOf(x).fused.channelAffine;
  if (kernel === undefined || x.ndim < 2) return null;
  if (isGradEnabled() && (x.requiresGrad || scale.requiresGrad || shift.requiresGrad)) return null;
  const channels = x.shape[1];
  for (const t of [scale, shift]) {
    if (t.device !== x.device || t.dtype !== x.dtype || t.ndim !== 1 || t.shape[0] !== channels) return null;
  }
  if (x.dtype !== "float32" && x.dtype !== "float64") return null;
  return fromStorage(x.device, kernel(viewOf(x), viewOf(scale), viewOf(shift)), x.shape, x.dtype);
}
