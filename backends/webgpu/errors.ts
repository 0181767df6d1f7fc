// The errors the WebGPU backend raises for what went wrong on the device
// rather than in the caller's inputs: each says what happened and what to do.

import { BackendError } from "@flint/backend";

/**
 * The GPU device was lost (destroyed, driver reset, tab backgrounded): every
 * tensor it held is gone. Thrown by the next op or read after the loss.
 *
 * @example
 * ```ts
 * import { WebGpuDeviceLostError } from "@flint/webgpu";
 *
 * const error = new WebGpuDeviceLostError("destroyed", "device was destroyed");
 * console.log(error.reason, error instanceof Error); // destroyed true
 * ```
 */
export class WebGpuDeviceLostError extends BackendError {
  /** WebGPU's reason: "destroyed" (by the program) or "unknown" (by the system) */
  readonly reason: string;
  /** Creates the error from the device's loss info. */
  constructor(reason: string, detail: string, options?: ErrorOptions) {
    super(
      "webgpu",
      `the WebGPU device was lost (${reason}${detail ? `: ${detail}` : ""}); the tensors it held are gone. ` +
        "Create a new backend with `await WebGpuBackend.create()`, register it, and upload the data again.",
      options,
    );
    this.name = "WebGpuDeviceLostError";
    this.reason = reason;
  }
}

/**
 * The device ran out of memory for a new buffer. Free tensors (`dispose()`,
 * `torch.scope`), trim the buffer pool, or use smaller batches.
 *
 * @example
 * ```ts
 * import { WebGpuOutOfMemoryError } from "@flint/webgpu";
 *
 * const error = new WebGpuOutOfMemoryError(1 << 30, "allocating a storage");
 * console.log(error.bytes); // 1073741824
 * ```
 */
export class WebGpuOutOfMemoryError extends BackendError {
  /** the size of the allocation that failed, in bytes */
  readonly bytes: number;
  /** Creates the error for an allocation of `bytes`. */
  constructor(bytes: number, what: string, options?: ErrorOptions) {
    super(
      "webgpu",
      `the WebGPU device is out of memory (${what}, ${bytes} bytes). ` +
        "Dispose tensors you no longer need (or use torch.scope), call backend.trimPool(), or use smaller batches.",
      options,
    );
    this.name = "WebGpuOutOfMemoryError";
    this.bytes = bytes;
  }
}

/**
 * A request exceeds one of the device's limits (a storage larger than one
 * binding may be, say). The message names the size, the limit and what to do.
 *
 * @example
 * ```ts
 * import { WebGpuLimitError } from "@flint/webgpu";
 *
 * const error = new WebGpuLimitError("maxStorageBufferBindingSize", 1 << 28, 1 << 27, "split the tensor");
 * console.log(error.limit, error.requested > error.allowed); // maxStorageBufferBindingSize true
 * ```
 */
export class WebGpuLimitError extends BackendError {
  /** the WebGPU limit's name */
  readonly limit: string;
  /** what was asked for */
  readonly requested: number;
  /** what the device allows */
  readonly allowed: number;
  /** Creates the error naming the limit, the request and the remedy. */
  constructor(limit: string, requested: number, allowed: number, remedy: string) {
    super("webgpu", `WebGPU limit exceeded: ${limit} is ${allowed} but ${requested} was needed; ${remedy}`);
    this.name = "WebGpuLimitError";
    this.limit = limit;
    this.requested = requested;
    this.allowed = allowed;
  }
}
