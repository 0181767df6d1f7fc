// Dropout, as torch.nn.modules.dropout.

import type { Tensor } from "@flint/autograd";
import { dropout } from "./_layer_ops.ts";
import { pyFloat, pyRepr } from "./_util.ts";
import { Module } from "./module.ts";

/**
 * In training, zeroes each element with probability `p` and scales the rest
 * by `1 / (1 - p)`; in evaluation, the identity. As `nn.Dropout`, with
 * PyTorch's masks for the same seed.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const drop = new torch.nn.Dropout(0.2);
 * console.log(String(drop)); // Dropout(p=0.2, inplace=False)
 * const x = torch.ones(4);
 * console.log(drop.eval()(x) === x); // true
 * ```
 */
export class Dropout extends Module<[Tensor], Tensor> {
  /** probability of zeroing an element */
  readonly p: number;
  /** whether the input is overwritten */
  readonly inplace: boolean;

  /** Drops with probability `p` (default 0.5). */
  constructor(p = 0.5, options: { inplace?: boolean } = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout probability has to be between 0 and 1, but got ${p}`);
    this.p = p;
    this.inplace = options.inplace ?? false;
  }

  /** The input with elements dropped (training) or as is (evaluation). */
  override forward(input: Tensor): Tensor {
    return dropout(input, this.p, { training: this.training, inplace: this.inplace });
  }

  /** `p=0.5, inplace=False` */
  override extraRepr(): string {
    return `p=${pyFloat(this.p)}, inplace=${pyRepr(this.inplace)}`;
  }
}
