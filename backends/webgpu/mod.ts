/**
 * The WebGPU backend of Flint: tensors live in GPU buffers (pooled), ops are
 * generated WGSL kernels recorded into batched command submissions, and reads
 * are asynchronous. Works with Deno's built-in `navigator.gpu` and in
 * browsers, on hardware GPUs and on software adapters (llvmpipe).
 *
 * @example Putting tensors on the GPU
 * ```ts
 * import * as torch from "@flint/torch";
 * import { WebGpuBackend } from "@flint/webgpu";
 *
 * const gpu = await WebGpuBackend.create();
 * torch.registerBackend(gpu);
 * const x = torch.tensor([[1, 2], [3, 4]], { device: "webgpu" });
 * console.log(await x.matmul(x).tolist()); // [ [ 7, 10 ], [ 15, 22 ] ]
 * gpu.destroy();
 * ```
 *
 * @module
 */
export { WebGpuBackend, type WebGpuBackendOptions, type WebGpuStats } from "./backend.ts";
export { WebGpuDeviceLostError, WebGpuLimitError, WebGpuOutOfMemoryError } from "./errors.ts";
