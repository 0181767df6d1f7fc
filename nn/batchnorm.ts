// BatchNorm1d and BatchNorm2d, as torch.nn.modules.batchnorm.

import { empty, noGrad, ones, type Parameter, type Tensor, tensor, zeros } from "@flint/autograd";
import { batchNormWith } from "./_norm_ops.ts";
import { parameterOver, pyFloat, pyRepr } from "./_util.ts";
import { ones_, zeros_ } from "./init.ts";
import type { FactoryOptions } from "./linear.ts";
import { Module } from "./module.ts";

/** Options of the batch-norm layers. */
export interface BatchNormModuleOptions extends FactoryOptions {
  /** added to the variance for stability (default 1e-5) */
  eps?: number;
  /** weight of each new batch in the running averages (default 0.1); null averages all batches equally */
  momentum?: number | null;
  /** learn a per-channel scale and shift (default true) */
  affine?: boolean;
  /** keep running averages for evaluation (default true); without them batch statistics are always used */
  trackRunningStats?: boolean;
}

/**
 * What BatchNorm1d and BatchNorm2d share (PyTorch's `_BatchNorm`):
 * parameters `weight`, `bias`; buffers `running_mean`, `running_var`,
 * `num_batches_tracked` (int32); training normalises with the batch's
 * statistics and updates the running ones, evaluation uses the running ones.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const bn: torch.nn.BatchNormBase = new torch.nn.BatchNorm1d(4);
 * console.log(Object.keys(bn.stateDict())); // ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
 * ```
 */
export abstract class BatchNormBase extends Module<[Tensor], Tensor> {
  /** channels (C of [N, C, ...]) */
  readonly numFeatures: number;
  /** added to the variance */
  readonly eps: number;
  /** running-average weight; null for a cumulative average */
  momentum: number | null;
  /** whether weight and bias are learnt */
  readonly affine: boolean;
  /** whether running statistics are kept */
  readonly trackRunningStats: boolean;
  /** per-channel scale (gamma), or null when not affine */
  weight: Parameter | null;
  /** per-channel shift (beta), or null when not affine */
  bias: Parameter | null;
  /** running mean per channel (a buffer), or null */
  declare runningMean: Tensor | null;
  /** running unbiased variance per channel (a buffer), or null */
  declare runningVar: Tensor | null;
  /** training batches seen (an int32 buffer), or null */
  declare numBatchesTracked: Tensor | null;

  /** A batch norm over `numFeatures` channels. */
  constructor(numFeatures: number, options: BatchNormModuleOptions = {}) {
    super();
    this.numFeatures = numFeatures;
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    this.affine = options.affine ?? true;
    this.trackRunningStats = options.trackRunningStats ?? true;
    const factory = { dtype: options.dtype, device: options.device };
    this.weight = this.affine ? parameterOver(empty([numFeatures], factory)) : null;
    this.bias = this.affine ? parameterOver(empty([numFeatures], factory)) : null;
    if (this.trackRunningStats) {
      this.registerBuffer("runningMean", zeros([numFeatures], factory));
      this.registerBuffer("runningVar", ones([numFeatures], factory));
      this.registerBuffer("numBatchesTracked", tensor(0, { dtype: "int32", device: options.device }));
    } else {
      this.registerBuffer("runningMean", null);
      this.registerBuffer("runningVar", null);
      this.registerBuffer("numBatchesTracked", null);
    }
    this.resetParameters();
  }

  /** Running mean 0, running variance 1, no batches seen. */
  resetRunningStats(): void {
    noGrad(() => {
      this.runningMean?.zero_();
      this.runningVar?.fill_(1);
      this.numBatchesTracked?.zero_();
    });
  }

  /** Resets the running statistics, weight to ones and bias to zeros. */
  resetParameters(): void {
    this.resetRunningStats();
    if (this.weight) ones_(this.weight);
    if (this.bias) zeros_(this.bias);
  }

  /** Throws when the input has the wrong number of dims for this layer. */
  protected abstract checkInputDim(input: Tensor): void;

  /** Normalises `input` per channel. */
  override forward(input: Tensor): Tensor {
    this.checkInputDim(input);
    let factor: number | Tensor = this.momentum ?? 0;
    if (this.training && this.trackRunningStats && this.numBatchesTracked) {
      const count = this.numBatchesTracked;
      noGrad(() => count.add_(1));
      // A cumulative average weighs batch n by 1/n; as a tensor it needs no read of the count.
      if (this.momentum === null) factor = noGrad(() => count.to(input.dtype).reciprocal());
    }
    const useBatchStats = this.training || (this.runningMean === null && this.runningVar === null);
    const keepRunning = !this.training || this.trackRunningStats;
    return batchNormWith(
      input,
      keepRunning ? this.runningMean : null,
      keepRunning ? this.runningVar : null,
      { weight: this.weight, bias: this.bias, training: useBatchStats, momentum: factor, eps: this.eps },
    );
  }

  /**
   * Fills `num_batches_tracked` with 0 when a checkpoint lacks it, as
   * PyTorch's loader does for older files (torchvision's released weights).
   */
  protected override fillMissingState(name: string, t: Tensor): boolean {
    if (name !== "num_batches_tracked") return false;
    noGrad(() => t.zero_());
    return true;
  }

  /** `64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True` */
  override extraRepr(): string {
    return `${this.numFeatures}, eps=${pyFloat(this.eps)}, momentum=${
      this.momentum === null ? "None" : pyFloat(this.momentum)
    }, affine=${pyRepr(this.affine)}, track_running_stats=${pyRepr(this.trackRunningStats)}`;
  }
}

/**
 * Batch normalization over `[N, C]` or `[N, C, L]`, as `nn.BatchNorm1d`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const bn = new torch.nn.BatchNorm1d(2);
 * const y = bn(torch.tensor([[1, 10], [3, 30]]));
 * console.log((y.tolistSync() as number[][])[0], bn.runningMean!.tolistSync()); // [-0.9999949932098389, -0.9999999403953552] [0.20000000298023224, 2]
 * ```
 */
export class BatchNorm1d extends BatchNormBase {
  /** Requires 2-d or 3-d input. */
  protected checkInputDim(input: Tensor): void {
    if (input.ndim !== 2 && input.ndim !== 3) {
      throw new RangeError(`expected 2D or 3D input (got ${input.ndim}D input)`);
    }
  }
}

/**
 * Batch normalization over `[N, C, H, W]`, as `nn.BatchNorm2d`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const bn = new torch.nn.BatchNorm2d(64);
 * console.log(String(bn)); // BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
 * console.log(bn.eval()(torch.ones(1, 64, 2, 2)).index(0, 0, 0, 0).itemSync().toFixed(4)); // 1.0000
 * ```
 */
export class BatchNorm2d extends BatchNormBase {
  /** Requires 4-d input. */
  protected checkInputDim(input: Tensor): void {
    if (input.ndim !== 4) throw new RangeError(`expected 4D input (got ${input.ndim}D input)`);
  }
}
