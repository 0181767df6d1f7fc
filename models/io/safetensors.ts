// safetensors (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON naming each tensor's dtype,
// shape and [begin, end) byte range, then the data. The header is checked as
// the format's own reader checks it: at most 100 MB, ranges contiguous from
// 0 with no gaps or overlaps, each range exactly the tensor's bytes, the
// last ending at the end of the file.

import { type DeviceLike, fromArray } from "@flint/autograd";
import {
  decodeElements,
  DEFAULT_SAVE_DTYPE,
  encodeElements,
  FLINT_DTYPE,
  ITEM_SIZE,
  type SourceDType,
} from "./dtypes.ts";
import { WeightsFormatError } from "./errors.ts";
import { ByteBudget, checkedNumel, type ResolvedLimits, resolveLimits } from "./limits.ts";
import { checkStateDict, type LoadOptions, type LoadResult, type StateDict, writePieces } from "./pth.ts";
import { type ByteSource, openSource, type WeightsSource } from "./source.ts";
import { JsonError, type JsonValue, parseJson } from "./_json.ts";

/**
 * safetensors dtype names and the source dtypes they hold.
 *
 * @example
 * ```ts
 * import { SAFETENSORS_DTYPES } from "@flint/models";
 *
 * console.log(SAFETENSORS_DTYPES.BF16, SAFETENSORS_DTYPES.I64); // bfloat16 int64
 * ```
 */
export const SAFETENSORS_DTYPES: Readonly<Record<string, SourceDType>> = Object.freeze({
  F32: "float32",
  F64: "float64",
  F16: "float16",
  BF16: "bfloat16",
  I64: "int64",
  I32: "int32",
  I16: "int16",
  I8: "int8",
  U8: "uint8",
  BOOL: "bool",
});

const NAME_OF: Record<SourceDType, string> = Object.fromEntries(
  Object.entries(SAFETENSORS_DTYPES).map(([k, v]) => [v, k]),
) as Record<SourceDType, string>;

/** One tensor's header entry, checked. */
export interface SafetensorsEntry {
  /** the tensor's key */
  name: string;
  /** its dtype */
  dtype: SourceDType;
  /** its shape */
  shape: number[];
  /** byte range in the data section */
  begin: number;
  /** one past the last byte */
  end: number;
}

/** A checked safetensors header. */
export interface SafetensorsHeader {
  /** the tensors, in header order */
  entries: SafetensorsEntry[];
  /** the `__metadata__` strings */
  metadata: Record<string, string>;
  /** where the data section starts in the file (8 + header length) */
  dataStart: number;
  /** bytes in the data section */
  dataLength: number;
}

/**
 * True when `head` starts like a safetensors file: `{` after the 8-byte
 * length. A length past 4 GiB is still taken as safetensors (and refused by
 * the header cap) unless the bytes are a gzip or zlib header.
 */
export function isSafetensors(head: Uint8Array): boolean {
  if (head.length < 9 || head[8] !== 0x7b) return false;
  if (head[4] === 0 && head[5] === 0 && head[6] === 0 && head[7] === 0) return true;
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const zlib = (head[0] & 0x0f) === 8 && ((head[0] << 8) | head[1]) % 31 === 0;
  return !gzip && !zlib;
}

/**
 * The header length from a safetensors file's first 8 bytes, checked against
 * the format's 100 MB limit, `limits.maxHeaderBytes` and (when known) the
 * file size.
 */
export function safetensorsHeaderLength(head8: Uint8Array, fileSize: number | null, limits: ResolvedLimits): number {
  if (head8.length < 8) {
    throw new WeightsFormatError(
      "truncated",
      `a safetensors file starts with an 8-byte header length; got ${head8.length} bytes`,
    );
  }
  const n64 = new DataView(head8.buffer, head8.byteOffset, 8).getBigUint64(0, true);
  const cap = Math.min(limits.maxHeaderBytes, 100_000_000);
  if (n64 > BigInt(cap)) {
    throw new WeightsFormatError("limit", `the safetensors header claims ${n64} bytes, past the cap of ${cap}`, {
      offset: 0,
    });
  }
  const n = Number(n64);
  if (fileSize !== null && 8 + n > fileSize) {
    throw new WeightsFormatError(
      "truncated",
      `the safetensors header claims ${n} bytes but the file has only ${fileSize - 8} after the length`,
      { offset: 0 },
    );
  }
  return n;
}

/**
 * Parses and checks a safetensors header's JSON. `fileSize` is the whole
 * file's size when known; a streamed pack passes null and the data section's
 * size is then taken from the offsets.
 */
export function checkSafetensorsHeader(
  bytes: Uint8Array,
  fileSize: number | null,
  limits: ResolvedLimits,
): SafetensorsHeader {
  return checkHeader(bytes, bytes.length, fileSize, limits);
}

function checkHeader(bytes: Uint8Array, n: number, fileSize: number | null, limits: ResolvedLimits): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new WeightsFormatError("corrupt", "the safetensors header is not valid UTF-8", { offset: 8 });
  }
  if (!text.startsWith("{")) {
    throw new WeightsFormatError("corrupt", "the safetensors header does not start with '{'", { offset: 8 });
  }
  let json: JsonValue;
  try {
    json = parseJson(text.trimEnd());
  } catch (e) {
    if (!(e instanceof JsonError)) throw e;
    throw new WeightsFormatError("corrupt", `the safetensors header is not valid JSON: ${e.message}`, {
      offset: 8 + e.at,
    });
  }
  if (!(json instanceof Map)) throw new WeightsFormatError("corrupt", "the safetensors header is not a JSON object");
  if (json.size > limits.maxEntries + 1) {
    throw new WeightsFormatError("limit", `${json.size} tensors, past the cap of ${limits.maxEntries}`);
  }
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, info] of json) {
    if (name === "__metadata__") {
      if (!(info instanceof Map)) throw new WeightsFormatError("corrupt", "__metadata__ must be an object of strings");
      for (const [k, v] of info) {
        if (typeof v !== "string") {
          throw new WeightsFormatError("corrupt", `__metadata__ value '${k}' must be a string, got ${typeof v}`);
        }
        metadata[k] = v;
      }
      continue;
    }
    const where = { key: name };
    if (!(info instanceof Map)) throw new WeightsFormatError("corrupt", "tensor info must be an object", where);
    const dtypeName = info.get("dtype");
    const shape = info.get("shape");
    const offsets = info.get("data_offsets");
    if (typeof dtypeName !== "string") throw new WeightsFormatError("corrupt", "tensor info lacks a dtype", where);
    const dtype = SAFETENSORS_DTYPES[dtypeName];
    if (dtype === undefined) {
      throw new WeightsFormatError(
        "unsupported",
        `dtype ${dtypeName} is not supported (${Object.keys(SAFETENSORS_DTYPES).join(", ")} are)`,
        where,
      );
    }
    if (!Array.isArray(shape)) throw new WeightsFormatError("corrupt", "tensor info lacks a shape array", where);
    if (!Array.isArray(offsets) || offsets.length !== 2) {
      throw new WeightsFormatError("corrupt", "data_offsets must be [begin, end]", where);
    }
    const [begin, end] = offsets;
    if (
      typeof begin !== "number" || typeof end !== "number" || !Number.isSafeInteger(begin) ||
      !Number.isSafeInteger(end) || begin < 0 || end < begin
    ) {
      throw new WeightsFormatError("corrupt", `invalid data_offsets [${begin}, ${end}]`, where);
    }
    const numel = checkedNumel(shape, Math.floor(limits.maxBytes / ITEM_SIZE[dtype]), `tensor of ${dtype}`, where);
    if (numel * ITEM_SIZE[dtype] !== end - begin) {
      throw new WeightsFormatError(
        "corrupt",
        `shape [${shape.join(", ")}] of ${dtypeName} needs ${numel * ITEM_SIZE[dtype]} bytes but data_offsets ` +
          `[${begin}, ${end}] span ${end - begin}`,
        where,
      );
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  // The format requires the ranges to tile the data section exactly.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of sorted) {
    if (e.begin !== expected) {
      throw new WeightsFormatError(
        "corrupt",
        e.begin < expected
          ? `data_offsets [${e.begin}, ${e.end}] overlap the previous tensor, which ends at ${expected}`
          : `data_offsets [${e.begin}, ${e.end}] leave a gap after byte ${expected}`,
        { key: e.name },
      );
    }
    expected = e.end;
  }
  const dataStart = 8 + n;
  if (fileSize !== null && dataStart + expected !== fileSize) {
    throw new WeightsFormatError(
      dataStart + expected > fileSize ? "truncated" : "corrupt",
      `the tensors' data ends at byte ${dataStart + expected} but the file is ${fileSize} bytes`,
      { offset: dataStart + expected },
    );
  }
  return { entries, metadata, dataStart, dataLength: expected };
}

/** Reads a safetensors header from a random-access source. */
export async function readSafetensorsHeader(source: ByteSource, limits: ResolvedLimits): Promise<SafetensorsHeader> {
  if (source.size < 8) {
    throw new WeightsFormatError("truncated", `a safetensors file is at least 8 bytes, this one is ${source.size}`);
  }
  const n = safetensorsHeaderLength(await source.read(0, 8), source.size, limits);
  return checkHeader(await source.read(8, n), n, source.size, limits);
}

/** Decodes one entry's bytes into a tensor of its Flint dtype. */
export function entryTensor(e: SafetensorsEntry, bytes: Uint8Array, device?: DeviceLike): ReturnType<typeof fromArray> {
  const data = decodeElements(bytes, e.dtype, { key: e.name });
  return fromArray(data, e.shape, { device });
}

/** Bytes a Flint array of `numel` elements of `dtype` takes. */
export function flintBytes(dtype: SourceDType, numel: number): number {
  const flint = FLINT_DTYPE[dtype];
  return numel * (flint === "float64" ? 8 : flint === "bool" ? 1 : 4);
}

/**
 * Loads a state dict from a safetensors file. F16 and BF16 become float32,
 * I64 and smaller integers int32 (range-checked); {@linkcode loadWithInfo}
 * reports the original dtypes and `__metadata__`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { encodeSafetensors, loadSafetensors } from "@flint/models";
 *
 * const bytes = await encodeSafetensors({ "fc.bias": torch.tensor([0.5, -1]) });
 * const sd = await loadSafetensors(bytes);
 * console.log(String(sd["fc.bias"])); // tensor([ 0.5000, -1.0000])
 * ```
 */
export async function loadSafetensors(source: WeightsSource, options: LoadOptions = {}): Promise<StateDict> {
  return (await readSafetensorsResult(source, options)).stateDict;
}

/** {@linkcode loadSafetensors} with the original dtypes and metadata. */
export async function readSafetensorsResult(source: WeightsSource, options: LoadOptions = {}): Promise<LoadResult> {
  const limits = resolveLimits(options.limits);
  const src = await openSource(source, limits.maxBytes);
  try {
    const header = await readSafetensorsHeader(src, limits);
    const budget = new ByteBudget(limits.maxBytes);
    const stateDict: StateDict = {};
    const dtypes: Record<string, SourceDType> = {};
    for (const e of header.entries) {
      budget.take(flintBytes(e.dtype, (e.end - e.begin) / ITEM_SIZE[e.dtype]), `tensor '${e.name}'`, { key: e.name });
      const bytes = await src.read(header.dataStart + e.begin, e.end - e.begin);
      stateDict[e.name] = entryTensor(e, bytes, options.device);
      dtypes[e.name] = e.dtype;
    }
    return { stateDict, dtypes, format: "safetensors", metadata: header.metadata };
  } finally {
    src.close();
  }
}

/** Options of {@linkcode saveSafetensors} and {@linkcode encodeSafetensors}. */
export interface SaveSafetensorsOptions {
  /** `__metadata__`: string keys to string values */
  metadata?: Record<string, string>;
  /** the dtype each key is written as (default: as {@linkcode SavePthOptions.dtypes}) */
  dtypes?: Record<string, SourceDType>;
}

/** A tensor already encoded for a safetensors file. */
export interface EncodedTensor {
  /** its dtype in the file */
  dtype: SourceDType;
  /** its shape */
  shape: readonly number[];
  /** its little-endian bytes */
  data: Uint8Array;
}

/** Builds a safetensors file from encoded tensors, header padded with spaces to 8 bytes as the reference writer does. */
export function safetensorsPieces(
  tensors: readonly [string, EncodedTensor][],
  metadata?: Record<string, string>,
): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new WeightsFormatError("invalid", `metadata value '${k}' must be a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  const seen = new Set<string>();
  for (const [name, t] of tensors) {
    if (name === "__metadata__") throw new WeightsFormatError("invalid", "'__metadata__' cannot name a tensor");
    if (seen.has(name)) throw new WeightsFormatError("invalid", "duplicate tensor name", { key: name });
    seen.add(name);
    header[name] = { dtype: NAME_OF[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
  return [len, json, ...tensors.map(([, t]) => t.data)];
}

async function encodeAll(
  stateDict: StateDict,
  dtypes?: Record<string, SourceDType>,
): Promise<[string, EncodedTensor][]> {
  const out: [string, EncodedTensor][] = [];
  for (const [key, t] of checkStateDict(stateDict)) {
    const dtype = dtypes?.[key] ?? DEFAULT_SAVE_DTYPE[t.dtype];
    if (!Object.hasOwn(NAME_OF, dtype)) throw new WeightsFormatError("invalid", `unknown dtype '${dtype}'`, { key });
    out.push([key, { dtype, shape: t.shape, data: encodeElements(await t.data(), dtype, { key }) }]);
  }
  return out;
}

/**
 * A state dict as the bytes of a safetensors file.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { encodeSafetensors } from "@flint/models";
 *
 * const bytes = await encodeSafetensors({ w: torch.ones(2, 2) }, { metadata: { format: "pt" } });
 * console.log(new TextDecoder().decode(bytes.subarray(8, 40))); // {"__metadata__":{"format":"pt"},
 * ```
 */
export async function encodeSafetensors(
  stateDict: StateDict,
  options: SaveSafetensorsOptions = {},
): Promise<Uint8Array> {
  const pieces = safetensorsPieces(await encodeAll(stateDict, options.dtypes), options.metadata);
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Writes a state dict to `path` as a safetensors file.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { loadSafetensors, saveSafetensors } from "@flint/models";
 *
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveSafetensors({ w: torch.arange(3) }, path);
 * console.log(String((await loadSafetensors(path)).w)); // tensor([0, 1, 2], dtype=torch.int32)
 * await Deno.remove(path);
 * ```
 */
export async function saveSafetensors(
  stateDict: StateDict,
  path: string | URL,
  options: SaveSafetensorsOptions = {},
): Promise<void> {
  await writePieces(path, safetensorsPieces(await encodeAll(stateDict, options.dtypes), options.metadata));
}
