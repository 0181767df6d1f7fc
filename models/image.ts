// Decoding photos for the models, as `PIL.Image.open(path).convert("RGB")`.
//
// JPEG goes through libjpeg compiled to WebAssembly (mozjpeg, a libjpeg-turbo
// derivative, as packaged by @jsquash/jpeg), with libjpeg's defaults, which
// are Pillow's: the accurate integer IDCT, "fancy" (triangle-filter) chroma
// upsampling and libjpeg's rounded YCbCr→RGB. So JPEGs decode to the bytes
// Pillow's libjpeg-turbo gives, measured equal on 4:2:0, 4:2:2, 4:4:4, 4:1:1,
// gray and progressive files and on real photos; the one known exception is
// 4:4:0 (what rotating a 4:2:2 file losslessly makes), where this mozjpeg
// rounds its vertical chroma interpolation as libjpeg-turbo did before 2.0
// (up to 2 levels apart). The .wasm is read from the installed npm package,
// never fetched; runtimes that cannot read it (browsers, edge workers) pass
// it in. CMYK/YCCK JPEGs, which libjpeg cannot convert to RGB, and runtimes
// without WebAssembly use jpeg-js (pure JavaScript, within a level of Pillow
// on CMYK, a few levels on photos elsewhere). PNG goes through fast-png and
// decodes to Pillow's bytes.

import { createRequire } from "node:module";
import mozjpegFactory from "@jsquash/jpeg/codec/dec/mozjpeg_dec.js";
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

/** What a JPEG's frame header (SOFn) says, read before decoding. */
interface JpegFrame {
  /** the SOF marker's low nibble: 0 baseline, 1 extended, 2 progressive, 3 lossless, 9+ arithmetic */
  process: number;
  width: number;
  height: number;
  components: number;
}

/** The first frame header of a JPEG, walking its markers from SOI; null when there is none before the scan data. */
function jpegFrame(bytes: Uint8Array): JpegFrame | null {
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1];
    if (marker === 0xff) { // fill byte
      i++;
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { // no length: TEM, RSTn
      i += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return null; // scan data or end of image before any frame
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    // SOF0..SOF15, except DHT (c4), JPG (c8) and DAC (cc), which share the range.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (i + 10 > bytes.length) return null;
      return {
        process: marker & 0x0f,
        height: (bytes[i + 5] << 8) | bytes[i + 6],
        width: (bytes[i + 7] << 8) | bytes[i + 8],
        components: bytes[i + 9],
      };
    }
    i += 2 + length;
  }
  return null;
}

/** The part of @jsquash/jpeg's Emscripten module used here (its `decode` is libjpeg behind embind). */
interface Mozjpeg {
  decode(data: Uint8Array, preserveOrientation: boolean): { width: number; height: number; data: Uint8ClampedArray };
  HEAPU8: Uint8Array;
}

/** Emscripten's module options, as far as they are used here. */
interface EmscriptenOptions {
  noInitialRun: boolean;
  print(line: string): void;
  printErr(line: string): void;
  instantiateWasm(imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance) => void): WebAssembly.Exports;
}

const createMozjpeg = mozjpegFactory as unknown as (options: EmscriptenOptions) => Promise<unknown>;
const MOZJPEG_WASM = "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm";
/** An instance whose memory grew past this after a decode is dropped, so one big photo does not pin its buffers. */
const KEEP_HEAP_BYTES = 64 * 2 ** 20;

let mozjpegModule: WebAssembly.Module | undefined;
let mozjpeg: Mozjpeg | undefined;
/** What libjpeg printed during the current decode: its warnings, and the message of the error that ended it. */
const libjpegMessages: string[] = [];

/** The compiled decoder: given, or read from the installed npm package (once per process). */
function compiledMozjpeg(wasm: WebAssembly.Module | BufferSource | undefined): WebAssembly.Module {
  if (mozjpegModule !== undefined) return mozjpegModule;
  if (wasm instanceof WebAssembly.Module) return mozjpegModule = wasm;
  if (wasm !== undefined) return mozjpegModule = new WebAssembly.Module(wasm);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = Deno.readFileSync(createRequire(import.meta.url).resolve(MOZJPEG_WASM));
  } catch (e) {
    throw new Error(
      `cannot read the JPEG decoder ${MOZJPEG_WASM} from the installed npm package ` +
        `(${e instanceof Error ? e.message : String(e)}): pass its bytes or its compiled WebAssembly.Module ` +
        `(npm:@jsquash/jpeg@1.6.0) as decodeImage(bytes, { jpegWasm })`,
    );
  }
  return mozjpegModule = new WebAssembly.Module(bytes);
}

/** A fresh decoder instance. Emscripten runs its start-up synchronously when instantiation is synchronous. */
function instantiateMozjpeg(module: WebAssembly.Module): Mozjpeg {
  let failure: unknown;
  const options: EmscriptenOptions & Partial<Mozjpeg> = {
    noInitialRun: true,
    print: (line) => libjpegMessages.push(line),
    printErr: (line) => libjpegMessages.push(line),
    instantiateWasm(imports, done) {
      // Caught here, not thrown: Emscripten would reject the promise below, and nobody listens to it.
      try {
        const instance = new WebAssembly.Instance(module, imports);
        done(instance);
        return instance.exports;
      } catch (e) {
        failure = e;
        return {};
      }
    },
  };
  // The promise settles with `options` itself, which is ready by now. No handler is attached: a pending
  // reaction would hold the instance (and its grown memory) until the event loop next runs.
  createMozjpeg(options);
  if (typeof options.decode !== "function") {
    const why = failure instanceof Error ? failure.message : String(failure ?? libjpegMessages.join("; "));
    throw new Error(`the JPEG decoder did not start: ${why}`);
  }
  return options as Mozjpeg;
}

/** A JPEG through libjpeg (WebAssembly), as Pillow's libjpeg-turbo decodes it. */
function decodeJpegWithLibjpeg(bytes: Uint8Array, wasm: WebAssembly.Module | BufferSource | undefined): RgbImage {
  const decoder = mozjpeg ??= instantiateMozjpeg(compiledMozjpeg(wasm));
  libjpegMessages.length = 0;
  let img: ReturnType<Mozjpeg["decode"]>;
  try {
    img = decoder.decode(bytes, false); // false: EXIF orientation is not applied, as in Pillow
  } catch (e) {
    // libjpeg's errors leave the module by exit(), skipping its frees and its stack's unwinding: start afresh.
    mozjpeg = undefined;
    const why = libjpegMessages.at(-1) ?? (e instanceof Error ? e.message : String(e));
    throw new Error(`cannot decode JPEG: ${why}`);
  }
  if (decoder.HEAPU8.length > KEEP_HEAP_BYTES) mozjpeg = undefined;
  // libjpeg pads a truncated file with gray and warns; Pillow refuses it.
  if (libjpegMessages.some((m) => m.startsWith("Premature end of JPEG file"))) {
    throw new Error("image file is truncated: the JPEG data ends before the image does");
  }
  const { width, height, data } = img;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    out[i * 3] = data[j];
    out[i * 3 + 1] = data[j + 1];
    out[i * 3 + 2] = data[j + 2];
  }
  return { width, height, data: out };
}

/** A JPEG through jpeg-js (pure JavaScript): CMYK/YCCK files, and runtimes without WebAssembly. */
function decodeJpegWithJpegJs(bytes: Uint8Array, maxPixels: number): RgbImage {
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

/** Options of {@linkcode decodeImage} and {@linkcode openImage}. */
export interface DecodeImageOptions {
  /** refuse images with more pixels than this, checked from the header before decoding (default 100 million) */
  maxPixels?: number;
  /**
   * the JPEG decoder, `@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm` of npm:@jsquash/jpeg@1.6.0, as bytes or
   * compiled, for runtimes that cannot read the installed npm package (browsers, edge workers: where
   * compiling from bytes is not allowed, pass the `WebAssembly.Module`). Used once, by the first JPEG decoded;
   * by default the file is read from the installed package.
   */
  jpegWasm?: WebAssembly.Module | BufferSource;
}

/**
 * Decodes a JPEG or PNG file's bytes to 8-bit RGB, as
 * `PIL.Image.open(f).convert("RGB")` (gray is replicated, alpha and
 * transparency are dropped, palettes are looked up; EXIF orientation is not
 * applied, as in Pillow). JPEGs go through libjpeg compiled to WebAssembly
 * and decode to Pillow's bytes (libjpeg-turbo's accurate IDCT and fancy
 * upsampling), except 4:4:0 files (up to 2 levels apart). CMYK JPEGs go
 * through jpeg-js (within a level of Pillow), and so does every JPEG where
 * WebAssembly is missing (then a few levels off on photos, tens at sharp
 * colour edges of 4:2:0 files, for want of chroma interpolation). As in
 * Pillow, damaged-but-readable JPEG data decodes and a truncated file is an
 * error.
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
 *
 * @example A JPEG, the decoder's .wasm given as bytes (as a browser or an edge worker would)
 * ```ts
 * import { decodeImage } from "@flint/models";
 * import { createRequire } from "node:module";
 *
 * const wasm = await Deno.readFile(createRequire(import.meta.url).resolve("@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm"));
 * const jpeg = await Deno.readFile(new URL("../tests/fixtures/resnet/images/gray_300x257.jpg", import.meta.url));
 * const img = decodeImage(jpeg, { jpegWasm: wasm });
 * console.log(img.width, img.height, img.data.length); // 300 257 231300
 * ```
 */
export function decodeImage(bytes: Uint8Array, options: DecodeImageOptions = {}): RgbImage {
  const maxPixels = options.maxPixels ?? 100_000_000;
  const kind = kindOf(bytes);
  if (kind === "jpeg") {
    const frame = jpegFrame(bytes);
    if (frame !== null && frame.width * frame.height > maxPixels) {
      throw new RangeError(
        `JPEG of ${frame.width}x${frame.height} pixels exceeds the limit of ${maxPixels} pixels`,
      );
    }
    if (frame !== null && frame.process >= 9) {
      throw new TypeError(
        `arithmetic-coded JPEGs (SOF${frame.process}) are not supported: the WebAssembly libjpeg is built without them`,
      );
    }
    if (frame?.components === 4 || typeof WebAssembly === "undefined") return decodeJpegWithJpegJs(bytes, maxPixels);
    return decodeJpegWithLibjpeg(bytes, options.jpegWasm);
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
