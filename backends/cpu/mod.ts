/**
 * The CPU backend of Flint. Tensors live in typed arrays; float32 work runs
 * in WebAssembly SIMD kernels (relaxed SIMD's fused multiply-add where the
 * runtime has it), split over worker threads where the runtime allows them,
 * and plain TypeScript loops run everything else and stand in wherever
 * WebAssembly SIMD is missing. It runs anywhere JavaScript runs (Deno,
 * browsers, serverless isolates), and its TypeScript loops are the reference
 * every other backend is tested against.
 *
 * @example
 * ```ts
 * import { CpuBackend } from "@flint/cpu";
 *
 * const cpu = new CpuBackend();
 * const s = cpu.fill(4, 1.5, "float32");
 * console.log(cpu.memory()); // { storages: 1, bytes: 16 }
 * cpu.dispose(s);
 * ```
 *
 * @module
 */
export { CpuBackend, type CpuBackendInfo, type CpuBackendOptions, type CpuKernels } from "./backend.ts";
