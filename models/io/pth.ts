// PyTorch's .pth/.pt files as torch.save writes them since 1.6: a zip with
// `<archive>/data.pkl` (a pickle of the object, whose tensors name storages
// by key) and `<archive>/data/<key>` (each storage's raw little-endian
// bytes). Reading goes through the weights_only pickle reader; writing
// produces a file `torch.load(path, weights_only=True)` accepts.

import { type DeviceLike, fromArray, Parameter, Tensor } from "@flint/autograd";
import {
  decodeElements,
  DEFAULT_SAVE_DTYPE,
  encodeElements,
  FLINT_DTYPE,
  ITEM_SIZE,
  type SourceDType,
} from "./dtypes.ts";
import { WeightsFormatError } from "./errors.ts";
import { ByteBudget, checkedNumel, type LoadLimits, type ResolvedLimits, resolveLimits } from "./limits.ts";
import {
  PickleDict,
  type PickleValue,
  storageFromPid,
  storageItemSize,
  StorageRef,
  TensorRef,
  TorchGlobal,
  unpickle,
} from "./pickle.ts";
import { type ByteSource, openSource, type WeightsSource } from "./source.ts";
import { tensorFromStorage, viewExtent } from "./_strided.ts";
import { isZip, writeZip, type ZipEntry, ZipReader } from "./zip.ts";

/** A state dict: parameter and buffer names to tensors, in order (what `Module.stateDict()` returns). */
export type StateDict = Record<string, Tensor>;

/** Options of the loaders. */
export interface LoadOptions {
  /** caps on sizes, counts and depths read from the file */
  limits?: LoadLimits;
  /** where the tensors go (default: the default device) */
  device?: DeviceLike;
}

/** A loaded state dict with what the file said about it. */
export interface LoadResult {
  /** the tensors, in the file's order */
  stateDict: StateDict;
  /** each tensor's dtype in the file, before conversion to a Flint dtype */
  dtypes: Record<string, SourceDType>;
  /** the file's format */
  format: "pth" | "safetensors" | "pack";
  /** the safetensors `__metadata__` (empty for .pth) */
  metadata: Record<string, string>;
}

// The pickled magic number that opens a legacy (pre-1.6) torch.save file: 0x1950a86a20f9469cfc6c as LONG1.
const LEGACY_MAGIC = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const CONVERT_HINT = "load it in PyTorch and re-save the weights with `torch.save(model.state_dict(), path)` " +
  "(PyTorch >= 1.6 writes the zip format)";

/** Refuses the formats that are torch files but not torch.save zips, saying what they are. */
export function checkNotLegacy(head: Uint8Array): void {
  if (head.length >= 2 + LEGACY_MAGIC.length && head[0] === 0x80 && LEGACY_MAGIC.every((b, i) => head[2 + i] === b)) {
    throw new WeightsFormatError(
      "unsupported",
      `this is a legacy PyTorch file (pickle with magic number 0x1950a86a20f9469cfc6c, written before 1.6 or ` +
        `with _use_new_zipfile_serialization=False), which Flint does not read: ${CONVERT_HINT}`,
    );
  }
  if (head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === "ustar") {
    throw new WeightsFormatError(
      "unsupported",
      `this is a tar archive, PyTorch's oldest save format (before 0.4), which Flint does not read: ${CONVERT_HINT}`,
    );
  }
}

/** The archive's name prefix, its data.pkl entry, and its byte order. */
async function openArchive(
  zip: ZipReader,
  budget: ByteBudget,
): Promise<{ prefix: string; pickle: ZipEntry; bigEndian: boolean }> {
  const first = zip.entries[0];
  if (first === undefined) throw new WeightsFormatError("corrupt", "the zip archive is empty: not a torch.save file");
  const slash = first.name.indexOf("/");
  if (slash < 0) {
    throw new WeightsFormatError("corrupt", `not a torch.save archive: entry '${first.name}' is not in a folder`);
  }
  const prefix = first.name.slice(0, slash);
  if (
    zip.get(`${prefix}/constants.pkl`) !== undefined || zip.entries.some((e) => e.name.startsWith(`${prefix}/code/`))
  ) {
    throw new WeightsFormatError(
      "unsupported",
      `this is a TorchScript archive (torch.jit.save: it has constants.pkl and code/), not a state dict; ` +
        `in PyTorch, run \`m = torch.jit.load(path); torch.save(m.state_dict(), "weights.pth")\` and load that`,
    );
  }
  const pickle = zip.get(`${prefix}/data.pkl`);
  if (pickle === undefined) {
    throw new WeightsFormatError("corrupt", `not a torch.save archive: there is no '${prefix}/data.pkl'`);
  }
  let bigEndian = false;
  const order = zip.get(`${prefix}/byteorder`);
  if (order !== undefined) {
    if (order.size > 16) throw new WeightsFormatError("corrupt", "byteorder record is too long", { entry: order.name });
    const text = new TextDecoder().decode(await zip.read(order, budget));
    if (text !== "little" && text !== "big") {
      throw new WeightsFormatError("corrupt", `byteorder is '${text}', not 'little' or 'big'`, { entry: order.name });
    }
    bigEndian = text === "big";
  }
  return { prefix, pickle, bigEndian };
}

type Elements = Float32Array | Float64Array | Int32Array | Uint8Array;

/** Turns tensor references into tensors, reading each storage once so views of it share it. */
class TensorBuilder {
  readonly #zip: ZipReader;
  readonly #prefix: string;
  readonly #budget: ByteBudget;
  readonly #limits: ResolvedLimits;
  readonly #bigEndian: boolean;
  readonly #device?: DeviceLike;
  readonly #storages = new Map<string, Promise<{ data: Elements; tensor: Tensor }>>();
  readonly #tensors = new Map<TensorRef, Promise<Tensor>>();

  constructor(
    zip: ZipReader,
    prefix: string,
    budget: ByteBudget,
    limits: ResolvedLimits,
    bigEndian: boolean,
    device?: DeviceLike,
  ) {
    this.#zip = zip;
    this.#prefix = prefix;
    this.#budget = budget;
    this.#limits = limits;
    this.#bigEndian = bigEndian;
    this.#device = device;
  }

  tensor(ref: TensorRef, key?: string): Promise<Tensor> {
    let t = this.#tensors.get(ref);
    if (t === undefined) {
      t = this.#build(ref, key);
      this.#tensors.set(ref, t);
    }
    return t;
  }

  async #build(ref: TensorRef, key?: string): Promise<Tensor> {
    const s = ref.storage;
    const itemSize = ITEM_SIZE[ref.dtype];
    const entryName = `${this.#prefix}/data/${s.key}`;
    const where = { key, entry: entryName };
    const storageBytes = s.numel * storageItemSize(s);
    if (storageBytes % itemSize !== 0) {
      throw new WeightsFormatError(
        "corrupt",
        `an untyped storage of ${storageBytes} bytes does not hold whole ${ref.dtype} elements`,
        where,
      );
    }
    const storageNumel = storageBytes / itemSize;
    checkedNumel(ref.size, Math.floor(this.#limits.maxBytes / itemSize), `tensor of ${ref.dtype}`, where);
    const extent = viewExtent(ref.size, ref.stride);
    if (extent >= 0 && ref.offset + extent >= storageNumel) {
      throw new WeightsFormatError(
        "corrupt",
        `the storage holds ${storageNumel} elements but the tensor (offset ${ref.offset}, size ` +
          `[${ref.size.join(", ")}], stride [${ref.stride.join(", ")}]) reaches element ${ref.offset + extent}`,
        where,
      );
    }
    if (ref.requiresGrad && FLINT_DTYPE[ref.dtype] !== "float32" && FLINT_DTYPE[ref.dtype] !== "float64") {
      throw new WeightsFormatError(
        "corrupt",
        `only tensors of floating point dtype can require gradients, and this one is ${ref.dtype}`,
        where,
      );
    }
    const { data, tensor } = await this.#storage(s, ref.dtype, storageBytes, where);
    let out = tensorFromStorage(tensor, data, ref.offset, ref.size, ref.stride, { device: this.#device });
    if (ref.parameter) {
      // The parameter takes the view's hold on the storage: freeing the loaded model frees its memory at once.
      const view = out;
      out = new Parameter(view, ref.requiresGrad);
      view.dispose();
    } else if (ref.requiresGrad) out.requiresGrad_(true);
    return out;
  }

  #storage(
    s: StorageRef,
    dtype: SourceDType,
    bytes: number,
    where: { key?: string; entry: string },
  ): Promise<{ data: Elements; tensor: Tensor }> {
    const cacheKey = `${s.key}\0${dtype}`;
    let p = this.#storages.get(cacheKey);
    if (p === undefined) {
      p = (async () => {
        const entry = this.#zip.get(where.entry);
        if (entry === undefined) throw new WeightsFormatError("corrupt", "the storage record is missing", where);
        if (entry.size !== bytes) {
          throw new WeightsFormatError(
            "corrupt",
            `the storage record holds ${entry.size} bytes but the pickle says ${s.numel} elements ` +
              `(${bytes} bytes)`,
            where,
          );
        }
        const raw = await this.#zip.read(entry, this.#budget.transient());
        const decodedBytes = (bytes / ITEM_SIZE[dtype]) *
          (FLINT_DTYPE[dtype] === "float64" ? 8 : FLINT_DTYPE[dtype] === "bool" ? 1 : 4);
        this.#budget.take(decodedBytes, `storage '${s.key}'`, where);
        const data = decodeElements(raw, dtype, where, this.#bigEndian);
        return { data, tensor: fromArray(data, [data.length], { device: this.#device }) };
      })();
      this.#storages.set(cacheKey, p);
    }
    return p;
  }
}

/** Reads a .pth archive's pickle into values whose tensors are still references. */
async function readArchive(
  source: ByteSource,
  limits: ResolvedLimits,
  budget: ByteBudget,
): Promise<{ value: PickleValue; zip: ZipReader; prefix: string; bigEndian: boolean }> {
  const head = await source.read(0, Math.min(source.size, 512));
  if (!isZip(head)) {
    checkNotLegacy(head);
    throw new WeightsFormatError("corrupt", "not a zip archive: a .pth file starts with 'PK'", { offset: 0 });
  }
  const zip = await ZipReader.open(source, limits);
  const { prefix, pickle, bigEndian } = await openArchive(zip, budget);
  if (pickle.size > limits.maxPickleBytes) {
    throw new WeightsFormatError(
      "limit",
      `data.pkl is ${pickle.size} bytes, past the cap of ${limits.maxPickleBytes}`,
      { entry: pickle.name },
    );
  }
  const bytes = await zip.read(pickle, budget.transient());
  const storages = new Map<string, StorageRef>();
  const value = unpickle(bytes, {
    limits,
    entry: pickle.name,
    persistentLoad: (pid) => {
      const s = storageFromPid(pid, pickle.name);
      const seen = storages.get(s.key);
      if (seen === undefined) {
        storages.set(s.key, s);
        return s;
      }
      if (seen.dtype !== s.dtype || seen.numel !== s.numel) {
        throw new WeightsFormatError(
          "corrupt",
          `storage '${s.key}' is named twice with different types or sizes`,
          { entry: pickle.name },
        );
      }
      return seen;
    },
  });
  return { value, zip, prefix, bigEndian };
}

/**
 * Loads a state dict from a PyTorch `.pth`/`.pt` file (the zip format of
 * `torch.save`, PyTorch >= 1.6), reading the pickle as
 * `torch.load(path, weights_only=True)` does. Tensors saved over one storage
 * share it; float16 and bfloat16 become float32, int64 and smaller integers
 * int32 (with a range check); {@linkcode loadWithInfo} reports the original
 * dtypes.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { encodePth, loadPth } from "@flint/models";
 *
 * const bytes = await encodePth({ weight: torch.tensor([[1, 2], [3, 4]]) });
 * const sd = await loadPth(bytes);
 * console.log(String(sd.weight)); // tensor([[1., 2.],\n        [3., 4.]])
 * ```
 */
export async function loadPth(source: WeightsSource, options: LoadOptions = {}): Promise<StateDict> {
  return (await readPthResult(source, options)).stateDict;
}

/** {@linkcode loadPth} with each tensor's original dtype. */
export async function readPthResult(source: WeightsSource, options: LoadOptions = {}): Promise<LoadResult> {
  const limits = resolveLimits(options.limits);
  const src = await openSource(source, limits.maxBytes);
  try {
    const budget = new ByteBudget(limits.maxBytes);
    const { value, zip, prefix, bigEndian } = await readArchive(src, limits, budget);
    if (!(value instanceof PickleDict)) {
      throw new WeightsFormatError(
        "unsupported",
        `the file holds ${describeValue(value)}, not a state dict; use loadPthObject() to read it`,
      );
    }
    const builder = new TensorBuilder(zip, prefix, budget, limits, bigEndian, options.device);
    const stateDict: StateDict = {};
    const dtypes: Record<string, SourceDType> = {};
    for (const [k, v] of value) {
      if (typeof k !== "string") {
        throw new WeightsFormatError("unsupported", `state dict keys must be strings, got ${describeValue(k)}`);
      }
      if (!(v instanceof TensorRef)) {
        throw new WeightsFormatError(
          "unsupported",
          `the file holds a dict whose '${k}' is ${describeValue(v)}, not a tensor (a checkpoint, not a state ` +
            `dict?); use loadPthObject() to read it`,
          { key: k },
        );
      }
      stateDict[k] = await builder.tensor(v, k);
      dtypes[k] = v.dtype;
    }
    return { stateDict, dtypes, format: "pth", metadata: {} };
  } finally {
    src.close();
  }
}

/**
 * Loads whatever object a `.pth` file holds (a checkpoint dict with nested
 * state dicts, lists, numbers), through the same weights_only reader. Dicts
 * become {@linkcode PickleDict}s (Maps), tuples frozen arrays, tensors
 * Flint tensors.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { encodePth, loadPthObject, PickleDict } from "@flint/models";
 *
 * const bytes = await encodePth({ w: torch.ones(2) });
 * const obj = await loadPthObject(bytes);
 * console.log(obj instanceof PickleDict && obj.get("w") instanceof torch.Tensor); // true
 * ```
 */
export async function loadPthObject(source: WeightsSource, options: LoadOptions = {}): Promise<PickleValue | Tensor> {
  const limits = resolveLimits(options.limits);
  const src = await openSource(source, limits.maxBytes);
  try {
    const budget = new ByteBudget(limits.maxBytes);
    const { value, zip, prefix, bigEndian } = await readArchive(src, limits, budget);
    const builder = new TensorBuilder(zip, prefix, budget, limits, bigEndian, options.device);
    const seen = new Map<unknown, unknown>();
    const walk = async (v: PickleValue, depth: number): Promise<unknown> => {
      if (depth > limits.maxPickleDepth) {
        throw new WeightsFormatError("limit", `the object nests deeper than ${limits.maxPickleDepth} (the cap)`);
      }
      if (v instanceof TensorRef) return await builder.tensor(v);
      if (v === null || typeof v !== "object" || v instanceof Uint8Array || v instanceof TorchGlobal) return v;
      if (v instanceof StorageRef) {
        throw new WeightsFormatError("unsupported", `a bare storage ('${v.key}') outside a tensor is not supported`);
      }
      if (seen.has(v)) return seen.get(v);
      if (v instanceof PickleDict) {
        const out = new PickleDict(v.ordered);
        seen.set(v, out);
        for (const [k, x] of v.attributes) out.attributes.set(k, (await walk(x, depth + 1)) as PickleValue);
        for (const [k, x] of v) out.set(k, (await walk(x, depth + 1)) as PickleValue);
        return out;
      }
      if (v instanceof Set) {
        const out = new Set<PickleValue>();
        seen.set(v, out);
        for (const x of v) out.add((await walk(x, depth + 1)) as PickleValue);
        return out;
      }
      const out: unknown[] = [];
      seen.set(v, out);
      for (const x of v) out.push(await walk(x, depth + 1));
      return Object.isFrozen(v) ? Object.freeze(out) : out;
    };
    return (await walk(value, 0)) as PickleValue | Tensor;
  } finally {
    src.close();
  }
}

function describeValue(v: PickleValue | undefined): string {
  if (v === null || v === undefined) return "None";
  if (v instanceof PickleDict) return "a dict";
  if (Array.isArray(v)) return Object.isFrozen(v) ? "a tuple" : "a list";
  if (v instanceof TensorRef) return "a tensor";
  if (v instanceof TorchGlobal) return v.name;
  if (v instanceof Uint8Array) return "bytes";
  if (typeof v === "object") return "an object";
  return `a ${typeof v === "number" ? (Number.isInteger(v) ? "int" : "float") : typeof v} (${String(v)})`;
}

// ---- writing ----

/** Options of {@linkcode savePth} and {@linkcode encodePth}. */
export interface SavePthOptions {
  /**
   * The dtype each key is written as (default: float32, float64 and bool as
   * they are, int32 as int64 since it stands for PyTorch's `long`). Pass
   * {@linkcode LoadResult.dtypes} to write tensors back as they were loaded.
   */
  dtypes?: Record<string, SourceDType>;
  /** the folder name inside the zip (default "archive", as PyTorch >= 2.0) */
  archiveName?: string;
  /** write zip64 records even for a small file (files past 4 GiB get them anyway) */
  zip64?: boolean;
}

const STORAGE_CLASS: Readonly<Record<SourceDType, string>> = {
  float32: "FloatStorage",
  float64: "DoubleStorage",
  float16: "HalfStorage",
  bfloat16: "BFloat16Storage",
  int64: "LongStorage",
  int32: "IntStorage",
  int16: "ShortStorage",
  int8: "CharStorage",
  uint8: "ByteStorage",
  bool: "BoolStorage",
};

/** Writes protocol-2 pickle opcodes, memoizing repeated globals as torch.save does. */
class PickleWriter {
  #chunks: number[] = [];
  #memo = new Map<string, number>();
  readonly #encoder = new TextEncoder();

  byte(...b: number[]): void {
    for (const x of b) this.#chunks.push(x);
  }
  int(n: number): void {
    if (n >= 0 && n < 256) this.byte(0x4b, n);
    else if (n >= 0 && n < 65536) this.byte(0x4d, n & 0xff, n >> 8);
    else if (n >= -(2 ** 31) && n < 2 ** 31) {
      this.byte(0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff);
    } else {
      let v = BigInt(n);
      const out: number[] = [];
      while (v !== 0n && v !== -1n) {
        out.push(Number(v & 0xffn));
        v >>= 8n;
      }
      if (out.length === 0 || (out[out.length - 1] & 0x80) !== (n < 0 ? 0x80 : 0)) out.push(n < 0 ? 0xff : 0);
      this.byte(0x8a, out.length, ...out);
    }
  }
  string(s: string): void {
    const b = this.#encoder.encode(s);
    this.byte(0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, (b.length >>> 24) & 0xff, ...b);
  }
  global(module: string, name: string): void {
    const full = `${module}\n${name}\n`;
    const memo = this.#memo.get(full);
    if (memo !== undefined) {
      this.byte(0x6a, memo & 0xff, (memo >> 8) & 0xff, (memo >> 16) & 0xff, memo >>> 24); // LONG_BINGET
      return;
    }
    this.byte(0x63, ...this.#encoder.encode(full));
    const index = this.#memo.size;
    this.#memo.set(full, index);
    this.byte(0x72, index & 0xff, (index >> 8) & 0xff, (index >> 16) & 0xff, index >>> 24); // LONG_BINPUT
  }
  intTuple(values: readonly number[]): void {
    this.byte(0x28);
    for (const v of values) this.int(v);
    this.byte(0x74);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.#chunks);
  }
}

/**
 * A state dict as the bytes of a `.pth` file that PyTorch's
 * `torch.load(path, weights_only=True)` reads: an OrderedDict of
 * `_rebuild_tensor_v2` (and `_rebuild_parameter` for parameters), protocol 2,
 * stored entries with data aligned to 64 bytes. The same tensor under two
 * keys is written once and shared.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { encodePth } from "@flint/models";
 *
 * const bytes = await encodePth({ bias: torch.zeros(3) });
 * console.log(bytes[0] === 0x50 && bytes[1] === 0x4b); // true: a zip
 * ```
 */
export async function encodePth(stateDict: StateDict, options: SavePthOptions = {}): Promise<Uint8Array> {
  const pieces = await encodePthPieces(stateDict, options);
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The pieces of {@linkcode encodePth}, to write in order without joining them. */
export async function encodePthPieces(stateDict: StateDict, options: SavePthOptions = {}): Promise<Uint8Array[]> {
  const archive = options.archiveName ?? "archive";
  if (!/^[A-Za-z0-9_.-]+$/.test(archive)) throw new RangeError(`archiveName '${archive}' must be a plain folder name`);
  const entries = checkStateDict(stateDict);
  const storages: { key: string; data: Uint8Array }[] = [];
  const storageOf = new Map<string, { key: string; numel: number }>();
  const ids = new Map<Tensor, number>();
  const w = new PickleWriter();
  w.byte(0x80, 2);
  w.global("collections", "OrderedDict");
  w.byte(0x29, 0x52, 0x28); // EMPTY_TUPLE REDUCE MARK
  for (const [key, t] of entries) {
    const dtype = options.dtypes?.[key] ?? DEFAULT_SAVE_DTYPE[t.dtype];
    if (!Object.hasOwn(STORAGE_CLASS, dtype)) {
      throw new WeightsFormatError("invalid", `unknown dtype '${dtype}'`, { key });
    }
    let id = ids.get(t);
    if (id === undefined) {
      id = ids.size;
      ids.set(t, id);
    }
    const shareKey = `${id}\0${dtype}`;
    let storage = storageOf.get(shareKey);
    if (storage === undefined) {
      const data = encodeElements(await t.data(), dtype, { key });
      storage = { key: String(storages.length), numel: t.numel() };
      storages.push({ key: storage.key, data });
      storageOf.set(shareKey, storage);
    }
    w.string(key);
    const isParameter = t instanceof Parameter;
    if (isParameter) w.global("torch._utils", "_rebuild_parameter");
    w.global("torch._utils", "_rebuild_tensor_v2");
    w.byte(0x28, 0x28); // MARK MARK: the args tuple, then the persistent id tuple
    w.string("storage");
    w.global("torch", STORAGE_CLASS[dtype]);
    w.string(storage.key);
    w.string("cpu");
    w.int(storage.numel);
    w.byte(0x74, 0x51); // TUPLE BINPERSID
    w.int(0);
    w.intTuple(t.shape);
    w.intTuple(contiguousStrides(t.shape));
    w.byte(!isParameter && t.requiresGrad ? 0x88 : 0x89);
    w.global("collections", "OrderedDict");
    w.byte(0x29, 0x52, 0x74, 0x52); // EMPTY_TUPLE REDUCE TUPLE REDUCE
    if (isParameter) {
      w.byte(t.requiresGrad ? 0x88 : 0x89);
      w.global("collections", "OrderedDict");
      w.byte(0x29, 0x52, 0x87, 0x52); // EMPTY_TUPLE REDUCE TUPLE3 REDUCE
    }
  }
  w.byte(0x75, 0x2e); // SETITEMS STOP
  return writeZip([
    { name: `${archive}/data.pkl`, data: w.bytes() },
    { name: `${archive}/byteorder`, data: new TextEncoder().encode("little") },
    ...storages.map((s) => ({ name: `${archive}/data/${s.key}`, data: s.data })),
    { name: `${archive}/version`, data: new TextEncoder().encode("3\n") },
  ], { zip64: options.zip64 });
}

function contiguousStrides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= Math.max(shape[i], 1);
  }
  return out;
}

/** The state dict's entries, checked to be string keys and tensors. */
export function checkStateDict(stateDict: StateDict): [string, Tensor][] {
  if (stateDict === null || typeof stateDict !== "object") {
    throw new WeightsFormatError("invalid", `a state dict must be an object of tensors, got ${typeof stateDict}`);
  }
  const entries = Object.entries(stateDict);
  for (const [k, v] of entries) {
    if (!(v instanceof Tensor)) {
      throw new WeightsFormatError("invalid", `state dict values must be tensors, '${k}' is ${typeof v}`, { key: k });
    }
  }
  return entries;
}

/**
 * Writes a state dict to `path` as a PyTorch `.pth` file (see
 * {@linkcode encodePth}).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { loadPth, savePth } from "@flint/models";
 *
 * const path = await Deno.makeTempFile({ suffix: ".pth" });
 * await savePth({ w: torch.ones(2) }, path);
 * console.log(String((await loadPth(path)).w)); // tensor([1., 1.])
 * await Deno.remove(path);
 * ```
 */
export async function savePth(stateDict: StateDict, path: string | URL, options: SavePthOptions = {}): Promise<void> {
  await writePieces(path, await encodePthPieces(stateDict, options));
}

/** Writes pieces to a file in order. */
export async function writePieces(path: string | URL, pieces: readonly Uint8Array[]): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (const p of pieces) {
      let done = 0;
      while (done < p.length) done += await file.write(p.subarray(done));
    }
  } finally {
    file.close();
  }
}
