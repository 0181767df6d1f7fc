// Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay, as torch.optim.SGD.

import { fusedSgdStep_, keep, type Tensor, zerosLike } from "@flint/autograd";
import { Optimizer, type OptimizerParams, type ParamGroup } from "./optimizer.ts";
import { pyNumber } from "./_util.ts";

/** Options of {@linkcode SGD}, PyTorch's keyword arguments in camelCase. */
export interface SGDOptions {
  /** learning rate (default 1e-3, as in PyTorch 2) */
  lr?: number;
  /** momentum factor (default 0) */
  momentum?: number;
  /** dampening of the momentum (default 0) */
  dampening?: number;
  /** L2 penalty added to the gradient (default 0) */
  weightDecay?: number;
  /** Nesterov momentum (default false) */
  nesterov?: boolean;
  /** maximize the objective instead of minimizing it (default false) */
  maximize?: boolean;
}

/** The per-parameter state of {@linkcode SGD}: the momentum buffer once momentum is used. */
export interface SGDState {
  /** the velocity, PyTorch's `momentum_buffer` */
  momentumBuffer?: Tensor;
}

/**
 * Stochastic gradient descent, as `torch.optim.SGD`, with PyTorch's update: `g = grad (+ weightDecay * p)`;
 * with momentum, `buf = g` on the first step and `buf = momentum * buf + (1 - dampening) * g` after, and
 * `g = buf` (or `g + momentum * buf` with Nesterov); then `p -= lr * g`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const w = torch.tensor([1, -1], { requiresGrad: true });
 * const opt = new torch.optim.SGD([w], { lr: 0.1, momentum: 0.9 });
 * for (let i = 0; i < 3; i++) {
 *   opt.zeroGrad();
 *   w.pow(2).sum().backward();
 *   opt.step();
 * }
 * console.log([...w.dataSync()].map((v) => v.toFixed(4))); // [ "0.0620", "-0.0620" ]
 * ```
 */
export class SGD extends Optimizer<Required<SGDOptions>, SGDState> {
  /**
   * Creates a `SGD`.
   *
   * @param params tensors or parameter groups
   * @param options the defaults of every group
   * @throws {RangeError} "Invalid learning rate: -1", "Invalid momentum value: ...", "Invalid weight_decay
   *   value: ...", "Nesterov momentum requires a momentum and zero dampening"
   *
   * @example
   * ```ts
   * import * as torch from "@flint/torch";
   *
   * const opt = new torch.optim.SGD([torch.zeros(1, { requiresGrad: true })], { lr: 0.1, nesterov: true, momentum: 0.9 });
   * console.log(opt.defaults.nesterov); // true
   * ```
   */
  constructor(params: OptimizerParams<Required<SGDOptions>>, options: SGDOptions = {}) {
    const defaults: Required<SGDOptions> = {
      lr: options.lr ?? 1e-3,
      momentum: options.momentum ?? 0,
      dampening: options.dampening ?? 0,
      weightDecay: options.weightDecay ?? 0,
      nesterov: options.nesterov ?? false,
      maximize: options.maximize ?? false,
    };
    if (defaults.lr < 0) throw new RangeError(`Invalid learning rate: ${pyNumber(defaults.lr)}`);
    if (defaults.momentum < 0) throw new RangeError(`Invalid momentum value: ${pyNumber(defaults.momentum)}`);
    if (defaults.weightDecay < 0) {
      throw new RangeError(`Invalid weight_decay value: ${pyNumber(defaults.weightDecay)}`);
    }
    if (defaults.nesterov && (defaults.momentum <= 0 || defaults.dampening !== 0)) {
      throw new RangeError("Nesterov momentum requires a momentum and zero dampening");
    }
    super(params, defaults);
  }

  /** One SGD update of `group`'s parameters (PyTorch's `_single_tensor_sgd`). */
  protected override stepGroup(group: ParamGroup & Required<SGDOptions>): void {
    const { lr, momentum, dampening, weightDecay, nesterov, maximize } = group;
    for (const p of this.paramsWithGrad(group)) {
      if (this.#fusedStep(p, group)) continue;
      let d = maximize ? p.grad!.neg() : p.grad!;
      if (weightDecay !== 0) d = d.add(p, { alpha: weightDecay });
      if (momentum !== 0) {
        let state = this.state.get(p);
        if (state === undefined) this.state.set(p, state = {});
        let buf = state.momentumBuffer;
        // PyTorch 1.13 saves a null buffer for momentum-free groups
        if (buf === undefined || buf === null) {
          buf = keep(d.clone());
          state.momentumBuffer = buf;
        } else {
          buf.mul_(momentum).add_(d, { alpha: 1 - dampening });
        }
        d = nesterov ? d.add(buf, { alpha: momentum }) : buf;
      }
      p.add_(d, { alpha: -lr });
    }
  }

  /** The update with the backend's fused kernel, when it has one; false (nothing changed) otherwise. */
  #fusedStep(p: Tensor, group: ParamGroup & Required<SGDOptions>): boolean {
    const { lr, momentum, dampening, weightDecay, nesterov, maximize } = group;
    const existing = momentum !== 0 ? this.state.get(p)?.momentumBuffer ?? null : null;
    const firstStep = momentum !== 0 && existing === null;
    // The kernel sets a first step's buffer to the gradient; it needs the storage to write into.
    const buffer = firstStep ? zerosLike(p) : existing;
    const options = { lr, momentum, dampening, weightDecay, nesterov, maximize, firstStep };
    if (!fusedSgdStep_(p, p.grad!, buffer, options)) {
      if (firstStep) buffer!.dispose();
      return false;
    }
    if (firstStep) {
      let state = this.state.get(p);
      if (state === undefined) this.state.set(p, state = {});
      state.momentumBuffer = keep(buffer!);
    }
    return true;
  }
}
