// Activation layers, as torch.nn.modules.activation.

import type { Tensor } from "@flint/autograd";
import { gelu, leakyRelu, logSoftmax, relu, silu, softmax } from "./_activation_ops.ts";
import { pyFloat } from "./_util.ts";
import { Module } from "./module.ts";

function inplaceOf(arg: boolean | { inplace?: boolean }): boolean {
  return typeof arg === "boolean" ? arg : arg.inplace ?? false;
}

/**
 * `max(x, 0)`, as `nn.ReLU` (`new nn.ReLU(true)` or `{ inplace: true }`
 * overwrites the input).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(String(new torch.nn.ReLU({ inplace: true })), new torch.nn.ReLU()(torch.tensor([-1, 2])).tolistSync()); // ReLU(inplace=True) [0, 2]
 * ```
 */
export class ReLU extends Module<[Tensor], Tensor> {
  /** whether the input is overwritten */
  readonly inplace: boolean;

  /** A ReLU, in place when asked. */
  constructor(inplace: boolean | { inplace?: boolean } = false) {
    super();
    this.inplace = inplaceOf(inplace);
  }

  /** `max(input, 0)`. */
  override forward(input: Tensor): Tensor {
    return relu(input, { inplace: this.inplace });
  }

  /** `inplace=True`, or nothing */
  override extraRepr(): string {
    return this.inplace ? "inplace=True" : "";
  }
}

/**
 * `x` where positive, `negativeSlope * x` elsewhere, as `nn.LeakyReLU`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const act = new torch.nn.LeakyReLU(0.2);
 * console.log(String(act), act(torch.tensor([-1, 2])).tolistSync()); // LeakyReLU(negative_slope=0.2) [-0.20000000298023224, 2]
 * ```
 */
export class LeakyReLU extends Module<[Tensor], Tensor> {
  /** slope for negative inputs */
  readonly negativeSlope: number;
  /** whether the input is overwritten */
  readonly inplace: boolean;

  /** A leaky ReLU with `negativeSlope` (default 0.01). */
  constructor(negativeSlope = 0.01, options: { inplace?: boolean } = {}) {
    super();
    this.negativeSlope = negativeSlope;
    this.inplace = options.inplace ?? false;
  }

  /** The leaky rectified input. */
  override forward(input: Tensor): Tensor {
    return leakyRelu(input, this.negativeSlope, { inplace: this.inplace });
  }

  /** `negative_slope=0.01` (and `, inplace=True`) */
  override extraRepr(): string {
    return `negative_slope=${pyFloat(this.negativeSlope)}${this.inplace ? ", inplace=True" : ""}`;
  }
}

/**
 * The Gaussian error linear unit, as `nn.GELU` (`"tanh"` for the tanh
 * approximation).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(String(new torch.nn.GELU()), String(new torch.nn.GELU("tanh"))); // GELU(approximate='none') GELU(approximate='tanh')
 * ```
 */
export class GELU extends Module<[Tensor], Tensor> {
  /** "none" (exact) or "tanh" */
  readonly approximate: "none" | "tanh";

  /** A GELU, exact unless `approximate` is "tanh". */
  constructor(approximate: "none" | "tanh" | { approximate?: "none" | "tanh" } = "none") {
    super();
    this.approximate = typeof approximate === "string" ? approximate : approximate.approximate ?? "none";
  }

  /** `input * Φ(input)`. */
  override forward(input: Tensor): Tensor {
    return gelu(input, { approximate: this.approximate });
  }

  /** `approximate='none'` */
  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

/**
 * `x * sigmoid(x)`, as `nn.SiLU`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(String(new torch.nn.SiLU()), new torch.nn.SiLU()(torch.zeros(2)).tolistSync()); // SiLU() [0, 0]
 * ```
 */
export class SiLU extends Module<[Tensor], Tensor> {
  /** whether the input is overwritten */
  readonly inplace: boolean;

  /** A SiLU, in place when asked. */
  constructor(inplace: boolean | { inplace?: boolean } = false) {
    super();
    this.inplace = inplaceOf(inplace);
  }

  /** `input * sigmoid(input)`. */
  override forward(input: Tensor): Tensor {
    return silu(input, { inplace: this.inplace });
  }

  /** `inplace=True`, or nothing */
  override extraRepr(): string {
    return this.inplace ? "inplace=True" : "";
  }
}

/**
 * `1 / (1 + exp(-x))`, as `nn.Sigmoid`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(new torch.nn.Sigmoid()(torch.zeros(1)).tolistSync()); // [0.5]
 * ```
 */
export class Sigmoid extends Module<[Tensor], Tensor> {
  /** The sigmoid of `input`. */
  override forward(input: Tensor): Tensor {
    return input.sigmoid();
  }
}

/**
 * The hyperbolic tangent, as `nn.Tanh`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(new torch.nn.Tanh()(torch.zeros(1)).tolistSync()); // [0]
 * ```
 */
export class Tanh extends Module<[Tensor], Tensor> {
  /** The tanh of `input`. */
  override forward(input: Tensor): Tensor {
    return input.tanh();
  }
}

/**
 * Softmax along `dim`, as `nn.Softmax`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const sm = new torch.nn.Softmax(1);
 * console.log(String(sm), sm(torch.zeros(1, 4)).tolistSync()); // Softmax(dim=1) [[0.25, 0.25, 0.25, 0.25]]
 * ```
 */
export class Softmax extends Module<[Tensor], Tensor> {
  /** the dim that sums to 1; null picks PyTorch's legacy choice, with a warning */
  readonly dim: number | null;

  /** A softmax along `dim`. */
  constructor(dim: number | null = null) {
    super();
    this.dim = dim;
  }

  /** The softmax of `input`. */
  override forward(input: Tensor): Tensor {
    return softmax(input, this.dim);
  }

  /** `dim=1` */
  override extraRepr(): string {
    return `dim=${this.dim ?? "None"}`;
  }
}

/**
 * Log of softmax along `dim`, as `nn.LogSoftmax`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const lsm = new torch.nn.LogSoftmax(-1);
 * console.log(String(lsm), [...lsm(torch.zeros(1, 2)).dataSync()].map((v) => v.toFixed(4))); // LogSoftmax(dim=-1) ["-0.6931", "-0.6931"]
 * ```
 */
export class LogSoftmax extends Module<[Tensor], Tensor> {
  /** the dim normalised over; null picks PyTorch's legacy choice, with a warning */
  readonly dim: number | null;

  /** A log-softmax along `dim`. */
  constructor(dim: number | null = null) {
    super();
    this.dim = dim;
  }

  /** The log-softmax of `input`. */
  override forward(input: Tensor): Tensor {
    return logSoftmax(input, this.dim);
  }

  /** `dim=-1` */
  override extraRepr(): string {
    return `dim=${this.dim ?? "None"}`;
  }
}
