/**
 * Flint: PyTorch's API for TypeScript, on Deno and edge runtimes.
 *
 * `import * as torch from "@flint/torch"` gives tensors with autograd
 * (`torch.tensor`, `torch.randn`, `torch.noGrad`, ...) on a ready CPU device.
 * This module is the only place that picks a default backend.
 *
 * @example Gradient descent, as the tutorials teach it
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const X = torch.tensor([1, 2, 3, 4]);
 * const Y = torch.tensor([2, 4, 6, 8]);
 * const w = torch.tensor(0.0, { requiresGrad: true });
 * for (let epoch = 0; epoch < 100; epoch++) {
 *   const loss = w.mul(X).sub(Y).pow(2).mean();
 *   loss.backward();
 *   torch.noGrad(() => w.sub_(w.grad!.mul(0.01)));
 *   w.grad!.zero_();
 * }
 * console.log(w.itemSync().toFixed(3)); // 2.000
 * ```
 *
 * @module
 */
import { registerBackend } from "@flint/autograd";
import { CpuBackend } from "@flint/cpu";

registerBackend(new CpuBackend());

export * from "@flint/autograd";
export { type BackendName, useBackend, type UseBackendOptions } from "./backends.ts";
export * as nn from "@flint/nn";
export * as optim from "@flint/optim";
/** `torch.utils`: `torch.utils.data` (datasets, samplers, DataLoader). */
export * as utils from "./utils.ts";
export { load, save } from "@flint/models";
export type * from "@flint/models";
export * as hub from "@flint/models/hub";
/** `torch.models`: torchvision's ResNets with their ImageNet weights and preprocessing. */
export * as models from "@flint/models";

/** `torch.float32`, the default dtype. */
export const float32 = "float32" as const;
/** `torch.float`, an alias of float32. */
export const float = "float32" as const;
/** `torch.float64`. */
export const float64 = "float64" as const;
/** `torch.double`, an alias of float64. */
export const double = "float64" as const;
/** `torch.int32`: Flint's integer dtype. */
export const int32 = "int32" as const;
/** `torch.int`, an alias of int32. */
export const int = "int32" as const;
/**
 * `torch.long`: Flint keeps integers in int32 (WebGPU and most edge runtimes
 * have no 64-bit integers), so this is an alias of int32.
 */
export const long = "int32" as const;
/** `torch.bool`. */
export const bool = "bool" as const;
