// nn.Parameter: a leaf tensor that modules recognise as a learnable weight.

import { formatShape } from "@flint/backend";
import { sealState, stateOf, Tensor } from "./tensor.ts";
import { empty } from "./ops/creation.ts";

/**
 * A tensor that is a module's learnable weight, as PyTorch's
 * `nn.Parameter`: it shares `data`'s storage, is a leaf, requires grad by
 * default, and is picked up by `module.parameters()` when assigned as a field.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const w = new torch.Parameter(torch.zeros(2));
 * console.log(w.requiresGrad, w instanceof torch.Tensor); // true true
 * console.log(String(w)); // Parameter containing:\ntensor([0., 0.], requires_grad=True)
 * ```
 */
export class Parameter extends Tensor {
  /** Wraps `data` (sharing its storage) as a parameter. */
  constructor(data: Tensor = empty(0), requiresGrad = true) {
    const s = stateOf(data);
    super(sealState({
      ...s,
      requiresGrad: false,
      grad: null,
      gradFn: null,
      base: s.base,
      baseGradFn: null,
      accumulator: null,
      retainsGrad: false,
      disposed: false,
    }));
    if (requiresGrad) this.requiresGrad_(true);
  }

  /** PyTorch's repr: "Parameter containing:" over the tensor. */
  override toString(): string {
    if (this.isDisposed) return `Parameter(<disposed>, shape=${formatShape(this.shape)})`;
    return `Parameter containing:\n${super.toString()}`;
  }
}
