// Zip archives as torch.save writes them and as other tools rewrite them:
// stored or deflated entries, zip64, data descriptors (the central directory
// is the truth), and the 64-byte alignment extra field. Every offset and
// size is checked against the file before it is used; every entry read has
// its CRC-32 verified.

import { crc32 } from "./crc32.ts";
import { WeightsFormatError } from "./errors.ts";
import { inflateExact } from "./_inflate.ts";
import type { Budget, ResolvedLimits } from "./limits.ts";
import type { ByteSource } from "./source.ts";

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

/** One entry of a zip's central directory. */
export interface ZipEntry {
  /** the entry's path in the archive */
  readonly name: string;
  /** 0 stored, 8 deflated */
  readonly method: number;
  /** the general-purpose flags (bit 3: sizes are in a data descriptor) */
  readonly flags: number;
  /** CRC-32 of the uncompressed bytes */
  readonly crc32: number;
  /** bytes in the archive */
  readonly compressedSize: number;
  /** bytes once uncompressed */
  readonly size: number;
  /** where the local header starts */
  readonly localHeaderOffset: number;
}

function u16(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8);
}

function u32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

function u64(b: Uint8Array, at: number, what: string, offset: number): number {
  const lo = u32(b, at);
  const hi = u32(b, at + 4);
  if (hi >= 0x200000) throw new WeightsFormatError("corrupt", `${what} ${hi * 2 ** 32 + lo} is too large`, { offset });
  return hi * 2 ** 32 + lo;
}

/** True when `bytes` start like a zip archive (a local header, or an empty archive's end record). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && (u32(bytes, 0) === SIG_LOCAL || u32(bytes, 0) === SIG_EOCD);
}

/** A zip archive opened for reading entries by name. */
export class ZipReader {
  readonly #source: ByteSource;
  readonly #byName: Map<string, ZipEntry>;
  /** The entries, in central-directory order. */
  readonly entries: readonly ZipEntry[];

  private constructor(source: ByteSource, entries: ZipEntry[], byName: Map<string, ZipEntry>) {
    this.#source = source;
    this.entries = entries;
    this.#byName = byName;
  }

  /** Reads the central directory, checking every count, size and offset against the file and `limits`. */
  static async open(source: ByteSource, limits: ResolvedLimits): Promise<ZipReader> {
    const size = source.size;
    if (size < EOCD_SIZE) {
      throw new WeightsFormatError("truncated", `a zip archive is at least ${EOCD_SIZE} bytes, this file is ${size}`);
    }
    const tailLength = Math.min(size, EOCD_SIZE + U16_MAX);
    const tailStart = size - tailLength;
    const tail = await source.read(tailStart, tailLength);
    let eocd = -1;
    for (let i = tailLength - EOCD_SIZE; i >= 0; i--) {
      if (u32(tail, i) === SIG_EOCD && i + EOCD_SIZE + u16(tail, i + 20) <= tailLength) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) {
      throw new WeightsFormatError(
        "truncated",
        "no zip end-of-central-directory record: the file is truncated or not a zip archive",
        { offset: size },
      );
    }
    const eocdOffset = tailStart + eocd;
    let count = u16(tail, eocd + 10);
    let cdSize = u32(tail, eocd + 12);
    let cdOffset = u32(tail, eocd + 16);
    if (u16(tail, eocd + 4) !== 0 || u16(tail, eocd + 6) !== 0 || u16(tail, eocd + 8) !== count) {
      throw new WeightsFormatError("unsupported", "multi-disk (split) zip archives are not supported", {
        offset: eocdOffset,
      });
    }
    // A zip64 locator sits just before the end record; torch.save always writes one.
    if (eocdOffset >= 20) {
      const loc = await source.read(eocdOffset - 20, 20);
      if (u32(loc, 0) === SIG_ZIP64_LOCATOR) {
        const recOffset = u64(loc, 8, "zip64 end record offset", eocdOffset - 20);
        if (recOffset + 56 > eocdOffset - 20) {
          throw new WeightsFormatError("corrupt", `zip64 end record offset ${recOffset} is past the locator`, {
            offset: eocdOffset - 20,
          });
        }
        const rec = await source.read(recOffset, 56);
        if (u32(rec, 0) !== SIG_ZIP64_EOCD) {
          throw new WeightsFormatError("corrupt", "bad zip64 end-of-central-directory signature", {
            offset: recOffset,
          });
        }
        count = u64(rec, 32, "zip64 entry count", recOffset);
        cdSize = u64(rec, 40, "zip64 central directory size", recOffset);
        cdOffset = u64(rec, 48, "zip64 central directory offset", recOffset);
      } else if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
        throw new WeightsFormatError("corrupt", "zip64 sizes are marked but there is no zip64 locator", {
          offset: eocdOffset,
        });
      }
    }
    if (cdOffset + cdSize > eocdOffset) {
      throw new WeightsFormatError(
        "corrupt",
        `the central directory (${cdSize} bytes at ${cdOffset}) runs past the end record at ${eocdOffset}`,
        { offset: cdOffset },
      );
    }
    if (count > limits.maxEntries) {
      throw new WeightsFormatError("limit", `${count} zip entries, past the cap of ${limits.maxEntries}`);
    }
    if (count * CENTRAL_SIZE > cdSize) {
      throw new WeightsFormatError("corrupt", `${count} entries cannot fit in a ${cdSize}-byte central directory`, {
        offset: cdOffset,
      });
    }
    const cd = await source.read(cdOffset, cdSize);
    const entries: ZipEntry[] = [];
    const byName = new Map<string, ZipEntry>();
    const decoder = new TextDecoder("utf-8", { fatal: false });
    let at = 0;
    for (let i = 0; i < count; i++) {
      const where = { offset: cdOffset + at };
      if (at + CENTRAL_SIZE > cdSize || u32(cd, at) !== SIG_CENTRAL) {
        throw new WeightsFormatError("corrupt", `bad central directory header for entry ${i}`, where);
      }
      const flags = u16(cd, at + 8);
      const method = u16(cd, at + 10);
      const crc = u32(cd, at + 16);
      let compressedSize = u32(cd, at + 20);
      let uncompressedSize = u32(cd, at + 24);
      const nameLength = u16(cd, at + 28);
      const extraLength = u16(cd, at + 30);
      const commentLength = u16(cd, at + 32);
      const disk = u16(cd, at + 34);
      let localHeaderOffset = u32(cd, at + 42);
      const end = at + CENTRAL_SIZE + nameLength + extraLength + commentLength;
      if (end > cdSize) throw new WeightsFormatError("truncated", `central directory entry ${i} is cut off`, where);
      const name = decoder.decode(cd.subarray(at + CENTRAL_SIZE, at + CENTRAL_SIZE + nameLength));
      // The zip64 extra field holds, in order, only the fields marked 0xFFFFFFFF.
      let x = at + CENTRAL_SIZE + nameLength;
      const extraEnd = x + extraLength;
      while (x + 4 <= extraEnd) {
        const id = u16(cd, x);
        const len = u16(cd, x + 2);
        if (x + 4 + len > extraEnd) break;
        if (id === 0x0001) {
          let p = x + 4;
          const field = (what: string): number => {
            if (p + 8 > x + 4 + len) {
              throw new WeightsFormatError("corrupt", `zip64 extra field of '${name}' lacks the ${what}`, where);
            }
            const v = u64(cd, p, `zip64 ${what}`, cdOffset + p);
            p += 8;
            return v;
          };
          if (uncompressedSize === U32_MAX) uncompressedSize = field("uncompressed size");
          if (compressedSize === U32_MAX) compressedSize = field("compressed size");
          if (localHeaderOffset === U32_MAX) localHeaderOffset = field("local header offset");
        }
        x += 4 + len;
      }
      const entryWhere = { entry: name, offset: cdOffset + at };
      if (flags & 1) throw new WeightsFormatError("unsupported", "encrypted zip entries are not supported", entryWhere);
      if (method !== 0 && method !== 8) {
        throw new WeightsFormatError(
          "unsupported",
          `zip compression method ${method} is not supported (only stored and deflated)`,
          entryWhere,
        );
      }
      if (disk !== 0) {
        throw new WeightsFormatError("unsupported", "multi-disk zip entries are not supported", entryWhere);
      }
      if (localHeaderOffset + LOCAL_SIZE + nameLength + compressedSize > cdOffset) {
        throw new WeightsFormatError(
          "corrupt",
          `entry data (${compressedSize} bytes after the local header at ${localHeaderOffset}) runs into the ` +
            `central directory at ${cdOffset}`,
          entryWhere,
        );
      }
      if (method === 0 && compressedSize !== uncompressedSize) {
        throw new WeightsFormatError(
          "corrupt",
          `stored entry has compressed size ${compressedSize} but uncompressed size ${uncompressedSize}`,
          entryWhere,
        );
      }
      if (byName.has(name)) throw new WeightsFormatError("corrupt", "duplicate zip entry name", entryWhere);
      const entry: ZipEntry = {
        name,
        method,
        flags,
        crc32: crc,
        compressedSize,
        size: uncompressedSize,
        localHeaderOffset,
      };
      entries.push(entry);
      byName.set(name, entry);
      at = end;
    }
    return new ZipReader(source, entries, byName);
  }

  /** The entry named `name`, if any. */
  get(name: string): ZipEntry | undefined {
    return this.#byName.get(name);
  }

  /**
   * The uncompressed bytes of `entry`, checked against its CRC-32. The
   * uncompressed size is taken from `budget` before anything is allocated.
   */
  async read(entry: ZipEntry, budget: Budget): Promise<Uint8Array> {
    const where = { entry: entry.name, offset: entry.localHeaderOffset };
    const local = await this.#source.read(entry.localHeaderOffset, LOCAL_SIZE);
    if (u32(local, 0) !== SIG_LOCAL) throw new WeightsFormatError("corrupt", "bad local file header signature", where);
    const nameLength = u16(local, 26);
    const extraLength = u16(local, 28);
    const dataOffset = entry.localHeaderOffset + LOCAL_SIZE + nameLength + extraLength;
    if (dataOffset + entry.compressedSize > this.#source.size) {
      throw new WeightsFormatError(
        "truncated",
        `entry data (${entry.compressedSize} bytes at ${dataOffset}) runs past the end of the file (${this.#source.size})`,
        where,
      );
    }
    const localName = new TextDecoder().decode(
      await this.#source.read(entry.localHeaderOffset + LOCAL_SIZE, nameLength),
    );
    if (localName !== entry.name) {
      throw new WeightsFormatError(
        "corrupt",
        `local header names '${localName}', the central directory does not`,
        where,
      );
    }
    budget.take(entry.size, `zip entry '${entry.name}'`, where);
    const raw = await this.#source.read(dataOffset, entry.compressedSize);
    const data = entry.method === 0 ? raw : inflateExact(raw, entry.size, where, budget.remaining);
    const actual = crc32(data);
    if (actual !== entry.crc32) {
      throw new WeightsFormatError(
        "checksum",
        `CRC-32 mismatch: the directory says ${hex(entry.crc32)}, the data has ${hex(actual)}`,
        where,
      );
    }
    return data;
  }

  /** Closes the underlying file. */
  close(): void {
    this.#source.close();
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

/** One entry to write: its name and bytes (given as pieces, to avoid a copy). */
export interface ZipWriteEntry {
  /** the path in the archive */
  name: string;
  /** the bytes, stored as they are */
  data: Uint8Array | readonly Uint8Array[];
}

/** Options of {@linkcode writeZip}. */
export interface WriteZipOptions {
  /** data alignment in bytes (default 64, as PyTorch) */
  align?: number;
  /** write zip64 fields and records even when sizes and offsets fit in 32 bits */
  zip64?: boolean;
}

/**
 * A zip archive of stored entries whose data starts on `align`-byte
 * boundaries (PyTorch's "FB" padding extra field), zip64 where sizes or
 * offsets need it, as pieces to write in order.
 */
export function writeZip(entries: readonly ZipWriteEntry[], options: WriteZipOptions = {}): Uint8Array[] {
  const align = options.align ?? 64;
  const force = options.zip64 ?? false;
  const out: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  const encoder = new TextEncoder();
  let offset = 0;
  for (const e of entries) {
    const pieces = e.data instanceof Uint8Array ? [e.data] : e.data;
    const size = pieces.reduce((n, p) => n + p.length, 0);
    let crc = 0;
    for (const p of pieces) crc = crc32(p, crc);
    const name = encoder.encode(e.name);
    const big = size >= U32_MAX || force;
    const zip64Local = big ? 20 : 0;
    const base = offset + LOCAL_SIZE + name.length + zip64Local + 4;
    const pad = (align - (base % align)) % align;
    const local = new Uint8Array(LOCAL_SIZE + name.length + zip64Local + 4 + pad);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, SIG_LOCAL, true);
    lv.setUint16(4, big ? 45 : 20, true);
    lv.setUint16(6, 0x0800, true); // names are UTF-8
    lv.setUint16(8, 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, big ? U32_MAX : size, true);
    lv.setUint32(22, big ? U32_MAX : size, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, zip64Local + 4 + pad, true);
    local.set(name, LOCAL_SIZE);
    let x = LOCAL_SIZE + name.length;
    if (big) {
      lv.setUint16(x, 0x0001, true);
      lv.setUint16(x + 2, 16, true);
      lv.setBigUint64(x + 4, BigInt(size), true);
      lv.setBigUint64(x + 12, BigInt(size), true);
      x += 20;
    }
    lv.setUint16(x, 0x4246, true); // "FB": PyTorch's alignment padding
    lv.setUint16(x + 2, pad, true);
    local.fill(0x5a, x + 4); // "Z"
    const localOffset = offset;
    out.push(local, ...pieces);
    offset += local.length + size;

    const farOffset = localOffset >= U32_MAX || force;
    const zip64Central = (big ? 16 : 0) + (farOffset ? 8 : 0);
    const c = new Uint8Array(CENTRAL_SIZE + name.length + (zip64Central > 0 ? 4 + zip64Central : 0));
    const cv = new DataView(c.buffer);
    cv.setUint32(0, SIG_CENTRAL, true);
    cv.setUint16(4, 0x031e, true);
    cv.setUint16(6, big || farOffset ? 45 : 20, true);
    cv.setUint16(8, 0x0800, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, big ? U32_MAX : size, true);
    cv.setUint32(24, big ? U32_MAX : size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, zip64Central > 0 ? 4 + zip64Central : 0, true);
    cv.setUint32(42, farOffset ? U32_MAX : localOffset, true);
    c.set(name, CENTRAL_SIZE);
    if (zip64Central > 0) {
      let p = CENTRAL_SIZE + name.length;
      cv.setUint16(p, 0x0001, true);
      cv.setUint16(p + 2, zip64Central, true);
      p += 4;
      if (big) {
        cv.setBigUint64(p, BigInt(size), true);
        cv.setBigUint64(p + 8, BigInt(size), true);
        p += 16;
      }
      if (farOffset) cv.setBigUint64(p, BigInt(localOffset), true);
    }
    central.push(c);
  }
  const cdOffset = offset;
  const cdSize = central.reduce((n, c) => n + c.length, 0);
  out.push(...central);
  offset += cdSize;
  const needs64 = force || entries.length >= U16_MAX || cdOffset >= U32_MAX || cdSize >= U32_MAX;
  if (needs64) {
    const rec = new Uint8Array(56 + 20);
    const rv = new DataView(rec.buffer);
    rv.setUint32(0, SIG_ZIP64_EOCD, true);
    rv.setBigUint64(4, 44n, true);
    rv.setUint16(12, 0x031e, true);
    rv.setUint16(14, 45, true);
    rv.setBigUint64(24, BigInt(entries.length), true);
    rv.setBigUint64(32, BigInt(entries.length), true);
    rv.setBigUint64(40, BigInt(cdSize), true);
    rv.setBigUint64(48, BigInt(cdOffset), true);
    rv.setUint32(56, SIG_ZIP64_LOCATOR, true);
    rv.setBigUint64(56 + 8, BigInt(offset), true);
    rv.setUint32(56 + 16, 1, true);
    out.push(rec);
  }
  const end = new Uint8Array(EOCD_SIZE);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, SIG_EOCD, true);
  ev.setUint16(8, needs64 ? U16_MAX : entries.length, true);
  ev.setUint16(10, needs64 ? U16_MAX : entries.length, true);
  ev.setUint32(12, needs64 ? U32_MAX : cdSize, true);
  ev.setUint32(16, needs64 ? U32_MAX : cdOffset, true);
  out.push(end);
  return out;
}
