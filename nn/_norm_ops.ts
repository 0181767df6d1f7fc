// Batch and layer normalization for nn.functional. Training-mode batch norm
// and layer norm are custom autograd functions with PyTorch's closed-form
// backward (about a third of the passes over the data that differentiating
// the composition takes); when the backward itself is recorded (createGraph),
// the statistics are recomputed from the saved input with differentiable ops,
// so higher-order gradients stay exact. Evaluation-mode batch norm is
// `x * alpha + beta` per channel, as PyTorch's CPU kernel computes it.

import { autograd, fusedChannelAffine, isGradEnabled, noGrad, type Tensor } from "@flint/autograd";
import { listShape, named, torchSize } from "./_util.ts";

/** Options of {@linkcode batchNorm}. */
export interface BatchNormOptions {
  /** per-channel scale (gamma) */
  weight?: Tensor | null;
  /** per-channel shift (beta) */
  bias?: Tensor | null;
  /** use the batch's statistics and update the running ones (default false) */
  training?: boolean;
  /** weight of the new batch in the running averages (default 0.1) */
  momentum?: number;
  /** added to the variance for stability (default 1e-5) */
  eps?: number;
}

/** `shape` with every dim but the channel dim (1) collapsed to 1, for broadcasting per-channel values. */
function channelShape(ndim: number, channels: number): number[] {
  return Array.from({ length: ndim }, (_, i) => (i === 1 ? channels : 1));
}

/** Mean and 1/std over `dims` (kept), biased variance as normalization uses. */
function moments(x: Tensor, dims: number[], eps: number): { mean: Tensor; variance: Tensor; invstd: Tensor } {
  const mean = x.mean(dims, { keepdim: true });
  const variance = x.sub(mean).square().mean(dims, { keepdim: true });
  return { mean, variance, invstd: variance.add(eps).rsqrt() };
}

interface BatchStats {
  mean?: Tensor;
  variance?: Tensor;
}

type BatchNormTrain = autograd.CustomFunction<[Tensor, Tensor | null, Tensor | null, number, BatchStats]>;
let batchNormTrainFn: BatchNormTrain | undefined;

function batchNormTrain(): BatchNormTrain {
  batchNormTrainFn ??= autograd.defineFunction({
    name: "NativeBatchNormBackward0",
    forward(ctx, x: Tensor, w: Tensor | null, b: Tensor | null, eps: number, stats: BatchStats) {
      const shape = channelShape(x.ndim, x.shape[1]);
      const dims = [...x.shape.keys()].filter((d) => d !== 1);
      const { mean, variance, invstd } = moments(x, dims, eps);
      stats.mean = mean;
      stats.variance = variance;
      ctx.saveForBackward(x, ...(w ? [w] : []));
      Object.assign(ctx.data, {
        mean,
        invstd,
        eps,
        shape,
        dims,
        needs: [x.requiresGrad, w?.requiresGrad, b?.requiresGrad],
      });
      // PyTorch's transform: output = input * alpha + beta, alpha = invstd * weight, beta = bias - mean * alpha.
      const alpha = w ? invstd.mul(w.reshape(shape)) : invstd;
      const beta = b ? b.reshape(shape).sub(mean.mul(alpha)) : mean.mul(alpha).neg();
      return x.mul(alpha).add(beta);
    },
    backward(ctx, g) {
      const [x, w] = ctx.savedTensors;
      const { shape, dims, eps } = ctx.data as { shape: number[]; dims: number[]; eps: number };
      const [needX, needW, needB] = ctx.data.needs as boolean[];
      // Recorded backward (createGraph): statistics as differentiable functions of x.
      const { mean, invstd } = isGradEnabled() ? moments(x, dims, eps) : ctx.data as { mean: Tensor; invstd: Tensor };
      const count = x.numel() / x.shape[1];
      const xhat = x.sub(mean).mul(invstd);
      const gb = g.sum(dims, { keepdim: true });
      const gw = g.mul(xhat).sum(dims, { keepdim: true });
      let gx: Tensor | null = null;
      if (needX) {
        // (g - mean(g) - xhat * mean(g * xhat)) * invstd * weight
        const a = w ? invstd.mul(w.reshape(shape)) : invstd;
        gx = g.mul(a).sub(xhat.mul(a.mul(gw).div(count))).sub(a.mul(gb).div(count));
      }
      const c = x.shape[1];
      return [gx, needW ? gw.reshape([c]) : null, needB ? gb.reshape([c]) : null, null, null];
    },
  });
  return batchNormTrainFn;
}

/**
 * Batch normalization, as `F.batch_norm`: per channel (dim 1), subtract the
 * mean and divide by the standard deviation, then scale and shift. Training
 * uses the batch's statistics (biased variance) and updates the running ones
 * in place (with the unbiased variance); otherwise the running ones are used.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * const runningMean = torch.zeros(1), runningVar = torch.ones(1);
 * const y = F.batchNorm(torch.tensor([[1], [3]]), runningMean, runningVar, { training: true });
 * console.log(y.tolistSync(), runningMean.tolistSync()); // [[-0.9999949932098389], [0.9999949932098389]] [0.20000000298023224]
 * ```
 */
export function batchNorm(
  input: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  options: BatchNormOptions = {},
): Tensor {
  return batchNormWith(input, runningMean, runningVar, { ...options, momentum: options.momentum ?? 0.1 });
}

/** batchNorm whose momentum may be a 0-d tensor (the cumulative average of `momentum: null` modules). */
export function batchNormWith(
  input: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  options: Omit<BatchNormOptions, "momentum"> & { momentum: number | Tensor },
): Tensor {
  const weight = options.weight ?? null;
  const bias = options.bias ?? null;
  const momentum = options.momentum;
  const training = options.training ?? false;
  const eps = options.eps ?? 1e-5;
  if (input.ndim < 2) {
    throw new RangeError(`batch_norm: expected an input of at least 2 dims [N, C, *], got ${listShape(input.shape)}`);
  }
  const channels = input.shape[1];
  const count = input.numel() / channels;
  if (training && count === 1) {
    throw new RangeError(
      `Expected more than 1 value per channel when training, got input size ${torchSize(input.shape)}`,
    );
  }
  const named4 = [["running_mean", runningMean], ["running_var", runningVar], ["weight", weight], ["bias", bias]];
  for (const [name, t] of named4 as [string, Tensor | null][]) {
    if (t && t.numel() !== channels) {
      throw new RangeError(`${name} should contain ${channels} elements not ${t.numel()}`);
    }
  }
  if (!training && (!runningMean || !runningVar)) {
    throw new TypeError(`${runningMean ? "running_var" : "running_mean"} must be defined in evaluation mode`);
  }
  if (training) {
    const stats: BatchStats = {};
    const out = batchNormTrain().apply(input, weight, bias, eps, stats);
    if (runningMean && runningVar) {
      noGrad(() => {
        const keep = typeof momentum === "number" ? 1 - momentum : momentum.neg().add(1);
        runningMean.mul_(keep).add_(stats.mean!.reshape([channels]).mul(momentum));
        runningVar.mul_(keep).add_(stats.variance!.reshape([channels]).mul(count / (count - 1)).mul(momentum));
      });
    }
    return out;
  }
  // Evaluation: constants per channel, so the composition is already two passes (and its gradient two more);
  // without a gradient to record, the backend's fused kernel makes them one.
  const shape = channelShape(input.ndim, channels);
  const invstd = runningVar!.add(eps).rsqrt();
  const alpha = weight ? invstd.mul(weight) : invstd;
  const beta = bias ? bias.sub(runningMean!.mul(alpha)) : runningMean!.mul(alpha).neg();
  const fused = fusedChannelAffine(input, alpha.reshape([channels]), beta.reshape([channels]));
  if (fused) return fused;
  return named(input.mul(alpha.reshape(shape)).add(beta.reshape(shape)), "NativeBatchNormBackward0");
}

/** Options of {@linkcode layerNorm}. */
export interface LayerNormOptions {
  /** elementwise scale, of the normalized shape */
  weight?: Tensor | null;
  /** elementwise shift, of the normalized shape */
  bias?: Tensor | null;
  /** added to the variance for stability (default 1e-5) */
  eps?: number;
}

type LayerNormFn = autograd.CustomFunction<[Tensor, Tensor | null, Tensor | null, number, number]>;
let layerNormFn: LayerNormFn | undefined;

function layerNormOp(): LayerNormFn {
  layerNormFn ??= autograd.defineFunction({
    name: "NativeLayerNormBackward0",
    forward(ctx, x: Tensor, w: Tensor | null, b: Tensor | null, k: number, eps: number) {
      const dims = Array.from({ length: k }, (_, i) => x.ndim - k + i);
      const { mean, invstd } = moments(x, dims, eps);
      ctx.saveForBackward(x, ...(w ? [w] : []));
      Object.assign(ctx.data, { mean, invstd, eps, dims, needs: [x.requiresGrad, w?.requiresGrad, b?.requiresGrad] });
      let out = x.sub(mean).mul(invstd);
      if (w) out = out.mul(w);
      if (b) out = out.add(b);
      return out;
    },
    backward(ctx, g) {
      const [x, w] = ctx.savedTensors;
      const { dims, eps } = ctx.data as { dims: number[]; eps: number };
      const [needX, needW, needB] = ctx.data.needs as boolean[];
      const { mean, invstd } = isGradEnabled() ? moments(x, dims, eps) : ctx.data as { mean: Tensor; invstd: Tensor };
      const xhat = x.sub(mean).mul(invstd);
      const lead = Array.from({ length: x.ndim - dims.length }, (_, i) => i);
      let gx: Tensor | null = null;
      if (needX) {
        // (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat)) * invstd, gxhat = g * weight
        const gxhat = w ? g.mul(w) : g;
        const m1 = gxhat.mean(dims, { keepdim: true });
        const m2 = gxhat.mul(xhat).mean(dims, { keepdim: true });
        gx = gxhat.sub(m1).sub(xhat.mul(m2)).mul(invstd);
      }
      const gw = needW ? g.mul(xhat).sum(lead) : null;
      const gb = needB ? g.sum(lead) : null;
      return [gx, gw, gb, null, null];
    },
  });
  return layerNormFn;
}

/**
 * Layer normalization over the last dims (`normalizedShape`), as
 * `F.layer_norm`: subtract the mean, divide by the standard deviation
 * (biased), then scale and shift.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log(F.layerNorm(torch.tensor([[1, 3]]), [2]).tolistSync()); // [[-0.9999949932098389, 0.9999949932098389]]
 * ```
 */
export function layerNorm(
  input: Tensor,
  normalizedShape: number | readonly number[],
  options: LayerNormOptions = {},
): Tensor {
  const shape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
  const k = shape.length;
  const lead = input.ndim - k;
  if (lead < 0 || shape.some((s, i) => input.shape[lead + i] !== s)) {
    throw new RangeError(
      `Given normalized_shape=${listShape(shape)}, expected input with shape [*, ${shape.join(", ")}], ` +
        `but got input of size${listShape(input.shape)}`,
    );
  }
  for (const [name, t] of [["weight", options.weight], ["bias", options.bias]] as const) {
    if (t && (t.ndim !== k || t.shape.some((s, i) => s !== shape[i]))) {
      throw new RangeError(
        `Expected ${name} to be of same shape as normalized_shape, but got ${name} of shape ` +
          `${listShape(t.shape)} and normalized_shape = ${listShape(shape)}`,
      );
    }
  }
  return layerNormOp().apply(input, options.weight ?? null, options.bias ?? null, k, options.eps ?? 1e-5);
}
