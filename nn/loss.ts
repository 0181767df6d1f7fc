// Loss layers, as torch.nn.modules.loss: each holds its options (and its
// weights, as buffers in the state dict, where PyTorch keeps them).

import type { Tensor } from "@flint/autograd";
import {
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  crossEntropy,
  huberLoss,
  l1Loss,
  type LossOptions,
  mseLoss,
  nllLoss,
  smoothL1Loss,
} from "./_loss_ops.ts";
import { checkReduction, type Reduction } from "./_util.ts";

export type { LossOptions, Reduction };
import { Module } from "./module.ts";

/**
 * What every loss layer has (PyTorch's `_Loss`): a reduction, checked when
 * the loss is made.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const loss: torch.nn.Loss = new torch.nn.MSELoss({ reduction: "sum" });
 * console.log(loss.reduction, String(loss)); // sum MSELoss()
 * ```
 */
export abstract class Loss extends Module<[Tensor, Tensor], Tensor> {
  /** "mean", "sum" or "none" */
  readonly reduction: Reduction;

  /** A loss with `reduction` (default "mean"). */
  constructor(options: LossOptions = {}) {
    super();
    this.reduction = checkReduction(options.reduction ?? "mean");
  }
}

/**
 * Mean squared error, as `nn.MSELoss`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const loss = new torch.nn.MSELoss();
 * console.log(loss(torch.tensor([1, 2]), torch.tensor([1, 4])).itemSync()); // 2
 * ```
 */
export class MSELoss extends Loss {
  /** The loss of `input` against `target`. */
  override forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, { reduction: this.reduction });
  }
}

/**
 * Mean absolute error, as `nn.L1Loss`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(new torch.nn.L1Loss()(torch.tensor([1, 2]), torch.tensor([1, 4])).itemSync()); // 1
 * ```
 */
export class L1Loss extends Loss {
  /** The loss of `input` against `target`. */
  override forward(input: Tensor, target: Tensor): Tensor {
    return l1Loss(input, target, { reduction: this.reduction });
  }
}

/**
 * Smooth L1 loss, as `nn.SmoothL1Loss`: quadratic below `beta`, linear above.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(new torch.nn.SmoothL1Loss({ beta: 0.5 })(torch.tensor([0]), torch.tensor([3])).itemSync()); // 2.75
 * ```
 */
export class SmoothL1Loss extends Loss {
  /** where the loss turns linear */
  readonly beta: number;

  /** A smooth L1 loss with `beta` (default 1). */
  constructor(options: LossOptions & { beta?: number } = {}) {
    super(options);
    this.beta = options.beta ?? 1;
  }

  /** The loss of `input` against `target`. */
  override forward(input: Tensor, target: Tensor): Tensor {
    return smoothL1Loss(input, target, { reduction: this.reduction, beta: this.beta });
  }
}

/**
 * Huber loss, as `nn.HuberLoss`: quadratic below `delta`, linear above.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(new torch.nn.HuberLoss({ delta: 2 })(torch.tensor([0]), torch.tensor([3])).itemSync()); // 4
 * ```
 */
export class HuberLoss extends Loss {
  /** where the loss turns linear */
  readonly delta: number;

  /** A Huber loss with `delta` (default 1). */
  constructor(options: LossOptions & { delta?: number } = {}) {
    super(options);
    this.delta = options.delta ?? 1;
  }

  /** The loss of `input` against `target`. */
  override forward(input: Tensor, target: Tensor): Tensor {
    return huberLoss(input, target, { reduction: this.reduction, delta: this.delta });
  }
}

/** Options of {@linkcode NLLLoss} and {@linkcode CrossEntropyLoss}. */
export interface ClassLossOptions extends LossOptions {
  /** a weight per class `[C]` (kept as the buffer `weight`) */
  weight?: Tensor | null;
  /** targets equal to this are skipped (default -100) */
  ignoreIndex?: number;
}

/**
 * Negative log likelihood of int32 class indices, as `nn.NLLLoss` (pair it
 * with `nn.LogSoftmax(1)`).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const loss = new torch.nn.NLLLoss();
 * console.log(loss(torch.tensor([[-1, -2], [-3, -4]]), torch.tensor([1, 0], { dtype: "int32" })).itemSync()); // 2.5
 * ```
 */
export class NLLLoss extends Loss {
  /** targets equal to this are skipped */
  readonly ignoreIndex: number;
  /** the class weights (a buffer), or null */
  declare weight: Tensor | null;

  /** An NLL loss with the given options. */
  constructor(options: ClassLossOptions = {}) {
    super(options);
    this.ignoreIndex = options.ignoreIndex ?? -100;
    this.registerBuffer("weight", options.weight ?? null);
  }

  /** The loss of log-probabilities `input` against class indices `target`. */
  override forward(input: Tensor, target: Tensor): Tensor {
    return nllLoss(input, target, { weight: this.weight, ignoreIndex: this.ignoreIndex, reduction: this.reduction });
  }
}

/**
 * Cross-entropy of logits against int32 class indices or class
 * probabilities, as `nn.CrossEntropyLoss`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const loss = new torch.nn.CrossEntropyLoss({ labelSmoothing: 0.1 });
 * const logits = torch.tensor([[2, 0, 0]]);
 * console.log(loss(logits, torch.tensor([0], { dtype: "int32" })).itemSync().toFixed(4)); // 0.3729
 * ```
 */
export class CrossEntropyLoss extends Loss {
  /** targets equal to this are skipped */
  readonly ignoreIndex: number;
  /** mixing with the uniform distribution, 0 to 1 */
  readonly labelSmoothing: number;
  /** the class weights (a buffer), or null */
  declare weight: Tensor | null;

  /** A cross-entropy loss with the given options. */
  constructor(options: ClassLossOptions & { labelSmoothing?: number } = {}) {
    super(options);
    this.ignoreIndex = options.ignoreIndex ?? -100;
    this.labelSmoothing = options.labelSmoothing ?? 0;
    this.registerBuffer("weight", options.weight ?? null);
  }

  /** The loss of logits `input` against `target`. */
  override forward(input: Tensor, target: Tensor): Tensor {
    return crossEntropy(input, target, {
      weight: this.weight,
      ignoreIndex: this.ignoreIndex,
      reduction: this.reduction,
      labelSmoothing: this.labelSmoothing,
    });
  }
}

/**
 * Binary cross-entropy of probabilities, as `nn.BCELoss` (pair it with
 * `nn.Sigmoid()`, or use {@linkcode BCEWithLogitsLoss}).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(new torch.nn.BCELoss()(torch.tensor([0.5]), torch.tensor([1])).itemSync().toFixed(4)); // 0.6931
 * ```
 */
export class BCELoss extends Loss {
  /** the element weights (a buffer), or null */
  declare weight: Tensor | null;

  /** A BCE loss with an optional per-element `weight`. */
  constructor(options: LossOptions & { weight?: Tensor | null } = {}) {
    super(options);
    this.registerBuffer("weight", options.weight ?? null);
  }

  /** The loss of probabilities `input` against `target`. */
  override forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropy(input, target, { weight: this.weight, reduction: this.reduction });
  }
}

/**
 * Binary cross-entropy of logits, stable for any logit, as
 * `nn.BCEWithLogitsLoss`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const loss = new torch.nn.BCEWithLogitsLoss({ posWeight: torch.tensor([2]) });
 * console.log(loss(torch.tensor([[0]]), torch.tensor([[1]])).itemSync().toFixed(4)); // 1.3863
 * ```
 */
export class BCEWithLogitsLoss extends Loss {
  /** the element weights (a buffer), or null */
  declare weight: Tensor | null;
  /** the positive-example weights (a buffer), or null */
  declare posWeight: Tensor | null;

  /** A BCE-with-logits loss with optional `weight` and `posWeight`. */
  constructor(options: LossOptions & { weight?: Tensor | null; posWeight?: Tensor | null } = {}) {
    super(options);
    this.registerBuffer("weight", options.weight ?? null);
    this.registerBuffer("posWeight", options.posWeight ?? null);
  }

  /** The loss of logits `input` against `target`. */
  override forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target, {
      weight: this.weight,
      posWeight: this.posWeight,
      reduction: this.reduction,
    });
  }
}
