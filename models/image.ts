// Decoding photos for the models, as `PIL.Image.open(path).convert("RGB")`:
// JPEG through jpeg-js and PNG through fast-png, both pure JavaScript (no
// native code, no WebAssembly), so the same code runs in Deno, browsers and
// edge runtimes. PNG decodes to the same bytes as Pillow; JPEG differs from
// Pillow's libjpeg-turbo by a few levels (jpeg-js upsamples chroma by
// repetition where libjpeg-turbo interpolates, and rounds its own YCbCr→RGB).

import { decode as decodePngFile, type DecodedPng } from "fast-png";
import jpeg from "jpeg-js";
import type { RgbImage } from "./transforms.ts";

/** Which decoder a file's first bytes call for. */
function kindOf(bytes: Uint8Array): "jpeg" | "png" | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return "png";
  return null;
}

/** One sample per byte from PNG rows packed at `depth` bits (1, 2 or 4), each row padded to a byte. */
function unpackBits(data: ArrayLike<number>, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      const byte = data[y * rowBytes + (bit >> 3)];
      out[y * width + x] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

/** A decoded PNG as Pillow opens it and `convert("RGB")` converts it. */
function pngToRgb(png: DecodedPng): RgbImage {
  const { width, height, depth, channels } = png;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  if (png.palette !== undefined) {
    // Mode "P": the palette's colours; transparency is dropped by convert("RGB").
    const index = depth === 8 ? png.data : unpackBits(png.data, width, height, depth);
    for (let i = 0; i < n; i++) {
      const color = png.palette[index[i]];
      if (color === undefined) throw new RangeError(`PNG palette has no entry ${index[i]}`);
      out[i * 3] = color[0];
      out[i * 3 + 1] = color[1];
      out[i * 3 + 2] = color[2];
    }
    return { width, height, data: out };
  }
  const gray = channels <= 2;
  let samples: ArrayLike<number> = png.data;
  let level: (v: number) => number;
  if (depth === 16) {
    // Pillow opens 16-bit RGB(A) keeping the high byte, and 16-bit gray as
    // mode "I", whose conversion to RGB saturates at 255.
    level = gray ? (v) => (v > 255 ? 255 : v) : (v) => v >> 8;
  } else if (depth === 8) {
    level = (v) => v;
  } else {
    // 1-, 2- and 4-bit gray: Pillow stretches to 0..255 (0/255, ×85, ×17).
    samples = unpackBits(png.data, width, height, depth);
    const scale = 255 / ((1 << depth) - 1);
    level = (v) => v * scale;
  }
  for (let i = 0; i < n; i++) {
    if (gray) {
      const v = level(samples[i * channels]);
      out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = v;
    } else {
      // RGBA's alpha is dropped, not composited, as convert("RGB") does.
      out[i * 3] = level(samples[i * channels]);
      out[i * 3 + 1] = level(samples[i * channels + 1]);
      out[i * 3 + 2] = level(samples[i * channels + 2]);
    }
  }
  return { width, height, data: out };
}

/** Options of {@linkcode decodeImage} and {@linkcode openImage}. */
export interface DecodeImageOptions {
  /** refuse images with more pixels than this (default 100 million, jpeg-js's own cap) */
  maxPixels?: number;
}

/**
 * Decodes a JPEG or PNG file's bytes to 8-bit RGB, as
 * `PIL.Image.open(f).convert("RGB")` (gray is replicated, alpha and
 * transparency are dropped, palettes are looked up; EXIF orientation is not
 * applied, as in Pillow).
 *
 * @example
 * ```ts
 * import { decodeImage } from "@flint/models";
 * import { encode } from "fast-png";
 *
 * const png = encode({ width: 2, height: 1, data: new Uint8Array([255, 0, 0, 0, 0, 255]), channels: 3 });
 * const img = decodeImage(png);
 * console.log(img.width, img.height, [...img.data]); // 2 1 [ 255, 0, 0, 0, 0, 255 ]
 * ```
 */
export function decodeImage(bytes: Uint8Array, options: DecodeImageOptions = {}): RgbImage {
  const maxPixels = options.maxPixels ?? 100_000_000;
  const kind = kindOf(bytes);
  if (kind === "jpeg") {
    const img = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: maxPixels / 1e6,
      maxMemoryUsageInMB: Math.max(512, Math.ceil((maxPixels * 12) / 2 ** 20)),
    });
    return {
      width: img.width,
      height: img.height,
      data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.length),
    };
  }
  if (kind === "png") {
    // The size is in the IHDR chunk at bytes 16..24: check it before inflating.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length >= 24 && view.getUint32(16) * view.getUint32(20) > maxPixels) {
      throw new RangeError(
        `PNG of ${view.getUint32(16)}x${view.getUint32(20)} pixels exceeds the limit of ${maxPixels} pixels`,
      );
    }
    return pngToRgb(decodePngFile(bytes));
  }
  const hex = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new TypeError(`cannot identify image file: expected a JPEG (ff d8 ff) or PNG (89 50 4e 47), got ${hex}`);
}

/**
 * Reads and decodes a JPEG or PNG file (a path or a `file:`/`http(s):`
 * URL), as `PIL.Image.open(path).convert("RGB")`.
 *
 * @example
 * ```ts
 * import { decodeImage, openImage } from "@flint/models";
 * import { encode } from "fast-png";
 *
 * const path = await Deno.makeTempFile({ suffix: ".png" });
 * await Deno.writeFile(path, encode({ width: 1, height: 1, data: new Uint8Array([7]), channels: 1 }));
 * console.log([...(await openImage(path)).data]); // [ 7, 7, 7 ]
 * await Deno.remove(path);
 * ```
 */
export async function openImage(path: string | URL, options: DecodeImageOptions = {}): Promise<RgbImage> {
  const href = String(path);
  if (/^https?:\/\//i.test(href)) {
    const response = await fetch(href);
    if (!response.ok) throw new Error(`could not fetch ${href}: HTTP ${response.status}`);
    return decodeImage(new Uint8Array(await response.arrayBuffer()), options);
  }
  return decodeImage(await Deno.readFile(path), options);
}
