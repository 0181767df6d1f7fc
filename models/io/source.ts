// Random access to the bytes of a weights file, from memory or from disk, so
// that a zip reader reads its directory and the entries it needs and never
// the whole file at once.

import { WeightsFormatError } from "./errors.ts";

/** Where weights come from: a path, a `file:`/`http(s):` URL, or the bytes themselves. */
export type WeightsSource = string | URL | Uint8Array;

/** Bytes read by offset; `read` never returns fewer bytes than asked. */
export interface ByteSource {
  /** total size in bytes */
  readonly size: number;
  /** `length` bytes at `offset` (a view when the source is in memory) */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** releases the file, if any */
  close(): void;
}

/** A source over bytes already in memory. */
export function memorySource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read(offset, length) {
      checkRange(offset, length, bytes.length);
      return Promise.resolve(bytes.subarray(offset, offset + length));
    },
    close() {},
  };
}

function checkRange(offset: number, length: number, size: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new WeightsFormatError("corrupt", `invalid read of ${length} bytes`, { offset });
  }
  if (offset + length > size) {
    throw new WeightsFormatError(
      "truncated",
      `the file ends at byte ${size}, before the ${length} bytes that should start there`,
      { offset },
    );
  }
}

/** A source over a file, read with seeks. */
export async function fileSource(path: string | URL): Promise<ByteSource> {
  const file = await Deno.open(path, { read: true });
  let size: number;
  try {
    size = (await file.stat()).size;
  } catch (e) {
    file.close();
    throw e;
  }
  let closed = false;
  return {
    size,
    async read(offset, length) {
      checkRange(offset, length, size);
      const out = new Uint8Array(length);
      await file.seek(offset, Deno.SeekMode.Start);
      let done = 0;
      while (done < length) {
        const n = await file.read(out.subarray(done));
        if (n === null) {
          throw new WeightsFormatError("truncated", `the file ended while reading ${length} bytes`, { offset });
        }
        done += n;
      }
      return out;
    },
    close() {
      if (!closed) file.close();
      closed = true;
    },
  };
}

/** Reads a response body into memory, refusing one longer than `cap` bytes as it arrives. */
export async function readBody(response: Response, cap: number, what: string): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > cap) {
    await response.body?.cancel();
    throw new WeightsFormatError("limit", `${what} is ${declared} bytes, past the cap of ${cap} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body !== null) {
    for await (const chunk of response.body) {
      total += chunk.length;
      if (total > cap) {
        throw new WeightsFormatError("limit", `${what} is longer than the cap of ${cap} bytes`);
      }
      chunks.push(chunk);
    }
  }
  return concatBytes(chunks, total);
}

/** Joins chunks into one array of `total` bytes. */
export function concatBytes(chunks: readonly Uint8Array[], total?: number): Uint8Array {
  const out = new Uint8Array(total ?? chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Opens a source for random access: bytes as they are, `file:` URLs and paths
 * from disk, `http(s):` URLs fetched into memory (up to `cap` bytes).
 */
export async function openSource(source: WeightsSource, cap: number): Promise<ByteSource> {
  if (source instanceof Uint8Array) return memorySource(source);
  const url = source instanceof URL ? source : /^(https?|file):\/\//i.test(source) ? new URL(source) : null;
  if (url !== null && (url.protocol === "http:" || url.protocol === "https:")) {
    const response = await fetch(url);
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`could not fetch ${url.href}: HTTP ${response.status} ${response.statusText}`);
    }
    return memorySource(await readBody(response, cap, url.href));
  }
  return await fileSource(url ?? source);
}
