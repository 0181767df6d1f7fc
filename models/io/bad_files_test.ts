// The bar for bad files: every malformed input gives a typed error
// that says what is wrong, none hangs, none runs code, none allocates past
// the cap. The inputs are made here from valid files and by hand.

import assert from "node:assert/strict";
import "@flint/torch";
import {
  encodePack,
  load,
  type LoadLimits,
  loadPack,
  loadPth,
  loadSafetensors,
  type WeightsErrorKind,
  WeightsFormatError,
} from "@flint/models";
import { crc32 } from "./crc32.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { memorySource } from "./source.ts";
import { writeZip, ZipReader } from "./zip.ts";
import { fixture } from "./_test_util.ts";

const enc = new TextEncoder();

function concat(pieces: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice();
  out[at] ^= 0x5a;
  return out;
}

// ---- hand-made pickles and archives ----

function unicode(s: string): number[] {
  const b = enc.encode(s);
  return [0x58, b.length & 0xff, (b.length >> 8) & 0xff, 0, 0, ...b];
}

function int(n: number): number[] {
  if (n >= 0 && n < 256) return [0x4b, n];
  if (n >= -(2 ** 31) && n < 2 ** 31) return [0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
  const out: number[] = [];
  let v = BigInt(n);
  while (v !== 0n && v !== -1n) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  if ((out.at(-1)! & 0x80) !== (n < 0 ? 0x80 : 0)) out.push(n < 0 ? 0xff : 0);
  return [0x8a, out.length, ...out];
}

/** The pickle of {"w": tensor} over one storage, geometry as given. */
function tensorPickle(
  t: { storage?: string; numel: number; offset?: number; size: number[]; stride: number[]; requiresGrad?: boolean },
): Uint8Array {
  // deno-fmt-ignore
  return new Uint8Array([
    0x80, 2, 0x7d, ...unicode("w"),
    ...enc.encode("ctorch._utils\n_rebuild_tensor_v2\n"), 0x28, 0x28, ...unicode("storage"),
    ...enc.encode(`ctorch\n${t.storage ?? "FloatStorage"}\n`), ...unicode("0"), ...unicode("cpu"), ...int(t.numel),
    0x74, 0x51, ...int(t.offset ?? 0),
    0x28, ...t.size.flatMap(int), 0x74, 0x28, ...t.stride.flatMap(int), 0x74,
    t.requiresGrad ? 0x88 : 0x89, ...enc.encode("ccollections\nOrderedDict\n"), 0x29, 0x52, 0x74, 0x52, 0x73, 0x2e,
  ]);
}

/** A torch.save-shaped zip from a pickle and storages. */
function pth(pickle: Uint8Array, storages: Record<string, Uint8Array> = {}): Uint8Array {
  return concat(writeZip([
    { name: "archive/data.pkl", data: pickle },
    ...Object.entries(storages).map(([k, data]) => ({ name: `archive/data/${k}`, data })),
  ]));
}

function evilPth(...ops: (number | string)[]): Uint8Array {
  return pth(new Uint8Array(ops.flatMap((o) => (typeof o === "number" ? [o] : [...enc.encode(o)]))));
}

interface RawEntry {
  name: string;
  data: Uint8Array;
  method?: number;
  flags?: number;
  crc?: number;
  size?: number;
  /** write the sizes as zip64 extra fields */
  zip64?: boolean;
}

/** A zip written field by field, so that entries can lie about themselves. */
function rawZip(entries: RawEntry[], tweak: { count?: number; locatorOffset?: number } = {}): Uint8Array {
  const out: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const size = e.size ?? e.data.length;
    const crc = e.crc ?? crc32(e.data);
    const extra = e.zip64 ? 20 : 0;
    const local = new Uint8Array(30 + name.length + extra);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(6, e.flags ?? 0, true);
    lv.setUint16(8, e.method ?? 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, e.zip64 ? 0xffffffff : e.data.length, true);
    lv.setUint32(22, e.zip64 ? 0xffffffff : size, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, extra, true);
    local.set(name, 30);
    if (e.zip64) {
      lv.setUint16(30 + name.length, 1, true);
      lv.setUint16(32 + name.length, 16, true);
      lv.setBigUint64(34 + name.length, BigInt(size), true);
      lv.setBigUint64(42 + name.length, BigInt(e.data.length), true);
    }
    const c = new Uint8Array(46 + name.length + extra);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(8, e.flags ?? 0, true);
    cv.setUint16(10, e.method ?? 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, e.zip64 ? 0xffffffff : e.data.length, true);
    cv.setUint32(24, e.zip64 ? 0xffffffff : size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, extra, true);
    cv.setUint32(42, offset, true);
    c.set(name, 46);
    if (e.zip64) c.set(local.subarray(30 + name.length), 46 + name.length);
    out.push(local, e.data);
    central.push(c);
    offset += local.length + e.data.length;
  }
  const cdSize = central.reduce((n, c) => n + c.length, 0);
  const tail: Uint8Array[] = [];
  if (tweak.locatorOffset !== undefined) {
    const loc = new Uint8Array(20);
    const v = new DataView(loc.buffer);
    v.setUint32(0, 0x07064b50, true);
    v.setBigUint64(8, BigInt(tweak.locatorOffset), true);
    tail.push(loc);
  }
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, tweak.count ?? entries.length, true);
  ev.setUint16(10, tweak.count ?? entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return concat([...out, ...central, ...tail, end]);
}

/**
 * Raw DEFLATE data that expands to `prefix` then `zeros` zero bytes: a stored
 * block, then a fixed-Huffman block of one literal 0 and 258-byte matches at
 * distance 1 (13 bits each): about 1 compressed byte per 160 out.
 */
function zeroBomb(prefix: Uint8Array, zeros: number): Uint8Array {
  const matches = Math.floor((zeros - 1) / 258);
  const bits = new Uint8Array(Math.ceil((3 + 8 + matches * 13 + 8 * ((zeros - 1) % 258 + 1) + 7 + 7) / 8) + 8);
  let pos = 0;
  const put = (value: number, n: number) => { // LSB first
    for (let i = 0; i < n; i++, pos++) if ((value >> i) & 1) bits[pos >> 3] |= 1 << (pos & 7);
  };
  const putCode = (code: number, n: number) => { // Huffman codes go MSB first
    for (let i = n - 1; i >= 0; i--, pos++) if ((code >> i) & 1) bits[pos >> 3] |= 1 << (pos & 7);
  };
  put(1, 1); // BFINAL
  put(1, 2); // fixed Huffman
  putCode(0x30, 8); // literal 0
  for (let i = 0; i < matches; i++) {
    putCode(0xc5, 8); // length 258 (code 285)
    putCode(0, 5); // distance 1
  }
  for (let i = 0; i < (zeros - 1) % 258; i++) putCode(0x30, 8);
  putCode(0, 7); // end of block
  const body = bits.subarray(0, Math.ceil(pos / 8));
  const stored = new Uint8Array(5 + prefix.length);
  stored[0] = 0; // BFINAL 0, stored
  new DataView(stored.buffer).setUint16(1, prefix.length, true);
  new DataView(stored.buffer).setUint16(3, ~prefix.length & 0xffff, true);
  stored.set(prefix, 5);
  return concat([stored, body]);
}

function gzipWrap(deflate: Uint8Array): Uint8Array {
  return concat([new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]), deflate, new Uint8Array(8)]);
}

function st(header: string | object, data = new Uint8Array(0), lengthOverride?: bigint): Uint8Array {
  const json = enc.encode(typeof header === "string" ? header : JSON.stringify(header));
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  return concat([len, json, data]);
}

// ---- the cases ----

interface BadCase {
  name: string;
  bytes: () => Promise<Uint8Array> | Uint8Array;
  /** the loader (default: load(), which tells the format from the bytes) */
  via?: (bytes: Uint8Array, limits: LoadLimits) => Promise<unknown>;
  kind: WeightsErrorKind | WeightsErrorKind[];
  message: RegExp;
  limits?: LoadLimits;
}

const tinyPth = () => fixture("tiny.pth");
const tinySt = () => fixture("tiny.safetensors");
let packCache: Uint8Array | undefined;
async function tinyPack(): Promise<Uint8Array> {
  packCache ??= await encodePack(await loadPth(await tinyPth()));
  return packCache;
}

const cases: BadCase[] = [];

for (let i = 0; i < 20; i++) {
  cases.push({
    name: `tiny.pth truncated to ${i}/20 of its length`,
    bytes: async () => (await tinyPth()).subarray(0, Math.floor(((await tinyPth()).length * i) / 20)),
    kind: i === 0 ? "unsupported" : ["truncated", "corrupt"],
    message: i === 0 ? /not a weights file/ : /end-of-central-directory|truncated|runs past|ends/,
  });
  cases.push({
    name: `tiny.safetensors truncated to ${i}/20 of its length`,
    bytes: async () => (await tinySt()).subarray(0, Math.floor(((await tinySt()).length * i) / 20)),
    kind: i === 0 ? "unsupported" : "truncated",
    message: i === 0
      ? /not a weights file/
      : /header claims \d+ bytes but the file has only|data ends at byte \d+ but the file is/,
  });
}
for (let i = 1; i < 5; i++) {
  cases.push({
    name: `an int8 pack truncated to ${i}/5 of its length`,
    bytes: async () => (await tinyPack()).subarray(0, Math.floor(((await tinyPack()).length * i) / 5)),
    kind: "truncated",
    message: /invalid gzip data|ends after \d+ decompressed bytes/,
  });
}

cases.push(
  {
    name: "a .pth with a flipped byte in a storage",
    bytes: async () => flip(await tinyPth(), (await entryOffsets(await tinyPth(), "tiny/data/0")).data + 3),
    kind: "checksum",
    message: /CRC-32 mismatch.*entry 'tiny\/data\/0'/,
  },
  {
    name: "a .pth with a flipped byte in data.pkl",
    bytes: async () => flip(await tinyPth(), (await entryOffsets(await tinyPth(), "tiny/data.pkl")).data + 40),
    kind: "checksum",
    message: /CRC-32 mismatch.*entry 'tiny\/data\.pkl'/,
  },
  {
    name: "a .pth whose central directory CRC is flipped",
    bytes: async () => flip(await tinyPth(), findCentral(await tinyPth(), "tiny/data/1") + 16),
    kind: "checksum",
    message: /CRC-32 mismatch.*entry 'tiny\/data\/1'/,
  },
  {
    name: "a .pth whose storage's local header signature is broken",
    bytes: async () => flip(await tinyPth(), (await entryOffsets(await tinyPth(), "tiny/data/2")).local),
    kind: "corrupt",
    message: /bad local file header signature.*entry 'tiny\/data\/2'/,
  },
  {
    name: "a .pth whose first bytes are no longer a zip",
    bytes: async () => flip(await tinyPth(), 2),
    kind: "unsupported",
    message: /not a weights file/,
  },
  {
    name: "a .pth whose zip64 record points the central directory past itself",
    bytes: async () => {
      const b = (await tinyPth()).slice();
      const rec = findSignature(b, 0x06064b50);
      new DataView(b.buffer).setBigUint64(rec + 48, BigInt(b.length), true);
      return b;
    },
    kind: "corrupt",
    message: /the central directory \(\d+ bytes at \d+\) runs past the end record/,
  },
  {
    name: "a .pth without its end-of-central-directory signature",
    bytes: async () => {
      const b = (await tinyPth()).slice();
      b[b.length - 22] = 0;
      return b;
    },
    kind: "truncated",
    message: /no zip end-of-central-directory record/,
  },
  {
    name: "a zip whose central directory claims more entries than fit",
    bytes: () => rawZip([{ name: "a/data.pkl", data: new Uint8Array([0x80, 2, 0x4e, 0x2e]) }], { count: 50 }),
    kind: "corrupt",
    message: /50 entries cannot fit/,
  },
  {
    name: "safetensors with '{' flipped to '['",
    bytes: async () => {
      const b = (await tinySt()).slice();
      b[8] = 0x5b;
      return b;
    },
    kind: "unsupported",
    message: /not a weights file/,
  },
  {
    name: "safetensors with a quote flipped inside its header",
    bytes: async () => {
      const b = (await tinySt()).slice();
      b[9] = 0x27;
      return b;
    },
    kind: "corrupt",
    message: /not valid JSON: expected a string key at character 1/,
  },
  {
    name: "safetensors whose header length is one byte too long",
    bytes: async () => {
      const b = (await tinySt()).slice();
      b[0] += 1;
      return b;
    },
    kind: ["corrupt", "truncated"],
    message: /not valid JSON|not valid UTF-8|data ends at byte/,
  },
  {
    name: "a pack whose gzip CRC-32 is flipped",
    bytes: async () => flip(await tinyPack(), (await tinyPack()).length - 6),
    kind: "checksum",
    message: /gzip trailer's CRC-32/,
  },
  {
    name: "a pack with a flipped byte in its deflate data",
    bytes: async () => flip(await tinyPack(), 40),
    kind: ["corrupt", "checksum", "truncated", "limit"],
    message: /./,
  },
  { name: "an empty file", bytes: () => new Uint8Array(0), kind: "unsupported", message: /starts with nothing/ },
  { name: "a text file", bytes: () => enc.encode("hello world\n"), kind: "unsupported", message: /68 65 6c 6c 6f/ },
  {
    name: "a PNG",
    bytes: () => new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
    kind: "unsupported",
    message: /not a weights file/,
  },
  {
    name: "1000 pseudo-random bytes",
    bytes: () => {
      let x = 12345;
      return Uint8Array.from({ length: 1000 }, () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 24));
    },
    kind: "unsupported",
    message: /not a weights file/,
  },
  // ---- pickles that try to run code ----
  {
    name: "a pickle naming os.system",
    bytes: () => evilPth(0x80, 2, "cos\nsystem\n", ...unicode("echo pwned"), 0x85, 0x52, 0x2e),
    kind: "pickle",
    message: /^weights_only: global 'os\.system' is not allowed/,
  },
  {
    name: "a pickle naming nt.system",
    bytes: () => evilPth(0x80, 2, "cnt\nsystem\n", ...unicode("calc"), 0x85, 0x52, 0x2e),
    kind: "pickle",
    message: /global 'nt\.system' is not allowed \(module 'nt' is blocked\)/,
  },
  {
    name: "a pickle naming builtins.eval",
    bytes: () => evilPth(0x80, 2, "cbuiltins\neval\n", ...unicode("1+1"), 0x85, 0x52, 0x2e),
    kind: "pickle",
    message: /global 'builtins\.eval' is not allowed/,
  },
  {
    name: "a pickle naming subprocess.check_output",
    bytes: () => evilPth(0x80, 2, "csubprocess\ncheck_output\n", 0x5d, 0x85, 0x52, 0x2e),
    kind: "pickle",
    message: /global 'subprocess\.check_output' is not allowed/,
  },
  {
    name: "a protocol 4 pickle naming builtins.exec through STACK_GLOBAL",
    bytes: () => evilPth(0x80, 4, 0x8c, 8, "builtins", 0x8c, 4, "exec", 0x93, 0x2e),
    kind: "pickle",
    message: /global 'builtins\.exec' is not allowed/,
  },
  {
    name: "a pickle calling torch.load",
    bytes: () => evilPth(0x80, 2, "ctorch\nload\n", ...unicode("/etc/passwd"), 0x85, 0x52, 0x2e),
    kind: "pickle",
    message: /global 'torch\.load' is not allowed/,
  },
  {
    name: "a pickle using INST",
    bytes: () => evilPth(0x80, 2, 0x28, "ios\nsystem\n", 0x2e),
    kind: "pickle",
    message: /opcode INST is not allowed/,
  },
  {
    name: "a pickle with a non-storage persistent id",
    bytes: () => evilPth(0x80, 2, ...unicode("module"), ...unicode("os"), 0x86, 0x51, 0x2e),
    kind: "pickle",
    message: /only persistent_load of storage is allowed/,
  },
  // ---- safetensors headers ----
  {
    name: "a safetensors header length past the end of the file",
    bytes: () => st({}, new Uint8Array(0), 1000n),
    kind: "truncated",
    message: /claims 1000 bytes but the file has only 2/,
  },
  {
    name: "a safetensors header length of 2^40",
    bytes: () => st({}, new Uint8Array(0), 2n ** 40n),
    kind: "limit",
    message: /claims 1099511627776 bytes, past the cap of 100000000/,
  },
  {
    name: "a safetensors header just over 100 MB",
    bytes: () => st({}, new Uint8Array(0), 100_000_001n),
    kind: "limit",
    message: /past the cap of 100000000/,
  },
  {
    name: "safetensors with overlapping data_offsets",
    bytes: () =>
      st({
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
      }, new Uint8Array(12)),
    kind: "corrupt",
    message: /\[4, 12\] overlap the previous tensor.*key 'b'/,
  },
  {
    name: "safetensors with a gap between tensors",
    bytes: () =>
      st({
        a: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
        b: { dtype: "F32", shape: [1], data_offsets: [8, 12] },
      }, new Uint8Array(12)),
    kind: "corrupt",
    message: /leave a gap after byte 4/,
  },
  {
    name: "safetensors whose data_offsets run past the file",
    bytes: () => st({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8)),
    kind: "truncated",
    message: /data ends at byte \d+ but the file is/,
  },
  {
    name: "safetensors with bytes after the data",
    bytes: () => st({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, new Uint8Array(9)),
    kind: "corrupt",
    message: /data ends at byte \d+ but the file is/,
  },
  {
    name: "safetensors with a duplicate key",
    bytes: () =>
      st(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        new Uint8Array(8),
      ),
    kind: "corrupt",
    message: /duplicate key "a"/,
  },
  {
    name: "safetensors with a negative size",
    bytes: () => st({ a: { dtype: "F32", shape: [-1, 4], data_offsets: [0, 0] } }),
    kind: "corrupt",
    message: /invalid size -1 in shape \[-1, 4\]/,
  },
  {
    name: "safetensors with a huge shape",
    bytes: () =>
      st({ a: { dtype: "F32", shape: [1048576, 1048576, 1048576], data_offsets: [0, 4] } }, new Uint8Array(4)),
    kind: "limit",
    message: /has more elements than the cap/,
  },
  {
    name: "safetensors with a fractional size",
    bytes: () => st({ a: { dtype: "F32", shape: [1.5], data_offsets: [0, 4] } }, new Uint8Array(4)),
    kind: "corrupt",
    message: /invalid size 1.5/,
  },
  {
    name: "safetensors with an unknown dtype",
    bytes: () => st({ a: { dtype: "C64", shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)),
    kind: "unsupported",
    message: /dtype C64 is not supported/,
  },
  {
    name: "safetensors whose shape does not match its byte range",
    bytes: () => st({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
    kind: "corrupt",
    message: /needs 12 bytes but data_offsets \[0, 8\] span 8/,
  },
  {
    name: "safetensors with a non-string metadata value",
    bytes: () => st({ __metadata__: { epoch: 3 } }),
    kind: "corrupt",
    message: /__metadata__ value 'epoch' must be a string/,
  },
  {
    name: "safetensors whose header is an array",
    bytes: () => st("[1,2,3]     "),
    via: (b, limits) => loadSafetensors(b, { limits }),
    kind: "corrupt",
    message: /does not start with '\{'/,
  },
  {
    name: "safetensors nested 200 deep",
    bytes: () => st('{"a":' + "[".repeat(200) + "]".repeat(200) + "}"),
    kind: "corrupt",
    message: /nesting deeper than 64/,
  },
  // ---- .pth archives that lie ----
  {
    name: "a storage shorter than its tensor's size x stride extent",
    bytes: () => pth(tensorPickle({ numel: 10, size: [4, 4], stride: [4, 1] }), { "0": new Uint8Array(40) }),
    kind: "corrupt",
    message: /storage holds 10 elements but the tensor .* reaches element 15.*key 'w'/,
  },
  {
    name: "a storage record shorter than the pickle's numel",
    bytes: () => pth(tensorPickle({ numel: 10, size: [10], stride: [1] }), { "0": new Uint8Array(36) }),
    kind: "corrupt",
    message: /holds 36 bytes but the pickle says 10 elements \(40 bytes\)/,
  },
  {
    name: "a missing storage record",
    bytes: () => pth(tensorPickle({ numel: 2, size: [2], stride: [1] })),
    kind: "corrupt",
    message: /storage record is missing.*archive\/data\/0/,
  },
  {
    name: "a negative stride",
    bytes: () => pth(tensorPickle({ numel: 4, size: [4], stride: [-1] }), { "0": new Uint8Array(16) }),
    kind: "pickle",
    message: /stride\[0\] must be a non-negative integer, got number -1/,
  },
  {
    name: "a tensor of 2^40 x 2^40 elements",
    bytes: () => pth(tensorPickle({ numel: 4, size: [2 ** 40, 2 ** 40], stride: [1, 1] }), { "0": new Uint8Array(16) }),
    kind: "limit",
    message: /has more elements than the cap/,
  },
  {
    name: "size and stride of different lengths",
    bytes: () => pth(tensorPickle({ numel: 4, size: [2, 2], stride: [1] }), { "0": new Uint8Array(16) }),
    kind: "pickle",
    message: /size \(2 dims\) and stride \(1 dims\) differ/,
  },
  {
    name: "an int64 storage with a value past int32",
    bytes: () => {
      const data = new Uint8Array(8);
      new DataView(data.buffer).setBigInt64(0, 2n ** 40n, true);
      return pth(tensorPickle({ storage: "LongStorage", numel: 1, size: [1], stride: [1] }), { "0": data });
    },
    kind: "unsupported",
    message: /int64 value 1099511627776 at element 0 does not fit in int32/,
  },
  {
    name: "an integer tensor that requires grad",
    bytes: () =>
      pth(tensorPickle({ storage: "IntStorage", numel: 1, size: [1], stride: [1], requiresGrad: true }), {
        "0": new Uint8Array(4),
      }),
    kind: "corrupt",
    message: /only tensors of floating point dtype can require gradients, and this one is int32/,
  },
  {
    name: "a complex storage",
    bytes: () =>
      pth(tensorPickle({ storage: "ComplexFloatStorage", numel: 1, size: [1], stride: [1] }), {
        "0": new Uint8Array(8),
      }),
    kind: "pickle",
    message: /ComplexFloatStorage holds complex or quantized elements/,
  },
  {
    name: "a zip with two entries of one name",
    bytes: () =>
      rawZip([
        { name: "a/data.pkl", data: new Uint8Array([0x80, 2, 0x7d, 0x2e]) },
        { name: "a/data.pkl", data: new Uint8Array([0x80, 2, 0x7d, 0x2e]) },
      ]),
    kind: "corrupt",
    message: /duplicate zip entry name.*entry 'a\/data\.pkl'/,
  },
  {
    name: "a zip bomb: a deflated entry declared as 1,000 bytes that expands to 64 MiB",
    bytes: () => {
      const zeros = 64 * 1024 ** 2;
      return rawZip([{ name: "a/data.pkl", data: zeroBomb(new Uint8Array(0), zeros), method: 8, size: 1000, crc: 0 }]);
    },
    kind: "limit",
    message: /expands past its declared size of 1000 bytes \(a zip bomb/,
  },
  {
    name: "a zip entry declaring 10 GiB uncompressed (zip64)",
    bytes: () =>
      rawZip([{
        name: "a/data.pkl",
        data: zeroBomb(new Uint8Array(0), 1024),
        method: 8,
        size: 10 * 1024 ** 3,
        zip64: true,
      }]),
    kind: "limit",
    message: /data\.pkl is 10737418240 bytes, past the cap/,
  },
  {
    name: "a storage entry declaring more than the cap",
    bytes: () =>
      rawZip([
        { name: "a/data.pkl", data: tensorPickle({ numel: 2 ** 29, size: [1], stride: [1] }) },
        { name: "a/data/0", data: zeroBomb(new Uint8Array(0), 1024), method: 8, size: 2 ** 31, zip64: true },
      ]),
    kind: "limit",
    message: /zip entry 'a\/data\/0' needs 2147483648 bytes, past the cap of 1048576 bytes/,
    limits: { maxBytes: 1024 ** 2 },
  },
  {
    name: "a zip without data.pkl",
    bytes: () => concat(writeZip([{ name: "a/version", data: enc.encode("3\n") }])),
    kind: "corrupt",
    message: /there is no 'a\/data\.pkl'/,
  },
  {
    name: "a zip whose entries are not in a folder",
    bytes: () => concat(writeZip([{ name: "data.pkl", data: new Uint8Array([0x80, 2, 0x7d, 0x2e]) }])),
    kind: "corrupt",
    message: /is not in a folder/,
  },
  {
    name: "an encrypted zip entry",
    bytes: () => rawZip([{ name: "a/data.pkl", data: new Uint8Array(12), flags: 1 }]),
    kind: "unsupported",
    message: /encrypted zip entries/,
  },
  {
    name: "a bzip2 zip entry",
    bytes: () => rawZip([{ name: "a/data.pkl", data: new Uint8Array(12), method: 12 }]),
    kind: "unsupported",
    message: /compression method 12 is not supported/,
  },
  {
    name: "a zip64 locator pointing past the file",
    bytes: () =>
      rawZip([{ name: "a/data.pkl", data: new Uint8Array([0x80, 2, 0x7d, 0x2e]) }], { locatorOffset: 2 ** 40 }),
    kind: "corrupt",
    message: /zip64 end record offset 1099511627776 is past the locator/,
  },
  {
    name: "a pickle nested deeper than the cap",
    bytes: () => pth(new Uint8Array([0x80, 2, ...new Array(5000).fill(0x28), 0x2e])),
    kind: "pickle",
    message: /MARKs nest deeper than 1000/,
  },
  // ---- packs that expand too far ----
  {
    name: "a gzip bomb: a pack whose 16 bytes of tensors are followed by 256 MiB of zeros",
    bytes: () => {
      const header = st({ w: { dtype: "F32", shape: [4], data_offsets: [0, 16] } });
      return gzipWrap(zeroBomb(header, 256 * 1024 ** 2));
    },
    kind: "limit",
    message: /decompressed pack is longer than its safetensors content.*a decompression bomb/,
  },
  {
    name: "a zlib bomb: 256 MiB of zeros after a valid header",
    bytes: () => {
      const header = st({ w: { dtype: "F32", shape: [4], data_offsets: [0, 16] } });
      return concat([new Uint8Array([0x78, 0x9c]), zeroBomb(header, 256 * 1024 ** 2), new Uint8Array(4)]);
    },
    kind: "limit",
    message: /a decompression bomb/,
  },
  {
    name: "a gzip bomb under a 4 MiB cap: 16 bytes of tensors, then 256 MiB of zeros",
    bytes: () => {
      const header = st({ w: { dtype: "F32", shape: [4], data_offsets: [0, 16] } });
      return gzipWrap(zeroBomb(header, 256 * 1024 ** 2));
    },
    kind: "limit",
    message: /a decompression bomb/,
    limits: { maxBytes: 4 * 1024 ** 2 },
  },
  {
    name: "a zip bomb under a 4 MiB cap: an entry declared as 1 MiB that expands to 64 MiB",
    bytes: () =>
      rawZip([{ name: "a/data.pkl", data: zeroBomb(new Uint8Array(0), 64 * 1024 ** 2), method: 8, size: 1024 ** 2 }]),
    kind: "limit",
    message: /expands past its declared size of 1048576 bytes/,
    limits: { maxBytes: 4 * 1024 ** 2 },
  },
  {
    name: "a pack whose header claims 3 GiB of tensors",
    bytes: () => {
      const header = st({ w: { dtype: "F32", shape: [805306368], data_offsets: [0, 3221225472] } });
      return gzipWrap(zeroBomb(header, 1024 ** 2));
    },
    kind: "limit",
    message: /has more elements than the cap|past the cap/,
  },
  {
    name: "a pack of nothing but zeros",
    bytes: () => gzipWrap(zeroBomb(new Uint8Array(0), 64 * 1024 ** 2)),
    via: (b, limits) => loadPack(b, { limits }),
    kind: "corrupt",
    message: /does not start with '\{'/,
  },
);

async function entryOffsets(bytes: Uint8Array, name: string): Promise<{ local: number; data: number }> {
  const zip = await ZipReader.open(memorySource(bytes), DEFAULT_LIMITS);
  const e = zip.get(name)!;
  const v = new DataView(bytes.buffer, bytes.byteOffset + e.localHeaderOffset);
  return { local: e.localHeaderOffset, data: e.localHeaderOffset + 30 + v.getUint16(26, true) + v.getUint16(28, true) };
}

function findSignature(bytes: Uint8Array, signature: number): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset);
  for (let i = bytes.length - 4; i >= 0; i--) if (v.getUint32(i, true) === signature) return i;
  throw new Error(`no signature ${signature.toString(16)}`);
}

function findCentral(bytes: Uint8Array, name: string): number {
  const target = enc.encode(name);
  for (let i = bytes.length - 46; i >= 0; i--) {
    if (bytes[i] === 0x50 && bytes[i + 1] === 0x4b && bytes[i + 2] === 1 && bytes[i + 3] === 2) {
      const n = bytes[i + 28] | (bytes[i + 29] << 8);
      if (n === target.length && bytes.subarray(i + 46, i + 46 + n).every((b, j) => b === target[j])) return i;
    }
  }
  throw new Error(`no central entry for ${name}`);
}

/** Loads a bad case, asserts its error, and returns the error and how long the load (not the making) took. */
async function check(c: BadCase): Promise<{ error: WeightsFormatError; ms: number }> {
  const bytes = await c.bytes();
  const limits = c.limits ?? {};
  const run = c.via ?? ((b: Uint8Array, l: LoadLimits) => load(b, { limits: l }));
  const kinds = Array.isArray(c.kind) ? c.kind : [c.kind];
  const start = performance.now();
  let error: WeightsFormatError | undefined;
  await assert.rejects(run(bytes, limits), (e: unknown) => {
    assert.ok(e instanceof WeightsFormatError, `${c.name}: not a WeightsFormatError: ${e}`);
    assert.ok(kinds.includes(e.kind), `${c.name}: kind ${e.kind}, wanted ${kinds}: ${e.message}`);
    assert.match(e.message, c.message, `${c.name}: ${e.message}`);
    error = e;
    return true;
  });
  return { error: error!, ms: performance.now() - start };
}

Deno.test(`at least 50 malformed files (${cases.length} here) each give a typed error that says what is wrong`, async (t) => {
  assert.ok(cases.length >= 50);
  for (const c of cases) await t.step(c.name, async () => void await check(c));
});

Deno.test("the whole run over the malformed files finishes within 20 seconds, bombs included", async () => {
  const start = performance.now();
  for (const c of cases) await check(c);
  const total = performance.now() - start;
  assert.ok(total < 20_000, `the run took ${total.toFixed(0)} ms`);
});

Deno.test("bombs are refused after a bounded overshoot, within the cap, not after expanding", async () => {
  const bombs = cases.filter((c) => c.name.includes("bomb"));
  assert.equal(bombs.length, 5);
  for (const c of bombs) {
    const { error, ms } = await check(c);
    assert.ok(ms < 500, `${c.name} took ${ms.toFixed(0)} ms to refuse`);
    // The pack bombs report the decompressed offset they stopped at; the zip bombs how much they produced.
    const stopped = error.offset ?? Number(/stopped after (\d+) bytes/.exec(error.message)![1]);
    const cap = c.limits?.maxBytes ?? 2 * 1024 ** 3;
    assert.ok(stopped <= Math.min(cap, 9 * 1024 ** 2), `${c.name} stopped after ${stopped} bytes`);
  }
});
