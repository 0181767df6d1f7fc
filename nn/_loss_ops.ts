// The loss functions of nn.functional, with PyTorch's formulas, reductions
// and messages. Most are compositions of differentiable ops (named as
// PyTorch's fused kernels); the binary cross-entropies are custom functions
// with PyTorch's own backward formulas, which stay finite where the
// composition would not (log clamped at -100, logits of any size).

import { autograd, type Tensor, where } from "@flint/autograd";
import { logSoftmax } from "./_activation_ops.ts";
import {
  canCheckValues,
  checkReduction,
  listShape,
  named,
  reduce,
  type Reduction,
  torchSize,
  warnOnce,
} from "./_util.ts";

/** Options of the losses that only reduce. */
export interface LossOptions {
  /** "mean" (default), "sum", or "none" for the element-wise losses */
  reduction?: Reduction;
}

/** Options of {@linkcode smoothL1Loss}. */
export interface SmoothL1LossOptions extends LossOptions {
  /** where the loss turns from quadratic to linear (default 1) */
  beta?: number;
}

/** Options of {@linkcode huberLoss}. */
export interface HuberLossOptions extends LossOptions {
  /** where the loss turns from quadratic to linear (default 1) */
  delta?: number;
}

/** Options of {@linkcode nllLoss}. */
export interface NllLossOptions extends LossOptions {
  /** a weight per class, `[C]` */
  weight?: Tensor | null;
  /** targets equal to this add nothing to the loss or its gradient (default -100) */
  ignoreIndex?: number;
}

/** Options of {@linkcode crossEntropy}. */
export interface CrossEntropyOptions extends NllLossOptions {
  /** mixes the target with the uniform distribution: 0 (default) to 1 */
  labelSmoothing?: number;
}

/** Options of {@linkcode binaryCrossEntropy}. */
export interface BinaryCrossEntropyOptions extends LossOptions {
  /** a weight per element, broadcast to the input */
  weight?: Tensor | null;
}

/** Options of {@linkcode binaryCrossEntropyWithLogits}. */
export interface BinaryCrossEntropyWithLogitsOptions extends BinaryCrossEntropyOptions {
  /** a weight of positive examples per class, broadcast along the last dim */
  posWeight?: Tensor | null;
}

// The regression losses broadcast a target of another shape, with PyTorch's warning; true when the sizes match.
function checkTargetSize(input: Tensor, target: Tensor): boolean {
  if (input.shape.length === target.shape.length && input.shape.every((d, i) => d === target.shape[i])) return true;
  warnOnce(
    `Using a target size (${torchSize(target.shape)}) that is different to the input size ` +
      `(${torchSize(input.shape)}). This will likely lead to incorrect results due to broadcasting. ` +
      "Please ensure they have the same size.",
  );
  return false;
}

/**
 * Mean squared error, `(input - target)²` reduced, as `F.mse_loss`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log(F.mseLoss(torch.tensor([1, 2]), torch.tensor([1, 4])).itemSync()); // 2
 * ```
 */
export function mseLoss(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  const reduction = checkReduction(options.reduction ?? "mean");
  if (!checkTargetSize(input, target)) {
    // A broadcast target: the composition sums each gradient back to its operand's shape.
    return named(reduce(input.sub(target).square(), reduction), "MseLossBackward0");
  }
  mseFn ??= autograd.defineFunction({
    name: "MseLossBackward0",
    forward(ctx, x: Tensor, y: Tensor, red: Reduction) {
      const diff = x.sub(y);
      // The difference is kept, where PyTorch keeps both operands: backward then needs no subtraction.
      ctx.saveForBackward(diff);
      ctx.data.reduction = red;
      ctx.data.targetGrad = y.requiresGrad;
      return reduce(diff.square(), red);
    },
    // PyTorch's mse_loss_backward: (input - target) * norm * grad, norm = 2 (2 / N for the mean), in that order.
    backward(ctx, g) {
      const [diff] = ctx.savedTensors;
      const gx = diff.mul(ctx.data.reduction === "mean" ? 2 / diff.numel() : 2).mul(g);
      return [gx, ctx.data.targetGrad ? gx.neg() : null, null];
    },
  });
  return mseFn.apply(input, target, reduction);
}

let mseFn: autograd.CustomFunction<[Tensor, Tensor, Reduction]> | undefined;

/**
 * Mean absolute error, `|input - target|` reduced, as `F.l1_loss`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log(F.l1Loss(torch.tensor([1, 2]), torch.tensor([1, 4]), { reduction: "sum" }).itemSync()); // 2
 * ```
 */
export function l1Loss(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  const reduction = checkReduction(options.reduction ?? "mean");
  checkTargetSize(input, target);
  return reduce(input.sub(target).abs(), reduction);
}

/**
 * Smooth L1 loss, as `F.smooth_l1_loss`: `0.5 z² / beta` where the absolute
 * error `z < beta`, `z - 0.5 beta` elsewhere.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log(F.smoothL1Loss(torch.tensor([0, 0]), torch.tensor([0.5, 3]), { reduction: "none" }).tolistSync()); // [0.125, 2.5]
 * ```
 */
export function smoothL1Loss(input: Tensor, target: Tensor, options: SmoothL1LossOptions = {}): Tensor {
  const reduction = checkReduction(options.reduction ?? "mean");
  const beta = options.beta ?? 1;
  if (beta < 0) throw new RangeError("smooth_l1_loss does not support negative values for beta.");
  checkTargetSize(input, target);
  const z = input.sub(target).abs();
  // With beta 0 the quadratic branch is never taken; leaving it out keeps its 0/0 off the tape.
  const loss = beta === 0 ? z : where(z.lt(beta), z.mul(z).mul(0.5).div(beta), z.sub(0.5 * beta));
  return named(reduce(loss, reduction), "SmoothL1LossBackward0");
}

/**
 * Huber loss, as `F.huber_loss`: `0.5 z²` where the absolute error
 * `z < delta`, `delta (z - 0.5 delta)` elsewhere.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log(F.huberLoss(torch.tensor([0, 0]), torch.tensor([0.5, 3]), { reduction: "none", delta: 2 }).tolistSync()); // [0.125, 4]
 * ```
 */
export function huberLoss(input: Tensor, target: Tensor, options: HuberLossOptions = {}): Tensor {
  const reduction = checkReduction(options.reduction ?? "mean");
  const delta = options.delta ?? 1;
  if (!(delta > 0)) throw new RangeError("huber_loss does not support non-positive values for delta.");
  checkTargetSize(input, target);
  const z = input.sub(target).abs();
  const loss = where(z.lt(delta), z.mul(z).mul(0.5), z.sub(0.5 * delta).mul(delta));
  return named(reduce(loss, reduction), "HuberLossBackward0");
}

const TORCH_TYPE = { float32: "Float", float64: "Double", int32: "Int", bool: "Bool" } as const;

function classIndexTypeError(target: Tensor): TypeError {
  return new TypeError(
    `expected scalar type Long but found ${TORCH_TYPE[target.dtype]}: class-index targets must be int32 ` +
      `(Flint's torch.long), e.g. torch.tensor(labels, { dtype: "int32" }); Flint numbers default to float32`,
  );
}

/** Checks the shapes of input [N, C, d...] / [C] and class-index target [N, d...] / [], as ATen's nll_loss does. */
function checkClassTarget(input: Tensor, target: Tensor): void {
  if (input.ndim < 1) throw new RangeError(`input tensor should be 1D or 2D, got ${listShape(input.shape)}`);
  if (input.ndim === 1 || input.ndim === 2) {
    if (target.ndim > 1) throw new RangeError("0D or 1D target tensor expected, multi-target not supported");
    const batch = input.ndim === 1 ? 0 : input.shape[0];
    const targetBatch = target.ndim === 0 ? 0 : target.shape[0];
    if (input.ndim === 1 ? target.ndim !== 0 : batch !== targetBatch) {
      throw new RangeError(
        `Expected input batch_size (${input.ndim === 1 ? 1 : batch}) to match target batch_size (${
          target.ndim === 0 ? 1 : targetBatch
        }).`,
      );
    }
    return;
  }
  if (target.ndim === input.ndim - 1 && target.shape[0] !== input.shape[0]) {
    throw new RangeError(
      `Expected input batch_size (${input.shape[0]}) to match target batch_size (${target.shape[0]}).`,
    );
  }
  const expected = [input.shape[0], ...input.shape.slice(2)];
  if (target.ndim !== expected.length || target.shape.some((d, i) => d !== expected[i])) {
    throw new RangeError(`Expected target size ${listShape(expected)}, got ${listShape(target.shape)}`);
  }
}

/**
 * Negative log likelihood of class indices, as `F.nll_loss`: `input` holds
 * log-probabilities `[N, C]`, `[N, C, d1, ...]` or `[C]`; `target` int32
 * class indices `[N]`, `[N, d1, ...]` or `[]`. The mean divides by the
 * summed weights of the targets that are not ignored.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * const logProbs = torch.tensor([[-1, -2], [-3, -4]]);
 * console.log(F.nllLoss(logProbs, torch.tensor([1, 0], { dtype: "int32" })).itemSync()); // 2.5
 * ```
 */
export function nllLoss(input: Tensor, target: Tensor, options: NllLossOptions = {}): Tensor {
  const reduction = checkReduction(options.reduction ?? "mean");
  const ignoreIndex = options.ignoreIndex ?? -100;
  const weight = options.weight ?? null;
  if (target.dtype !== "int32") throw classIndexTypeError(target);
  checkClassTarget(input, target);
  const classDim = input.ndim === 1 ? 0 : 1;
  const classes = input.shape[classDim];
  if (weight && (weight.ndim !== 1 || weight.numel() !== classes)) {
    throw new RangeError(
      `weight tensor should be defined either for all ${classes} classes or no classes but got weight tensor of ` +
        `shape: ${listShape(weight.shape)}`,
    );
  }
  if (canCheckValues(target)) {
    for (const v of target.dataSync()) {
      if (v !== ignoreIndex && (v < 0 || v >= classes)) throw new RangeError(`Target ${v} is out of bounds.`);
    }
  }
  const ignored = target.eq(ignoreIndex);
  const safeTarget = where(ignored, 0, target);
  const picked = input.gather(classDim, safeTarget.unsqueeze(classDim)).squeeze(classDim);
  const kept = ignored.logicalNot().to(input.dtype);
  const w = weight
    ? weight.to(input.dtype).indexSelect(0, safeTarget.reshape([-1])).reshape([...target.shape]).mul(kept)
    : kept;
  // Ignored entries are exactly 0 (not -0, nor NaN from a -inf they never read), with no gradient.
  const loss = where(ignored, 0, picked.mul(w).neg());
  const out = reduction === "none" ? loss : reduction === "sum" ? loss.sum() : loss.sum().div(w.sum());
  if (input.ndim <= 2) return named(out, "NllLossBackward0");
  return reduction === "none" && input.ndim !== 4 ? out : named(out, "NllLoss2DBackward0");
}

/**
 * Cross-entropy between logits and targets, as `F.cross_entropy`: `input`
 * holds unnormalised scores `[N, C]`, `[N, C, d1, ...]` or `[C]`; `target`
 * is int32 class indices (`[N]`, `[N, d1, ...]`, `[]`) or, in float, class
 * probabilities of the input's shape.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * const logits = torch.tensor([[2, 0, 0], [0, 0, 0]]);
 * const labels = torch.tensor([0, 2], { dtype: "int32" });
 * console.log(F.crossEntropy(logits, labels).itemSync().toFixed(4)); // 0.6691
 * ```
 */
export function crossEntropy(input: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const reduction = checkReduction(options.reduction ?? "mean");
  const labelSmoothing = options.labelSmoothing ?? 0;
  const ignoreIndex = options.ignoreIndex ?? -100;
  const weight = options.weight ?? null;
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    throw new RangeError(`label_smoothing must be between 0.0 and 1.0. Got: ${labelSmoothing}`);
  }
  const classDim = input.ndim === 1 ? 0 : 1;
  const classes = input.shape[classDim];
  const sameShape = input.ndim === target.ndim && input.shape.every((d, i) => d === target.shape[i]);
  if (target.dtype !== "int32") {
    if (!sameShape) {
      const classShape = input.ndim === 1 ? [] : [input.shape[0], ...input.shape.slice(2)];
      if (target.ndim === classShape.length && target.shape.every((d, i) => d === classShape[i])) {
        throw classIndexTypeError(target);
      }
      throw new RangeError(
        `cross_entropy: a float target holds class probabilities and must have the input's shape ` +
          `${listShape(input.shape)}, got ${listShape(target.shape)}; class indices must be int32`,
      );
    }
    return probabilityCrossEntropy(input, target, classDim, classes, weight, ignoreIndex, labelSmoothing, reduction);
  }
  const logProbs = logSoftmax(input, classDim);
  const nll = nllLoss(logProbs, target, { weight, ignoreIndex, reduction });
  if (labelSmoothing === 0) return nll;
  // PyTorch's smoothing term: -(log-probs [× weight]) summed over classes, ignored entries dropped.
  const ignored = target.eq(ignoreIndex);
  const weighted = weight ? logProbs.mul(weightAlongClasses(weight, input.ndim, classDim)) : logProbs;
  const smooth = where(ignored, 0, weighted.sum(classDim).neg());
  let ret: Tensor;
  if (reduction === "none") ret = smooth;
  else if (reduction === "sum") ret = smooth.sum();
  else if (weight) {
    const safe = where(ignored, 0, target).reshape([-1]);
    const kept = ignored.logicalNot().reshape([-1]).to(weight.dtype);
    ret = smooth.sum().div(weight.indexSelect(0, safe).mul(kept).sum());
  } else {
    ret = smooth.sum().div(ignored.logicalNot().to(input.dtype).sum());
  }
  return nll.mul(1 - labelSmoothing).add(ret.mul(labelSmoothing / classes));
}

function weightAlongClasses(weight: Tensor, ndim: number, classDim: number): Tensor {
  return weight.reshape(Array.from({ length: ndim }, (_, i) => (i === classDim ? weight.numel() : 1)));
}

function probabilityCrossEntropy(
  input: Tensor,
  target: Tensor,
  classDim: number,
  classes: number,
  weight: Tensor | null,
  ignoreIndex: number,
  labelSmoothing: number,
  reduction: Reduction,
): Tensor {
  if (ignoreIndex >= 0) throw new RangeError("ignore_index is not supported for floating point target");
  if (weight && (weight.ndim !== 1 || weight.numel() !== classes)) {
    throw new RangeError(
      `weight tensor should be defined either for all ${classes} classes or no classes but got weight tensor of ` +
        `shape: ${listShape(weight.shape)}`,
    );
  }
  const logProbs = logSoftmax(input, classDim);
  const t = labelSmoothing > 0 ? target.mul(1 - labelSmoothing).add(labelSmoothing / classes) : target;
  let terms = logProbs.mul(t);
  if (weight) terms = terms.mul(weightAlongClasses(weight, input.ndim, classDim));
  if (reduction === "none") return terms.sum(classDim).neg();
  if (reduction === "sum") return terms.sum().neg();
  return terms.sum().neg().div(input.numel() / classes);
}

type Bce = autograd.CustomFunction<[Tensor, Tensor, Tensor | null, Reduction]>;
let bceFn: Bce | undefined;

// Spreads the gradient of a reduced loss back over the elements.
function spread(g: Tensor, reduction: Reduction, shape: readonly number[]): Tensor {
  return reduction === "none" ? g : g.expand([...shape]);
}

/**
 * Binary cross-entropy between probabilities and targets, as
 * `F.binary_cross_entropy`: `-w (y log x + (1 - y) log(1 - x))`, with the
 * logs clamped at -100 as PyTorch clamps them.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log(F.binaryCrossEntropy(torch.tensor([0.5, 1]), torch.tensor([1, 0])).itemSync().toFixed(4)); // 50.3466
 * ```
 */
export function binaryCrossEntropy(input: Tensor, target: Tensor, options: BinaryCrossEntropyOptions = {}): Tensor {
  const reduction = checkReduction(options.reduction ?? "mean");
  if (input.ndim !== target.ndim || input.shape.some((d, i) => d !== target.shape[i])) {
    throw new RangeError(
      `Using a target size (${torchSize(target.shape)}) that is different to the input size ` +
        `(${torchSize(input.shape)}) is deprecated. Please ensure they have the same size.`,
    );
  }
  if (canCheckValues(input)) {
    for (const v of input.dataSync()) {
      if (!(v >= 0 && v <= 1)) throw new RangeError("all elements of input should be between 0 and 1");
    }
  }
  const weight = options.weight ? options.weight.expand([...input.shape]) : null;
  bceFn ??= autograd.defineFunction({
    name: "BinaryCrossEntropyBackward0",
    forward(ctx, x: Tensor, y: Tensor, w: Tensor | null, red: Reduction) {
      ctx.saveForBackward(x, y, ...(w ? [w] : []));
      ctx.data.reduction = red;
      const logX = x.log().clamp({ min: -100 });
      const log1mX = x.neg().log1p().clamp({ min: -100 });
      let loss = y.sub(1).mul(log1mX).sub(y.mul(logX));
      if (w) loss = loss.mul(w);
      return reduce(loss, red);
    },
    // PyTorch's binary_cross_entropy_backward (input) and _target_backward (target).
    backward(ctx, g) {
      const [x, y, w] = ctx.savedTensors;
      const red = ctx.data.reduction as Reduction;
      const grad = spread(g, red, x.shape);
      let gx = grad.mul(x.sub(y)).div(x.neg().add(1).mul(x).clamp({ min: 1e-12 }));
      let gy = x.neg().log1p().clamp({ min: -100 }).sub(x.log().clamp({ min: -100 })).mul(grad);
      if (w) {
        gx = gx.mul(w);
        gy = gy.mul(w);
      }
      if (red === "mean") {
        gx = gx.div(x.numel());
        gy = gy.div(x.numel());
      }
      return [gx, gy, null, null];
    },
  });
  return bceFn.apply(input, target, weight, reduction);
}

type BceLogits = autograd.CustomFunction<[Tensor, Tensor, Tensor | null, Tensor | null, Reduction]>;
let bceLogitsFn: BceLogits | undefined;

/** `log(sigmoid(x))`, computed stably: `min(x, 0) - log1p(exp(-|x|))`. */
function logSigmoid(x: Tensor): Tensor {
  return x.clamp({ max: 0 }).sub(x.abs().neg().exp().log1p());
}

/**
 * Binary cross-entropy on logits, as `F.binary_cross_entropy_with_logits`:
 * the sigmoid and the log-loss in one stable (log-sum-exp) form; `posWeight`
 * weighs the positive term per class.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log(F.binaryCrossEntropyWithLogits(torch.tensor([0, 200]), torch.tensor([1, 1])).itemSync().toFixed(4)); // 0.3466
 * ```
 */
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  options: BinaryCrossEntropyWithLogitsOptions = {},
): Tensor {
  const reduction = checkReduction(options.reduction ?? "mean");
  if (input.ndim !== target.ndim || input.shape.some((d, i) => d !== target.shape[i])) {
    throw new RangeError(
      `Target size (${torchSize(target.shape)}) must be the same as input size (${torchSize(input.shape)})`,
    );
  }
  bceLogitsFn ??= autograd.defineFunction({
    name: "BinaryCrossEntropyWithLogitsBackward0",
    forward(ctx, x: Tensor, y: Tensor, w: Tensor | null, pw: Tensor | null, red: Reduction) {
      ctx.saveForBackward(x, y);
      ctx.data.weight = w;
      ctx.data.posWeight = pw;
      ctx.data.reduction = red;
      // ATen's form: max_val = clamp(-x, 0); log(exp(-max_val) + exp(-x - max_val)) + max_val = log(1 + exp(-x)).
      const maxVal = x.neg().clamp({ min: 0 });
      const logTerm = maxVal.neg().exp().add(x.neg().sub(maxVal).exp()).log();
      let loss: Tensor;
      if (pw) {
        const logWeight = pw.sub(1).mul(y).add(1);
        loss = y.neg().add(1).mul(x).add(logWeight.mul(logTerm.add(maxVal)));
      } else {
        loss = y.neg().add(1).mul(x).add(maxVal).add(logTerm);
      }
      if (w) loss = loss.mul(w);
      return reduce(loss, red);
    },
    backward(ctx, g) {
      const [x, y] = ctx.savedTensors;
      const w = ctx.data.weight as Tensor | null;
      const pw = ctx.data.posWeight as Tensor | null;
      const red = ctx.data.reduction as Reduction;
      const grad = spread(g, red, x.shape);
      let gx: Tensor, gy: Tensor;
      if (pw) {
        const t = pw.mul(y);
        gx = t.add(1).sub(y).mul(x.sigmoid()).sub(t);
        gy = logSigmoid(x.neg()).sub(logSigmoid(x).mul(pw));
      } else {
        gx = x.sigmoid().sub(y);
        gy = x.neg();
      }
      gx = gx.mul(grad);
      gy = gy.mul(grad);
      if (w) {
        gx = gx.mul(w);
        gy = gy.mul(w);
      }
      if (red === "mean") {
        gx = gx.div(x.numel());
        gy = gy.div(x.numel());
      }
      return [gx, gy, null, null, null];
    },
  });
  return bceLogitsFn.apply(input, target, options.weight ?? null, options.posWeight ?? null, reduction);
}
