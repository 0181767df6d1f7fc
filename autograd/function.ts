// torch.autograd.Function: ops with a hand-written backward.

import { noGrad } from "./grad_mode.ts";
import { record } from "./ops/_core.ts";
import { Tensor } from "./tensor.ts";

/** What `forward` may keep for `backward`. */
export class FunctionContext {
  #saved: Tensor[] = [];
  /** Values of any kind kept for backward (shapes, flags). */
  readonly data: Record<string, unknown> = {};
  /** Keeps tensors for backward (checked for in-place changes, as PyTorch's save_for_backward). */
  saveForBackward(...tensors: Tensor[]): void {
    this.#saved = tensors;
  }
  /** The tensors kept by `saveForBackward`, in order. */
  get savedTensors(): readonly Tensor[] {
    return this.#saved;
  }
  /** internal: replaces the saved tensors with their checked aliases */
  setSaved(tensors: Tensor[]): void {
    this.#saved = tensors;
  }
}

/** The two halves of a custom function. */
export interface FunctionSpec<I extends unknown[]> {
  /** PyTorch-style node name; "<Name>Backward" by default */
  name?: string;
  /** computes the output (no tape is recorded inside) */
  forward(ctx: FunctionContext, ...inputs: I): Tensor;
  /**
   * one gradient (or null) per input, from the output's gradient; gradients
   * are freed when the backward walk ends, so clone (or `torch.keep`) one to
   * hold on to it
   */
  backward(ctx: FunctionContext, grad: Tensor): (Tensor | null | undefined)[];
}

/** A defined custom function; call `apply` with the inputs. */
export interface CustomFunction<I extends unknown[]> {
  /** Runs forward and records the hand-written backward on the tape. */
  apply(...inputs: I): Tensor;
}

/**
 * Defines an op with its own backward, as subclassing
 * `torch.autograd.Function` does in PyTorch.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const Square = torch.autograd.defineFunction({
 *   name: "SquareBackward",
 *   forward(ctx, x: torch.Tensor) {
 *     ctx.saveForBackward(x);
 *     return x.mul(x);
 *   },
 *   backward(ctx, grad) {
 *     const [x] = ctx.savedTensors;
 *     return [grad.mul(x).mul(2)];
 *   },
 * });
 * const x = torch.tensor([3], { requiresGrad: true });
 * Square.apply(x).sum().backward();
 * console.log(x.grad!.tolistSync()); // [6]
 * ```
 */
export function defineFunction<I extends unknown[]>(spec: FunctionSpec<I>): CustomFunction<I> {
  return {
    apply(...inputs: I): Tensor {
      const ctx = new FunctionContext();
      const out = noGrad(() => spec.forward(ctx, ...inputs));
      if (!(out instanceof Tensor)) throw new TypeError("a custom function's forward must return a Tensor");
      const tensors = inputs.map((x) => (x instanceof Tensor ? x : null));
      // The output must be a fresh tensor: an input returned as is gets an alias.
      const result = tensors.includes(out) ? out.detach() : out;
      return record(result, spec.name ?? "CustomFunctionBackward", tensors, [...ctx.savedTensors], (g, saved) => {
        ctx.setSaved([...saved]);
        const grads = spec.backward(ctx, g);
        return tensors.map((t, i) => (t === null ? null : grads[i] ?? null));
      });
    },
  };
}
