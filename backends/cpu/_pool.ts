// A pool of worker threads that run kernel calls on the shared WebAssembly
// memory. Each worker instantiates the same module on the same memory and
// sleeps in Atomics.wait on its slot of a control block. A job is a list of
// chunks (each a short sequence of calls) written to memory; the host points
// the workers at it and notifies them, and every thread, the calling one
// included, takes the next chunk from a shared atomic counter until none is
// left. So a thread that runs slow (a busy core on a shared machine) just
// takes fewer chunks, instead of holding the others up.
//
// Arguments a call marks as `local` name one of the running thread's scratch
// slots (its gemm packing buffers, its im2col columns): chunks don't know in
// advance which thread runs them.
//
// Workers start asynchronously (a new isolate boots in ~100 ms) and the host
// never waits for them: a worker not yet running takes no chunks. Where the
// runtime has node:worker_threads (Deno, Node, Bun) workers are unref()'d, so
// a script exits when its own work is done; in a browser they are web
// workers, closed by terminate().

/** i32 slots of one worker's control record (64 bytes). */
const SEQ = 0, DONE = 1, JOB = 2, THREAD = 3, READY = 4, FAILED = 5, ROWS = 6, STATE = 7;
/*
 * STATE holds the sequence number of the posted job, its negation once the
 * worker has claimed it (compare-and-swap s → −s), and 0 when the host took
 * it back (s → 0) because it ran every chunk before the worker woke: so the
 * host never waits on a sleeping worker that has nothing left to do, and a
 * worker never starts a job the host has moved on from.
 */
/**
 * How long an idle worker spins before it sleeps, in ms: longer than the gaps
 * between a training step's kernels (0.05–0.2 ms in tutorial 001's MLP), no
 * longer. A spinning worker holds its core while V8's parallel scavenger
 * needs a helper thread, and the collection stalls for a scheduler slice:
 * measured over 5000 MLP steps, six runs each: spinning 2 ms, the slowest 1%
 * took 2.8–3.4 ms and the mean step 0.58–0.86 ms; 0.3 ms, 1.8–2.0 and
 * 0.58–0.65 ms.
 */
const SPIN_MS = 0.3;
/** How long the host spins for a worker to finish its last chunk before it sleeps, in ms. */
const HOST_SPIN_MS = 0.5;
/** Bytes per worker in the control block. */
export const CONTROL_BYTES = 64;
/** i32 fields of a job header: next chunk, chunks, values per call row, slots per thread. */
const NEXT = 0, CHUNKS = 1, WIDTH = 2, SLOTS = 3, HEADER_BYTES = 16;

// The worker's half. The job layout (all written by the host, see ThreadPool.run):
// header (4 × i32) | chunk table (2 × i32 per chunk: first row, rows) | slot table (f64, threads × slots) |
// call rows (f64, width per row: export index, mask of local arguments, arguments), the rows at byte
// offset slot[ROWS] from the job.
const WORKER_LOOP = `
const SPIN_MS = ${SPIN_MS};
const SEQ = ${SEQ}, DONE = ${DONE}, JOB = ${JOB}, THREAD = ${THREAD}, READY = ${READY}, FAILED = ${FAILED},
  ROWS = ${ROWS}, STATE = ${STATE};
const NEXT = ${NEXT}, CHUNKS = ${CHUNKS}, WIDTH = ${WIDTH}, SLOTS = ${SLOTS}, HEADER_BYTES = ${HEADER_BYTES};
function start({ module, memory, control, names }) {
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const fns = names.map((name) => exports[name]);
  const slot = new Int32Array(memory.buffer, control, ${CONTROL_BYTES / 4});
  Atomics.store(slot, READY, 1);
  let last = 0;
  for (;;) {
    // Spin before sleeping: a training step's kernels come a fraction of a millisecond apart, and a sleeping
    // thread takes tens of µs to wake (more on a busy VM), by when the host has done most of the job alone.
    // OpenMP and OpenBLAS spin for the same reason; SPIN_MS bounds the core this burns once the work stops.
    for (let spin = 0, until = performance.now() + SPIN_MS; Atomics.load(slot, SEQ) === last; spin++) {
      if ((spin & 255) === 255 && performance.now() > until) break;
    }
    Atomics.wait(slot, SEQ, last);
    const seq = Atomics.load(slot, SEQ);
    if (seq === last) continue;
    last = seq;
    if (Atomics.compareExchange(slot, STATE, seq, -seq) !== seq) continue; // taken back, or a newer job posted
    try {
      const job = slot[JOB], thread = slot[THREAD];
      // The host may have grown the shared memory since this thread last looked, and the engine's notice of it
      // can arrive after the wake-up: grow(0) refreshes memory.buffer (and this instance's bounds) now.
      memory.grow(0);
      const head = new Int32Array(memory.buffer, job, 4);
      const chunks = head[CHUNKS], width = head[WIDTH], slots = head[SLOTS];
      const table = new Int32Array(memory.buffer, job + HEADER_BYTES, 2 * chunks);
      const slotsAt = job + HEADER_BYTES + 8 * chunks;
      const mine = new Float64Array(memory.buffer, slotsAt + 8 * thread * slots, slots);
      const rows = new Float64Array(memory.buffer, job + slot[ROWS]);
      const args = new Array(width - 2);
      for (let c = Atomics.add(head, NEXT, 1); c < chunks; c = Atomics.add(head, NEXT, 1)) {
        const first = table[2 * c], count = table[2 * c + 1];
        for (let r = first; r < first + count; r++) {
          const at = r * width, mask = rows[at + 1];
          for (let k = 2; k < width; k++) args[k - 2] = rows[at + k];
          for (let k = 0; mask >= 1 << k; k++) if (mask & (1 << k)) args[k] = mine[args[k]];
          fns[rows[at]](...args);
        }
      }
    } catch (error) {
      Atomics.store(slot, FAILED, 1);
      console.error("flint cpu worker:", error);
    }
    Atomics.store(slot, STATE, 0);
    Atomics.store(slot, DONE, seq);
    Atomics.notify(slot, DONE);
  }
}
`;

const NODE_WORKER = `import { parentPort } from "node:worker_threads";\n${WORKER_LOOP}\n` +
  `parentPort.once("message", start);\n`;
const WEB_WORKER = `${WORKER_LOOP}\nself.onmessage = (event) => { self.onmessage = null; start(event.data); };\n`;

/** What the pool needs of a worker, from either API. */
interface WorkerHandle {
  postMessage(message: unknown): void;
  terminate(): unknown;
}

interface NodeWorkerThreads {
  Worker: new (url: URL) => WorkerHandle & { unref(): void; on(event: string, listener: () => void): void };
}

/** node:worker_threads when the runtime has it, found without an import (so browsers never fetch it). */
function nodeWorkerThreads(): NodeWorkerThreads | undefined {
  const process = (globalThis as { process?: { getBuiltinModule?: (name: string) => unknown } }).process;
  try {
    return process?.getBuiltinModule?.("node:worker_threads") as NodeWorkerThreads | undefined;
  } catch {
    return undefined;
  }
}

/** True when this thread may block in Atomics.wait (a browser's main thread may not). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** True when the runtime can start worker threads that share memory with this one. */
export function threadsAvailable(): boolean {
  return typeof SharedArrayBuffer === "function" &&
    (nodeWorkerThreads() !== undefined || typeof (globalThis as { Worker?: unknown }).Worker === "function");
}

/** One kernel call: the export's name and its arguments. */
export interface Call {
  readonly fn: string;
  readonly args: readonly number[];
  /** positions of arguments that hold a slot number: the running thread's scratch address for that slot replaces it */
  readonly local?: readonly number[];
}

/** Calls one thread makes in a row. */
export type Chunk = readonly Call[];

/** Worker threads running kernel exports on a shared memory. */
export class ThreadPool {
  readonly #memory: WebAssembly.Memory;
  readonly #workers: WorkerHandle[] = [];
  readonly #slots: Int32Array[] = [];
  readonly #index: ReadonlyMap<string, number>;
  readonly #block = canBlock();
  #ready = 0;
  #closed = false;

  /**
   * Starts `count` workers. `control` is the byte address of count ×
   * CONTROL_BYTES of zeroed memory; `names` the exports jobs may call.
   */
  constructor(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    count: number,
    control: number,
    names: readonly string[],
  ) {
    this.#memory = memory;
    this.#index = new Map(names.map((name, i) => [name, i]));
    const node = nodeWorkerThreads();
    for (let w = 0; w < count; w++) {
      const message = { module, memory, control: control + w * CONTROL_BYTES, names };
      let worker: WorkerHandle;
      if (node) {
        const nodeWorker = new node.Worker(new URL(`data:text/javascript,${encodeURIComponent(NODE_WORKER)}`));
        nodeWorker.unref();
        nodeWorker.on("error", () => this.#fail(w));
        worker = nodeWorker;
      } else {
        const url = URL.createObjectURL(new Blob([WEB_WORKER], { type: "text/javascript" }));
        const webWorker = new Worker(url, { type: "module" });
        webWorker.onerror = () => this.#fail(w);
        worker = webWorker;
      }
      worker.postMessage(message);
      this.#workers.push(worker);
      // The control block sits below the arena, so a view made now stays valid as the memory grows.
      this.#slots.push(new Int32Array(memory.buffer, control + w * CONTROL_BYTES, CONTROL_BYTES / 4));
    }
  }

  /** Workers that are running; the calling thread makes one more. */
  get ready(): number {
    if (this.#closed) return 0;
    while (this.#ready < this.#workers.length && Atomics.load(this.#slots[this.#ready], READY) === 1) this.#ready++;
    return this.#ready;
  }

  /**
   * Runs `chunks` on this thread and `threads − 1` ready workers, each
   * taking the next chunk until none is left, and returns when all are done.
   * `slots[t]` are thread t's scratch addresses (thread 0 is this one);
   * `call` makes a call here; `alloc(bytes)` gives scratch for the job.
   */
  run(
    chunks: readonly Chunk[],
    slots: readonly (readonly number[])[],
    call: (c: Call, slots: readonly number[]) => void,
    alloc: (bytes: number) => number,
  ): void {
    const threads = Math.min(slots.length, this.ready + 1, chunks.length);
    const width = 2 + Math.max(0, ...chunks.flatMap((chunk) => chunk.map((c) => c.args.length)));
    const perThread = Math.max(1, ...slots.map((s) => s.length));
    const rows = chunks.reduce((n, chunk) => n + chunk.length, 0);
    const tableBytes = HEADER_BYTES + 8 * chunks.length;
    const slotBytes = 8 * perThread * threads;
    const job = alloc(tableBytes + slotBytes + 8 * rows * width);
    const head = new Int32Array(this.#memory.buffer, job, 4);
    head.set([threads > 1 ? 0 : chunks.length, chunks.length, width, perThread]);
    const table = new Int32Array(this.#memory.buffer, job + HEADER_BYTES, 2 * chunks.length);
    const slotTable = new Float64Array(this.#memory.buffer, job + tableBytes, perThread * threads);
    for (let t = 0; t < threads; t++) slotTable.set(slots[t], t * perThread);
    const values = new Float64Array(this.#memory.buffer, job + tableBytes + slotBytes, rows * width);
    let row = 0;
    chunks.forEach((chunk, c) => {
      table[2 * c] = row;
      table[2 * c + 1] = chunk.length;
      for (const call of chunk) {
        const fn = this.#index.get(call.fn);
        if (fn === undefined) throw new TypeError(`no kernel ${call.fn} for the worker threads`);
        let mask = 0;
        for (const k of call.local ?? []) mask |= 1 << k;
        values[row * width] = fn;
        values[row * width + 1] = mask;
        values.set(call.args, row * width + 2);
        row++;
      }
    });
    const posted: number[] = [];
    for (let w = 0; w < threads - 1; w++) {
      const slot = this.#slots[w];
      slot[JOB] = job;
      slot[THREAD] = w + 1;
      slot[ROWS] = tableBytes + slotBytes;
      const seq = Atomics.load(slot, SEQ) + 1;
      Atomics.store(slot, STATE, seq);
      Atomics.store(slot, SEQ, seq);
      Atomics.notify(slot, SEQ);
      posted.push(w);
    }
    let failure: unknown;
    try {
      const counter = threads > 1 ? head : undefined;
      const next = (c: number) => (counter ? Atomics.add(counter, NEXT, 1) : c + 1);
      for (let c = counter ? Atomics.add(counter, NEXT, 1) : 0; c < chunks.length; c = next(c)) {
        for (const x of chunks[c]) call(x, slots[0]);
      }
    } catch (error) {
      failure = error;
      Atomics.store(head, NEXT, chunks.length);
    }
    for (const w of posted) {
      const slot = this.#slots[w];
      // Every chunk is taken: a worker that has not started yet need not start at all.
      const seq = Atomics.load(slot, SEQ);
      if (Atomics.compareExchange(slot, STATE, seq, 0) === seq) continue;
      // The worker is on its last chunk: spin for it a while (waking from Atomics.wait costs tens of µs, a
      // good part of a small kernel), then sleep.
      const until = performance.now() + HOST_SPIN_MS;
      for (let done = Atomics.load(slot, DONE), spin = 0; done !== seq; done = Atomics.load(slot, DONE), spin++) {
        if (this.#block && (spin & 255) === 255 && performance.now() > until) Atomics.wait(slot, DONE, done, 1000);
      }
      if (Atomics.load(slot, FAILED) === 1) {
        Atomics.store(slot, FAILED, 0);
        failure ??= new Error("a cpu kernel failed on a worker thread");
      }
    }
    if (failure !== undefined) throw failure;
  }

  /** Stops the workers; later jobs run on the calling thread. */
  close(): void {
    this.#closed = true;
    for (const w of this.#workers) w.terminate();
    this.#workers.length = 0;
    this.#ready = 0;
  }

  #fail(w: number): void {
    // A worker that could not start never becomes ready; the pool shrinks to the ones before it.
    if (w < this.#workers.length) this.#workers.length = w;
  }
}
