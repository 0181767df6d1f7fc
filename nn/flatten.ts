// Flatten, as torch.nn.modules.flatten.

import type { Tensor } from "@flint/autograd";
import { Module } from "./module.ts";

/**
 * Merges dims `startDim..endDim` into one, as `nn.Flatten` (by default every
 * dim but the batch dim).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const flatten = new torch.nn.Flatten();
 * console.log(flatten(torch.zeros(32, 1, 5, 5)).shape, String(flatten)); // [32, 25] Flatten(start_dim=1, end_dim=-1)
 * ```
 */
export class Flatten extends Module<[Tensor], Tensor> {
  /** first dim to flatten */
  readonly startDim: number;
  /** last dim to flatten */
  readonly endDim: number;

  /** Flattens dims `startDim` (default 1) to `endDim` (default -1). */
  constructor(startDim = 1, endDim = -1) {
    super();
    this.startDim = startDim;
    this.endDim = endDim;
  }

  /** The input with the dims merged. */
  override forward(input: Tensor): Tensor {
    return input.flatten(this.startDim, this.endDim);
  }

  /** `start_dim=1, end_dim=-1` */
  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}
