// A pickle reader restricted as PyTorch's `weights_only=True` unpickler
// (torch/_weights_only_unpickler.py): an allow-list of opcodes and of
// globals, REDUCE only on allowed rebuild functions, BUILD only on dicts,
// APPEND only on lists. Nothing a pickle names is ever run: globals resolve
// to inert tokens, tensors to references that the .pth reader fills from the
// zip afterwards.

import { ITEM_SIZE, type SourceDType } from "./dtypes.ts";
import { UnpicklingError } from "./errors.ts";
import { DEFAULT_LIMITS, type LoadLimits, resolveLimits } from "./limits.ts";

/** A value a restricted pickle can hold. Tuples are frozen arrays; dicts are {@linkcode PickleDict}s. */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PickleDict
  | Set<PickleValue>
  | TorchGlobal
  | StorageRef
  | TensorRef;

/**
 * A Python dict or `collections.OrderedDict`, keys in insertion order.
 *
 * @example
 * ```ts
 * import { PickleDict, unpickle } from "@flint/models";
 *
 * // collections.OrderedDict() at protocol 2
 * const d = unpickle(new Uint8Array([0x80, 2, ...new TextEncoder().encode("ccollections\nOrderedDict\n)R.")]));
 * console.log(d instanceof PickleDict && d.ordered, (d as PickleDict).size); // true 0
 * ```
 */
export class PickleDict extends Map<PickleValue, PickleValue> {
  /** true for an `OrderedDict` */
  readonly ordered: boolean;
  /** attributes set by BUILD, e.g. a state dict's `_metadata` */
  readonly attributes: Map<string, PickleValue> = new Map();

  /** An empty dict. */
  constructor(ordered = false) {
    super();
    this.ordered = ordered;
  }
}

/**
 * An allowed global that has not been called: a dtype, a storage or tensor
 * class, `torch.Tensor`. It is a name only; nothing is imported or run.
 *
 * @example
 * ```ts
 * import { TorchGlobal, unpickle } from "@flint/models";
 *
 * const g = unpickle(new Uint8Array([0x80, 2, ...new TextEncoder().encode("ctorch\nfloat16\n.")]));
 * console.log(g instanceof TorchGlobal && g.name); // torch.float16
 * ```
 */
export class TorchGlobal {
  /** its dotted name, e.g. `torch.float16` */
  readonly name: string;
  /** Names a global. */
  constructor(name: string) {
    this.name = name;
  }
}

/**
 * A storage named by a persistent id: its bytes are a zip entry, read later.
 *
 * @example
 * ```ts
 * import { StorageRef } from "@flint/models";
 *
 * const s = new StorageRef("float32", "0", "cpu", 6);
 * console.log(s.key, s.numel); // 0 6
 * ```
 */
export class StorageRef {
  /** the element type, or "untyped" for raw bytes */
  readonly dtype: SourceDType | "untyped";
  /** the record key (`data/<key>` in the archive) */
  readonly key: string;
  /** where it lived when saved, e.g. "cpu" or "cuda:0" */
  readonly location: string;
  /** number of elements (bytes when untyped) */
  readonly numel: number;
  /** Describes a storage. */
  constructor(dtype: SourceDType | "untyped", key: string, location: string, numel: number) {
    this.dtype = dtype;
    this.key = key;
    this.location = location;
    this.numel = numel;
  }
}

/**
 * A tensor as `_rebuild_tensor_v2` describes it: a view of a storage, before
 * its bytes are read.
 *
 * @example
 * ```ts
 * import { StorageRef, TensorRef } from "@flint/models";
 *
 * const storage = new StorageRef("float32", "0", "cpu", 6);
 * const t = new TensorRef({ storage, dtype: "float32", offset: 0, size: [2, 3], stride: [3, 1], requiresGrad: false, parameter: false });
 * console.log(t.size, t.stride); // [ 2, 3 ] [ 3, 1 ]
 * ```
 */
export class TensorRef {
  /** the storage the elements are in */
  readonly storage: StorageRef;
  /** the element type (the storage's, or the one `_rebuild_tensor_v3` gives) */
  readonly dtype: SourceDType;
  /** first element's position in the storage */
  readonly offset: number;
  /** sizes */
  readonly size: readonly number[];
  /** strides, in elements */
  readonly stride: readonly number[];
  /** whether it required grad */
  readonly requiresGrad: boolean;
  /** whether it was an `nn.Parameter` */
  readonly parameter: boolean;
  /** Describes a tensor. */
  constructor(init: Omit<TensorRef, never>) {
    this.storage = init.storage;
    this.dtype = init.dtype;
    this.offset = init.offset;
    this.size = init.size;
    this.stride = init.stride;
    this.requiresGrad = init.requiresGrad;
    this.parameter = init.parameter;
  }
}

/** Options of {@linkcode unpickle}. */
export interface UnpickleOptions {
  /** caps on depth, memo and string sizes */
  limits?: LoadLimits;
  /** resolves a BINPERSID id (already checked to be a `('storage', ...)` tuple or an int) */
  persistentLoad?: (pid: PickleValue) => PickleValue;
  /** the zip entry being read, for error messages */
  entry?: string;
}

// ---- the allow-lists ----

const OP = {
  MARK: 0x28,
  STOP: 0x2e,
  BININT: 0x4a,
  BININT1: 0x4b,
  BININT2: 0x4d,
  NONE: 0x4e,
  BINPERSID: 0x51,
  REDUCE: 0x52,
  SHORT_BINSTRING: 0x55,
  BINUNICODE: 0x58,
  APPEND: 0x61,
  BUILD: 0x62,
  GLOBAL: 0x63,
  EMPTY_DICT: 0x7d,
  APPENDS: 0x65,
  BINGET: 0x68,
  LONG_BINGET: 0x6a,
  EMPTY_LIST: 0x5d,
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  SETITEM: 0x73,
  TUPLE: 0x74,
  EMPTY_TUPLE: 0x29,
  SETITEMS: 0x75,
  BINFLOAT: 0x47,
  PROTO: 0x80,
  NEWOBJ: 0x81,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  EMPTY_SET: 0x8f,
  // Protocols 3 to 5 write these; they only push data (STACK_GLOBAL goes
  // through the same allow-list as GLOBAL), so Flint reads them where
  // PyTorch's weights_only does not.
  BINBYTES: 0x42,
  SHORT_BINBYTES: 0x43,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  ADDITEMS: 0x90,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
} as const;

/** Every pickle opcode's name, so a refused one is named in the error. */
const OPCODE_NAMES: Record<number, string> = {
  0x28: "MARK",
  0x2e: "STOP",
  0x30: "POP",
  0x31: "POP_MARK",
  0x32: "DUP",
  0x46: "FLOAT",
  0x49: "INT",
  0x4a: "BININT",
  0x4b: "BININT1",
  0x4c: "LONG",
  0x4d: "BININT2",
  0x4e: "NONE",
  0x50: "PERSID",
  0x51: "BINPERSID",
  0x52: "REDUCE",
  0x53: "STRING",
  0x54: "BINSTRING",
  0x55: "SHORT_BINSTRING",
  0x56: "UNICODE",
  0x58: "BINUNICODE",
  0x61: "APPEND",
  0x62: "BUILD",
  0x63: "GLOBAL",
  0x64: "DICT",
  0x7d: "EMPTY_DICT",
  0x65: "APPENDS",
  0x67: "GET",
  0x68: "BINGET",
  0x69: "INST",
  0x6a: "LONG_BINGET",
  0x6c: "LIST",
  0x5d: "EMPTY_LIST",
  0x6f: "OBJ",
  0x70: "PUT",
  0x71: "BINPUT",
  0x72: "LONG_BINPUT",
  0x73: "SETITEM",
  0x74: "TUPLE",
  0x29: "EMPTY_TUPLE",
  0x75: "SETITEMS",
  0x47: "BINFLOAT",
  0x80: "PROTO",
  0x81: "NEWOBJ",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x85: "TUPLE1",
  0x86: "TUPLE2",
  0x87: "TUPLE3",
  0x88: "NEWTRUE",
  0x89: "NEWFALSE",
  0x8a: "LONG1",
  0x8b: "LONG4",
  0x42: "BINBYTES",
  0x43: "SHORT_BINBYTES",
  0x8c: "SHORT_BINUNICODE",
  0x8d: "BINUNICODE8",
  0x8e: "BINBYTES8",
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
  0x92: "NEWOBJ_EX",
  0x93: "STACK_GLOBAL",
  0x94: "MEMOIZE",
  0x95: "FRAME",
  0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

const STORAGE_DTYPES: Record<string, SourceDType | "untyped" | null> = {
  FloatStorage: "float32",
  DoubleStorage: "float64",
  HalfStorage: "float16",
  BFloat16Storage: "bfloat16",
  LongStorage: "int64",
  IntStorage: "int32",
  ShortStorage: "int16",
  CharStorage: "int8",
  ByteStorage: "uint8",
  BoolStorage: "bool",
  ComplexFloatStorage: null,
  ComplexDoubleStorage: null,
  QInt8Storage: null,
  QUInt8Storage: null,
  QInt32Storage: null,
  QUInt4x2Storage: null,
  QUInt2x4Storage: null,
};

const TORCH_DTYPES: Record<string, SourceDType | null> = {
  float32: "float32",
  float64: "float64",
  float16: "float16",
  bfloat16: "bfloat16",
  int64: "int64",
  int32: "int32",
  int16: "int16",
  int8: "int8",
  uint8: "uint8",
  bool: "bool",
  complex32: null,
  complex64: null,
  complex128: null,
  qint8: null,
  quint8: null,
  qint32: null,
  quint4x2: null,
  quint2x4: null,
};

const TENSOR_TYPES = ["Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool"];

/** What an allowed global does when REDUCE or NEWOBJ calls it; absent means it is only a token. */
interface GlobalDef {
  call?: (args: readonly PickleValue[], ctx: Context) => PickleValue;
  newobj?: (args: readonly PickleValue[], ctx: Context) => PickleValue;
}

interface Context {
  offset: number;
  entry?: string;
}

function fail(ctx: Context, message: string, details: { global?: string; opcode?: string } = {}): never {
  throw new UnpicklingError(message, { ...details, offset: ctx.offset, entry: ctx.entry });
}

function unsupported(what: string): GlobalDef {
  return {
    call: (_args, ctx) => fail(ctx, `${what} cannot be loaded: Flint has no such tensors`),
    newobj: (_args, ctx) => fail(ctx, `${what} cannot be loaded: Flint has no such tensors`),
  };
}

function isTuple(v: PickleValue): v is PickleValue[] {
  return Array.isArray(v) && Object.isFrozen(v);
}

function tuple(items: PickleValue[]): PickleValue[] {
  return Object.freeze(items) as PickleValue[];
}

function intArg(v: PickleValue, what: string, ctx: Context): number {
  const n = typeof v === "bigint" && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    fail(ctx, `${what} must be a non-negative integer, got ${describe(v)}`);
  }
  return n;
}

function intTuple(v: PickleValue, what: string, ctx: Context): number[] {
  if (!Array.isArray(v)) fail(ctx, `${what} must be a tuple of integers, got ${describe(v)}`);
  return v.map((d, i) => intArg(d, `${what}[${i}]`, ctx));
}

function tensorArg(v: PickleValue, what: string, ctx: Context): TensorRef {
  if (!(v instanceof TensorRef)) fail(ctx, `${what} must be a tensor, got ${describe(v)}`);
  return v;
}

function rebuildTensor(args: readonly PickleValue[], ctx: Context, dtypeOverride?: PickleValue): TensorRef {
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!(storage instanceof StorageRef)) {
    fail(ctx, `a tensor's storage must be a persistent storage, got ${describe(storage)}`);
  }
  const sizes = intTuple(size, "size", ctx);
  const strides = intTuple(stride, "stride", ctx);
  if (sizes.length !== strides.length) {
    fail(ctx, `size (${sizes.length} dims) and stride (${strides.length} dims) differ in length`);
  }
  let dtype: SourceDType;
  if (dtypeOverride !== undefined) {
    const name = dtypeOverride instanceof TorchGlobal ? dtypeOverride.name.replace(/^torch\./, "") : "";
    const d = TORCH_DTYPES[name];
    if (d === undefined) fail(ctx, `_rebuild_tensor_v3 needs a dtype, got ${describe(dtypeOverride)}`);
    if (d === null) fail(ctx, `dtype torch.${name} is not supported by Flint`);
    dtype = d;
  } else if (storage.dtype === "untyped") {
    dtype = "uint8";
  } else {
    dtype = storage.dtype;
  }
  return new TensorRef({
    storage,
    dtype,
    offset: intArg(offset, "storage_offset", ctx),
    size: sizes,
    stride: strides,
    requiresGrad: requiresGrad === true,
    parameter: false,
  });
}

function asParameter(t: TensorRef, requiresGrad: PickleValue): TensorRef {
  return new TensorRef({
    ...t,
    requiresGrad: requiresGrad === undefined ? true : requiresGrad === true,
    parameter: true,
  });
}

function makeDict(args: readonly PickleValue[], ctx: Context, ordered: boolean): PickleDict {
  const d = new PickleDict(ordered);
  if (args.length === 0) return d;
  const items = args[0];
  if (!Array.isArray(items)) fail(ctx, `OrderedDict() takes a list of pairs, got ${describe(items)}`);
  for (const pair of items) {
    if (!Array.isArray(pair) || pair.length !== 2) fail(ctx, `OrderedDict() takes pairs, got ${describe(pair)}`);
    d.set(pair[0], pair[1]);
  }
  return d;
}

function buildAllowed(): Map<string, GlobalDef> {
  const m = new Map<string, GlobalDef>();
  m.set("collections.OrderedDict", { call: (a, c) => makeDict(a, c, true) });
  m.set("collections.Counter", { call: (a, c) => makeDict(a, c, false) });
  m.set("torch.nn.parameter.Parameter", {
    newobj: (a, c) => asParameter(tensorArg(a[0], "Parameter data", c), a[1]),
    call: (a, c) => asParameter(tensorArg(a[0], "Parameter data", c), a[1]),
  });
  m.set("torch.serialization._get_layout", {
    call: (a, c) => a[0] === "torch.strided" ? "torch.strided" : fail(c, `layout ${describe(a[0])} is not supported`),
  });
  m.set("torch.Size", { call: (a, c) => tuple(intTuple(a[0] ?? tuple([]), "torch.Size", c)) });
  m.set("torch.Tensor", {});
  m.set("torch.device", {
    call: (a, c) => {
      if (typeof a[0] !== "string") fail(c, `torch.device() takes a string, got ${describe(a[0])}`);
      return a.length > 1 && a[1] !== null ? `${a[0]}:${intArg(a[1], "device index", c)}` : a[0];
    },
  });
  m.set("_codecs.encode", {
    call: (a, c) => {
      if (typeof a[0] !== "string") fail(c, `_codecs.encode() takes a string, got ${describe(a[0])}`);
      if (a[1] === "latin1" || a[1] === "latin-1") return Uint8Array.from(a[0], (ch) => ch.charCodeAt(0) & 0xff);
      return new TextEncoder().encode(a[0]);
    },
  });
  m.set("builtins.bytearray", {
    call: (a, c) =>
      a.length === 0
        ? new Uint8Array(0)
        : a[0] instanceof Uint8Array
        ? a[0].slice()
        : fail(c, "bytearray() takes bytes"),
  });
  m.set("builtins.set", {
    call: (a, c) => {
      if (a.length > 0 && !Array.isArray(a[0])) fail(c, `set() takes a list, got ${describe(a[0])}`);
      return new Set(a.length > 0 ? (a[0] as PickleValue[]) : []);
    },
  });
  m.set("builtins.complex", unsupported("complex numbers"));
  for (const name of Object.keys(TORCH_DTYPES)) m.set(`torch.${name}`, {});
  for (const scheme of ["per_tensor_affine", "per_tensor_symmetric", "per_channel_affine", "per_channel_symmetric"]) {
    m.set(`torch.${scheme}`, {});
  }
  m.set("torch.per_channel_affine_float_qparams", {});
  for (const t of [...TENSOR_TYPES, "ComplexFloat", "ComplexDouble"]) {
    for (const prefix of ["torch", "torch.cuda", "torch.sparse", "torch.cuda.sparse"]) {
      m.set(`${prefix}.${t}Tensor`, {});
    }
  }
  for (const s of Object.keys(STORAGE_DTYPES)) {
    m.set(`torch.${s}`, {});
    m.set(`torch.cuda.${s}`, {});
  }
  m.set("torch.storage.TypedStorage", {});
  m.set("torch.storage.UntypedStorage", {});
  m.set("torch._utils._rebuild_tensor", { call: (a, c) => rebuildTensor(a, c) });
  m.set("torch._utils._rebuild_tensor_v2", { call: (a, c) => rebuildTensor(a, c) });
  m.set("torch._utils._rebuild_tensor_v3", { call: (a, c) => rebuildTensor(a, c, a[6]) });
  m.set("torch._utils._rebuild_parameter", { call: (a, c) => asParameter(tensorArg(a[0], "parameter data", c), a[1]) });
  m.set("torch._utils._rebuild_parameter_with_state", {
    call: (a, c) => asParameter(tensorArg(a[0], "parameter data", c), a[1]),
  });
  m.set("torch._utils._rebuild_device_tensor_from_cpu_tensor", {
    call: (a, c) => {
      const t = tensorArg(a[0], "tensor data", c);
      return new TensorRef({ ...t, requiresGrad: a[3] === true });
    },
  });
  m.set("torch._tensor._rebuild_from_type_v2", {
    call: (a, c) => {
      const [func, newType, args] = a;
      if (!(func instanceof TorchGlobal) || !Array.isArray(args)) {
        fail(c, `_rebuild_from_type_v2 needs a rebuild function and its arguments, got ${describe(func)}`);
      }
      const def = ALLOWED.get(func.name);
      if (def?.call === undefined) fail(c, `weights_only: ${func.name} cannot be called`, { global: func.name });
      const t = def.call(args, c);
      if (newType instanceof TorchGlobal && newType.name === "torch.nn.parameter.Parameter") {
        return asParameter(tensorArg(t, "parameter data", c), t instanceof TensorRef ? t.requiresGrad : true);
      }
      if (!(newType instanceof TorchGlobal) || newType.name !== "torch.Tensor") {
        fail(c, `tensor subclass ${describe(newType)} is not supported`);
      }
      return t;
    },
  });
  m.set("torch._utils._rebuild_qtensor", unsupported("quantized tensors (torch._utils._rebuild_qtensor)"));
  m.set("torch._utils._rebuild_sparse_tensor", unsupported("sparse tensors (torch._utils._rebuild_sparse_tensor)"));
  m.set("torch._utils._rebuild_sparse_csr_tensor", unsupported("sparse CSR tensors"));
  m.set("torch._utils._rebuild_meta_tensor_no_storage", unsupported("meta tensors (they have no data)"));
  m.set("torch._utils._rebuild_wrapper_subclass", unsupported("tensor subclasses (_rebuild_wrapper_subclass)"));
  m.set("torch._utils._rebuild_device_tensor_from_numpy", unsupported("numpy-backed tensors"));
  return m;
}

const ALLOWED: Map<string, GlobalDef> = buildAllowed();

/** Modules PyTorch never allows, whatever the allow-list: their globals run commands. */
const BLOCKED_MODULES = new Set(["sys", "os", "posix", "nt"]);

/**
 * The globals weights_only allows, as dotted names.
 *
 * @example
 * ```ts
 * import { allowedGlobals } from "@flint/models";
 *
 * console.log(allowedGlobals().includes("torch._utils._rebuild_tensor_v2"), allowedGlobals().includes("os.system")); // true false
 * ```
 */
export function allowedGlobals(): string[] {
  return [...ALLOWED.keys()];
}

function describe(v: PickleValue | undefined): string {
  if (v === undefined) return "nothing";
  if (v === null) return "None";
  if (v instanceof TorchGlobal) return `global '${v.name}'`;
  if (v instanceof TensorRef) return "a tensor";
  if (v instanceof StorageRef) return "a storage";
  if (v instanceof PickleDict) return v.ordered ? "an OrderedDict" : "a dict";
  if (v instanceof Set) return "a set";
  if (v instanceof Uint8Array) return `bytes of length ${v.length}`;
  if (isTuple(v)) return `a tuple of ${v.length}`;
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === "string") return `'${v.length > 40 ? v.slice(0, 40) + "..." : v}'`;
  return `${typeof v} ${String(v)}`;
}

// ---- the reader ----

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads a pickle as PyTorch's `torch.load(..., weights_only=True)` does:
 * protocols 2 to 5, allowed opcodes and globals only, so that a file can
 * describe tensors, dicts, lists, tuples, numbers and strings and nothing
 * else. Anything outside the allow-list throws an {@linkcode UnpicklingError}
 * before it could have an effect.
 *
 * @example
 * ```ts
 * import { PickleDict, unpickle } from "@flint/models";
 *
 * // the pickle of {'a': 1} at protocol 2
 * const bytes = new Uint8Array([0x80, 2, 0x7d, 0x71, 0, 0x58, 1, 0, 0, 0, 0x61, 0x71, 1, 0x4b, 1, 0x73, 0x2e]);
 * const d = unpickle(bytes);
 * console.log(d instanceof PickleDict, (d as PickleDict).get("a")); // true 1
 * ```
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): PickleValue {
  const limits = options.limits === undefined ? DEFAULT_LIMITS : resolveLimits(options.limits);
  if (bytes.length > limits.maxPickleBytes) {
    throw new UnpicklingError(`the pickle is ${bytes.length} bytes, past the cap of ${limits.maxPickleBytes}`, {
      entry: options.entry,
    });
  }
  const ctx: Context = { offset: 0, entry: options.entry };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  let stack: PickleValue[] = [];
  const metastack: PickleValue[][] = [];
  const memo = new Map<number, PickleValue>();

  const need = (n: number, what: string) => {
    if (pos + n > bytes.length) fail(ctx, `the pickle ends inside ${what} (needs ${n} bytes)`);
  };
  const u8 = () => {
    need(1, "an opcode argument");
    return bytes[pos++];
  };
  const u16 = () => {
    need(2, "an opcode argument");
    pos += 2;
    return view.getUint16(pos - 2, true);
  };
  const u32 = () => {
    need(4, "an opcode argument");
    pos += 4;
    return view.getUint32(pos - 4, true);
  };
  const u64 = () => {
    need(8, "an opcode argument");
    pos += 8;
    const v = view.getBigUint64(pos - 8, true);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  };
  const take = (n: number, what: string) => {
    if (n > limits.maxStringLength) fail(ctx, `${what} of ${n} bytes is past the cap of ${limits.maxStringLength}`);
    need(n, what);
    pos += n;
    return bytes.subarray(pos - n, pos);
  };
  const text = (n: number, what: string) => {
    const raw = take(n, what);
    try {
      return utf8.decode(raw);
    } catch {
      return fail(ctx, `${what} is not valid UTF-8`);
    }
  };
  const line = (what: string) => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail(ctx, `the pickle ends inside ${what}`);
    const s = text(end - pos, what);
    pos++; // the newline
    return s;
  };
  const pop = (): PickleValue => {
    if (stack.length === 0) fail(ctx, "stack underflow: the pickle is corrupt");
    return stack.pop()!;
  };
  const top = (): PickleValue => {
    if (stack.length === 0) fail(ctx, "stack underflow: the pickle is corrupt");
    return stack[stack.length - 1];
  };
  const popMark = (): PickleValue[] => {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) fail(ctx, "no MARK to pop to: the pickle is corrupt");
    stack = prev;
    return items;
  };
  const put = (index: number) => {
    if (!memo.has(index) && memo.size >= limits.maxMemoSize) {
      fail(ctx, `more than ${limits.maxMemoSize} memo entries (the cap)`);
    }
    memo.set(index, top());
  };
  const get = (index: number) => {
    if (!memo.has(index)) fail(ctx, `memo entry ${index} was never stored: the pickle is corrupt`);
    stack.push(memo.get(index)!);
  };
  const global = (module: string, name: string) => {
    if (module === "__builtin__") module = "builtins";
    const full = `${module}.${name}`;
    if (BLOCKED_MODULES.has(module.split(".")[0])) {
      fail(ctx, `weights_only: global '${full}' is not allowed (module '${module}' is blocked); nothing was run`, {
        global: full,
      });
    }
    if (!ALLOWED.has(full)) {
      fail(
        ctx,
        `weights_only: global '${full}' is not allowed; only tensors, parameters, dicts, lists, tuples, numbers ` +
          `and strings can be loaded, and nothing was run`,
        { global: full },
      );
    }
    stack.push(new TorchGlobal(full));
  };
  const setItems = (d: PickleValue, items: PickleValue[], opcode: string) => {
    if (!(d instanceof PickleDict)) {
      fail(ctx, `weights_only: ${opcode} on ${describe(d)}; only dicts take items`, { opcode });
    }
    if (items.length % 2 !== 0) fail(ctx, `${opcode} with an odd number of items`, { opcode });
    for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
  };
  const appendTo = (list: PickleValue, items: PickleValue[], opcode: string) => {
    if (!Array.isArray(list) || Object.isFrozen(list)) {
      fail(ctx, `weights_only: ${opcode} on ${describe(list)}; only lists can be appended to`, { opcode });
    }
    for (const item of items) list.push(item);
  };

  while (true) {
    ctx.offset = pos;
    if (pos >= bytes.length) fail(ctx, "the pickle ends before its STOP opcode: the data is truncated");
    const op = bytes[pos++];
    switch (op) {
      case OP.PROTO: {
        const proto = u8();
        if (proto < 2 || proto > 5) {
          fail(ctx, `pickle protocol ${proto} is not supported (2 to 5 are)`, { opcode: "PROTO" });
        }
        break;
      }
      case OP.FRAME:
        u64();
        break;
      case OP.STOP:
        return pop();
      case OP.MARK:
        if (metastack.length >= limits.maxPickleDepth) {
          fail(ctx, `MARKs nest deeper than ${limits.maxPickleDepth} (the cap)`);
        }
        metastack.push(stack);
        stack = [];
        break;
      case OP.GLOBAL: {
        const module = line("a GLOBAL module name");
        const name = line("a GLOBAL name");
        global(module, name);
        break;
      }
      case OP.STACK_GLOBAL: {
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail(ctx, "STACK_GLOBAL needs two strings");
        global(module, name);
        break;
      }
      case OP.REDUCE: {
        const args = pop();
        const func = top();
        if (!(func instanceof TorchGlobal)) {
          fail(ctx, `weights_only: REDUCE on ${describe(func)} is not allowed`, { opcode: "REDUCE" });
        }
        const def = ALLOWED.get(func.name)!;
        if (def.call === undefined) {
          fail(ctx, `weights_only: REDUCE on global '${func.name}' is not allowed`, {
            opcode: "REDUCE",
            global: func.name,
          });
        }
        if (!isTuple(args)) fail(ctx, `REDUCE needs a tuple of arguments, got ${describe(args)}`, { opcode: "REDUCE" });
        stack[stack.length - 1] = def.call(args, ctx);
        break;
      }
      case OP.NEWOBJ: {
        const args = pop();
        const cls = pop();
        const def = cls instanceof TorchGlobal ? ALLOWED.get(cls.name) : undefined;
        if (def?.newobj === undefined || !isTuple(args)) {
          fail(ctx, `weights_only: NEWOBJ of ${describe(cls)} is not allowed (only torch.nn.Parameter)`, {
            opcode: "NEWOBJ",
            global: cls instanceof TorchGlobal ? cls.name : undefined,
          });
        }
        stack.push(def.newobj(args, ctx));
        break;
      }
      case OP.BUILD: {
        const state = pop();
        const inst = top();
        if (!(inst instanceof PickleDict)) {
          fail(ctx, `weights_only: BUILD on ${describe(inst)} is not allowed (only OrderedDict)`, { opcode: "BUILD" });
        }
        if (state instanceof PickleDict) {
          for (const [k, v] of state) if (typeof k === "string") inst.attributes.set(k, v);
        } else if (state !== null) {
          fail(ctx, `BUILD state must be a dict, got ${describe(state)}`, { opcode: "BUILD" });
        }
        break;
      }
      case OP.APPEND: {
        const item = pop();
        appendTo(top(), [item], "APPEND");
        break;
      }
      case OP.APPENDS: {
        const items = popMark();
        appendTo(top(), items, "APPENDS");
        break;
      }
      case OP.SETITEM: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v], "SETITEM");
        break;
      }
      case OP.SETITEMS: {
        const items = popMark();
        setItems(top(), items, "SETITEMS");
        break;
      }
      case OP.ADDITEMS: {
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail(ctx, `ADDITEMS on ${describe(s)}`, { opcode: "ADDITEMS" });
        for (const item of items) s.add(item);
        break;
      }
      case OP.TUPLE: {
        const items = popMark(); // before `stack.push` is looked up: popMark replaces `stack`
        stack.push(tuple(items));
        break;
      }
      case OP.TUPLE1: {
        const a = pop();
        stack.push(tuple([a]));
        break;
      }
      case OP.TUPLE2: {
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b]));
        break;
      }
      case OP.TUPLE3: {
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b, c]));
        break;
      }
      case OP.NONE:
        stack.push(null);
        break;
      case OP.NEWTRUE:
        stack.push(true);
        break;
      case OP.NEWFALSE:
        stack.push(false);
        break;
      case OP.EMPTY_TUPLE:
        stack.push(tuple([]));
        break;
      case OP.EMPTY_LIST:
        stack.push([]);
        break;
      case OP.EMPTY_DICT:
        stack.push(new PickleDict(false));
        break;
      case OP.EMPTY_SET:
        stack.push(new Set());
        break;
      case OP.BININT:
        need(4, "BININT");
        pos += 4;
        stack.push(view.getInt32(pos - 4, true));
        break;
      case OP.BININT1:
        stack.push(u8());
        break;
      case OP.BININT2:
        stack.push(u16());
        break;
      case OP.LONG1: {
        const n = u8();
        const raw = take(n, "LONG1");
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(raw[i]);
        if (n > 0 && raw[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        const safe = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER);
        stack.push(safe ? Number(v) : v);
        break;
      }
      case OP.BINFLOAT:
        need(8, "BINFLOAT");
        pos += 8;
        stack.push(view.getFloat64(pos - 8, false));
        break;
      case OP.BINUNICODE:
        stack.push(text(u32(), "a BINUNICODE string"));
        break;
      case OP.SHORT_BINUNICODE:
        stack.push(text(u8(), "a SHORT_BINUNICODE string"));
        break;
      case OP.BINUNICODE8:
        stack.push(text(u64(), "a BINUNICODE8 string"));
        break;
      case OP.SHORT_BINSTRING:
        stack.push(text(u8(), "a SHORT_BINSTRING string"));
        break;
      case OP.BINBYTES:
        stack.push(take(u32(), "BINBYTES").slice());
        break;
      case OP.SHORT_BINBYTES:
        stack.push(take(u8(), "SHORT_BINBYTES").slice());
        break;
      case OP.BINBYTES8:
        stack.push(take(u64(), "BINBYTES8").slice());
        break;
      case OP.BINPERSID: {
        const pid = pop();
        if (!isTuple(pid) && typeof pid !== "number") {
          fail(ctx, `persistent_load id must be tuple or int, but got ${describe(pid)}`, { opcode: "BINPERSID" });
        }
        if (isTuple(pid) && pid.length > 0 && pid[0] !== "storage") {
          fail(ctx, `weights_only: only persistent_load of storage is allowed, but got ${describe(pid[0])}`, {
            opcode: "BINPERSID",
          });
        }
        if (options.persistentLoad === undefined) {
          fail(ctx, "unsupported persistent id encountered (a storage outside a .pth archive)", {
            opcode: "BINPERSID",
          });
        }
        stack.push(options.persistentLoad(pid));
        break;
      }
      case OP.BINGET:
        get(u8());
        break;
      case OP.LONG_BINGET:
        get(u32());
        break;
      case OP.BINPUT:
        put(u8());
        break;
      case OP.LONG_BINPUT:
        put(u32());
        break;
      case OP.MEMOIZE:
        put(memo.size);
        break;
      default: {
        const name = OPCODE_NAMES[op] ?? `0x${op.toString(16).padStart(2, "0")}`;
        fail(ctx, `weights_only: opcode ${name} is not allowed`, { opcode: name });
      }
    }
  }
}

/** Turns a `('storage', StorageClass, key, location, numel)` persistent id into a {@linkcode StorageRef}. */
export function storageFromPid(pid: PickleValue, entry?: string): StorageRef {
  const ctx: Context = { offset: 0, entry };
  if (!isTuple(pid) || pid.length < 5) {
    fail(ctx, `a storage id must be ('storage', type, key, location, numel), got ${describe(pid)}`);
  }
  const [, type, key, location, numel] = pid;
  if (!(type instanceof TorchGlobal)) fail(ctx, `storage type must be a torch storage class, got ${describe(type)}`);
  const cls = type.name.replace(/^torch\.(cuda\.|storage\.)?/, "");
  const dtype = cls === "UntypedStorage" ? "untyped" : STORAGE_DTYPES[cls];
  if (dtype === undefined) fail(ctx, `${type.name} is not a storage class`);
  if (dtype === null) fail(ctx, `${type.name} holds complex or quantized elements, which Flint does not support`);
  if (typeof key !== "string" && typeof key !== "number") {
    fail(ctx, `storage key must be a string, got ${describe(key)}`);
  }
  if (typeof location !== "string") fail(ctx, `storage location must be a string, got ${describe(location)}`);
  return new StorageRef(dtype, String(key), location, intArg(numel, "storage numel", ctx));
}

/** Bytes per element of a storage's dtype (1 when untyped). */
export function storageItemSize(s: StorageRef): number {
  return s.dtype === "untyped" ? 1 : ITEM_SIZE[s.dtype];
}
