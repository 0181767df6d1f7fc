// RMSprop (plain or centered, with momentum), as torch.optim.RMSprop.

import { keep, type Tensor, zerosLike } from "@flint/autograd";
import { Optimizer, type OptimizerParams, type ParamGroup } from "./optimizer.ts";
import { pyNumber } from "./_util.ts";

/** Options of {@linkcode RMSprop}, PyTorch's keyword arguments in camelCase. */
export interface RMSpropOptions {
  /** learning rate (default 1e-2) */
  lr?: number;
  /** smoothing constant of the squared-gradient average (default 0.99) */
  alpha?: number;
  /** added to the denominator for stability (default 1e-8) */
  eps?: number;
  /** L2 penalty added to the gradient (default 0) */
  weightDecay?: number;
  /** momentum factor (default 0) */
  momentum?: number;
  /** normalize by the estimated variance of the gradient instead of its second moment (default false) */
  centered?: boolean;
  /** maximize the objective instead of minimizing it (default false) */
  maximize?: boolean;
}

/** The per-parameter state of {@linkcode RMSprop}. */
export interface RMSpropState {
  /** steps taken, PyTorch's `step` */
  step: number;
  /** running average of the squared gradient, `square_avg` */
  squareAvg: Tensor;
  /** the momentum buffer (momentum > 0 only), `momentum_buffer` */
  momentumBuffer?: Tensor;
  /** running average of the gradient (centered only), `grad_avg` */
  gradAvg?: Tensor;
}

/**
 * RMSprop, as `torch.optim.RMSprop`: `v = alpha * v + (1 - alpha) * g^2`, and `p -= lr * g / (sqrt(v) + eps)`;
 * `centered` subtracts the squared running mean of the gradient from `v`, `momentum` accumulates the
 * normalized gradient in a buffer first.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const w = torch.tensor([1, -1], { requiresGrad: true });
 * const opt = new torch.optim.RMSprop([w], { lr: 0.01 });
 * w.pow(2).sum().backward();
 * opt.step();
 * console.log([...w.dataSync()].map((v) => v.toFixed(4))); // [ "0.9000", "-0.9000" ]
 * ```
 */
export class RMSprop extends Optimizer<Required<RMSpropOptions>, RMSpropState> {
  /**
   * Creates a `RMSprop`.
   *
   * @param params tensors or parameter groups
   * @param options the defaults of every group
   * @throws {RangeError} "Invalid learning rate: ...", "Invalid epsilon value: ...", "Invalid momentum value:
   *   ...", "Invalid weight_decay value: ...", "Invalid alpha value: ..."
   *
   * @example
   * ```ts
   * import * as torch from "@flint/torch";
   *
   * const opt = new torch.optim.RMSprop([torch.zeros(1, { requiresGrad: true })], { centered: true });
   * console.log(opt.defaults.alpha, opt.defaults.centered); // 0.99 true
   * ```
   */
  constructor(params: OptimizerParams<Required<RMSpropOptions>>, options: RMSpropOptions = {}) {
    const defaults: Required<RMSpropOptions> = {
      lr: options.lr ?? 1e-2,
      momentum: options.momentum ?? 0,
      alpha: options.alpha ?? 0.99,
      eps: options.eps ?? 1e-8,
      centered: options.centered ?? false,
      weightDecay: options.weightDecay ?? 0,
      maximize: options.maximize ?? false,
    };
    if (!(defaults.lr >= 0)) throw new RangeError(`Invalid learning rate: ${pyNumber(defaults.lr)}`);
    if (!(defaults.eps >= 0)) throw new RangeError(`Invalid epsilon value: ${pyNumber(defaults.eps)}`);
    if (!(defaults.momentum >= 0)) throw new RangeError(`Invalid momentum value: ${pyNumber(defaults.momentum)}`);
    if (!(defaults.weightDecay >= 0)) {
      throw new RangeError(`Invalid weight_decay value: ${pyNumber(defaults.weightDecay)}`);
    }
    if (!(defaults.alpha >= 0)) throw new RangeError(`Invalid alpha value: ${pyNumber(defaults.alpha)}`);
    super(params, defaults);
  }

  /** One RMSprop update of `group`'s parameters (PyTorch's `_single_tensor_rmsprop`). */
  protected override stepGroup(group: ParamGroup & Required<RMSpropOptions>): void {
    const { lr, alpha, eps, weightDecay, momentum, centered, maximize } = group;
    for (const p of this.paramsWithGrad(group)) {
      let s = this.state.get(p);
      if (s === undefined) {
        s = { step: 0, squareAvg: keep(zerosLike(p)) };
        if (momentum > 0) s.momentumBuffer = keep(zerosLike(p));
        if (centered) s.gradAvg = keep(zerosLike(p));
        this.state.set(p, s);
      }
      s.step += 1;
      let grad = maximize ? p.grad!.neg() : p.grad!;
      if (weightDecay !== 0) grad = grad.add(p, { alpha: weightDecay });
      s.squareAvg.mul_(alpha).add_(grad.mul(1 - alpha).mul(grad));
      let avg: Tensor;
      if (centered) {
        s.gradAvg ??= keep(zerosLike(p));
        s.gradAvg.mul_(alpha).add_(grad, { alpha: 1 - alpha });
        // square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
        avg = s.squareAvg.add(s.gradAvg.mul(-1).mul(s.gradAvg)).sqrt();
      } else {
        avg = s.squareAvg.sqrt();
      }
      avg = avg.add_(eps);
      if (momentum > 0) {
        s.momentumBuffer ??= keep(zerosLike(p));
        s.momentumBuffer.mul_(momentum).add_(grad.div(avg));
        p.add_(s.momentumBuffer, { alpha: -lr });
      } else {
        p.add_(grad.div(avg).mul(-lr));
      }
    }
  }
}
