// torchvision's image preprocessing for PIL images, reproduced exactly:
// `Resize` runs Pillow's separable resampling (bilinear with the filter
// widened by the downscale factor, i.e. antialiased, coefficients in 22-bit
// fixed point, each pass rounded to 8 bits), `CenterCrop` rounds its offsets
// as Python's round() does, and the result becomes a float tensor in [0, 1]
// that is normalized in float32, so a photo prepared here gives the tensor
// torchvision gives for the same decoded pixels.

import { fromArray, type Tensor, tensor as makeTensor } from "@flint/autograd";
import { Module } from "@flint/nn";

/**
 * A decoded 8-bit RGB image, row-major with channels interleaved (what
 * `np.asarray(PIL.Image.open(path).convert("RGB"))` holds).
 */
export interface RgbImage {
  /** columns */
  readonly width: number;
  /** rows */
  readonly height: number;
  /** `height * width * 3` bytes: R, G, B of each pixel, row by row */
  readonly data: Uint8Array;
}

function checkImage(img: RgbImage): void {
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 1 || img.height < 1) {
    throw new RangeError(`image size must be positive integers, got ${img.width}x${img.height}`);
  }
  if (img.data.length !== img.width * img.height * 3) {
    throw new RangeError(
      `an RGB image of ${img.width}x${img.height} needs ${img.width * img.height * 3} bytes, got ${img.data.length}`,
    );
  }
}

// ---- Pillow's resampling (src/libImaging/Resample.c) ----

// Pillow's fixed point: 32 bits minus 8 for the pixel and 2 for the sign and overflow.
const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

interface Coefficients {
  /** per output index: first input index, then how many */
  bounds: Int32Array;
  /** `ksize` fixed-point weights per output index */
  kk: Int32Array;
  ksize: number;
}

/** Pillow's `precompute_coeffs` with the bilinear (triangle) filter, then `normalize_coeffs_8bpc`. */
function precomputeCoeffs(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  // Downscaling widens the filter by the scale: this is the antialiasing.
  const filterscale = Math.max(scale, 1);
  const support = 1 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    // C's (int) truncates toward zero; the clamps make that equal to Pillow's for negative values too.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      const w = t < 1 ? 1 - t : 0;
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      kk[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, kk, ksize };
}

function clip8(ss: number): number {
  const v = Math.floor(ss / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** One horizontal pass over rows `[y0, y0 + rows)` of `src` (width `inW`), into `rows` rows of width `outW`. */
function resampleHorizontal(src: Uint8Array, inW: number, y0: number, rows: number, c: Coefficients): Uint8Array {
  const outW = c.bounds.length / 2;
  const out = new Uint8Array(rows * outW * 3);
  for (let y = 0; y < rows; y++) {
    const rowIn = (y + y0) * inW * 3;
    const rowOut = y * outW * 3;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = c.bounds[xx * 2], xmax = c.bounds[xx * 2 + 1], kOff = xx * c.ksize;
      let s0 = HALF, s1 = HALF, s2 = HALF;
      for (let x = 0; x < xmax; x++) {
        const w = c.kk[kOff + x], p = rowIn + (x + xmin) * 3;
        s0 += src[p] * w;
        s1 += src[p + 1] * w;
        s2 += src[p + 2] * w;
      }
      out[rowOut + xx * 3] = clip8(s0);
      out[rowOut + xx * 3 + 1] = clip8(s1);
      out[rowOut + xx * 3 + 2] = clip8(s2);
    }
  }
  return out;
}

/** One vertical pass: `src` has width `w`; its row 0 is input row `y0` of the coefficients. */
function resampleVertical(src: Uint8Array, w: number, y0: number, c: Coefficients): Uint8Array {
  const outH = c.bounds.length / 2;
  const out = new Uint8Array(outH * w * 3);
  const rowLen = w * 3;
  for (let yy = 0; yy < outH; yy++) {
    const ymin = c.bounds[yy * 2] - y0, ymax = c.bounds[yy * 2 + 1], kOff = yy * c.ksize;
    const rowOut = yy * rowLen;
    for (let i = 0; i < rowLen; i++) {
      let s = HALF;
      for (let y = 0; y < ymax; y++) s += src[(y + ymin) * rowLen + i] * c.kk[kOff + y];
      out[rowOut + i] = clip8(s);
    }
  }
  return out;
}

/**
 * Resizes an RGB image to `width` x `height` as Pillow's
 * `Image.resize((width, height), Image.BILINEAR)`: horizontal pass, then
 * vertical, each antialiased when shrinking and rounded to 8 bits.
 */
function resizeTo(img: RgbImage, width: number, height: number): RgbImage {
  if (width === img.width && height === img.height) return { width, height, data: img.data.slice() };
  const needH = width !== img.width, needV = height !== img.height;
  const horiz = precomputeCoeffs(img.width, width);
  const vert = precomputeCoeffs(img.height, height);
  let data = img.data, w = img.width, y0 = 0;
  if (needH) {
    // Only the rows the vertical pass reads, as Pillow does.
    const first = vert.bounds[0];
    const last = vert.bounds[height * 2 - 2] + vert.bounds[height * 2 - 1];
    data = resampleHorizontal(data, img.width, needV ? first : 0, needV ? last - first : img.height, horiz);
    w = width;
    y0 = needV ? first : 0;
  }
  if (needV) data = resampleVertical(data, w, y0, vert);
  return { width, height, data };
}

/** Options of {@linkcode resize}. */
export interface ResizeOptions {
  /** an upper bound on the longer side, as torchvision's `max_size` */
  maxSize?: number;
}

/**
 * Resizes as `torchvision.transforms.functional.resize(pil_image, size)`
 * with bilinear interpolation: a number sets the shorter side and the longer
 * side becomes `int(size * long / short)`; `[height, width]` sets both.
 * PIL always antialiases.
 *
 * @example
 * ```ts
 * import { transforms } from "@flint/models";
 *
 * const img = { width: 4, height: 2, data: new Uint8Array(24).fill(200) };
 * const small = transforms.resize(img, 1);
 * console.log(small.width, small.height, [...small.data]); // 2 1 [ 200, 200, 200, 200, 200, 200 ]
 * ```
 */
export function resize(img: RgbImage, size: number | readonly [number, number], options: ResizeOptions = {}): RgbImage {
  checkImage(img);
  let outW: number, outH: number;
  if (typeof size === "number") {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
    const [short, long] = img.width <= img.height ? [img.width, img.height] : [img.height, img.width];
    let newShort = size, newLong = Math.trunc((size * long) / short);
    if (options.maxSize !== undefined) {
      if (options.maxSize <= size) {
        throw new RangeError(
          `max_size = ${options.maxSize} must be strictly greater than the requested size for the smaller edge ` +
            `size = ${size}`,
        );
      }
      if (newLong > options.maxSize) {
        [newShort, newLong] = [Math.trunc((options.maxSize * newShort) / newLong), options.maxSize];
      }
    }
    [outW, outH] = img.width <= img.height ? [newShort, newLong] : [newLong, newShort];
  } else {
    if (options.maxSize !== undefined) {
      throw new RangeError(
        "max_size should only be passed if size specifies the length of the smaller edge, i.e. size should be an int",
      );
    }
    [outH, outW] = size;
  }
  if (!(outW >= 1 && outH >= 1)) throw new RangeError(`cannot resize ${img.width}x${img.height} to ${outW}x${outH}`);
  return resizeTo(img, outW, outH);
}

// Python's round(): halves go to the even neighbour.
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Crops the center, as `torchvision.transforms.functional.center_crop`: the
 * offsets are `round((H - h) / 2)` and `round((W - w) / 2)` (halves to even);
 * an image smaller than the crop is first padded with black.
 *
 * @example
 * ```ts
 * import { transforms } from "@flint/models";
 *
 * const img = { width: 3, height: 1, data: new Uint8Array([1, 1, 1, 2, 2, 2, 3, 3, 3]) };
 * console.log([...transforms.centerCrop(img, [1, 1]).data]); // [ 2, 2, 2 ]
 * ```
 */
export function centerCrop(img: RgbImage, size: number | readonly [number, number]): RgbImage {
  checkImage(img);
  const [h, w] = typeof size === "number" ? [size, size] : size;
  if (!(Number.isInteger(h) && Number.isInteger(w) && h >= 1 && w >= 1)) {
    throw new RangeError(`crop size must be positive integers, got ${h}x${w}`);
  }
  let src = img;
  if (w > img.width || h > img.height) {
    // torchvision pads (left, top) by floor(d / 2), the rest on the right and bottom.
    const padL = w > img.width ? Math.floor((w - img.width) / 2) : 0;
    const padT = h > img.height ? Math.floor((h - img.height) / 2) : 0;
    const pw = Math.max(w, img.width), ph = Math.max(h, img.height);
    const data = new Uint8Array(pw * ph * 3);
    for (let y = 0; y < img.height; y++) {
      data.set(img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3), ((y + padT) * pw + padL) * 3);
    }
    src = { width: pw, height: ph, data };
    if (pw === w && ph === h) return src;
  }
  const top = roundHalfEven((src.height - h) / 2), left = roundHalfEven((src.width - w) / 2);
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const from = ((y + top) * src.width + left) * 3;
    data.set(src.data.subarray(from, from + w * 3), y * w * 3);
  }
  return { width: w, height: h, data };
}

/**
 * The image as a float32 tensor `[3, H, W]` in [0, 1], as
 * `convert_image_dtype(pil_to_tensor(img), torch.float)` (which equals
 * `to_tensor(img)`): each byte divided by 255.
 *
 * @example
 * ```ts
 * import "@flint/torch"; // sets up the CPU device
 * import { transforms } from "@flint/models";
 *
 * const t = transforms.toTensor({ width: 1, height: 1, data: new Uint8Array([0, 51, 255]) });
 * console.log(t.shape, String(t.flatten())); // [ 3, 1, 1 ] tensor([0.0000, 0.2000, 1.0000])
 * ```
 */
export function toTensor(img: RgbImage): Tensor {
  checkImage(img);
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[c * n + i] = img.data[i * 3 + c] / 255;
  }
  return fromArray(out, [3, img.height, img.width]);
}

/**
 * `(tensor - mean) / std` per channel, as
 * `torchvision.transforms.functional.normalize` (not in place).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { transforms } from "@flint/models";
 *
 * const x = transforms.normalize(torch.ones(2, 1, 1), [0.5, 0.5], [0.5, 0.25]);
 * console.log(String(x.flatten())); // tensor([1., 2.])
 * ```
 */
export function normalize(tensor: Tensor, mean: readonly number[], std: readonly number[]): Tensor {
  if (tensor.shape.length < 3) {
    throw new RangeError(
      `Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = [${tensor.shape}]`,
    );
  }
  if (std.some((s) => s === 0)) {
    throw new RangeError(`std evaluated to zero after conversion to ${tensor.dtype}, leading to division by zero.`);
  }
  const factory = { dtype: tensor.dtype, device: tensor.device };
  const m = makeTensor([...mean], factory).view(-1, 1, 1);
  const s = makeTensor([...std], factory).view(-1, 1, 1);
  return tensor.sub(m).div(s);
}

/** Options of {@linkcode ImageClassification}, as torchvision's `ImageClassification` preset. */
export interface ImageClassificationOptions {
  /** the side of the square center crop */
  cropSize: number;
  /** the shorter side after resizing (default 256) */
  resizeSize?: number;
  /** per-channel mean (default ImageNet's: 0.485, 0.456, 0.406) */
  mean?: readonly number[];
  /** per-channel standard deviation (default ImageNet's: 0.229, 0.224, 0.225) */
  std?: readonly number[];
}

/**
 * torchvision's classification preset (`weights.transforms()`): resize the
 * shorter side to `resizeSize` (PIL bilinear, antialiased), center-crop
 * `cropSize`, scale to [0, 1], normalize. Call it on an {@linkcode RgbImage};
 * it returns a float32 `[3, cropSize, cropSize]` tensor.
 *
 * @example
 * ```ts
 * import "@flint/torch"; // sets up the CPU device
 * import { transforms } from "@flint/models";
 *
 * const preprocess = new transforms.ImageClassification({ cropSize: 224 });
 * const img = { width: 320, height: 240, data: new Uint8Array(320 * 240 * 3).fill(128) };
 * console.log(preprocess(img).shape); // [ 3, 224, 224 ]
 * ```
 */
export class ImageClassification extends Module<[RgbImage], Tensor> {
  /** `[cropSize]` */
  readonly cropSize: number[];
  /** `[resizeSize]` */
  readonly resizeSize: number[];
  /** the mean subtracted per channel */
  readonly mean: number[];
  /** the standard deviation divided by per channel */
  readonly std: number[];

  /** The preset with these sizes and statistics. */
  constructor(options: ImageClassificationOptions) {
    super();
    this.cropSize = [options.cropSize];
    this.resizeSize = [options.resizeSize ?? 256];
    this.mean = [...(options.mean ?? [0.485, 0.456, 0.406])];
    this.std = [...(options.std ?? [0.229, 0.224, 0.225])];
  }

  /** The image as the model's input `[3, cropSize, cropSize]`. */
  override forward(img: RgbImage): Tensor {
    const cropped = centerCrop(resize(img, this.resizeSize[0]), this.cropSize[0]);
    return normalize(toTensor(cropped), this.mean, this.std);
  }

  /** torchvision's repr. */
  override toString(): string {
    return `ImageClassification(\n    crop_size=[${this.cropSize}]\n    resize_size=[${this.resizeSize}]\n` +
      `    mean=[${this.mean.join(", ")}]\n    std=[${this.std.join(", ")}]\n` +
      `    interpolation=InterpolationMode.BILINEAR\n)`;
  }
}
