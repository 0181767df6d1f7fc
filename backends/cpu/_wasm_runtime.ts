// Loads the WebAssembly kernels: probes the runtime for SIMD and relaxed SIMD
// (WebAssembly.validate on two tiny modules), picks the matching build,
// creates the memory (shared when SharedArrayBuffer exists, so worker threads
// can use it and growing it detaches nothing), and instantiates. One runtime
// serves every CpuBackend that asks for the same thread count.

import { Arena } from "./_arena.ts";
import { type Call, type Chunk, ThreadPool, threadsAvailable } from "./_pool.ts";
import { KERNELS_RELAXED, KERNELS_SIMD } from "./_wasm_bytes.ts";

/** Every export of the kernel module, in the order worker jobs name them. */
export const KERNEL_NAMES = [
  "sgemm",
  "sgemmConv",
  "sgemmPacked",
  "packedBBytes",
  "gemmScratchBytes",
  "im2col",
  "col2im",
  "winogradInput",
  "winogradWeights",
  "winogradOutput",
  "winogradGradOutput",
  "winogradWeightGrad",
  "maxPool2d",
  "maxPool2dBackward",
  "avgPool2d",
  "avgPool2dBackward",
  "binaryRow",
  "scalarBinaryRow",
  "unaryRow",
  "whereRow",
  "copyRow",
  "transpose",
  "fill32",
  "foldRow",
  "combineRow",
  "demoteRow",
  "fillF64",
  "adamStep",
  "sgdStep",
  "channelAffine",
  "binaryRows",
  "packBPanels",
  "fmaPeak",
  "thresholdBackwardRow",
] as const;

/** The name of a kernel export. */
export type KernelName = typeof KERNEL_NAMES[number];

/** The kernel exports: every argument and result is a number (addresses are byte offsets). */
export type KernelExports = Readonly<Record<KernelName, (...args: number[]) => number>>;

/** What the runtime offers: relaxed SIMD (fused multiply-add), plain SIMD, or no SIMD at all. */
export type SimdLevel = "relaxed" | "simd" | "none";

// A function returning a v128 constant: valid only where SIMD is.
const SIMD_PROBE = Uint8Array.of(
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
  ...[0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b],
  ...[0x03, 0x02, 0x01, 0x00],
  ...[0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, ...new Array(16).fill(0), 0x0b],
);
// The same with f32x4.relaxed_madd of three constants (opcode 0xfd 0x105).
const RELAXED_PROBE = Uint8Array.of(
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
  ...[0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b],
  ...[0x03, 0x02, 0x01, 0x00],
  ...[0x0a, 0x3d, 0x01, 0x3b, 0x00],
  ...[0xfd, 0x0c, ...new Array(16).fill(0)],
  ...[0xfd, 0x0c, ...new Array(16).fill(0)],
  ...[0xfd, 0x0c, ...new Array(16).fill(0)],
  ...[0xfd, 0x85, 0x02, 0x0b],
);

let level: SimdLevel | undefined;

/** The best SIMD this runtime validates. */
export function simdLevel(): SimdLevel {
  if (level !== undefined) return level;
  try {
    if (typeof WebAssembly !== "object") level = "none";
    else if (WebAssembly.validate(RELAXED_PROBE)) level = "relaxed";
    else if (WebAssembly.validate(SIMD_PROBE)) level = "simd";
    else level = "none";
  } catch {
    level = "none";
  }
  return level;
}

function decode(base64: string): Uint8Array {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function leb(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0, shift = 0, b: number;
  do {
    b = bytes[at++];
    value |= (b & 0x7f) << shift;
    shift += 7;
  } while (b & 0x80);
  return [value >>> 0, at];
}

/**
 * The module with its memory import declared unshared (limits flag 0x03 →
 * 0x01), for runtimes without SharedArrayBuffer; the kernels use no atomics.
 */
function unsharedMemoryImport(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  let at = 8;
  while (at < out.length) {
    const id = out[at];
    const [size, body] = leb(out, at + 1);
    if (id === 2) {
      let [count, p] = leb(out, body);
      for (; count > 0; count--) {
        let n: number;
        [n, p] = leb(out, p);
        p += n; // module name
        [n, p] = leb(out, p);
        p += n; // field name
        // The kernels import their memory and nothing else.
        if (out[p++] !== 2) throw new Error("cpu kernels: the module imports something besides its memory");
        if (out[p] === 0x03) out[p] = 0x01;
      }
      return out;
    }
    at = body + size;
  }
  return out;
}

const PAGE = 65536;
/** Below the arena: a null page, then the worker control block. */
const CONTROL_AT = 1024;
const ARENA_BASE = 65536;
const MAX_THREADS = 64;
/**
 * Default room for storages where memory can grow (shared): it is only taken
 * as storages ask for it, and a ResNet-18 training step at batch 8 keeps
 * 0.55 GB alive at its peak (plus what scripts leave to the collector).
 */
const SHARED_LIMIT = 2 * 1024 * 1024 * 1024;
/** Default room where it cannot (no SharedArrayBuffer): the whole memory is taken up front. */
const FIXED_LIMIT = 64 * 1024 * 1024;
/** Scratch room past the limit in a fixed memory. */
const FIXED_SCRATCH = 32 * 1024 * 1024;

/** Options of {@linkcode WasmRuntime.for}. */
export interface RuntimeOptions {
  /** threads kernels may use, the calling one included */
  readonly threads: number;
  /** bytes of the arena that storages may occupy */
  readonly arenaBytes?: number;
  /** false forces an unshared memory (and one thread), as where SharedArrayBuffer is missing; for tests */
  readonly shared?: boolean;
}

/** The kernel module instantiated on its memory, with its arena and (lazily) its worker threads. */
export class WasmRuntime {
  readonly exports: KernelExports;
  readonly arena: Arena;
  readonly memory: WebAssembly.Memory;
  /** the build in use */
  readonly simd: "relaxed" | "simd";
  /** the memory is a SharedArrayBuffer (threads possible, no detaching) */
  readonly shared: boolean;
  /** threads asked for, the calling one included (1 once workers could not be started) */
  threads: number;
  readonly #module: WebAssembly.Module;
  #pool: ThreadPool | undefined;
  readonly #gemmScratch: number[] = [];
  /** This thread's slots for a job without extra scratch: its gemm scratch alone. */
  #soloSlots: readonly number[] | undefined;

  static readonly #cache = new Map<string, WasmRuntime>();

  /** The runtime for these options, made once; undefined where WebAssembly SIMD is missing. */
  static for(options: RuntimeOptions): WasmRuntime | undefined {
    const simd = simdLevel();
    if (simd === "none") return undefined;
    const key = `${options.threads}/${options.arenaBytes ?? ""}/${options.shared ?? ""}`;
    let runtime = WasmRuntime.#cache.get(key);
    if (runtime === undefined) {
      runtime = new WasmRuntime(simd, options);
      WasmRuntime.#cache.set(key, runtime);
    }
    return runtime;
  }

  private constructor(simd: "relaxed" | "simd", options: RuntimeOptions) {
    this.simd = simd;
    this.threads = Math.max(1, Math.min(MAX_THREADS, Math.floor(options.threads)));
    let bytes = decode(simd === "relaxed" ? KERNELS_RELAXED : KERNELS_SIMD);
    let memory: WebAssembly.Memory | undefined;
    let limit = options.arenaBytes ?? SHARED_LIMIT;
    try {
      if (options.shared !== false) memory = new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true });
    } catch {
      memory = undefined;
    }
    this.shared = memory !== undefined;
    if (memory === undefined) {
      limit = options.arenaBytes ?? FIXED_LIMIT;
      const pages = Math.ceil((ARENA_BASE + limit + FIXED_SCRATCH) / PAGE);
      memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
      bytes = unsharedMemoryImport(bytes);
    }
    this.memory = memory;
    this.#module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    const instance = new WebAssembly.Instance(this.#module, { env: { memory } });
    const exports: Partial<Record<KernelName, (...args: number[]) => number>> = {};
    for (const name of KERNEL_NAMES) {
      const fn = instance.exports[name];
      if (typeof fn !== "function") throw new Error(`cpu kernels: the module has no export ${name}`);
      exports[name] = fn as (...args: number[]) => number;
    }
    this.exports = exports as KernelExports;
    this.arena = new Arena(memory, { base: ARENA_BASE, limit, growable: this.shared });
  }

  /** Threads running now, without starting any: 1 plus the workers that are ready. */
  get activeThreads(): number {
    return 1 + (this.#pool?.ready ?? 0);
  }

  /**
   * Threads a kernel may split into now: 1 plus the workers that are ready.
   * The first ask starts the workers; they join as they come up.
   */
  parallelism(): number {
    if (this.threads === 1 || !this.shared) return 1;
    if (this.#pool === undefined) {
      if (!threadsAvailable()) return 1;
      try {
        this.#pool = new ThreadPool(this.#module, this.memory, this.threads - 1, CONTROL_AT, KERNEL_NAMES);
      } catch {
        // A runtime may list Worker yet refuse to start one (a sandbox, a
        // permission): the kernels then run on this thread alone, as they
        // would with `threads: 1`, instead of failing the op.
        this.threads = 1;
        return 1;
      }
    }
    return 1 + this.#pool.ready;
  }

  /**
   * Runs `chunks` on up to `threads` threads (this one and ready workers),
   * each taking the next chunk until none is left. A call's `local`
   * arguments name a scratch slot of the thread that runs it: slot 0 is its
   * gemm scratch, slot k > 0 is `extra[k − 1]` bytes of scratch for this job.
   */
  run(chunks: readonly Chunk[], threads: number, extra: readonly number[] = []): void {
    const n = Math.max(1, Math.min(threads, chunks.length, this.parallelism()));
    const slotsOf = (t: number) => [this.gemmScratch(t), ...extra.map((b) => this.arena.scratch(b))];
    if (n === 1 || this.#pool === undefined) {
      // Most jobs of a small model: no slot table, no closure, nothing for the collector per call.
      const mine = extra.length === 0 ? (this.#soloSlots ??= [this.gemmScratch(0)]) : slotsOf(0);
      for (const chunk of chunks) for (const c of chunk) this.#call(c, mine);
      return;
    }
    const slots = Array.from({ length: n }, (_, t) => slotsOf(t));
    this.#pool.run(chunks, slots, (c, mine) => this.#call(c, mine), (bytes) => this.arena.scratch(bytes));
  }

  /** Makes one call on this thread; `mine` are its scratch slots. */
  #call(c: Call, mine: readonly number[]): void {
    const fn = this.exports[c.fn as KernelName] as (...args: number[]) => unknown;
    if (c.local === undefined) {
      fn(...c.args);
      return;
    }
    const args = c.args.slice();
    for (const k of c.local) args[k] = mine[args[k]];
    fn(...args);
  }

  /** Gemm scratch of thread t, kept for the runtime's life. */
  gemmScratch(t: number): number {
    while (this.#gemmScratch.length <= t) {
      this.#gemmScratch.push(this.arena.scratch(this.exports.gemmScratchBytes(), true));
    }
    return this.#gemmScratch[t];
  }

  /** Stops the worker threads (they start again if a kernel wants them). */
  close(): void {
    this.#pool?.close();
    this.#pool = undefined;
  }
}
