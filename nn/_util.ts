// Small helpers the layers and functional ops share: PyTorch's printed forms
// (reprs, sizes), argument normalisation, reductions, and grad_fn names.

import { autograd, isGradEnabled, Parameter, type Tensor } from "@flint/autograd";

/** How a loss reduces its element-wise values. */
export type Reduction = "none" | "mean" | "sum";

/** Python's `repr` of a float: `1e-05`, `0.1`, `1.0`, `inf`. */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  // toExponential() gives the shortest round-tripping digits, as Python's repr does.
  const [mantissa, expText] = x.toExponential().split("e");
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) return `${mantissa}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  const fixed = String(x);
  return fixed.includes(".") ? fixed : `${fixed}.0`;
}

/** Python's `repr` of a value as modules print their arguments: tuples, None, True, floats, 'strings'. */
export function pyRepr(value: unknown, floats = false): string {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return floats || !Number.isInteger(value) ? pyFloat(value) : String(value);
  if (typeof value === "string") return `'${value}'`;
  if (Array.isArray(value)) {
    const items = value.map((v) => pyRepr(v, floats));
    return items.length === 1 ? `(${items[0]},)` : `(${items.join(", ")})`;
  }
  return String(value);
}

/** PyTorch's printed size: `torch.Size([3, 4])`. */
export function torchSize(shape: readonly number[]): string {
  return `torch.Size([${shape.join(", ")}])`;
}

/** A shape as `[3, 4]`, as ATen's messages print sizes. */
export function listShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** `n` or `[h, w]` as a pair, as PyTorch's `_pair`. */
export function pair(value: number | readonly number[], name: string): [number, number] {
  if (typeof value === "number") return [value, value];
  if (value.length !== 2 || !value.every((v) => Number.isInteger(v))) {
    throw new TypeError(`${name} must be an int or a pair of ints, got ${JSON.stringify(value)}`);
  }
  return [value[0], value[1]];
}

/** Checks a reduction name, with PyTorch's message. */
export function checkReduction(reduction: string): Reduction {
  if (reduction !== "none" && reduction !== "mean" && reduction !== "sum") {
    throw new RangeError(`${reduction} is not a valid value for reduction`);
  }
  return reduction;
}

/** Applies a loss reduction. */
export function reduce(loss: Tensor, reduction: Reduction): Tensor {
  return reduction === "none" ? loss : reduction === "sum" ? loss.sum() : loss.mean();
}

const warned = new Set<string>();

/** Warns once per message, as Python's default warning filter does per call site. */
export function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(`UserWarning: ${message}`);
}

const passThroughs = new Map<string, autograd.CustomFunction<[Tensor]>>();

/**
 * Gives a composed result the grad_fn name PyTorch's fused kernel has
 * (`MseLossBackward0`, `NllLossBackward0`, ...), so printed tensors read as
 * in PyTorch: an identity step on the tape that passes the gradient through
 * to the composition that computes it.
 */
export function named(out: Tensor, name: string): Tensor {
  if (!out.requiresGrad || !isGradEnabled()) return out;
  let fn = passThroughs.get(name);
  if (!fn) {
    fn = autograd.defineFunction({ name, forward: (_ctx, x: Tensor) => x.detach(), backward: (_ctx, g) => [g] });
    passThroughs.set(name, fn);
  }
  return fn.apply(out);
}

/** True when the tensor's values can be read without waiting (the CPU), for argument checks. */
export function canCheckValues(t: Tensor): boolean {
  return t.device.backend.canReadSync;
}

/** Normalises a possibly negative dim, with PyTorch's error. */
export function normalizeDim(dim: number, ndim: number): number {
  const lo = -Math.max(ndim, 1), hi = Math.max(ndim, 1) - 1;
  if (!Number.isInteger(dim) || dim < lo || dim > hi) {
    throw new RangeError(`Dimension out of range (expected to be in range of [${lo}, ${hi}], but got ${dim})`);
  }
  return dim < 0 ? dim + Math.max(ndim, 1) : dim;
}

/**
 * A parameter over a tensor the layer just made: the tensor wrapping it is
 * disposed, so the parameter alone holds the storage and disposing it frees
 * the memory at once (else it waited for the collector to find the wrapper:
 * ResNet18's 47 MB of weights outlived a release of the model).
 */
export function parameterOver(fresh: Tensor): Parameter {
  const parameter = new Parameter(fresh);
  fresh.dispose();
  return parameter;
}
