// A PNG of a handwritten digit → the 64 pixels in 0..16 the network reads, as
// close as a photo or a drawing gets to the UCI preprocessing (a 32×32
// black-and-white bitmap, each 8×8 pixel counting the ink in a 4×4 block):
//
// 1. decode with fast-png (any bit depth, gray, RGB, palette, with or without alpha);
// 2. to grayscale luminance in 0..1 (ITU-R 601: 0.299 R + 0.587 G + 0.114 B, PIL's
//    convert("L")), transparent pixels composited over white, as a viewer shows them;
// 3. to "ink" in 0..1: the UCI digits are light ink (high) on a dark (0)
//    background, so when the image's border is light on average (dark on light,
//    a pen on paper) it is inverted;
// 4. resized to 8×8 by area averaging: each output pixel is the mean ink over
//    its 1/8 × 1/8 of the picture, partial source pixels weighted by the part
//    they cover (any width and height; a non-square image is squeezed);
// 5. times 16, so a cell fully inked reads 16 as in UCI (not rounded: the
//    fractions carry information the network handles).
//
// It does not crop or centre the digit: frame it as the UCI digits are, filling
// the square.

import { decode, type DecodedPng, encode, hasPngSignature } from "fast-png";
import { MAX_PIXEL } from "./data.ts";

/** The largest picture accepted, in pixels (a 1024×1024 image), checked before inflating. */
export const MAX_PNG_PIXELS: number = 1024 * 1024;

/** A PNG that cannot be read as a digit; a server answers 400 with its message. */
export class PngError extends Error {
  /** An error with `message`. */
  constructor(message: string) {
    super(message);
    this.name = "PngError";
  }
}

/** Samples of one row-major channel-interleaved image, each in 0..1. */
function samples(png: DecodedPng): Float32Array {
  const { width, height, depth, channels, data } = png;
  const count = width * height * channels;
  const out = new Float32Array(count);
  if (depth >= 8) {
    const max = depth === 16 ? 65535 : 255;
    for (let i = 0; i < count; i++) out[i] = data[i] / max;
    return out;
  }
  // 1, 2 and 4 bits per sample come packed, each row padded to a byte.
  const rowBytes = Math.ceil((width * channels * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width * channels; x++) {
      const bit = x * depth;
      const byte = data[y * rowBytes + (bit >> 3)];
      out[y * width * channels + x] = ((byte >> (8 - depth - (bit & 7))) & mask) / mask;
    }
  }
  return out;
}

/** Palette indices, unpacked from 1, 2, 4 or 8 bits. */
function indices(png: DecodedPng): Uint8Array {
  const { width, height, depth, data } = png;
  if (depth === 8) return Uint8Array.from(data);
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      out[y * width + x] = (data[y * rowBytes + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

/**
 * Luminance in 0..1 of each pixel, transparency composited over white.
 *
 * @throws {PngError} on a palette index past the palette's end
 */
function luminance(png: DecodedPng): Float32Array {
  const { width, height, channels } = png;
  const n = width * height;
  const gray = new Float32Array(n);
  const over = (value: number, alpha: number) => value * alpha + (1 - alpha);
  if (png.palette !== undefined) {
    const palette = png.palette;
    const index = indices(png);
    for (let i = 0; i < n; i++) {
      const color = palette[index[i]];
      if (color === undefined) {
        throw new PngError(`bad PNG: palette index ${index[i]} past its ${palette.length} colours`);
      }
      const alpha = color.length > 3 ? color[3] / 255 : (png.transparency?.[index[i]] ?? 255) / 255;
      gray[i] = over((0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]) / 255, alpha);
    }
    return gray;
  }
  const s = samples(png);
  const color = channels >= 3;
  const hasAlpha = channels === 2 || channels === 4;
  // tRNS on a gray or RGB image names one fully transparent colour.
  const key = png.transparency;
  const max = png.depth === 16 ? 65535 : (1 << png.depth) - 1;
  for (let i = 0; i < n; i++) {
    const p = i * channels;
    const value = color ? 0.299 * s[p] + 0.587 * s[p + 1] + 0.114 * s[p + 2] : s[p];
    let alpha = hasAlpha ? s[p + channels - 1] : 1;
    if (!hasAlpha && key !== undefined && key.length >= (color ? 3 : 1)) {
      const same = color
        ? Math.round(s[p] * max) === key[0] && Math.round(s[p + 1] * max) === key[1] &&
          Math.round(s[p + 2] * max) === key[2]
        : Math.round(s[p] * max) === key[0];
      if (same) alpha = 0;
    }
    gray[i] = over(value, alpha);
  }
  return gray;
}

/** Source pixel `i` covers `weight` of output cell `cell`, when `size` pixels map to `cells` cells. */
function coverage(size: number, cells: number): { cell: number; i: number; weight: number }[] {
  const step = size / cells;
  const spans = [];
  for (let cell = 0; cell < cells; cell++) {
    const from = cell * step;
    const to = (cell + 1) * step;
    for (let i = Math.floor(from); i < Math.min(size, Math.ceil(to)); i++) {
      spans.push({ cell, i, weight: (Math.min(to, i + 1) - Math.max(from, i)) / step });
    }
  }
  return spans;
}

/**
 * Area-averages a `height`×`width` image (row-major) to `cells`×`cells`:
 * rows then columns, each source pixel weighted by the part of the cell it
 * covers.
 *
 * @example
 * ```ts
 * import { areaResize } from "./png.ts";
 *
 * const img = Float32Array.from({ length: 16 }, (_, i) => (i % 4 < 2 ? 1 : 0)); // 4×4, left half 1
 * console.log(areaResize(img, 4, 4, 2)); // Float32Array(4) [ 1, 0, 1, 0 ]
 * ```
 */
export function areaResize(image: Float32Array, width: number, height: number, cells: number): Float32Array {
  const rows = new Float64Array(height * cells);
  for (const { cell, i, weight } of coverage(width, cells)) {
    for (let y = 0; y < height; y++) rows[y * cells + cell] += weight * image[y * width + i];
  }
  const out = new Float32Array(cells * cells);
  const sums = new Float64Array(cells * cells);
  for (const { cell, i, weight } of coverage(height, cells)) {
    for (let c = 0; c < cells; c++) sums[cell * cells + c] += weight * rows[i * cells + c];
  }
  out.set(sums);
  return out;
}

/**
 * The 64 pixels in 0..16 of a PNG of a digit (see the steps at the top of
 * this file).
 *
 * @throws {PngError} when the bytes are not a PNG, it cannot be decoded, or it is larger than {@linkcode MAX_PNG_PIXELS}
 *
 * @example
 * ```ts
 * import { encode } from "fast-png";
 * import { pngToPixels } from "./png.ts";
 *
 * // 16×16, black on white, the left half inked.
 * const data = Uint8Array.from({ length: 256 }, (_, i) => (i % 16 < 8 ? 0 : 255));
 * const pixels = pngToPixels(encode({ width: 16, height: 16, data, channels: 1 }));
 * console.log(pixels.length, pixels[0], pixels[7]); // 64 16 0
 * ```
 */
export function pngToPixels(bytes: Uint8Array): Float32Array {
  if (!hasPngSignature(bytes)) {
    const hex = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new PngError(`not a PNG: expected the signature 89 50 4e 47 0d 0a 1a 0a, got ${hex || "nothing"}`);
  }
  // IHDR's width and height are at bytes 16..24: refuse a huge image before inflating it.
  if (bytes.length < 24) throw new PngError(`bad PNG: ${bytes.length} bytes end before the IHDR chunk`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  if (width === 0 || height === 0) throw new PngError(`bad PNG: size ${width}x${height}`);
  if (width * height > MAX_PNG_PIXELS) {
    throw new PngError(`PNG of ${width}x${height} pixels exceeds the limit of ${MAX_PNG_PIXELS} pixels`);
  }
  let png: DecodedPng;
  try {
    png = decode(bytes);
  } catch (e) {
    throw new PngError(`bad PNG: ${e instanceof Error ? e.message : String(e)}`);
  }
  const perRow = png.palette !== undefined ? 1 : png.channels;
  const expected = png.depth >= 8
    ? png.width * png.height * perRow
    : Math.ceil((png.width * perRow * png.depth) / 8) * png.height;
  if (png.data.length < expected) {
    throw new PngError(`bad PNG: ${png.data.length} samples decoded, ${png.width}x${png.height} needs ${expected}`);
  }
  const gray = luminance(png);
  let border = 0;
  let count = 0;
  for (let x = 0; x < png.width; x++) {
    border += gray[x] + gray[(png.height - 1) * png.width + x];
    count += 2;
  }
  for (let y = 0; y < png.height; y++) {
    border += gray[y * png.width] + gray[y * png.width + png.width - 1];
    count += 2;
  }
  const invert = border / count > 0.5;
  const ink = invert ? gray.map((g) => 1 - g) : gray;
  return areaResize(ink, png.width, png.height, 8).map((v) => Math.min(MAX_PIXEL, Math.max(0, v * MAX_PIXEL)));
}

/** Options of {@linkcode pixelsToPng}. */
export interface PixelsToPngOptions {
  /** output pixels per digit pixel, each side (default 4: 32×32, the UCI bitmaps' size) */
  scale?: number;
  /** dark ink on a white background, as on paper (default true); false draws light ink on black, as UCI stores it */
  darkOnLight?: boolean;
}

/**
 * Draws 64 pixels in 0..16 as an 8-bit grayscale PNG, each pixel a
 * `scale`×`scale` block: a picture of a UCI digit, for the server or a page.
 *
 * @example
 * ```ts
 * import { pixelsToPng, pngToPixels } from "./png.ts";
 *
 * const pixels = Float32Array.from({ length: 64 }, (_, i) => i % 17);
 * const back = pngToPixels(pixelsToPng(pixels));
 * console.log(back.every((v, i) => Math.abs(v - pixels[i]) < 0.05)); // true
 * ```
 */
export function pixelsToPng(pixels: ArrayLike<number>, options: PixelsToPngOptions = {}): Uint8Array<ArrayBuffer> {
  if (pixels.length !== 64) throw new RangeError(`expected 64 pixels (8x8), got ${pixels.length}`);
  const scale = options.scale ?? 4;
  const side = 8 * scale;
  const data = new Uint8Array(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const ink = Math.round((pixels[Math.floor(y / scale) * 8 + Math.floor(x / scale)] * 255) / MAX_PIXEL);
      data[y * side + x] = (options.darkOnLight ?? true) ? 255 - ink : ink;
    }
  }
  return new Uint8Array(encode({ width: side, height: side, data, channels: 1, depth: 8 }));
}
