/**
 * Flint packs: weights for the edge, small and streamed.
 *
 * A pack is a safetensors file, compressed as a whole with gzip (RFC 1952,
 * starts `1f 8b`) or zlib-wrapped deflate (RFC 1950, starts `78`). Its
 * `__metadata__` marks it:
 *
 * | key                       | value                                                           |
 * | ------------------------- | --------------------------------------------------------------- |
 * | `format`                  | `"flint-pack"`                                                  |
 * | `flint.pack.version`      | `"1"`                                                           |
 * | `flint.pack.quantization` | `"int8"` or `"float16"`                                         |
 * | `flint.pack.dtypes`       | JSON: each state-dict key → the Flint dtype it loads back as    |
 *
 * Tensor layouts:
 * - `"float16"`: every floating tensor is stored F16.
 * - `"int8"`: every floating tensor with 2 or more dims (conv and linear
 *   weights) is stored I8 under its key, symmetric and per output channel
 *   (dim 0): `scale[i] = max|w[i, ...]| / 127`, `q = round(w / scale)` (half to
 *   even) in [-127, 127], with `scale` stored as an F32 tensor of shape
 *   `[size(0)]` under `<key>.__scale__`; `w ≈ q * scale[i]`. Floating tensors
 *   with fewer dims (biases, batch-norm statistics) stay F32.
 * - Integer tensors are stored I32 and bool tensors BOOL in both modes.
 *
 * The reader decompresses as a stream (fflate, fed in small chunks from a
 * file, a `ReadableStream` or bytes), parses the safetensors header as soon
 * as it arrives, allocates the data section once its size is known and
 * checked against the cap, and refuses output past that size at once: a
 * gzip bomb is stopped after one chunk.
 *
 * @module
 */

import { type DeviceLike, fromArray, type Tensor } from "@flint/autograd";
import { Deflate, Inflate } from "fflate";
import { crc32 } from "./crc32.ts";
import { decodeElements, encodeElements, halfToFloat, ITEM_SIZE, type SourceDType } from "./dtypes.ts";
import { WeightsFormatError } from "./errors.ts";
import { ByteBudget, type LoadLimits, type ResolvedLimits, resolveLimits } from "./limits.ts";
import { checkStateDict, type LoadResult, type StateDict, writePieces } from "./pth.ts";
import {
  checkSafetensorsHeader,
  type EncodedTensor,
  flintBytes,
  type SafetensorsHeader,
  safetensorsHeaderLength,
  safetensorsPieces,
} from "./safetensors.ts";
import { pushSize } from "./_inflate.ts";
import type { WeightsSource } from "./source.ts";

/**
 * The `format` metadata value that marks a pack.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { encodePack, PACK_FORMAT, readPack } from "@flint/models";
 *
 * const pack = await readPack(await encodePack({ w: torch.ones(1) }));
 * console.log(pack.metadata.format === PACK_FORMAT); // true
 * ```
 */
export const PACK_FORMAT = "flint-pack";
/**
 * The suffix of an int8 weight's scale tensor in a pack's safetensors.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { encodePack, loadSafetensors, SCALE_SUFFIX } from "@flint/models";
 *
 * const raw = await loadSafetensors(await encodePack({ w: torch.ones(2, 2) }, { compression: "none" }));
 * console.log(Object.keys(raw), SCALE_SUFFIX); // [ "w", "w.__scale__" ] .__scale__
 * ```
 */
export const SCALE_SUFFIX = ".__scale__";

/** How a pack stores floating tensors. */
export type PackQuantization = "int8" | "float16";
/** How a pack is compressed. */
export type PackCompression = "gzip" | "deflate" | "none";

/** Options of {@linkcode savePack} and {@linkcode encodePack}. */
export interface SavePackOptions {
  /** `"int8"` (per-channel, default) or `"float16"` */
  quantization?: PackQuantization;
  /** `"gzip"` (default), `"deflate"` (zlib-wrapped) or `"none"` */
  compression?: PackCompression;
  /** compression level 0 to 9 (default 6) */
  level?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
  /** extra `__metadata__` strings */
  metadata?: Record<string, string>;
}

/** One tensor of a pack as stored: its file dtype, shape, bytes and (int8) scales. */
export interface PackedTensor {
  /** the dtype in the file */
  dtype: SourceDType;
  /** the shape */
  shape: number[];
  /** the little-endian bytes */
  data: Uint8Array;
  /** per-row scales of an int8 tensor */
  scale?: Float32Array;
  /** the Flint dtype it loads back as */
  restore: "float32" | "float64" | "int32" | "bool";
}

/** A pack read but not yet dequantized. */
export interface Pack {
  /** the tensors by state-dict key, in file order (scales folded into their tensors) */
  tensors: Record<string, PackedTensor>;
  /** the whole `__metadata__` */
  metadata: Record<string, string>;
  /** the quantization it was written with */
  quantization: PackQuantization;
}

/** Options of {@linkcode readPack} and {@linkcode loadPack}. */
export interface LoadPackOptions {
  /** caps; `maxBytes` bounds the decompressed size */
  limits?: LoadLimits;
  /** called as compressed bytes are read, with the total when known */
  onProgress?: (bytesRead: number, totalBytes: number | undefined) => void;
  /** where the tensors go (default: the default device) */
  device?: DeviceLike;
}

// ---- writing ----

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Symmetric per-row int8 quantization of row-major `data` with `rows` rows:
 * `scale = max|row| / 127`, `q = round(w / scale)`, as
 * `torch.quantize_per_channel(w, scale, 0, axis=0, dtype=torch.qint8)` gives.
 *
 * @example
 * ```ts
 * import { quantizeInt8 } from "@flint/models";
 *
 * const { q, scale } = quantizeInt8(new Float32Array([1, -0.5, 0.25, 0]), 2);
 * console.log(q, scale); // Int8Array(4) [ 127, -64, 127, 0 ] Float32Array(2) [ 0.007874015718698502, 0.0019685039296746254 ]
 * ```
 */
export function quantizeInt8(data: ArrayLike<number>, rows: number): { q: Int8Array; scale: Float32Array } {
  const q = new Int8Array(data.length);
  const scale = new Float32Array(rows);
  const cols = rows === 0 ? 0 : data.length / rows;
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let i = r * cols; i < (r + 1) * cols; i++) max = Math.max(max, Math.abs(data[i]));
    if (!Number.isFinite(max)) throw new RangeError(`row ${r} holds a non-finite value, which int8 cannot store`);
    scale[r] = max / 127;
    const s = scale[r];
    if (s === 0) continue;
    // float32 division then rounding, as torch.quantize_per_channel does it
    for (let i = r * cols; i < (r + 1) * cols; i++) {
      q[i] = Math.max(-127, Math.min(127, roundHalfEven(Math.fround(data[i] / s))));
    }
  }
  return { q, scale };
}

async function packTensors(
  stateDict: StateDict,
  quantization: PackQuantization,
): Promise<{ tensors: [string, EncodedTensor][]; restore: Record<string, string> }> {
  const tensors: [string, EncodedTensor][] = [];
  const restore: Record<string, string> = {};
  for (const [key, t] of checkStateDict(stateDict)) {
    if (key.endsWith(SCALE_SUFFIX)) {
      throw new WeightsFormatError("invalid", `keys ending in '${SCALE_SUFFIX}' are reserved for int8 scales`, { key });
    }
    restore[key] = t.dtype;
    const data = await t.data();
    const where = { key };
    if (!t.isFloatingPoint()) {
      const dtype = t.dtype === "bool" ? "bool" : "int32";
      tensors.push([key, { dtype, shape: t.shape, data: encodeElements(data, dtype, where) }]);
    } else if (quantization === "float16") {
      tensors.push([key, { dtype: "float16", shape: t.shape, data: encodeElements(data, "float16", where) }]);
    } else if (t.ndim >= 2) {
      let packed;
      try {
        packed = quantizeInt8(data, t.shape[0]);
      } catch (e) {
        throw new WeightsFormatError("invalid", (e as Error).message, where);
      }
      const q = new Uint8Array(packed.q.buffer);
      tensors.push([key, { dtype: "int8", shape: t.shape, data: q }]);
      const scale = encodeElements(packed.scale, "float32", where);
      tensors.push([key + SCALE_SUFFIX, { dtype: "float32", shape: [t.shape[0]], data: scale }]);
    } else {
      tensors.push([key, { dtype: "float32", shape: t.shape, data: encodeElements(data, "float32", where) }]);
    }
  }
  return { tensors, restore };
}

function compressPieces(pieces: readonly Uint8Array[], compression: PackCompression, level: number): Uint8Array[] {
  if (compression === "none") return [...pieces];
  const out: Uint8Array[] = [];
  const deflate = new Deflate({ level: level as SavePackOptions["level"] }, (chunk) => out.push(chunk));
  const total = pieces.reduce((n, p) => n + p.length, 0);
  if (compression === "gzip") {
    // RFC 1952 header: deflate, no flags, mtime 0 (reproducible), XFL 0, OS 255 (unknown).
    out.push(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]));
  } else {
    out.push(new Uint8Array([0x78, 0x9c]));
  }
  let crc = 0;
  let a = 1;
  let b = 0;
  pieces.forEach((p, i) => {
    if (compression === "gzip") crc = crc32(p, crc);
    else [a, b] = adler32(p, a, b);
    deflate.push(p, i === pieces.length - 1);
  });
  if (pieces.length === 0) deflate.push(new Uint8Array(0), true);
  const trailer = new Uint8Array(compression === "gzip" ? 8 : 4);
  const v = new DataView(trailer.buffer);
  if (compression === "gzip") {
    v.setUint32(0, crc, true);
    v.setUint32(4, total % 2 ** 32, true);
  } else {
    v.setUint32(0, ((b << 16) | a) >>> 0, false);
  }
  out.push(trailer);
  return out;
}

/** Updates an Adler-32 (zlib's checksum) held as its two halves. */
function adler32(bytes: Uint8Array, a: number, b: number): [number, number] {
  let i = 0;
  while (i < bytes.length) {
    const end = Math.min(bytes.length, i + 5552);
    for (; i < end; i++) {
      a += bytes[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return [a, b];
}

/** The pieces of a pack file, in order. */
export async function encodePackPieces(stateDict: StateDict, options: SavePackOptions = {}): Promise<Uint8Array[]> {
  const quantization = options.quantization ?? "int8";
  if (quantization !== "int8" && quantization !== "float16") {
    throw new RangeError(`quantization must be "int8" or "float16", got ${quantization}`);
  }
  const compression = options.compression ?? "gzip";
  if (!["gzip", "deflate", "none"].includes(compression)) {
    throw new RangeError(`compression must be "gzip", "deflate" or "none", got ${compression}`);
  }
  const { tensors, restore } = await packTensors(stateDict, quantization);
  const metadata = {
    ...options.metadata,
    format: PACK_FORMAT,
    "flint.pack.version": "1",
    "flint.pack.quantization": quantization,
    "flint.pack.dtypes": JSON.stringify(restore),
  };
  return compressPieces(safetensorsPieces(tensors, metadata), compression, options.level ?? 6);
}

/**
 * A state dict as the bytes of a Flint pack (see the module doc for the
 * format).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { encodePack, loadPack } from "@flint/models";
 *
 * const bytes = await encodePack({ w: torch.tensor([[1, -0.5], [0.25, 0]]) });
 * console.log(bytes[0] === 0x1f && bytes[1] === 0x8b); // true: gzip
 * console.log(String((await loadPack(bytes)).w)); // tensor([[ 1.0000, -0.5039],\n        [ 0.2500,  0.0000]])
 * ```
 */
export async function encodePack(stateDict: StateDict, options: SavePackOptions = {}): Promise<Uint8Array> {
  const pieces = await encodePackPieces(stateDict, options);
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Writes a state dict to `path` as a Flint pack.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { loadPack, savePack } from "@flint/models";
 *
 * const path = await Deno.makeTempFile({ suffix: ".pack" });
 * await savePack({ w: torch.ones(4, 4) }, path, { quantization: "float16" });
 * console.log((await loadPack(path)).w.shape); // [4, 4]
 * await Deno.remove(path);
 * ```
 */
export async function savePack(stateDict: StateDict, path: string | URL, options: SavePackOptions = {}): Promise<void> {
  await writePieces(path, await encodePackPieces(stateDict, options));
}

// ---- reading ----

/** Compressed input as chunks, with its total size when known. */
interface ChunkSource {
  chunks: AsyncIterable<Uint8Array>;
  total: number | undefined;
  close(): void;
}

async function* bytesInChunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, Math.min(bytes.length, at + size));
}

async function openChunks(source: WeightsSource | ReadableStream<Uint8Array> | Response): Promise<ChunkSource> {
  if (source instanceof Uint8Array) {
    return { chunks: bytesInChunks(source, 64 * 1024), total: source.length, close() {} };
  }
  if (source instanceof ReadableStream) return { chunks: source, total: undefined, close() {} };
  if (source instanceof Response) return responseChunks(source);
  const url = source instanceof URL ? source : /^(https?|file):\/\//i.test(source) ? new URL(source) : null;
  if (url !== null && url.protocol !== "file:") {
    const response = await fetch(url);
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`could not fetch ${url.href}: HTTP ${response.status} ${response.statusText}`);
    }
    return responseChunks(response);
  }
  const file = await Deno.open(url ?? source, { read: true });
  const total = (await file.stat()).size;
  let closed = false;
  return {
    chunks: file.readable,
    total,
    close() {
      if (closed) return;
      closed = true;
      try {
        file.close();
      } catch {
        // the readable already closed it at its end
      }
    },
  };
}

function responseChunks(response: Response): ChunkSource {
  const length = Number(response.headers.get("content-length") ?? NaN);
  const body = response.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  return { chunks: body, total: Number.isFinite(length) ? length : undefined, close() {} };
}

/**
 * Receives decompressed bytes and parses a safetensors file from them as they
 * come: the length, the header, then the data into one buffer sized by the
 * header (after checking it against the budget). Anything past the data is
 * refused at once.
 */
class SafetensorsSink {
  #head = new Uint8Array(8);
  #headLength = 0;
  #header: Uint8Array | null = null;
  #headerFilled = 0;
  parsed: SafetensorsHeader | null = null;
  data: Uint8Array | null = null;
  #dataFilled = 0;
  produced = 0;
  readonly #limits: ResolvedLimits;
  readonly #budget: ByteBudget;

  constructor(limits: ResolvedLimits, budget: ByteBudget) {
    this.#limits = limits;
    this.#budget = budget;
  }

  /** Bytes the budget has left past the data section, which one push may overshoot by. */
  get headroom(): number {
    return this.#budget.remaining;
  }

  /** Bytes still expected (an upper bound until the header is parsed). */
  get room(): number {
    if (this.parsed !== null) return this.parsed.dataLength - this.#dataFilled;
    return 8 + (this.#header?.length ?? this.#limits.maxHeaderBytes) - this.#headLength - this.#headerFilled;
  }

  write(chunk: Uint8Array): void {
    let at = 0;
    this.produced += chunk.length;
    while (at < chunk.length) {
      if (this.#headLength < 8) {
        const n = Math.min(8 - this.#headLength, chunk.length - at);
        this.#head.set(chunk.subarray(at, at + n), this.#headLength);
        this.#headLength += n;
        at += n;
        if (this.#headLength === 8) {
          const n = safetensorsHeaderLength(this.#head, null, this.#limits);
          this.#budget.take(n, "the safetensors header");
          this.#header = new Uint8Array(n);
          if (n === 0) this.#finishHeader();
        }
        continue;
      }
      if (this.parsed === null) {
        const header = this.#header!;
        const n = Math.min(header.length - this.#headerFilled, chunk.length - at);
        header.set(chunk.subarray(at, at + n), this.#headerFilled);
        this.#headerFilled += n;
        at += n;
        if (this.#headerFilled === header.length) this.#finishHeader();
        continue;
      }
      const data = this.data!;
      const n = chunk.length - at;
      if (this.#dataFilled + n > data.length) {
        throw new WeightsFormatError(
          "limit",
          `the decompressed pack is longer than its safetensors content (${8 + this.#header!.length + data.length} ` +
            `bytes): a decompression bomb or trailing data`,
          { offset: this.produced - chunk.length + at },
        );
      }
      data.set(chunk.subarray(at), this.#dataFilled);
      this.#dataFilled += n;
      at += n;
    }
  }

  #finishHeader(): void {
    const parsed = checkSafetensorsHeader(this.#header!, null, this.#limits);
    this.#budget.take(parsed.dataLength, "the pack's tensor data");
    this.data = new Uint8Array(parsed.dataLength);
    this.parsed = parsed;
  }

  finish(): { header: SafetensorsHeader; data: Uint8Array } {
    if (this.parsed === null || this.#dataFilled !== this.data!.length) {
      throw new WeightsFormatError(
        "truncated",
        `the pack ends after ${this.produced} decompressed bytes, before its safetensors content does`,
      );
    }
    return { header: this.parsed, data: this.data! };
  }
}

type Wrapper = "gzip" | "zlib" | "none";

/** Strips a gzip or zlib header as bytes arrive, feeds the deflate data to fflate, checks the trailer. */
class Decompressor {
  #wrapper: Wrapper | null = null;
  #pending = new Uint8Array(0);
  #inflate: Inflate | null = null;
  #tail = new Uint8Array(0);
  #crc = 0;
  #adler: [number, number] = [1, 0];
  #size = 0;
  readonly #sink: SafetensorsSink;

  constructor(sink: SafetensorsSink) {
    this.#sink = sink;
  }

  #emit(chunk: Uint8Array): void {
    if (this.#wrapper === "gzip") this.#crc = crc32(chunk, this.#crc);
    if (this.#wrapper === "zlib") this.#adler = adler32(chunk, ...this.#adler);
    this.#size += chunk.length;
    this.#sink.write(chunk);
  }

  push(chunk: Uint8Array, final: boolean): void {
    if (this.#wrapper === null || (this.#inflate === null && this.#wrapper !== "none")) {
      const joined = new Uint8Array(this.#pending.length + chunk.length);
      joined.set(this.#pending);
      joined.set(chunk, this.#pending.length);
      const start = this.#start(joined, final);
      if (start < 0) {
        if (joined.length > 64 * 1024) throw new WeightsFormatError("corrupt", "the gzip header is too long");
        this.#pending = joined;
        return;
      }
      this.#pending = new Uint8Array(0);
      chunk = joined.subarray(start);
    }
    if (this.#wrapper === "none") {
      this.#emit(chunk);
      return;
    }
    // Remember the last bytes: the gzip or zlib trailer.
    const keep = this.#wrapper === "gzip" ? 8 : 4;
    const tail = new Uint8Array(Math.min(keep, this.#tail.length + chunk.length));
    const both = this.#tail.length + chunk.length;
    for (let i = 0; i < tail.length; i++) {
      const j = both - tail.length + i;
      tail[i] = j < this.#tail.length ? this.#tail[j] : chunk[j - this.#tail.length];
    }
    this.#tail = tail;
    let at = 0;
    do {
      const n = pushSize(this.#sink.room, this.#sink.headroom);
      const end = Math.min(chunk.length, at + n);
      try {
        this.#inflate!.push(chunk.subarray(at, end), final && end === chunk.length);
      } catch (e) {
        if (e instanceof WeightsFormatError) throw e;
        throw new WeightsFormatError(
          final ? "truncated" : "corrupt",
          `invalid ${this.#wrapper} data: ${(e as Error).message}`,
          { offset: this.#sink.produced },
        );
      }
      at = end;
    } while (at < chunk.length);
  }

  /** Detects the wrapper and returns where the deflate data starts, or -1 when more bytes are needed. */
  #start(b: Uint8Array, final: boolean): number {
    if (this.#wrapper === null) {
      if (b.length < 9 && !final) return -1;
      // A plain safetensors file first: its length bytes could pass for a zlib header.
      if (b.length >= 9 && b[8] === 0x7b && b[4] === 0 && b[5] === 0 && b[6] === 0 && b[7] === 0) {
        this.#wrapper = "none";
      } else if (b[0] === 0x1f && b[1] === 0x8b) this.#wrapper = "gzip";
      else if (b.length >= 2 && (b[0] & 0x0f) === 8 && ((b[0] << 8) | b[1]) % 31 === 0) this.#wrapper = "zlib";
      else {
        throw new WeightsFormatError("corrupt", "not a Flint pack: it is neither gzip, zlib-deflate nor safetensors", {
          offset: 0,
        });
      }
    }
    if (this.#wrapper === "none") return 0;
    const inflate = new Inflate((out) => this.#emit(out));
    if (this.#wrapper === "zlib") {
      if (b[1] & 0x20) {
        throw new WeightsFormatError("unsupported", "zlib streams with a preset dictionary are not supported");
      }
      this.#inflate = inflate;
      return 2;
    }
    if (b.length < 10) return final ? this.#truncated() : -1;
    if (b[2] !== 8) {
      throw new WeightsFormatError("corrupt", `gzip compression method ${b[2]} is not deflate`, { offset: 2 });
    }
    const flags = b[3];
    let at = 10;
    if (flags & 4) {
      if (b.length < at + 2) return final ? this.#truncated() : -1;
      at += 2 + (b[at] | (b[at + 1] << 8));
    }
    for (const bit of [8, 16]) {
      if (flags & bit) {
        const end = b.indexOf(0, at);
        if (end < 0) return final ? this.#truncated() : -1;
        at = end + 1;
      }
    }
    if (flags & 2) at += 2;
    if (b.length < at) return final ? this.#truncated() : -1;
    this.#inflate = inflate;
    return at;
  }

  #truncated(): never {
    throw new WeightsFormatError("truncated", "the pack ends inside its gzip header");
  }

  /** Checks the trailer once all input is in. */
  finish(): void {
    if (this.#wrapper === null) throw new WeightsFormatError("truncated", "the pack is empty");
    if (this.#wrapper === "gzip") {
      const v = new DataView(this.#tail.buffer);
      if (
        this.#tail.length < 8 || v.getUint32(0, true) !== this.#crc || v.getUint32(4, true) !== this.#size % 2 ** 32
      ) {
        throw new WeightsFormatError(
          "checksum",
          "the gzip trailer's CRC-32 or size does not match the data (corrupt, or data after the gzip stream)",
        );
      }
    } else if (this.#wrapper === "zlib") {
      const [a, b] = this.#adler;
      if (this.#tail.length < 4 || new DataView(this.#tail.buffer).getUint32(0, false) !== (((b << 16) | a) >>> 0)) {
        throw new WeightsFormatError("checksum", "the zlib trailer's Adler-32 does not match the data");
      }
    }
  }
}

/**
 * Reads a pack as a stream, without dequantizing: int8 tensors come with
 * their scales. Any safetensors file reads too (its tensors as stored).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { encodePack, readPack } from "@flint/models";
 *
 * const pack = await readPack(await encodePack({ w: torch.tensor([[2, -1]]) }));
 * console.log(pack.tensors.w.dtype, pack.tensors.w.scale); // int8 Float32Array(1) [ 0.015748031437397003 ]
 * ```
 */
export function readPack(
  source: WeightsSource | ReadableStream<Uint8Array> | Response,
  options: LoadPackOptions = {},
): Promise<Pack> {
  const limits = resolveLimits(options.limits);
  return readPackWithin(source, options, limits, new ByteBudget(limits.maxBytes));
}

async function readPackWithin(
  source: WeightsSource | ReadableStream<Uint8Array> | Response,
  options: LoadPackOptions,
  limits: ResolvedLimits,
  budget: ByteBudget,
): Promise<Pack> {
  const sink = new SafetensorsSink(limits, budget);
  const inflater = new Decompressor(sink);
  const input = await openChunks(source);
  let read = 0;
  try {
    let previous: Uint8Array | null = null;
    for await (const chunk of input.chunks) {
      if (previous !== null) inflater.push(previous, false);
      previous = chunk;
      read += chunk.length;
      options.onProgress?.(read, input.total);
    }
    inflater.push(previous ?? new Uint8Array(0), true);
    inflater.finish();
  } finally {
    input.close();
  }
  const { header, data } = sink.finish();
  return packFromSafetensors(header, data);
}

function packFromSafetensors(header: SafetensorsHeader, data: Uint8Array): Pack {
  const md = header.metadata;
  const quantization = md["flint.pack.quantization"] === "float16" ? "float16" : "int8";
  let restore: Record<string, unknown> = {};
  if (md["flint.pack.dtypes"] !== undefined) {
    try {
      restore = JSON.parse(md["flint.pack.dtypes"]);
    } catch {
      throw new WeightsFormatError("corrupt", "metadata flint.pack.dtypes is not JSON");
    }
  }
  const byName = new Map(header.entries.map((e) => [e.name, e]));
  const tensors: Record<string, PackedTensor> = {};
  for (const e of header.entries) {
    if (e.name.endsWith(SCALE_SUFFIX) && byName.has(e.name.slice(0, -SCALE_SUFFIX.length))) continue;
    const bytes = data.subarray(e.begin, e.end);
    const r = restore[e.name];
    const fallback = e.dtype === "bool"
      ? "bool"
      : e.dtype.startsWith("float") || e.dtype === "bfloat16"
      ? "float32"
      : "int32";
    const t: PackedTensor = {
      dtype: e.dtype,
      shape: e.shape,
      data: bytes,
      restore: r === "float32" || r === "float64" || r === "int32" || r === "bool" ? r : fallback,
    };
    const s = byName.get(e.name + SCALE_SUFFIX);
    if (s !== undefined && e.dtype === "int8") {
      if (s.dtype !== "float32" || s.shape.length !== 1 || s.shape[0] !== (e.shape[0] ?? 1) || e.shape.length < 1) {
        throw new WeightsFormatError(
          "corrupt",
          `scale must be float32 of shape [${e.shape[0]}], got ${s.dtype} [${s.shape.join(", ")}]`,
          { key: s.name },
        );
      }
      t.scale = decodeElements(data.subarray(s.begin, s.end), "float32", { key: s.name }) as Float32Array;
    }
    tensors[e.name] = t;
  }
  return { tensors, metadata: md, quantization };
}

/**
 * A packed tensor back as a Flint tensor: int8 times its per-row scale,
 * float16 widened, others decoded; floating results in the dtype the pack
 * recorded (float32 unless the original was float64).
 *
 * @example
 * ```ts
 * import "@flint/torch";
 * import { dequantize } from "@flint/models";
 *
 * const t = dequantize({
 *   dtype: "int8", shape: [2, 2], restore: "float32",
 *   data: new Uint8Array(new Int8Array([127, -64, 10, 0]).buffer),
 *   scale: new Float32Array([0.5, 0.1]),
 * });
 * console.log(String(t)); // tensor([[ 63.5000, -32.0000],\n        [  1.0000,   0.0000]])
 * ```
 */
export function dequantize(packed: PackedTensor, options: { device?: DeviceLike; key?: string } = {}): Tensor {
  const where = { key: options.key };
  const numel = packed.shape.reduce((n, d) => n * d, 1);
  if (packed.data.length !== numel * ITEM_SIZE[packed.dtype]) {
    throw new WeightsFormatError(
      "corrupt",
      `${packed.data.length} bytes do not hold [${packed.shape.join(", ")}] of ${packed.dtype}`,
      where,
    );
  }
  let out: Float32Array | Float64Array | Int32Array | Uint8Array;
  if (packed.dtype === "int8" && packed.scale !== undefined) {
    const q = new Int8Array(packed.data.buffer, packed.data.byteOffset, packed.data.length);
    const rows = packed.shape[0] ?? 1;
    const cols = rows === 0 ? 0 : numel / rows;
    const f = packed.restore === "float64" ? new Float64Array(numel) : new Float32Array(numel);
    for (let r = 0; r < rows; r++) {
      const s = packed.scale[r];
      for (let i = r * cols; i < (r + 1) * cols; i++) f[i] = q[i] * s;
    }
    out = f;
  } else if (packed.dtype === "float16" && packed.restore === "float64") {
    const h = new Uint16Array(packed.data.slice().buffer);
    out = Float64Array.from(h, halfToFloat);
  } else {
    out = decodeElements(packed.data, packed.dtype, where);
    if (packed.restore === "float64" && out instanceof Float32Array) out = Float64Array.from(out);
  }
  return fromArray(out, packed.shape, { device: options.device });
}

/**
 * Loads a Flint pack as a state dict of dequantized tensors, decompressing as
 * a stream with `onProgress(bytesRead, totalBytes)` reports.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { encodePack, loadPack } from "@flint/models";
 *
 * const bytes = await encodePack({ b: torch.tensor([0.1, 0.2]) }, { compression: "deflate" });
 * const sd = await loadPack(bytes, { onProgress: (n, total) => console.log(n === total) }); // true
 * console.log(String(sd.b)); // tensor([0.1000, 0.2000])
 * ```
 */
export async function loadPack(
  source: WeightsSource | ReadableStream<Uint8Array> | Response,
  options: LoadPackOptions = {},
): Promise<StateDict> {
  return (await readPackResult(source, options)).stateDict;
}

/** {@linkcode loadPack} with the dtypes as stored in the pack and its metadata. */
export async function readPackResult(
  source: WeightsSource | ReadableStream<Uint8Array> | Response,
  options: LoadPackOptions = {},
): Promise<LoadResult> {
  const limits = resolveLimits(options.limits);
  const budget = new ByteBudget(limits.maxBytes);
  const pack = await readPackWithin(source, options, limits, budget);
  const stateDict: StateDict = {};
  const dtypes: Record<string, SourceDType> = {};
  for (const [key, t] of Object.entries(pack.tensors)) {
    const numel = t.shape.reduce((n, d) => n * d, 1);
    budget.take(t.restore === "float64" ? numel * 8 : flintBytes(t.dtype, numel), `tensor '${key}'`, { key });
    stateDict[key] = dequantize(t, { device: options.device, key });
    dtypes[key] = t.dtype;
  }
  return { stateDict, dtypes, format: "pack", metadata: pack.metadata };
}

/** True when a safetensors header's metadata marks a Flint pack. */
export function isPackMetadata(metadata: Record<string, string>): boolean {
  return metadata.format === PACK_FORMAT;
}
