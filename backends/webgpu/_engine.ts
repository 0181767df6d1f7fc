// The device side of the WebGPU backend: buffers (pooled), pipelines
// (cached), and the command batch that ops are recorded into. Ops only
// record; a batch is submitted when a read needs its results, when enough
// ops have queued, or on sync(). Errors the device reports asynchronously
// (loss, out of memory, validation) are kept and thrown by the next op.

import { BackendError } from "@flint/backend";
import { WebGpuDeviceLostError, WebGpuLimitError, WebGpuOutOfMemoryError } from "./errors.ts";
import { BufferPool, GpuBuffer, sizeClass } from "./_pool.ts";
import { withHelpers } from "./_wgsl.ts";

/** A compute kernel: its cache key, its bindings after the params (binding 0), and its WGSL. */
export interface Kernel {
  /** identifies the WGSL: (kernel, dtypes, flags) */
  readonly key: string;
  /** access of bindings 1.. (binding 0 is always the read-only params) */
  readonly bindings: readonly ("read" | "write")[];
  /** the WGSL source without helpers; built only on a cache miss */
  readonly code: () => string;
}

/** How many workgroups a dispatch runs: a linear count (tiled over x and y) or an explicit grid. */
export type Grid = { readonly linear: number } | { readonly groups: readonly [number, number, number] };

/** Engine settings the backend passes down. */
export interface EngineOptions {
  readonly name: string;
  readonly maxBatch: number;
  readonly poolLimitBytes: number;
  readonly maxStorageBytes: number;
  readonly maxWorkgroupsPerDimension: number;
  readonly timeoutMs: number;
}

const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const ARENA_BYTES = 1 << 18;

/** A promise that resolves after `ms`, and a way to cancel its timer. */
function timer(ms: number): { done: Promise<"timeout">; cancel: () => void } {
  let id: ReturnType<typeof setTimeout> | undefined;
  const done = new Promise<"timeout">((resolve) => (id = setTimeout(() => resolve("timeout"), ms)));
  return { done, cancel: () => clearTimeout(id) };
}

/** Records and submits the backend's GPU work. */
export class Engine {
  readonly device: GPUDevice;
  readonly options: EngineOptions;
  readonly #pool = new BufferPool();
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  readonly #layouts = new Map<string, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  readonly #align: number;
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #queued = 0;
  #batch = 1;
  #submitted = 0;
  #arena: GPUBuffer;
  readonly #arenaData = new Int32Array(ARENA_BYTES / 4);
  #arenaUsed = 0;
  #afterSubmit: GPUBuffer[] = [];
  #lost: GPUDeviceLostInfo | null = null;
  #pending: BackendError | null = null;
  readonly #lostPromise: Promise<GPUDeviceLostInfo>;

  constructor(device: GPUDevice, options: EngineOptions) {
    this.device = device;
    this.options = options;
    this.#align = device.limits.minStorageBufferOffsetAlignment;
    this.#arena = device.createBuffer({ size: ARENA_BYTES, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    this.#lostPromise = device.lost.then((info) => (this.#lost = info));
    device.addEventListener("uncapturederror", (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.#pending ??= error instanceof GPUOutOfMemoryError
        ? new WebGpuOutOfMemoryError(0, `reported by the device: ${error.message}`)
        : new BackendError(
          options.name,
          `the WebGPU device reported an error (${error.constructor.name}): ${error.message.trim()}. ` +
            "This is a bug in Flint's WebGPU backend: please report it with the op that ran.",
        );
    });
  }

  /** Commands recorded and not yet submitted. */
  get queued(): number {
    return this.#queued;
  }

  /** Batches submitted so far. */
  get submissions(): number {
    return this.#submitted;
  }

  /** Pipelines compiled so far. */
  get pipelineCount(): number {
    return this.#pipelines.size;
  }

  /** Buffers and bytes waiting in the pool. */
  get poolInfo(): { buffers: number; bytes: number } {
    return this.#pool.info;
  }

  /** Destroys the device; ops fail from now on, before the loss is even reported. */
  destroy(): void {
    this.#lost ??= { reason: "destroyed", message: "WebGpuBackend.destroy() was called" } as GPUDeviceLostInfo;
    this.device.destroy();
  }

  /** Throws the device loss or the error the device reported since the last op. */
  check(): void {
    if (this.#lost) throw new WebGpuDeviceLostError(this.#lost.reason, this.#lost.message);
    const pending = this.#pending;
    if (pending) {
      this.#pending = null;
      throw pending;
    }
  }

  // ---- buffers ----

  /** A buffer of at least `bytes`, from the pool when one of its size class is free. */
  alloc(bytes: number, what: string): GpuBuffer {
    const limit = this.options.maxStorageBytes;
    if (bytes > limit) {
      throw new WebGpuLimitError(
        "maxStorageBufferBindingSize",
        bytes,
        limit,
        `a single tensor may hold at most ${limit} bytes on this device (${what}); split it into smaller tensors ` +
          "(torch.split / chunk) or run this part on the CPU",
      );
    }
    const size = sizeClass(bytes, limit);
    const pooled = this.#pool.take(size);
    if (pooled) return pooled;
    this.device.pushErrorScope("out-of-memory");
    const buffer = this.device.createBuffer({ size, usage: STORAGE_USAGE });
    this.device.popErrorScope().then((error) => {
      if (error) this.#pending ??= new WebGpuOutOfMemoryError(size, what);
    }, () => {});
    return new GpuBuffer(buffer, size);
  }

  /** Returns a buffer to the pool, or frees it once submitted work is done with it when the pool is full. */
  release(buffer: GpuBuffer): void {
    if (this.#pool.info.bytes + buffer.size > this.options.poolLimitBytes) {
      if (buffer.lastBatch === this.#batch && this.#queued > 0) this.#afterSubmit.push(buffer.buffer);
      else buffer.buffer.destroy();
      return;
    }
    this.#pool.put(buffer);
  }

  /** Frees pooled buffers until at most `keepBytes` stay pooled; returns the bytes freed. */
  trim(keepBytes: number): number {
    this.flush();
    let freed = 0;
    for (const b of this.#pool.drain(keepBytes)) {
      freed += b.size;
      b.buffer.destroy();
    }
    return freed;
  }

  /**
   * Copies `data` into `target` at byte 0. `queue.writeBuffer` runs before
   * any command not yet submitted, so when the open batch may still read the
   * buffer (a pooled buffer reused after a dispose) the data goes through a
   * staging buffer copied in command order instead.
   */
  write(target: GpuBuffer, data: ArrayBufferView): void {
    let bytes: Uint8Array<ArrayBuffer> = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength % 4 !== 0 || !(data.buffer instanceof ArrayBuffer)) {
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      bytes = padded;
    }
    if (bytes.byteLength === 0) return;
    if (target.lastBatch === this.#batch && this.#queued > 0) {
      const staging = this.device.createBuffer({
        size: bytes.byteLength,
        usage: GPUBufferUsage.COPY_SRC,
        mappedAtCreation: true,
      });
      new Uint8Array(staging.getMappedRange()).set(bytes);
      staging.unmap();
      this.#encoderOutsidePass().copyBufferToBuffer(staging, 0, target.buffer, 0, bytes.byteLength);
      this.#afterSubmit.push(staging);
      this.#touch(target);
      this.#countCommand();
      return;
    }
    this.device.queue.writeBuffer(target.buffer, 0, bytes);
  }

  // ---- kernels ----

  #layout(bindings: readonly ("read" | "write")[]): { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    const key = bindings.map((b) => b[0]).join("");
    let layout = this.#layouts.get(key);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: "read-only-storage" } },
        ...bindings.map((b, i): GPUBindGroupLayoutEntry => ({
          binding: i + 1,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: b === "read" ? "read-only-storage" : "storage" },
        })),
      ];
      const group = this.device.createBindGroupLayout({ entries });
      layout = { group, pipeline: this.device.createPipelineLayout({ bindGroupLayouts: [group] }) };
      this.#layouts.set(key, layout);
    }
    return layout;
  }

  #pipeline(kernel: Kernel): GPUComputePipeline {
    let pipeline = this.#pipelines.get(kernel.key);
    if (!pipeline) {
      const module = this.device.createShaderModule({ label: kernel.key, code: withHelpers(kernel.code()) });
      pipeline = this.device.createComputePipeline({
        label: kernel.key,
        layout: this.#layout(kernel.bindings).pipeline,
        compute: { module, entryPoint: "main" },
      });
      this.#pipelines.set(kernel.key, pipeline);
    }
    return pipeline;
  }

  /** The WGSL a kernel compiles to, helpers included (for tests and debugging). */
  source(kernel: Kernel): string {
    return withHelpers(kernel.code());
  }

  /**
   * Records one dispatch of `kernel` over `buffers` (bindings 1..) with
   * `params` (binding 0). A linear grid larger than the per-dimension limit
   * is laid out over x and y; kernels rebuild the linear id from both.
   */
  run(kernel: Kernel, buffers: readonly GpuBuffer[], params: ArrayLike<number>, grid: Grid): void {
    this.check();
    let groups: [number, number, number];
    const maxDim = this.options.maxWorkgroupsPerDimension;
    if ("linear" in grid) {
      if (grid.linear === 0) return;
      // Linear kernels rebuild their id as x + (y + z · ny) · nx.
      const x = Math.min(grid.linear, maxDim);
      const y = Math.min(Math.ceil(grid.linear / x), maxDim);
      const z = Math.ceil(grid.linear / (x * y));
      if (z > maxDim) {
        throw new WebGpuLimitError(
          "maxComputeWorkgroupsPerDimension",
          grid.linear,
          maxDim ** 3,
          "the op is too large for one dispatch; split the tensor",
        );
      }
      groups = [x, y, z];
    } else {
      groups = [...grid.groups];
      if (groups.some((g) => g === 0)) return;
      const over = groups.find((g) => g > maxDim);
      if (over !== undefined) {
        throw new WebGpuLimitError(
          "maxComputeWorkgroupsPerDimension",
          over,
          maxDim,
          "the op is too large for one dispatch; split the tensor",
        );
      }
    }
    const pipeline = this.#pipeline(kernel);
    const words = Math.max(params.length, 1);
    const bytes = Math.ceil((words * 4) / this.#align) * this.#align;
    if (bytes > ARENA_BYTES) throw new RangeError(`kernel ${kernel.key} has ${words} parameter words, too many`);
    if (this.#arenaUsed + bytes > ARENA_BYTES) this.flush();
    const offset = this.#arenaUsed;
    this.#arenaData.set(params as ArrayLike<number>, offset / 4);
    this.#arenaUsed += bytes;
    const group = this.device.createBindGroup({
      layout: this.#layout(kernel.bindings).group,
      entries: [
        { binding: 0, resource: { buffer: this.#arena, offset, size: words * 4 } },
        ...buffers.map((b, i): GPUBindGroupEntry => ({ binding: i + 1, resource: { buffer: b.buffer } })),
      ],
    });
    for (const b of buffers) this.#touch(b);
    const pass = this.#computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
    this.#countCommand();
  }

  #touch(buffer: GpuBuffer): void {
    buffer.lastBatch = this.#batch;
  }

  #countCommand(): void {
    if (++this.#queued >= this.options.maxBatch) this.flush();
  }

  #encoderOutsidePass(): GPUCommandEncoder {
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
    return this.#encoder ??= this.device.createCommandEncoder();
  }

  #computePass(): GPUComputePassEncoder {
    if (!this.#pass) this.#pass = (this.#encoder ??= this.device.createCommandEncoder()).beginComputePass();
    return this.#pass;
  }

  // ---- submission ----

  /** Submits the recorded batch (params first), if any. */
  flush(): void {
    if (!this.#encoder) return;
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
    if (this.#arenaUsed > 0) {
      this.device.queue.writeBuffer(this.#arena, 0, this.#arenaData, 0, this.#arenaUsed / 4);
    }
    this.device.queue.submit([this.#encoder.finish()]);
    this.#encoder = null;
    this.#arenaUsed = 0;
    this.#queued = 0;
    this.#batch++;
    this.#submitted++;
    for (const b of this.#afterSubmit) b.destroy();
    this.#afterSubmit = [];
  }

  /** Waits for `promise`, but not past a device loss or the time limit. */
  async #bounded<T>(promise: Promise<T>, what: string): Promise<T> {
    const limit = timer(this.options.timeoutMs);
    const outcome = await Promise.race([
      promise.then((value) => ({ value }), (error: unknown) => ({ error })),
      this.#lostPromise.then(() => "lost" as const),
      limit.done,
    ]).finally(limit.cancel);
    if (outcome === "lost") {
      this.check();
      throw new BackendError(this.options.name, `the WebGPU device was lost while ${what}`);
    }
    if (outcome === "timeout") {
      throw new BackendError(
        this.options.name,
        `the WebGPU device did not finish ${what} within ${this.options.timeoutMs} ms; ` +
          "the GPU may be hung or overloaded (raise `timeoutMs` in WebGpuBackend.create() for very large ops)",
      );
    }
    if ("error" in outcome) {
      // A loss is reported a moment after the failed call: give it a second to arrive.
      const grace = timer(1000);
      await Promise.race([this.#lostPromise, grace.done]).finally(grace.cancel);
      this.check();
      throw new BackendError(this.options.name, `WebGPU failed while ${what}: ${String(outcome.error)}`, {
        cause: outcome.error,
      });
    }
    return outcome.value;
  }

  /** Submits everything recorded and waits until the device has run it. */
  async sync(): Promise<void> {
    this.check();
    this.flush();
    await this.#bounded(this.device.queue.onSubmittedWorkDone(), "the submitted work");
    this.check();
  }

  /** Copies `bytes` of `src` from `offset` to the host, after everything recorded before. */
  async read(src: GpuBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    this.check();
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.#encoderOutsidePass().copyBufferToBuffer(src.buffer, offset, staging, 0, bytes);
    this.#touch(src);
    this.#queued++;
    this.flush();
    try {
      await this.#bounded(staging.mapAsync(GPUMapMode.READ), "reading a tensor back");
      const out = staging.getMappedRange().slice(0);
      staging.unmap();
      this.check();
      return out;
    } finally {
      staging.destroy();
    }
  }
}
