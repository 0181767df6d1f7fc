// torchvision's pretrained-weights records (`torchvision.models.Weights` and
// the `WeightsEnum` members such as `ResNet18_Weights.IMAGENET1K_V1`): where
// the file lives, how images must be prepared for it, and what it predicts.

import { loadStateDictFromUrl } from "./hub/mod.ts";
import type { StateDict } from "./io/mod.ts";
import { ImageClassification, type ImageClassificationOptions } from "./transforms.ts";

/** One benchmark result of a set of weights. */
export interface WeightsMetrics {
  /** top-1 accuracy in percent */
  "acc@1": number;
  /** top-5 accuracy in percent */
  "acc@5": number;
}

/** What torchvision's `weights.meta` holds for a classification model. */
export interface WeightsMeta {
  /** the class names, index `i` for logit `i` */
  readonly categories: readonly string[];
  /** the smallest input (height, width) the model accepts */
  readonly minSize: readonly [number, number];
  /** the number of parameters */
  readonly numParams: number;
  /** where the training recipe is described */
  readonly recipe: string;
  /** accuracies by dataset */
  readonly metrics: Readonly<Record<string, WeightsMetrics>>;
  /** torchvision's note on these weights */
  readonly docs: string;
}

/** Options of {@linkcode Weights.getStateDict}. */
export interface GetStateDictOptions {
  /** show download progress on stderr (default true) */
  progress?: boolean;
  /** the cache folder (default `<getDir()>/checkpoints`, as torch.hub) */
  modelDir?: string;
  /** check the sha256 prefix in the file name after downloading (default true) */
  checkHash?: boolean;
}

/**
 * A set of pretrained weights, as a member of a torchvision `WeightsEnum`:
 * the file's URL (whose name carries the sha256 prefix), the preprocessing
 * preset, and the metadata.
 *
 * @example
 * ```ts
 * import { ResNet18_Weights } from "@flint/models";
 *
 * const w = ResNet18_Weights.DEFAULT;
 * console.log(String(w), w.url); // ResNet18_Weights.IMAGENET1K_V1 https://download.pytorch.org/models/resnet18-f37072fd.pth
 * console.log(w.meta.categories[258]); // Samoyed
 * ```
 */
export class Weights {
  /** `<Enum>.<member>`, as torchvision prints it */
  readonly name: string;
  /** where the `.pth` file is downloaded from */
  readonly url: string;
  /** the metadata */
  readonly meta: WeightsMeta;
  readonly #transforms: ImageClassificationOptions;

  /** A record of weights; `transforms` are the options of the preset {@linkcode transforms} builds. */
  constructor(name: string, url: string, transforms: ImageClassificationOptions, meta: WeightsMeta) {
    this.name = name;
    this.url = url;
    this.#transforms = { ...transforms };
    this.meta = meta;
  }

  /** The preprocessing these weights were evaluated with, as `weights.transforms()`. */
  transforms(): ImageClassification {
    return new ImageClassification(this.#transforms);
  }

  /**
   * The state dict, through the download cache, as `weights.get_state_dict()`:
   * fetched once into `<getDir()>/checkpoints`, its sha256 prefix checked.
   */
  async getStateDict(options: GetStateDictOptions = {}): Promise<StateDict> {
    return await loadStateDictFromUrl(this.url, {
      progress: options.progress ?? true,
      modelDir: options.modelDir,
      checkHash: options.checkHash ?? true,
    });
  }

  /** `ResNet18_Weights.IMAGENET1K_V1` */
  toString(): string {
    return this.name;
  }
}

/** A weights argument: a {@linkcode Weights}, or a member's name such as `"IMAGENET1K_V1"` or `"DEFAULT"`. */
export type WeightsLike = Weights | string;

/** Resolves a member name against an enum of weights, as `WeightsEnum.verify`. */
export function verifyWeights(
  enumName: string,
  enumMembers: object,
  weights: WeightsLike | null | undefined,
): Weights | null {
  const members = enumMembers as Readonly<Record<string, Weights>>;
  if (weights === null || weights === undefined) return null;
  if (typeof weights === "string") {
    const name = weights.startsWith(`${enumName}.`) ? weights.slice(enumName.length + 1) : weights;
    const found = Object.hasOwn(members, name) ? members[name] : undefined;
    if (found === undefined) throw new RangeError(`Failed to find Weights '${weights}' in ${enumName}.`);
    return found;
  }
  if (!Object.values(members).includes(weights)) {
    throw new TypeError(`Invalid Weights class provided; expected ${enumName} but received ${weights.name}.`);
  }
  return weights;
}
