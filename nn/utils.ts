/**
 * `torch.nn.utils`: gradient clipping and flattening parameters into one
 * vector, with PyTorch's semantics.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const { nn } = torch;
 *
 * const model = new nn.Linear(3, 1);
 * model(torch.ones(4, 3)).mul(100).sum().backward();
 * const total = nn.utils.clipGradNorm_(model.parameters(), 1.0);
 * console.log(total.itemSync() > 1, nn.utils.parametersToVector(model.parameters()).shape); // true [4]
 * ```
 *
 * @module
 */

import { cat, div, noGrad, type Tensor, tensor } from "@flint/autograd";

/** Options of {@linkcode clipGradNorm_}. */
export interface ClipGradNormOptions {
  /** the p of the p-norm: 2 by default, `Infinity` for the largest absolute value */
  normType?: number;
  /** throw when the total norm is NaN or infinite (default false); this reads the norm back */
  errorIfNonfinite?: boolean;
}

function listOf(parameters: Tensor | Iterable<Tensor>): Tensor[] {
  return Symbol.iterator in Object(parameters) && !("shape" in Object(parameters))
    ? [...parameters as Iterable<Tensor>]
    : [parameters as Tensor];
}

/**
 * Scales the gradients of `parameters` in place so that their joint norm
 * (as if concatenated) is at most `maxNorm`, as `nn.utils.clip_grad_norm_`.
 * Returns the norm before clipping, as a 0-d tensor (0 when no parameter has
 * a gradient). The scale is `min(1, maxNorm / (norm + 1e-6))`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const p = new torch.Parameter(torch.zeros(2));
 * p.grad = torch.tensor([3, 4]);
 * const norm = torch.nn.utils.clipGradNorm_([p], 1);
 * console.log(norm.itemSync(), [...p.grad.dataSync()].map((v) => v.toFixed(4))); // 5 ["0.6000", "0.8000"]
 * ```
 */
export function clipGradNorm_(
  parameters: Tensor | Iterable<Tensor>,
  maxNorm: number,
  options: ClipGradNormOptions = {},
): Tensor {
  const normType = options.normType ?? 2;
  const grads = listOf(parameters).map((p) => p.grad).filter((g): g is Tensor => g !== null);
  if (grads.length === 0) return tensor(0);
  return noGrad(() => {
    const device = grads[0].device;
    let total: Tensor;
    if (normType === Infinity) {
      const norms = grads.map((g) => g.detach().abs().max().to(device));
      total = norms.length === 1 ? norms[0] : cat(norms.map((n) => n.reshape([1]))).max();
    } else {
      const norms = grads.map((g) => g.detach().norm(normType).to(device).reshape([1]));
      total = cat(norms).norm(normType);
    }
    if (options.errorIfNonfinite) {
      const value = total.itemSync();
      if (!Number.isFinite(value)) {
        throw new RangeError(
          `The total norm of order ${normType === Infinity ? "inf" : pyNumber(normType)} for gradients from ` +
            "`parameters` is non-finite, so it cannot be clipped. To disable this error and scale the gradients by " +
            "the non-finite norm anyway, set `errorIfNonfinite: false`",
        );
      }
    }
    const clipCoef = div(maxNorm, total.add(1e-6)).clamp({ max: 1.0 });
    for (const g of grads) g.detach().mul_(clipCoef.to(g.device));
    return total;
  });
}

function pyNumber(x: number): string {
  return Number.isInteger(x) ? `${x}.0` : String(x);
}

/**
 * Clamps the gradients of `parameters` in place to `[-clipValue, clipValue]`,
 * as `nn.utils.clip_grad_value_`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const p = new torch.Parameter(torch.zeros(3));
 * p.grad = torch.tensor([-5, 0.5, 5]);
 * torch.nn.utils.clipGradValue_([p], 1);
 * console.log(p.grad.tolistSync()); // [-1, 0.5, 1]
 * ```
 */
export function clipGradValue_(parameters: Tensor | Iterable<Tensor>, clipValue: number): void {
  noGrad(() => {
    for (const p of listOf(parameters)) p.grad?.detach().clamp_(-clipValue, clipValue);
  });
}

/**
 * The parameters flattened and concatenated into one 1-d tensor, as
 * `nn.utils.parameters_to_vector` (differentiable).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const v = torch.nn.utils.parametersToVector([torch.ones(2, 2), torch.zeros(3)]);
 * console.log(v.tolistSync()); // [1, 1, 1, 1, 0, 0, 0]
 * ```
 */
export function parametersToVector(parameters: Iterable<Tensor>): Tensor {
  const list = [...parameters];
  const device = list[0]?.device;
  for (const p of list) {
    if (p.device !== device) {
      throw new TypeError("Found two parameters on different devices, this is currently not supported.");
    }
  }
  return cat(list.map((p) => p.reshape([-1])));
}

/**
 * Copies consecutive slices of `vec` into the parameters' data (shapes
 * kept), as `nn.utils.vector_to_parameters`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const a = new torch.Parameter(torch.zeros(2)), b = new torch.Parameter(torch.zeros(1, 2));
 * torch.nn.utils.vectorToParameters(torch.tensor([1, 2, 3, 4]), [a, b]);
 * console.log(a.tolistSync(), b.tolistSync()); // [1, 2] [[3, 4]]
 * ```
 */
export function vectorToParameters(vec: Tensor, parameters: Iterable<Tensor>): void {
  if (vec === null || typeof vec !== "object" || !("shape" in vec)) {
    throw new TypeError(`expected torch.Tensor, but got: ${Array.isArray(vec) ? "list" : typeof vec}`);
  }
  let pointer = 0;
  for (const p of parameters) {
    const n = p.numel();
    if (pointer + n > vec.numel()) {
      throw new RangeError(
        `shape '[${p.shape.join(", ")}]' is invalid for input of size ${Math.max(vec.numel() - pointer, 0)}`,
      );
    }
    // A copy: Tensor.setData mishandles a contiguous view at a non-zero offset (it reads from offset 0).
    p.setData(vec.detach().narrow(0, pointer, n).clone().reshape([...p.shape]));
    pointer += n;
  }
}
