// The activation functions of nn.functional. Those PyTorch fuses (GELU,
// SiLU, LeakyReLU) are custom autograd functions with PyTorch's own
// derivative formulas, written in tensor ops so higher-order gradients work.

import { autograd, type DType, type Tensor, where } from "@flint/autograd";
import { normalizeDim, warnOnce } from "./_util.ts";

/** Options of activations that can work in place. */
export interface InplaceOptions {
  /** overwrite the input with the result (default false) */
  inplace?: boolean;
}

/**
 * `max(x, 0)` element-wise, as `F.relu`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log(F.relu(torch.tensor([-1, 0, 2])).tolistSync()); // [0, 0, 2]
 * ```
 */
export function relu(input: Tensor, options: InplaceOptions = {}): Tensor {
  return options.inplace ? input.relu_() : input.relu();
}

// In place, the result is computed from a copy of the input (which backward
// may need) and written back, so the input's old values stay on the tape.
function writeBack(input: Tensor, compute: (x: Tensor) => Tensor): Tensor {
  return input.copy_(compute(input.requiresGrad ? input.clone() : input));
}

let leakyReluFn: autograd.CustomFunction<[Tensor, number]> | undefined;

/**
 * `x` where positive, `negativeSlope * x` elsewhere, as `F.leaky_relu`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log(F.leakyRelu(torch.tensor([-2, 3]), 0.5).tolistSync()); // [-1, 3]
 * ```
 */
export function leakyRelu(input: Tensor, negativeSlope = 0.01, options: InplaceOptions = {}): Tensor {
  leakyReluFn ??= autograd.defineFunction({
    name: "LeakyReluBackward0",
    forward(ctx, x: Tensor, slope: number) {
      ctx.saveForBackward(x);
      ctx.data.slope = slope;
      return where(x.gt(0), x, x.mul(slope));
    },
    // PyTorch's leaky_relu_backward: grad where x > 0, grad * slope elsewhere (0 included).
    backward(ctx, g) {
      const [x] = ctx.savedTensors;
      return [where(x.gt(0), g, g.mul(ctx.data.slope as number)), null];
    },
  });
  const fn = leakyReluFn;
  return options.inplace ? writeBack(input, (x) => fn.apply(x, negativeSlope)) : fn.apply(input, negativeSlope);
}

/** Options of {@linkcode gelu}. */
export interface GeluOptions {
  /** "none" (the exact erf form, default) or "tanh" (the tanh approximation) */
  approximate?: "none" | "tanh";
}

const SQRT1_2 = Math.SQRT1_2;
// ATen's constants: kBeta = M_2_SQRTPI * M_SQRT1_2 * 0.5 (exact), M_SQRT2 * M_2_SQRTPI * 0.5 (tanh).
const M_2_SQRTPI = 1.1283791670955126;
const GELU_PDF = M_2_SQRTPI * SQRT1_2 * 0.5;
const GELU_TANH_BETA = Math.SQRT2 * M_2_SQRTPI * 0.5;
const GELU_TANH_KAPPA = 0.044715;

const geluFns = new Map<string, autograd.CustomFunction<[Tensor]>>();

function geluFn(approximate: "none" | "tanh"): autograd.CustomFunction<[Tensor]> {
  let fn = geluFns.get(approximate);
  if (fn) return fn;
  fn = approximate === "none"
    ? autograd.defineFunction({
      name: "GeluBackward0",
      forward(ctx, x: Tensor) {
        ctx.saveForBackward(x);
        return x.mul(x.mul(SQRT1_2).erf().add(1)).mul(0.5);
      },
      backward(ctx, g) {
        const [x] = ctx.savedTensors;
        const cdf = x.mul(SQRT1_2).erf().add(1).mul(0.5);
        const pdf = x.mul(x).mul(-0.5).exp().mul(GELU_PDF);
        return [g.mul(cdf.add(x.mul(pdf)))];
      },
    })
    : autograd.defineFunction({
      name: "GeluBackward0",
      forward(ctx, x: Tensor) {
        ctx.saveForBackward(x);
        const inner = x.add(x.mul(x).mul(x).mul(GELU_TANH_KAPPA)).mul(GELU_TANH_BETA);
        return x.mul(0.5).mul(inner.tanh().add(1));
      },
      backward(ctx, g) {
        const [x] = ctx.savedTensors;
        const xSq = x.mul(x);
        const inner = x.add(xSq.mul(x).mul(GELU_TANH_KAPPA)).mul(GELU_TANH_BETA);
        const tanhInner = inner.tanh();
        const left = x.mul(0.5);
        const leftDerivative = tanhInner.add(1).mul(0.5);
        const rightDerivative = tanhInner.mul(tanhInner).neg().add(1);
        const innerDerivative = xSq.mul(3 * GELU_TANH_KAPPA).add(1).mul(GELU_TANH_BETA);
        return [g.mul(leftDerivative.add(left.mul(rightDerivative).mul(innerDerivative)))];
      },
    });
  geluFns.set(approximate, fn);
  return fn;
}

/**
 * The Gaussian error linear unit, `x * Φ(x)`, as `F.gelu` (exact, or the
 * tanh approximation with `approximate: "tanh"`).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log(F.gelu(torch.tensor([1])).itemSync().toFixed(4)); // 0.8413
 * ```
 */
export function gelu(input: Tensor, options: GeluOptions = {}): Tensor {
  const approximate = options.approximate ?? "none";
  if (approximate !== "none" && approximate !== "tanh") {
    throw new RangeError("approximate argument must be either none or tanh.");
  }
  return geluFn(approximate).apply(input);
}

let siluFn: autograd.CustomFunction<[Tensor]> | undefined;

/**
 * `x * sigmoid(x)` (also called swish), as `F.silu`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log([...F.silu(torch.tensor([0, 1])).dataSync()].map((v) => v.toFixed(4))); // ["0.0000", "0.7311"]
 * ```
 */
export function silu(input: Tensor, options: InplaceOptions = {}): Tensor {
  siluFn ??= autograd.defineFunction({
    name: "SiluBackward0",
    forward(ctx, x: Tensor) {
      ctx.saveForBackward(x);
      return x.mul(x.sigmoid());
    },
    // PyTorch's silu_backward: grad * s * (1 + x * (1 - s)), s = sigmoid(x).
    backward(ctx, g) {
      const [x] = ctx.savedTensors;
      const s = x.sigmoid();
      return [g.mul(s).mul(x.mul(s.neg().add(1)).add(1))];
    },
  });
  const fn = siluFn;
  return options.inplace ? writeBack(input, (x) => fn.apply(x)) : fn.apply(input);
}

/**
 * `1 / (1 + exp(-x))`, as `F.sigmoid`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log(F.sigmoid(torch.tensor([0])).tolistSync()); // [0.5]
 * ```
 */
export function sigmoid(input: Tensor): Tensor {
  return input.sigmoid();
}

/**
 * The hyperbolic tangent, as `F.tanh`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log(F.tanh(torch.tensor([0])).tolistSync()); // [0]
 * ```
 */
export function tanh(input: Tensor): Tensor {
  return input.tanh();
}

/** Options of {@linkcode softmax} and {@linkcode logSoftmax}. */
export interface SoftmaxOptions {
  /** cast the input to this dtype first */
  dtype?: DType;
}

/** PyTorch's `_get_softmax_dim`: the dim an old-style call without `dim` meant. */
export function implicitSoftmaxDim(name: string, ndim: number): number {
  warnOnce(
    `Implicit dimension choice for ${name} has been deprecated. Change the call to include dim=X as an argument.`,
  );
  return ndim === 0 || ndim === 1 || ndim === 3 ? 0 : 1;
}

/**
 * Softmax along `dim`: `exp(x) / sum(exp(x))`, computed stably, as `F.softmax`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log(F.softmax(torch.tensor([[0, 0]]), 1).tolistSync()); // [[0.5, 0.5]]
 * ```
 */
export function softmax(input: Tensor, dim?: number | null, options: SoftmaxOptions = {}): Tensor {
  const d = dim ?? implicitSoftmaxDim("softmax", input.ndim);
  const x = options.dtype ? input.to(options.dtype) : input;
  return x.softmax(normalizeDim(d, x.ndim));
}

/**
 * Log of softmax along `dim`, computed stably, as `F.log_softmax`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log([...F.logSoftmax(torch.tensor([0, 0]), 0).dataSync()].map((v) => v.toFixed(4))); // ["-0.6931", "-0.6931"]
 * ```
 */
export function logSoftmax(input: Tensor, dim?: number | null, options: SoftmaxOptions = {}): Tensor {
  const d = dim ?? implicitSoftmaxDim("log_softmax", input.ndim);
  const x = options.dtype ? input.to(options.dtype) : input;
  return x.logSoftmax(normalizeDim(d, x.ndim));
}
