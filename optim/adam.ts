// Adam and AdamW (decoupled weight decay), with AMSGrad and maximize, as torch.optim.Adam / AdamW.

import { fusedAdamStep_, keep, type Tensor, zerosLike } from "@flint/autograd";
import { Optimizer, type OptimizerParams, type ParamGroup } from "./optimizer.ts";
import { pyNumber } from "./_util.ts";

/** Options of {@linkcode Adam} and {@linkcode AdamW}, PyTorch's keyword arguments in camelCase. */
export interface AdamOptions {
  /** learning rate (default 1e-3) */
  lr?: number;
  /** decay rates of the first and second moment averages (default [0.9, 0.999]) */
  betas?: [number, number];
  /** added to the denominator for stability (default 1e-8) */
  eps?: number;
  /** weight decay: an L2 penalty for Adam (default 0), decoupled for AdamW (default 1e-2) */
  weightDecay?: number;
  /** use the AMSGrad variant, which keeps the maximum of the second moment (default false) */
  amsgrad?: boolean;
  /** maximize the objective instead of minimizing it (default false) */
  maximize?: boolean;
}

/** The per-parameter state of {@linkcode Adam} and {@linkcode AdamW}. */
export interface AdamState {
  /** steps taken, PyTorch's `step` (a host number here; PyTorch keeps a CPU scalar tensor) */
  step: number;
  /** running average of the gradient, `exp_avg` */
  expAvg: Tensor;
  /** running average of the squared gradient, `exp_avg_sq` */
  expAvgSq: Tensor;
  /** running maximum of `expAvgSq` (AMSGrad only), `max_exp_avg_sq` */
  maxExpAvgSq?: Tensor;
}

function adamDefaults(options: AdamOptions, weightDecay: number): Required<AdamOptions> {
  const defaults: Required<AdamOptions> = {
    lr: options.lr ?? 1e-3,
    betas: options.betas ? [options.betas[0], options.betas[1]] : [0.9, 0.999],
    eps: options.eps ?? 1e-8,
    weightDecay: options.weightDecay ?? weightDecay,
    amsgrad: options.amsgrad ?? false,
    maximize: options.maximize ?? false,
  };
  const [beta1, beta2] = defaults.betas;
  if (!(defaults.lr >= 0)) throw new RangeError(`Invalid learning rate: ${pyNumber(defaults.lr)}`);
  if (!(defaults.eps >= 0)) throw new RangeError(`Invalid epsilon value: ${pyNumber(defaults.eps)}`);
  if (!(beta1 >= 0 && beta1 < 1)) throw new RangeError(`Invalid beta parameter at index 0: ${pyNumber(beta1)}`);
  if (!(beta2 >= 0 && beta2 < 1)) throw new RangeError(`Invalid beta parameter at index 1: ${pyNumber(beta2)}`);
  if (!(defaults.weightDecay >= 0)) {
    throw new RangeError(`Invalid weight_decay value: ${pyNumber(defaults.weightDecay)}`);
  }
  return defaults;
}

/** The Adam update shared by Adam and AdamW (PyTorch's `_single_tensor_adam` / `_single_tensor_adamw`). */
function adamStep(
  state: Map<Tensor, AdamState>,
  params: Tensor[],
  group: ParamGroup & Required<AdamOptions>,
  decoupled: boolean,
): void {
  const { lr, eps, weightDecay, amsgrad, maximize } = group;
  const [beta1, beta2] = group.betas;
  for (const p of params) {
    let s = state.get(p);
    if (s === undefined) {
      s = { step: 0, expAvg: keep(zerosLike(p)), expAvgSq: keep(zerosLike(p)) };
      if (amsgrad) s.maxExpAvgSq = keep(zerosLike(p));
      state.set(p, s);
    }
    s.step += 1;
    if (amsgrad) s.maxExpAvgSq ??= keep(zerosLike(p));
    const fusedOptions = {
      lr,
      beta1,
      beta2,
      eps,
      weightDecay,
      decoupledWeightDecay: decoupled,
      amsgrad,
      maximize,
      step: s.step,
    };
    if (fusedAdamStep_(p, p.grad!, s.expAvg, s.expAvgSq, amsgrad ? s.maxExpAvgSq! : null, fusedOptions)) continue;
    let grad = maximize ? p.grad!.neg() : p.grad!;
    if (decoupled) p.mul_(1 - lr * weightDecay);
    else if (weightDecay !== 0) grad = grad.add(p, { alpha: weightDecay });
    s.expAvg.mul_(beta1).add_(grad, { alpha: 1 - beta1 });
    // addcmul_(grad, grad, value=1 - beta2): PyTorch multiplies (value * t1) * t2
    s.expAvgSq.mul_(beta2).add_(grad.mul(1 - beta2).mul(grad));
    const biasCorrection1 = 1 - beta1 ** s.step;
    const biasCorrection2 = 1 - beta2 ** s.step;
    const stepSize = lr / biasCorrection1;
    const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
    let second = s.expAvgSq;
    if (amsgrad) {
      s.maxExpAvgSq!.copy_(s.maxExpAvgSq!.maximum(s.expAvgSq));
      second = s.maxExpAvgSq!;
    }
    const denom = second.sqrt().div(biasCorrection2Sqrt).add_(eps);
    // addcdiv_(exp_avg, denom, value=-step_size): self + value * (t1 / t2)
    p.add_(s.expAvg.div(denom).mul(-stepSize));
  }
}

/**
 * Adam, as `torch.optim.Adam`: running averages of the gradient and its square with bias correction,
 * `p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)`; `weightDecay` adds an L2 penalty to
 * the gradient, `amsgrad` uses the running maximum of `v`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const w = torch.tensor([1, -1], { requiresGrad: true });
 * const opt = new torch.optim.Adam([w], { lr: 0.1 });
 * w.pow(2).sum().backward();
 * opt.step();
 * console.log([...w.dataSync()].map((v) => v.toFixed(4))); // [ "0.9000", "-0.9000" ]
 * ```
 */
export class Adam extends Optimizer<Required<AdamOptions>, AdamState> {
  /**
   * Creates an `Adam`.
   *
   * @param params tensors or parameter groups
   * @param options the defaults of every group
   * @throws {RangeError} "Invalid learning rate: ...", "Invalid epsilon value: ...", "Invalid beta parameter
   *   at index 0: ...", "Invalid weight_decay value: ..."
   *
   * @example
   * ```ts
   * import * as torch from "@flint/torch";
   *
   * const opt = new torch.optim.Adam([torch.zeros(1, { requiresGrad: true })], { betas: [0.8, 0.99] });
   * console.log(opt.defaults.betas, opt.defaults.lr); // [ 0.8, 0.99 ] 0.001
   * ```
   */
  constructor(params: OptimizerParams<Required<AdamOptions>>, options: AdamOptions = {}) {
    super(params, adamDefaults(options, 0));
  }

  /** One Adam update of `group`'s parameters. */
  protected override stepGroup(group: ParamGroup & Required<AdamOptions>): void {
    adamStep(this.state, this.paramsWithGrad(group), group, false);
  }
}

/**
 * AdamW, as `torch.optim.AdamW`: Adam with decoupled weight decay, `p *= 1 - lr * weightDecay` before the
 * Adam update (default `weightDecay` 1e-2).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const w = torch.tensor([1, -1], { requiresGrad: true });
 * const opt = new torch.optim.AdamW([w], { lr: 0.1, weightDecay: 0.5 });
 * w.pow(2).sum().backward();
 * opt.step();
 * console.log([...w.dataSync()].map((v) => v.toFixed(4))); // [ "0.8500", "-0.8500" ]
 * ```
 */
export class AdamW extends Optimizer<Required<AdamOptions>, AdamState> {
  /**
   * Creates an `AdamW`.
   *
   * @param params tensors or parameter groups
   * @param options the defaults of every group
   * @throws {RangeError} as {@linkcode Adam}
   *
   * @example
   * ```ts
   * import * as torch from "@flint/torch";
   *
   * const opt = new torch.optim.AdamW([torch.zeros(1, { requiresGrad: true })]);
   * console.log(opt.defaults.weightDecay); // 0.01
   * ```
   */
  constructor(params: OptimizerParams<Required<AdamOptions>>, options: AdamOptions = {}) {
    super(params, adamDefaults(options, 1e-2));
  }

  /** One AdamW update of `group`'s parameters. */
  protected override stepGroup(group: ParamGroup & Required<AdamOptions>): void {
    adamStep(this.state, this.paramsWithGrad(group), group, true);
  }
}
