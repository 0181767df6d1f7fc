// Adagrad with learning-rate decay, as torch.optim.Adagrad.

import { fullLike, keep, type Tensor } from "@flint/autograd";
import { Optimizer, type OptimizerParams, type ParamGroup } from "./optimizer.ts";
import { pyNumber } from "./_util.ts";

/** Options of {@linkcode Adagrad}, PyTorch's keyword arguments in camelCase. */
export interface AdagradOptions {
  /** learning rate (default 1e-2) */
  lr?: number;
  /** learning-rate decay: step t uses `lr / (1 + (t - 1) * lrDecay)` (default 0) */
  lrDecay?: number;
  /** L2 penalty added to the gradient (default 0) */
  weightDecay?: number;
  /** the starting value of the sum of squared gradients (default 0) */
  initialAccumulatorValue?: number;
  /** added to the denominator for stability (default 1e-10) */
  eps?: number;
  /** maximize the objective instead of minimizing it (default false) */
  maximize?: boolean;
}

/** The per-parameter state of {@linkcode Adagrad}. */
export interface AdagradState {
  /** steps taken, PyTorch's `step` */
  step: number;
  /** the sum of squared gradients, `sum` */
  sum: Tensor;
}

/**
 * Adagrad, as `torch.optim.Adagrad`: `sum += g^2`, `p -= clr * g / (sqrt(sum) + eps)` with
 * `clr = lr / (1 + (t - 1) * lrDecay)`. As in PyTorch, every parameter's state exists from construction.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const w = torch.tensor([1, -1], { requiresGrad: true });
 * const opt = new torch.optim.Adagrad([w], { lr: 0.5 });
 * w.pow(2).sum().backward();
 * opt.step();
 * console.log([...w.dataSync()].map((v) => v.toFixed(4))); // [ "0.5000", "-0.5000" ]
 * ```
 */
export class Adagrad extends Optimizer<Required<AdagradOptions>, AdagradState> {
  /**
   * Creates an `Adagrad`.
   *
   * @param params tensors or parameter groups
   * @param options the defaults of every group
   * @throws {RangeError} "Invalid learning rate: ...", "Invalid lr_decay value: ...", "Invalid weight_decay
   *   value: ...", "Invalid initial_accumulator_value value: ...", "Invalid epsilon value: ..."
   *
   * @example
   * ```ts
   * import * as torch from "@flint/torch";
   *
   * const w = torch.zeros(2, { requiresGrad: true });
   * const opt = new torch.optim.Adagrad([w], { initialAccumulatorValue: 0.1 });
   * console.log(opt.state.get(w)!.sum.tolistSync()); // [ 0.10000000149011612, 0.10000000149011612 ]
   * ```
   */
  constructor(params: OptimizerParams<Required<AdagradOptions>>, options: AdagradOptions = {}) {
    const defaults: Required<AdagradOptions> = {
      lr: options.lr ?? 1e-2,
      lrDecay: options.lrDecay ?? 0,
      eps: options.eps ?? 1e-10,
      weightDecay: options.weightDecay ?? 0,
      initialAccumulatorValue: options.initialAccumulatorValue ?? 0,
      maximize: options.maximize ?? false,
    };
    if (!(defaults.lr >= 0)) throw new RangeError(`Invalid learning rate: ${pyNumber(defaults.lr)}`);
    if (!(defaults.lrDecay >= 0)) throw new RangeError(`Invalid lr_decay value: ${pyNumber(defaults.lrDecay)}`);
    if (!(defaults.weightDecay >= 0)) {
      throw new RangeError(`Invalid weight_decay value: ${pyNumber(defaults.weightDecay)}`);
    }
    if (!(defaults.initialAccumulatorValue >= 0)) {
      throw new RangeError(
        `Invalid initial_accumulator_value value: ${pyNumber(defaults.initialAccumulatorValue)}`,
      );
    }
    if (!(defaults.eps >= 0)) throw new RangeError(`Invalid epsilon value: ${pyNumber(defaults.eps)}`);
    super(params, defaults);
    for (const group of this.paramGroups) {
      for (const p of group.params) this.#initState(p, group);
    }
  }

  #initState(p: Tensor, group: ParamGroup & Required<AdagradOptions>): AdagradState {
    const s: AdagradState = { step: 0, sum: keep(fullLike(p, group.initialAccumulatorValue)) };
    this.state.set(p, s);
    return s;
  }

  /** One Adagrad update of `group`'s parameters (PyTorch's `_single_tensor_adagrad`). */
  protected override stepGroup(group: ParamGroup & Required<AdagradOptions>): void {
    const { lr, lrDecay, eps, weightDecay, maximize } = group;
    for (const p of this.paramsWithGrad(group)) {
      // PyTorch fails on groups added after construction; starting their state here is kinder.
      const s = this.state.get(p) ?? this.#initState(p, group);
      s.step += 1;
      let grad = maximize ? p.grad!.neg() : p.grad!;
      if (weightDecay !== 0) grad = grad.add(p, { alpha: weightDecay });
      const clr = lr / (1 + (s.step - 1) * lrDecay);
      s.sum.add_(grad.mul(grad));
      const std = s.sum.sqrt().add_(eps);
      p.add_(grad.div(std).mul(-clr));
    }
  }
}
