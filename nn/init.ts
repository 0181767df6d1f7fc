/**
 * `torch.nn.init`: fills a tensor in place, without recording gradients,
 * drawing from the default generator (or `options.generator`) in PyTorch's
 * order, so after `torch.manualSeed(s)` the values are PyTorch's.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const { nn } = torch;
 *
 * const w = torch.empty(256, 128);
 * nn.init.kaimingNormal_(w, { mode: "fan_out", nonlinearity: "relu" });
 * console.log(w.std().itemSync().toFixed(2)); // 0.09
 * ```
 *
 * @module
 */

import { eye, type Generator, noGrad, type Tensor } from "@flint/autograd";

/** The nonlinearities {@linkcode calculateGain} knows, by PyTorch's names. */
export type Nonlinearity =
  | "linear"
  | "conv1d"
  | "conv2d"
  | "conv3d"
  | "conv_transpose1d"
  | "conv_transpose2d"
  | "conv_transpose3d"
  | "sigmoid"
  | "tanh"
  | "relu"
  | "leaky_relu"
  | "selu";

/** Which fan the Kaiming initialisations scale by. */
export type FanMode = "fan_in" | "fan_out";

/** Options of the random fills: the generator to draw from. */
export interface InitOptions {
  /** the generator; the default one when absent */
  generator?: Generator;
}

const LINEAR_FNS = new Set([
  "linear",
  "conv1d",
  "conv2d",
  "conv3d",
  "conv_transpose1d",
  "conv_transpose2d",
  "conv_transpose3d",
]);

/**
 * The recommended gain for a nonlinearity, as `nn.init.calculate_gain`:
 * 1 for linear and sigmoid, 5/3 for tanh, √2 for relu,
 * √(2 / (1 + slope²)) for leaky_relu (slope `param`, 0.01 by default), 3/4
 * for selu.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(torch.nn.init.calculateGain("relu")); // 1.4142135623730951
 * ```
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number | null): number {
  if (LINEAR_FNS.has(nonlinearity) || nonlinearity === "sigmoid") return 1;
  if (nonlinearity === "tanh") return 5.0 / 3;
  if (nonlinearity === "relu") return Math.sqrt(2.0);
  if (nonlinearity === "leaky_relu") {
    const slope = param ?? 0.01;
    if (typeof slope !== "number") throw new TypeError(`negative_slope ${String(slope)} not a valid number`);
    // Python's `slope ** 2`: a correctly rounded square, which `slope * slope` also is.
    return Math.sqrt(2.0 / (1 + slope * slope));
  }
  if (nonlinearity === "selu") return 3.0 / 4;
  throw new RangeError(`Unsupported nonlinearity ${nonlinearity}`);
}

/** PyTorch's `_calculate_fan_in_and_fan_out`: [fan_in, fan_out] of a weight [out, in, *kernel]. */
export function calculateFanInAndFanOut(tensor: Tensor): [number, number] {
  if (tensor.ndim < 2) {
    throw new RangeError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions");
  }
  const receptive = tensor.shape.slice(2).reduce((a, b) => a * b, 1);
  return [tensor.shape[1] * receptive, tensor.shape[0] * receptive];
}

function correctFan(tensor: Tensor, mode: string): number {
  const m = mode.toLowerCase();
  if (m !== "fan_in" && m !== "fan_out") {
    throw new RangeError(`Mode ${mode} not supported, please use one of ['fan_in', 'fan_out']`);
  }
  const [fanIn, fanOut] = calculateFanInAndFanOut(tensor);
  return m === "fan_in" ? fanIn : fanOut;
}

/**
 * Fills with samples of U(a, b), as `nn.init.uniform_`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * torch.manualSeed(0);
 * console.log(torch.nn.init.uniform_(torch.empty(2), -1, 1).tolistSync()); // [-0.007486820220947266, 0.5364435911178589]
 * ```
 */
export function uniform_<T extends Tensor>(tensor: T, a = 0, b = 1, options: InitOptions = {}): T {
  return noGrad(() => tensor.uniform_(a, b, options));
}

/**
 * Fills with samples of N(mean, std²), as `nn.init.normal_`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * torch.manualSeed(0);
 * console.log(torch.nn.init.normal_(torch.empty(1000), 3, 0.5).mean().itemSync().toFixed(1)); // 3.0
 * ```
 */
export function normal_<T extends Tensor>(tensor: T, mean = 0, std = 1, options: InitOptions = {}): T {
  return noGrad(() => tensor.normal_(mean, std, options));
}

/**
 * Fills with `value`, as `nn.init.constant_`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(torch.nn.init.constant_(torch.empty(2), 0.5).tolistSync()); // [0.5, 0.5]
 * ```
 */
export function constant_<T extends Tensor>(tensor: T, value: number): T {
  return noGrad(() => tensor.fill_(value));
}

/**
 * Fills with ones, as `nn.init.ones_`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(torch.nn.init.ones_(torch.empty(2)).tolistSync()); // [1, 1]
 * ```
 */
export function ones_<T extends Tensor>(tensor: T): T {
  return noGrad(() => tensor.fill_(1));
}

/**
 * Fills with zeros, as `nn.init.zeros_`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(torch.nn.init.zeros_(torch.ones(2)).tolistSync()); // [0, 0]
 * ```
 */
export function zeros_<T extends Tensor>(tensor: T): T {
  return noGrad(() => tensor.zero_());
}

/**
 * Fills a 2-d tensor with the identity matrix, as `nn.init.eye_`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(torch.nn.init.eye_(torch.empty(2, 3)).tolistSync()); // [[1, 0, 0], [0, 1, 0]]
 * ```
 */
export function eye_<T extends Tensor>(tensor: T): T {
  if (tensor.ndim !== 2) throw new RangeError("Only tensors with 2 dimensions are supported");
  return noGrad(() =>
    tensor.copy_(eye(tensor.shape[0], tensor.shape[1], { dtype: tensor.dtype, device: tensor.device }))
  );
}

/** Options of the Xavier (Glorot) initialisations. */
export interface XavierOptions extends InitOptions {
  /** scale factor (default 1) */
  gain?: number;
}

/**
 * Fills with U(-a, a), a = gain · √(6 / (fan_in + fan_out)), as
 * `nn.init.xavier_uniform_` (Glorot & Bengio, 2010).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const w = torch.nn.init.xavierUniform_(torch.empty(3, 5));
 * console.log(w.abs().max().itemSync() <= Math.sqrt(6 / 8)); // true
 * ```
 */
export function xavierUniform_<T extends Tensor>(tensor: T, options: XavierOptions = {}): T {
  const [fanIn, fanOut] = calculateFanInAndFanOut(tensor);
  const std = (options.gain ?? 1) * Math.sqrt(2.0 / (fanIn + fanOut));
  const a = Math.sqrt(3.0) * std;
  return uniform_(tensor, -a, a, options);
}

/**
 * Fills with N(0, std²), std = gain · √(2 / (fan_in + fan_out)), as
 * `nn.init.xavier_normal_`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const w = torch.nn.init.xavierNormal_(torch.empty(500, 500));
 * console.log(w.std().itemSync().toFixed(3)); // 0.045
 * ```
 */
export function xavierNormal_<T extends Tensor>(tensor: T, options: XavierOptions = {}): T {
  const [fanIn, fanOut] = calculateFanInAndFanOut(tensor);
  const std = (options.gain ?? 1) * Math.sqrt(2.0 / (fanIn + fanOut));
  return normal_(tensor, 0, std, options);
}

/** Options of the Kaiming (He) initialisations. */
export interface KaimingOptions extends InitOptions {
  /** negative slope of the rectifier after this layer, for leaky_relu (default 0) */
  a?: number;
  /** "fan_in" (default) keeps the forward pass's variance, "fan_out" the backward's */
  mode?: FanMode;
  /** the nonlinearity after this layer (default "leaky_relu") */
  nonlinearity?: Nonlinearity;
}

function kaimingStd(tensor: Tensor, options: KaimingOptions): number {
  const fan = correctFan(tensor, options.mode ?? "fan_in");
  const gain = calculateGain(options.nonlinearity ?? "leaky_relu", options.a ?? 0);
  return gain / Math.sqrt(fan);
}

/**
 * Fills with U(-bound, bound), bound = gain · √(3 / fan), as
 * `nn.init.kaiming_uniform_` (He et al., 2015). `nn.Linear` and
 * `nn.Conv2d` initialise their weights with this and `a: Math.sqrt(5)`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const w = torch.nn.init.kaimingUniform_(torch.empty(4, 6), { nonlinearity: "relu" });
 * console.log(w.abs().max().itemSync() <= 1); // true
 * ```
 */
export function kaimingUniform_<T extends Tensor>(tensor: T, options: KaimingOptions = {}): T {
  if (tensor.shape.includes(0)) {
    console.warn("UserWarning: Initializing zero-element tensors is a no-op");
    return tensor;
  }
  // PyTorch's order of operations: std = gain / sqrt(fan), bound = sqrt(3) * std.
  const bound = Math.sqrt(3.0) * kaimingStd(tensor, options);
  return uniform_(tensor, -bound, bound, options);
}

/**
 * Fills with N(0, std²), std = gain / √fan, as `nn.init.kaiming_normal_`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const w = torch.nn.init.kaimingNormal_(torch.empty(64, 200), { nonlinearity: "relu" });
 * console.log(w.std().itemSync().toFixed(2)); // 0.10
 * ```
 */
export function kaimingNormal_<T extends Tensor>(tensor: T, options: KaimingOptions = {}): T {
  if (tensor.shape.includes(0)) {
    console.warn("UserWarning: Initializing zero-element tensors is a no-op");
    return tensor;
  }
  return normal_(tensor, 0, kaimingStd(tensor, options), options);
}

/** `erf(x)` in double precision (a Taylor series near 0, a continued fraction for erfc beyond). */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    const x2 = ax * ax;
    let term = ax, sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * sum * (2 / Math.sqrt(Math.PI));
  }
  // erfc(x) = exp(-x²) / √π · 1 / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))), evaluated from the tail.
  let f = ax;
  for (let n = 80; n >= 1; n--) f = ax + n / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** The inverse error function of a tensor, as ATen's calc_erfinv: a rational guess and two Newton steps. */
function erfinvInPlace(y: Tensor): Tensor {
  // Horner's rule, highest coefficient last: ((c[n-1] z + c[n-2]) z + ...) z + c[0].
  const poly = (z: Tensor, c: number[]) => {
    let acc = z.mul(c[c.length - 1]).add(c[c.length - 2]);
    for (let i = c.length - 3; i >= 0; i--) acc = acc.mul(z).add(c[i]);
    return acc;
  };
  const yAbs = y.abs();
  const z = y.mul(y);
  const central = y.mul(poly(z, [0.886226899, -1.645349621, 0.914624893, -0.140543331]))
    .div(poly(z, [1, -2.118377725, 1.442710462, -0.329097515, 0.012229801]));
  const zt = yAbs.neg().add(1).div(2).log().neg().sqrt();
  const tail = poly(zt, [-1.970840454, -1.624906493, 3.429567803, 1.641345311]).abs().mul(y.sign())
    .div(poly(zt, [1, 3.5438892, 1.6370678]));
  let x = central.where(yAbs.le(0.7), tail);
  const twoOverSqrtPi = 2 / Math.sqrt(Math.PI);
  for (let step = 0; step < 2; step++) {
    x = x.sub(x.erf().sub(y).div(x.mul(x).neg().exp().mul(twoOverSqrtPi)));
  }
  return y.copy_(x);
}

/** Options of {@linkcode truncNormal_}. */
export interface TruncNormalOptions extends InitOptions {
  /** mean of the normal distribution (default 0) */
  mean?: number;
  /** standard deviation of the normal distribution (default 1) */
  std?: number;
  /** lower cut-off (default -2) */
  a?: number;
  /** upper cut-off (default 2) */
  b?: number;
}

/**
 * Fills with samples of N(mean, std²) truncated to [a, b], as
 * `nn.init.trunc_normal_`, by PyTorch's method (inverse CDF of uniform
 * samples): the same draws from the generator, values equal to PyTorch's
 * within float rounding (the inverse error function is computed with
 * tensor ops rather than ATen's scalar loop).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const w = torch.nn.init.truncNormal_(torch.empty(1000), { std: 0.02 });
 * console.log(w.abs().max().itemSync() <= 2, w.std().itemSync().toFixed(3)); // true 0.020
 * ```
 */
export function truncNormal_<T extends Tensor>(tensor: T, options: TruncNormalOptions = {}): T {
  const { mean = 0, std = 1, a = -2, b = 2 } = options;
  const normCdf = (x: number) => (1 + erf(x / Math.sqrt(2))) / 2;
  if (mean < a - 2 * std || mean > b + 2 * std) {
    console.warn(
      "UserWarning: mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The distribution of values may be " +
        "incorrect.",
    );
  }
  const l = normCdf((a - mean) / std);
  const u = normCdf((b - mean) / std);
  return noGrad(() => {
    tensor.uniform_(2 * l - 1, 2 * u - 1, options);
    erfinvInPlace(tensor);
    tensor.mul_(std * Math.sqrt(2)).add_(mean);
    return tensor.clamp_(a, b);
  });
}
