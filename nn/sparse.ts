// Embedding, as torch.nn.modules.sparse.

import { empty, noGrad, Parameter, type Tensor } from "@flint/autograd";
import { embedding } from "./_layer_ops.ts";
import { parameterOver } from "./_util.ts";
import { normal_ } from "./init.ts";
import type { FactoryOptions } from "./linear.ts";
import { Module } from "./module.ts";

/** Options of {@linkcode Embedding}. */
export interface EmbeddingModuleOptions extends FactoryOptions {
  /** a row that stays zero at first and gets no gradient (negative counts from the end) */
  paddingIdx?: number | null;
  /** not supported: renormalising rows rewrites the weight during forward */
  maxNorm?: number | null;
  /** the p of maxNorm's norm (only 2, as maxNorm is not supported) */
  normType?: number;
  /** not supported */
  scaleGradByFreq?: boolean;
  /** not supported (Flint has no sparse gradients) */
  sparse?: boolean;
  /** the initial weight `[numEmbeddings, embeddingDim]` instead of N(0, 1) samples */
  weight?: Tensor;
}

/**
 * A lookup table of `numEmbeddings` vectors of size `embeddingDim`, as
 * `nn.Embedding`: int32 indices of any shape in, their rows out. The weight
 * starts as N(0, 1) samples (PyTorch's values for the same seed), with the
 * `paddingIdx` row zeroed.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const emb = new torch.nn.Embedding(10, 3, { paddingIdx: 0 });
 * const ids = torch.tensor([[1, 2, 0]], { dtype: "int32" });
 * console.log(String(emb), emb(ids).shape); // Embedding(10, 3, padding_idx=0) [1, 3, 3]
 * ```
 */
export class Embedding extends Module<[Tensor], Tensor> {
  /** number of rows */
  readonly numEmbeddings: number;
  /** size of each row */
  readonly embeddingDim: number;
  /** the padding row (non-negative), or null */
  readonly paddingIdx: number | null;
  /** `[numEmbeddings, embeddingDim]` */
  weight: Parameter;

  /** A table of `numEmbeddings` rows of size `embeddingDim`. */
  constructor(numEmbeddings: number, embeddingDim: number, options: EmbeddingModuleOptions = {}) {
    super();
    if (options.maxNorm !== undefined && options.maxNorm !== null) {
      throw new Error(
        "nn.Embedding: maxNorm is not supported in Flint (it renormalises weight rows in place during forward); " +
          "renormalise the weight yourself under torch.noGrad",
      );
    }
    if (options.scaleGradByFreq) throw new Error("nn.Embedding: scaleGradByFreq is not supported in Flint");
    if (options.sparse) throw new Error("nn.Embedding: sparse gradients are not supported in Flint");
    let paddingIdx = options.paddingIdx ?? null;
    if (paddingIdx !== null) {
      if (paddingIdx >= numEmbeddings || paddingIdx < -numEmbeddings) {
        throw new RangeError("Padding_idx must be within num_embeddings");
      }
      if (paddingIdx < 0) paddingIdx += numEmbeddings;
    }
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    this.paddingIdx = paddingIdx;
    if (options.weight) {
      const s = options.weight.shape;
      if (s.length !== 2 || s[0] !== numEmbeddings || s[1] !== embeddingDim) {
        throw new RangeError("Shape of weight does not match num_embeddings and embedding_dim");
      }
      this.weight = new Parameter(options.weight);
    } else {
      this.weight = parameterOver(
        empty([numEmbeddings, embeddingDim], { dtype: options.dtype, device: options.device }),
      );
      this.resetParameters();
    }
  }

  /**
   * An embedding holding `embeddings` (2-d), frozen unless `freeze: false`,
   * as `nn.Embedding.from_pretrained`.
   *
   * @example
   * ```ts
   * import * as torch from "@flint/torch";
   *
   * const emb = torch.nn.Embedding.fromPretrained(torch.tensor([[1, 2], [3, 4]]));
   * console.log(emb(torch.tensor([1], { dtype: "int32" })).tolistSync(), emb.weight.requiresGrad); // [[3, 4]] false
   * ```
   */
  static fromPretrained(
    embeddings: Tensor,
    options: { freeze?: boolean; paddingIdx?: number | null } = {},
  ): Embedding {
    if (embeddings.ndim !== 2) throw new RangeError("Embeddings parameter is expected to be 2-dimensional");
    const [rows, cols] = embeddings.shape;
    const emb = new Embedding(rows, cols, { weight: embeddings, paddingIdx: options.paddingIdx });
    emb.weight.requiresGrad_(!(options.freeze ?? true));
    return emb;
  }

  /** Re-draws the weight from N(0, 1) and zeroes the padding row. */
  resetParameters(): void {
    normal_(this.weight);
    const idx = this.paddingIdx;
    if (idx !== null) noGrad(() => this.weight.select(0, idx).fill_(0));
  }

  /** The rows at the indices in `input`. */
  override forward(input: Tensor): Tensor {
    return embedding(input, this.weight, { paddingIdx: this.paddingIdx });
  }

  /** `10, 3, padding_idx=0` */
  override extraRepr(): string {
    let s = `${this.numEmbeddings}, ${this.embeddingDim}`;
    if (this.paddingIdx !== null) s += `, padding_idx=${this.paddingIdx}`;
    return s;
  }
}
