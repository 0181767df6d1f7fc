// torch.load / torch.save for Flint: one entry point that tells the formats
// apart by their first bytes (a zip is a .pth, `{"` after a length is
// safetensors, gzip or zlib is a pack) and one that writes any of them.

import { WeightsFormatError } from "./errors.ts";
import { resolveLimits } from "./limits.ts";
import {
  encodePackPieces,
  isPackMetadata,
  type LoadPackOptions,
  readPackResult,
  type SavePackOptions,
} from "./pack.ts";
import {
  checkNotLegacy,
  encodePthPieces,
  type LoadResult,
  readPthResult,
  type SavePthOptions,
  type StateDict,
  writePieces,
} from "./pth.ts";
import {
  encodeSafetensors,
  isSafetensors,
  readSafetensorsHeader,
  readSafetensorsResult,
  type SaveSafetensorsOptions,
} from "./safetensors.ts";
import { memorySource, openSource, type WeightsSource } from "./source.ts";
import { isZip } from "./zip.ts";

/** Options of {@linkcode load}: the caps, the device, and a progress callback for packs. */
export type LoadAnyOptions = LoadPackOptions;

/** The formats {@linkcode save} writes. */
export type WeightsFormat = "pth" | "safetensors" | "pack";

/** Options of {@linkcode save}: the format and that format's options. */
export interface SaveOptions extends SavePthOptions, SaveSafetensorsOptions, SavePackOptions {
  /** the format (default: from the file extension, `.pth` when it says nothing) */
  format?: WeightsFormat;
}

function isCompressed(head: Uint8Array): boolean {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
  return head.length >= 2 && (head[0] & 0x0f) === 8 && ((head[0] << 8) | head[1]) % 31 === 0;
}

/**
 * Loads a state dict from any weights file Flint reads, telling the format
 * from its first bytes, with each tensor's dtype in the file and the
 * metadata.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { encodeSafetensors, loadWithInfo } from "@flint/models";
 *
 * const bytes = await encodeSafetensors({ n: torch.tensor([3], { dtype: "int32" }) });
 * const { format, dtypes } = await loadWithInfo(bytes);
 * console.log(format, dtypes.n); // safetensors int64
 * ```
 */
export async function loadWithInfo(source: WeightsSource, options: LoadAnyOptions = {}): Promise<LoadResult> {
  const limits = resolveLimits(options.limits);
  // Remote files are read once into memory; local ones are only peeked at here.
  let src = source;
  let head: Uint8Array;
  if (src instanceof Uint8Array) {
    head = src.subarray(0, 512);
  } else {
    const opened = await openSource(src, limits.maxBytes);
    try {
      const url = src instanceof URL ? src : /^(https?|file):\/\//i.test(src) ? new URL(src) : null;
      if (url !== null && (url.protocol === "http:" || url.protocol === "https:")) {
        src = await opened.read(0, opened.size);
      }
      head = await opened.read(0, Math.min(opened.size, 512));
    } finally {
      opened.close();
    }
  }
  if (isZip(head)) return await readPthResult(src, options);
  if (isSafetensors(head)) {
    const opened = src instanceof Uint8Array ? memorySource(src) : await openSource(src, limits.maxBytes);
    let header;
    try {
      header = await readSafetensorsHeader(opened, limits);
    } finally {
      opened.close();
    }
    return isPackMetadata(header.metadata)
      ? await readPackResult(src, options)
      : await readSafetensorsResult(src, options);
  }
  if (isCompressed(head)) return await readPackResult(src, options);
  checkNotLegacy(head);
  const hex = [...head.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new WeightsFormatError(
    "unsupported",
    `not a weights file Flint reads (it starts with ${hex || "nothing"}): expected a PyTorch .pth zip ('PK'), ` +
      `safetensors (a length, then '{'), or a Flint pack (gzip or deflate)`,
    { offset: 0 },
  );
}

/**
 * Loads a state dict, as `torch.load(path, weights_only=True)`: a PyTorch
 * `.pth`/`.pt`, safetensors, or a Flint pack (dequantized), told apart by
 * their bytes. A path, a `file:` or `http(s):` URL, or the bytes.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { load, save } from "@flint/models";
 *
 * const bytes = await save({ w: torch.tensor([1, 2]) }, { format: "pth" });
 * const sd = await load(bytes);
 * console.log(String(sd.w)); // tensor([1., 2.])
 * ```
 */
export async function load(source: WeightsSource, options: LoadAnyOptions = {}): Promise<StateDict> {
  return (await loadWithInfo(source, options)).stateDict;
}

function formatOf(path: string | URL): WeightsFormat {
  const name = (path instanceof URL ? path.pathname : path).toLowerCase();
  if (name.endsWith(".safetensors")) return "safetensors";
  if (name.endsWith(".pack") || name.endsWith(".gz") || name.endsWith(".fpk")) return "pack";
  return "pth";
}

async function pieces(stateDict: StateDict, format: WeightsFormat, options: SaveOptions): Promise<Uint8Array[]> {
  if (format === "pth") return await encodePthPieces(stateDict, options);
  if (format === "safetensors") return [await encodeSafetensors(stateDict, options)];
  if (format === "pack") return await encodePackPieces(stateDict, options);
  throw new RangeError(`format must be "pth", "safetensors" or "pack", got ${format}`);
}

/**
 * Saves a state dict, as `torch.save(state_dict, path)`: to a path (the
 * format from `options.format` or the extension: `.safetensors`,
 * `.pack`/`.gz`, else `.pth`), or, given only options, as bytes.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { load, save } from "@flint/models";
 *
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await save({ w: torch.ones(2) }, path);
 * console.log(String((await load(path)).w)); // tensor([1., 1.])
 * await Deno.remove(path);
 * ```
 */
export function save(stateDict: StateDict, path: string | URL, options?: SaveOptions): Promise<void>;
/** Saves a state dict as the bytes of a file of `options.format`. */
export function save(stateDict: StateDict, options: SaveOptions & { format: WeightsFormat }): Promise<Uint8Array>;
export async function save(
  stateDict: StateDict,
  target: string | URL | (SaveOptions & { format: WeightsFormat }),
  options: SaveOptions = {},
): Promise<void | Uint8Array> {
  if (typeof target === "string" || target instanceof URL) {
    await writePieces(target, await pieces(stateDict, options.format ?? formatOf(target), options));
    return;
  }
  const all = await pieces(stateDict, target.format, target);
  if (all.length === 1) return all[0];
  const out = new Uint8Array(all.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of all) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
