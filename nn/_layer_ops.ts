// The layer functions of nn.functional that are not convolution or pooling:
// linear, dropout, batch and layer norm, embedding, one-hot and padding.
// Each is composed from autograd's differentiable ops, so gradients of every
// order come for free; `named` gives the result PyTorch's grad_fn name.

import { addmm, arange, cat, defaultGenerator, full, type Tensor, tensor, where } from "@flint/autograd";
import { canCheckValues, listShape, named } from "./_util.ts";

/**
 * `input @ weight.T + bias`, as `F.linear`: `input` is `[*, in]`, `weight`
 * `[out, in]`, `bias` `[out]`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * const y = F.linear(torch.ones(2, 3), torch.ones(4, 3), torch.zeros(4));
 * console.log(y.shape, (y.tolistSync() as number[][])[0]); // [2, 4] [3, 3, 3, 3]
 * ```
 */
export function linear(input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const inFeatures = input.shape.at(-1) ?? 1;
  if (weight.ndim !== 2 || inFeatures !== weight.shape[1]) {
    const rows = input.ndim <= 1 ? 1 : input.numel() / inFeatures;
    const [o, i] = weight.ndim === 2 ? weight.shape : [weight.shape[0] ?? 1, 1];
    throw new RangeError(`mat1 and mat2 shapes cannot be multiplied (${rows}x${inFeatures} and ${i}x${o})`);
  }
  if (!bias) return input.matmul(weight.t());
  // One addmm, as PyTorch's linear: a 2-d input directly, more dims folded into rows and unfolded after.
  if (input.ndim === 2) return addmm(bias, input, weight.t());
  if (input.ndim > 2 && bias.ndim <= 1) {
    const rows = addmm(bias, input.reshape([-1, inFeatures]), weight.t());
    return rows.reshape([...input.shape.slice(0, -1), weight.shape[0]]);
  }
  return input.matmul(weight.t()).add(bias);
}

/** Options of {@linkcode dropout}. */
export interface DropoutOptions {
  /** drop only when training (default true); otherwise the input is returned as is */
  training?: boolean;
  /** multiply the input in place (default false) */
  inplace?: boolean;
}

/**
 * Zeroes each element with probability `p` and scales the others by
 * `1 / (1 - p)`, as `F.dropout`. The mask is drawn from the default generator
 * exactly as PyTorch's CPU kernel draws it, so after `torch.manualSeed(s)`
 * the same elements are dropped as in PyTorch.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * torch.manualSeed(0);
 * const y = F.dropout(torch.ones(8), 0.5);
 * console.log([...y.dataSync()].every((v) => v === 0 || v === 2)); // true
 * console.log(F.dropout(torch.ones(2), 0.5, { training: false }).tolistSync()); // [1, 1]
 * ```
 */
export function dropout(input: Tensor, p = 0.5, options: DropoutOptions = {}): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout probability has to be between 0 and 1, but got ${p}`);
  const training = options.training ?? true;
  const inplace = options.inplace ?? false;
  if (!training || p === 0 || input.numel() === 0) return input;
  if (p === 1) return inplace ? input.mul_(0) : input.mul(0);
  // PyTorch: noise = empty_like(x).bernoulli_(1 - p); noise.div_(1 - p); x * noise.
  const float64 = input.dtype === "float64";
  const noise = float64 ? new Float64Array(input.numel()) : new Float32Array(input.numel());
  defaultGenerator.bernoulli(noise, 1 - p);
  const scale = float64 ? 1 / (1 - p) : Math.fround(1 / Math.fround(1 - p));
  for (let i = 0; i < noise.length; i++) noise[i] *= scale;
  const mask = tensor(noise, { dtype: float64 ? "float64" : "float32", device: input.device })
    .reshape([...input.shape]).to(input.dtype);
  return inplace ? input.mul_(mask) : input.mul(mask);
}

/** Options of {@linkcode embedding}. */
export interface EmbeddingOptions {
  /** the row no gradient flows into (PyTorch's padding_idx); negative counts from the end */
  paddingIdx?: number | null;
  /** renormalising rows to a maximum norm is not supported (it rewrites the weight in place) */
  maxNorm?: number | null;
}

/** Checks that indices are int32, with PyTorch's message. */
function checkIndices(input: Tensor, what: string): void {
  if (input.dtype !== "int32") {
    const name = { float32: "FloatTensor", float64: "DoubleTensor", bool: "BoolTensor", int32: "IntTensor" }[
      input.dtype
    ];
    throw new TypeError(
      `Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; but got ` +
        `torch.${name} instead (while checking arguments for ${what}); pass int32 indices, ` +
        `torch.tensor(ids, { dtype: "int32" })`,
    );
  }
}

/**
 * The rows of `weight` at the indices in `input`, as `F.embedding`: the
 * result has shape `[...input.shape, embeddingDim]`. No gradient flows into
 * the `paddingIdx` row.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * const weight = torch.tensor([[0, 0], [1, 2], [3, 4]]);
 * console.log(F.embedding(torch.tensor([2, 1], { dtype: "int32" }), weight).tolistSync()); // [[3, 4], [1, 2]]
 * ```
 */
export function embedding(input: Tensor, weight: Tensor, options: EmbeddingOptions = {}): Tensor {
  if (options.maxNorm !== undefined && options.maxNorm !== null) {
    throw new Error(
      "embedding: max_norm is not supported in Flint (it renormalises weight rows in place); " +
        "renormalise the weight yourself under torch.noGrad",
    );
  }
  checkIndices(input, "embedding");
  if (weight.ndim !== 2) throw new RangeError(`'weight' must be 2-D, got ${listShape(weight.shape)}`);
  const rows = weight.shape[0];
  if (canCheckValues(input)) {
    for (const v of input.dataSync()) {
      if (v < 0 || v >= rows) throw new RangeError("index out of range in self");
    }
  }
  const flat = input.reshape([-1]);
  let out = weight.indexSelect(0, flat);
  let paddingIdx = options.paddingIdx ?? null;
  if (paddingIdx !== null && out.requiresGrad) {
    if (paddingIdx < 0) paddingIdx += rows;
    // The padding rows take their value from a detached copy, so no gradient reaches weight[paddingIdx].
    out = where(flat.eq(paddingIdx).unsqueeze(1), out.detach(), out);
  }
  return named(out.reshape([...input.shape, weight.shape[1]]), "EmbeddingBackward0");
}

/**
 * Class indices as one-hot vectors, as `F.one_hot`: an int32 tensor of
 * shape `[...input.shape, numClasses]` (`numClasses` -1 means max + 1).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log(F.oneHot(torch.tensor([0, 2], { dtype: "int32" }), 3).tolistSync()); // [[1, 0, 0], [0, 0, 1]]
 * ```
 */
export function oneHot(input: Tensor, numClasses = -1): Tensor {
  if (input.dtype !== "int32") {
    throw new TypeError("one_hot is only applicable to index tensor (pass int32 class indices).");
  }
  let classes = numClasses;
  if (canCheckValues(input)) {
    const values = input.dataSync();
    if (classes === -1 && values.length === 0) {
      throw new RangeError("Can not infer total number of classes from empty tensor.");
    }
    let max = -Infinity, min = Infinity;
    for (const v of values) {
      if (v > max) max = v;
      if (v < min) min = v;
    }
    if (min < 0) throw new RangeError("Class values must be non-negative.");
    if (classes === -1) classes = max + 1;
    else if (max >= classes) throw new RangeError("Class values must be smaller than num_classes.");
  } else if (classes === -1) {
    throw new Error(
      `one_hot: numClasses is needed on the ${input.device.type} device (inferring it reads the values)`,
    );
  }
  const range = arange(classes, { dtype: "int32", device: input.device });
  return input.unsqueeze(-1).eq(range).to("int32");
}

/** Padding modes of {@linkcode pad}. */
export type PadMode = "constant" | "reflect" | "replicate" | "circular";

/** Options of {@linkcode pad}. */
export interface PadOptions {
  /** "constant" (default), "reflect", "replicate" or "circular" */
  mode?: PadMode;
  /** the fill value of constant padding (default 0) */
  value?: number;
}

// The source position of output position j (-before <= j < size + after) along a padded dim.
const SOURCE: Record<Exclude<PadMode, "constant">, (j: number, n: number) => number> = {
  reflect: (j, n) => (j < 0 ? -j : j >= n ? 2 * (n - 1) - j : j),
  replicate: (j, n) => Math.min(Math.max(j, 0), n - 1),
  circular: (j, n) => ((j % n) + n) % n,
};

/**
 * Pads the last dims, as `F.pad`: `pad` lists (before, after) pairs starting
 * from the last dim; negative amounts crop. Modes: "constant" (with
 * `value`), "reflect", "replicate", "circular".
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const F = torch.nn.functional;
 *
 * console.log(F.pad(torch.tensor([1, 2]), [1, 2]).tolistSync()); // [0, 1, 2, 0, 0]
 * console.log(F.pad(torch.tensor([[1, 2, 3]]), [2, 1], { mode: "reflect" }).tolistSync()); // [[3, 2, 1, 2, 3, 2]]
 * ```
 */
export function pad(input: Tensor, pad: readonly number[], options: PadOptions = {}): Tensor {
  const mode = options.mode ?? "constant";
  if (pad.length % 2 !== 0) throw new RangeError("Padding length must be divisible by 2");
  const k = pad.length / 2;
  if (k > input.ndim) throw new RangeError("Padding length too large");
  if (mode === "constant") {
    let out = input;
    for (let i = 0; i < k; i++) {
      const dim = input.ndim - 1 - i;
      const [before, after] = [pad[2 * i], pad[2 * i + 1]];
      if (before < 0) out = out.narrow(dim, -before, out.shape[dim] + before);
      if (after < 0) out = out.narrow(dim, 0, out.shape[dim] + after);
      const pieces: Tensor[] = [];
      const block = (n: number) =>
        full(out.shape.map((s, d) => (d === dim ? n : s)), options.value ?? 0, {
          dtype: out.dtype,
          device: out.device,
        });
      if (before > 0) pieces.push(block(before));
      pieces.push(out);
      if (after > 0) pieces.push(block(after));
      if (pieces.length > 1) out = cat(pieces, dim);
    }
    return named(out === input ? input.clone() : out, "ConstantPadNdBackward0");
  }
  const source = SOURCE[mode];
  if (!source) throw new RangeError(`Unrecognised padding mode ${mode}`);
  if (options.value !== undefined && options.value !== 0) {
    throw new RangeError(`Padding mode "${mode}" doesn't take in value argument`);
  }
  if (k > 3 || input.ndim < k + 1 || input.ndim > k + 2) {
    throw new RangeError("Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now");
  }
  let out = input;
  for (let i = 0; i < k; i++) {
    const dim = input.ndim - 1 - i;
    let [before, after] = [pad[2 * i], pad[2 * i + 1]];
    // Circular padding crops first and then wraps within what is left, as PyTorch's _pad_circular does.
    if (mode === "circular" && (before < 0 || after < 0)) {
      const start = Math.max(-before, 0);
      out = out.narrow(dim, start, out.shape[dim] - start - Math.max(-after, 0));
      [before, after] = [Math.max(before, 0), Math.max(after, 0)];
    }
    const n = out.shape[dim];
    if (mode === "reflect" && (before >= n || after >= n)) {
      throw new RangeError(
        `Padding size should be less than the corresponding input dimension, but got: padding (${before}, ${after}) ` +
          `at dimension ${dim} of input ${listShape(input.shape)}`,
      );
    }
    if (mode === "circular" && (before > n || after > n)) {
      throw new RangeError("Padding value causes wrapping around more than once.");
    }
    const index = Int32Array.from({ length: n + before + after }, (_, j) => source(j - before, n));
    out = out.indexSelect(dim, tensor(index, { dtype: "int32", device: input.device }));
  }
  const name = mode === "reflect"
    ? `ReflectionPad${k}DBackward0`
    : mode === "replicate"
    ? `ReplicationPad${k}DBackward0`
    : "CopySlices";
  return named(out, name);
}
