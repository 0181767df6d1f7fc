// The UCI handwritten digits (./data/digits.csv.gz, CC BY 4.0, see
// ./data/README.md): read, checked, and turned into tensors and a seeded split.

import * as torch from "@flint/torch";
import { gunzipSync } from "fflate";

/** Where the embedded copy of the data set lives. */
export const DIGITS_URL: URL = new URL("./data/digits.csv.gz", import.meta.url);

/** Pixels per image (8×8) and the largest pixel value (a count of on pixels in a 4×4 block). */
export const PIXELS = 64;
/** The largest pixel value of the UCI digits. */
export const MAX_PIXEL = 16;
/** The classes, 0..9. */
export const CLASSES = 10;

/** The digits as flat arrays: `images[64 * i + 8 * row + col]` in 0..16, `labels[i]` in 0..9. */
export interface Digits {
  /** pixel values, 64 per image, row-major */
  readonly images: Float32Array;
  /** the digit each image shows */
  readonly labels: Int32Array;
  /** the number of images */
  readonly length: number;
}

/**
 * Parses the CSV: one image per line, 64 integer pixels in 0..16 then the
 * label 0..9. Every value is checked, so a damaged file fails with its line.
 *
 * @example
 * ```ts
 * import { parseDigitsCsv } from "./data.ts";
 *
 * const digits = parseDigitsCsv(Array(64).fill(16).join(",") + ",7\n");
 * console.log(digits.length, digits.labels[0], digits.images[63]); // 1 7 16
 * ```
 */
export function parseDigitsCsv(text: string): Digits {
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  const images = new Float32Array(lines.length * PIXELS);
  const labels = new Int32Array(lines.length);
  lines.forEach((line, i) => {
    const fields = line.split(",");
    if (fields.length !== PIXELS + 1) {
      throw new RangeError(
        `digits line ${i + 1}: expected ${PIXELS + 1} values (64 pixels, a label), got ${fields.length}`,
      );
    }
    for (let j = 0; j <= PIXELS; j++) {
      const value = Number(fields[j]);
      const max = j === PIXELS ? CLASSES - 1 : MAX_PIXEL;
      if (!Number.isInteger(value) || value < 0 || value > max) {
        throw new RangeError(
          `digits line ${i + 1}, value ${j + 1}: expected an integer in 0..${max}, got "${fields[j]}"`,
        );
      }
      if (j === PIXELS) labels[i] = value;
      else images[i * PIXELS + j] = value;
    }
  });
  return { images, labels, length: lines.length };
}

/**
 * Reads the gzipped CSV (by default the embedded copy) and parses it.
 *
 * @example
 * ```ts
 * import { loadDigits } from "./data.ts";
 *
 * const digits = await loadDigits();
 * console.log(digits.length, digits.labels[0]); // 1797 0
 * ```
 */
export async function loadDigits(source: URL | string | Uint8Array = DIGITS_URL): Promise<Digits> {
  const gz = source instanceof Uint8Array ? source : await Deno.readFile(source);
  return parseDigitsCsv(new TextDecoder().decode(gunzipSync(gz)));
}

/**
 * The network's input for `count` images of 64 pixels in 0..16: a
 * `[count, 1, 8, 8]` float32 tensor scaled to 0..1. The demo and the server
 * both go through here, so they preprocess alike.
 *
 * @example
 * ```ts
 * import { toInputs } from "./data.ts";
 *
 * const x = toInputs(new Float32Array(64).fill(8));
 * console.log(x.shape, x.max().itemSync()); // [ 1, 1, 8, 8 ] 0.5
 * ```
 */
export function toInputs(pixels: ArrayLike<number>, options: { device?: torch.DeviceLike } = {}): torch.Tensor {
  if (pixels.length % PIXELS !== 0) {
    throw new RangeError(`expected a multiple of ${PIXELS} pixels (8x8 images), got ${pixels.length}`);
  }
  const scaled = Float32Array.from(pixels, (v) => v / MAX_PIXEL);
  return torch.tensor(scaled, { device: options.device }).reshape(-1, 1, 8, 8);
}

/** The seeded split of {@linkcode splitDigits}. */
export interface DigitsSplit {
  /** the training images and labels */
  readonly train: torch.utils.data.TensorDataset;
  /** the held-out images and labels */
  readonly test: torch.utils.data.TensorDataset;
  /** the indices of the test images in the file, in split order */
  readonly testIndices: number[];
}

/** Options of {@linkcode splitDigits}. */
export interface SplitOptions {
  /** the split's seed (default 0) */
  seed?: number;
  /** the held-out fraction (default 0.2) */
  testFraction?: number;
  /** where the tensors live (default: the default device) */
  device?: torch.DeviceLike;
}

/**
 * Splits the digits into training and test sets with `randomSplit` and a
 * seeded `Generator`, as `random_split(ds, [0.8, 0.2], generator=g)`, and
 * gathers each split into one tensor pair, so batches are slices of it.
 *
 * @example
 * ```ts
 * import { loadDigits, splitDigits } from "./data.ts";
 *
 * const { train, test } = splitDigits(await loadDigits(), { seed: 0 });
 * console.log(train.length, test.length, test.tensors[0].shape); // 1438 359 [ 359, 1, 8, 8 ]
 * ```
 */
export function splitDigits(digits: Digits, options: SplitOptions = {}): DigitsSplit {
  const testFraction = options.testFraction ?? 0.2;
  const [trainSplit, testSplit] = torch.utils.data.randomSplit(
    Array.from({ length: digits.length }, (_, i) => i),
    [1 - testFraction, testFraction],
    { generator: new torch.Generator(options.seed ?? 0) },
  );
  const gather = (indices: readonly number[]) => {
    const pixels = new Float32Array(indices.length * PIXELS);
    indices.forEach((k, i) => pixels.set(digits.images.subarray(k * PIXELS, (k + 1) * PIXELS), i * PIXELS));
    const labels = Int32Array.from(indices, (k) => digits.labels[k]);
    return new torch.utils.data.TensorDataset(
      toInputs(pixels, { device: options.device }),
      torch.tensor(labels, { dtype: "int32", device: options.device }),
    );
  };
  return { train: gather(trainSplit.indices), test: gather(testSplit.indices), testIndices: [...testSplit.indices] };
}
